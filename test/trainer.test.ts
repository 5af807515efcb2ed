/**
 * The trainer child process, seen from the parent: a tiny job completes and saves a loadable model; the child's
 * environment holds no secrets; kill -9, cancellation, timeout, out of memory and a child-side error each reject
 * with a clear reason and leave no model; the child goes away when its parent is SIGKILLed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BabyLanguageModel } from '../src/model/baby.js';
import { childEnv, runTraining, TrainingError } from '../src/training/trainer.js';
import type { ProgressFigures, TrainJob } from '../src/training/trainer-protocol.js';

const CORPUS = readFileSync('data/corpus.txt', 'utf8').trim().split('\n');
const work = mkdtempSync(join(tmpdir(), 'babble-trainer-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;

function job(overrides: Partial<TrainJob> = {}): TrainJob {
  return {
    baseModelDir: 'models/base',
    outDir: join(work, `out-${n++}`),
    version: 'test',
    trainingLines: ['pizza party tonight', 'me like pizza lots', 'the server is fun', 'pizza pizza pizza'],
    baseCorpusLines: CORPUS.slice(0, 200),
    heldOut: { server: ['me want pizza party'], base: CORPUS.slice(4400, 4440) },
    batchSize: 8,
    workers: 1,
    progressIntervalMs: 0,
    ...overrides,
  };
}

/** True while the process exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

async function failure(p: Promise<unknown>): Promise<TrainingError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(TrainingError);
    return err as TrainingError;
  }
  throw new Error('expected the training to fail');
}

describe('childEnv', () => {
  it('passes only allowlisted variables and drops secret-looking extras', () => {
    const env = childEnv(
      { PATH: '/bin', HOME: '/h', DISCORD_TOKEN: 'a.b.c', AWS_SECRET_ACCESS_KEY: 'x', RANDOM: '1' },
      { BABBLE_BACKEND: 'cpu', MY_API_KEY: 'k', GH_TOKEN: 't' },
    );
    expect(env).toEqual({ PATH: '/bin', HOME: '/h', BABBLE_BACKEND: 'cpu', BABBLE_TRAINER_CHILD: '1' });
  });

  it('passes the training settings BABBLE_BACKEND and BABBLE_WASM_FMA on from the parent, value and all', () => {
    const env = childEnv({ PATH: '/bin', BABBLE_BACKEND: 'wasm', BABBLE_WASM_FMA: '0', LOG_LEVEL: 'debug' });
    expect(env).toEqual({ PATH: '/bin', BABBLE_BACKEND: 'wasm', BABBLE_WASM_FMA: '0', BABBLE_TRAINER_CHILD: '1' });
  });
});

describe('runTraining', () => {
  it('fine-tunes in a child without DISCORD_TOKEN, reports progress, and saves a model that loads', async () => {
    const saved = process.env.DISCORD_TOKEN;
    process.env.DISCORD_TOKEN = 'MTIz.test-token.for-the-env-check';
    const progress: ProgressFigures[] = [];
    let envKeys: string[] = [];
    let spawned = -1;
    const j = job({ maxSteps: 4, workers: 2 });
    try {
      const result = await runTraining(j, {
        onSpawn: (pid) => {
          spawned = pid;
        },
        onReady: (info) => {
          envKeys = info.envKeys;
        },
        onProgress: (p) => progress.push(p),
      });
      expect(result.pid).toBe(spawned);
      expect(result.saved.steps).toBe(4);
      expect(result.saved.stoppedBy).toBe('steps');
      expect(result.saved.lossCurve.map((p) => p.step)).toEqual([1, 2, 3, 4]);
      for (const f of [result.saved.heldOut.before, result.saved.heldOut.after]) {
        expect(f.server).toBeGreaterThan(0);
        expect(f.base).toBeGreaterThan(0);
      }
      expect(result.saved.samples.length).toBeGreaterThan(0);
      const model = await BabyLanguageModel.load(j.outDir);
      expect(model.meta?.training.steps).toBe(4);
      expect(model.generate('me ', { length: 10, rng: 1 }).length).toBeGreaterThan(3);
    } finally {
      if (saved === undefined) delete process.env.DISCORD_TOKEN;
      else process.env.DISCORD_TOKEN = saved;
    }
    expect(envKeys).not.toContain('DISCORD_TOKEN');
    expect(envKeys).toContain('BABBLE_TRAINER_CHILD');
    expect(progress.length).toBeGreaterThan(0);
    for (const p of progress) {
      expect(p.step).toBeLessThanOrEqual(p.totalSteps);
      expect(typeof p.sample).toBe('string');
    }
    expect(progress.at(-1)!.step).toBe(4);
    expect(alive(spawned)).toBe(false);
  });

  it('rejects as not-started, not waiting for an exit that never comes, when the process cannot start', async () => {
    // ENOENT: no such binary; EACCES: a file that is not executable. Node emits 'error' and 'close', never 'exit'.
    for (const [execPath, code] of [
      [join(work, 'no-such-node'), 'ENOENT'],
      ['data/corpus.txt', 'EACCES'],
    ] as const) {
      const spawns: number[] = [];
      const options = { execPath, onSpawn: (pid: number) => spawns.push(pid), timeoutMs: 600_000 };
      const err = await failure(runTraining(job(), options));
      expect(err.kind).toBe('not-started');
      expect(err.message).toContain(code);
      expect(spawns).toEqual([]);
    }
  });

  it('rejects with the signal when the child is killed with SIGKILL mid-training, and leaves no model', async () => {
    const j = job({ maxSeconds: 60 });
    let pid = -1;
    const err = await failure(
      runTraining(j, {
        onSpawn: (p) => {
          pid = p;
        },
        onProgress: () => process.kill(pid, 'SIGKILL'),
      }),
    );
    expect(err.kind).toBe('crashed');
    expect(err.signal).toBe('SIGKILL');
    expect(err.message).toMatch(/killed by SIGKILL/);
    expect(existsSync(join(j.outDir, 'meta.json'))).toBe(false);
    await expect(BabyLanguageModel.load(j.outDir)).rejects.toThrow(/meta\.json/);
  });

  it('starts the child with BABBLE_WASM_FMA when the bot has it (e.g. from .env)', async () => {
    const saved = process.env.BABBLE_WASM_FMA;
    process.env.BABBLE_WASM_FMA = '0';
    const controller = new AbortController();
    let envKeys: string[] = [];
    try {
      const err = await failure(
        runTraining(job({ maxSeconds: 60 }), {
          signal: controller.signal,
          onReady: (info) => {
            envKeys = info.envKeys;
            controller.abort();
          },
        }),
      );
      expect(err.kind).toBe('cancelled');
    } finally {
      if (saved === undefined) delete process.env.BABBLE_WASM_FMA;
      else process.env.BABBLE_WASM_FMA = saved;
    }
    expect(envKeys).toContain('BABBLE_WASM_FMA');
  });

  it('cancels through an AbortSignal: the child stops and the promise says cancelled', async () => {
    const controller = new AbortController();
    let pid = -1;
    const j = job({ maxSeconds: 60 });
    const err = await failure(
      runTraining(j, {
        signal: controller.signal,
        onSpawn: (p) => {
          pid = p;
        },
        onProgress: () => controller.abort(),
      }),
    );
    expect(err.kind).toBe('cancelled');
    expect(alive(pid)).toBe(false);
    expect(existsSync(join(j.outDir, 'meta.json'))).toBe(false);
  });

  it('stops a child that runs past the wall-clock limit', async () => {
    let pid = -1;
    const err = await failure(
      runTraining(job({ maxSeconds: 60 }), {
        timeoutMs: 2500,
        graceMs: 500,
        onSpawn: (p) => {
          pid = p;
        },
      }),
    );
    expect(err.kind).toBe('timeout');
    expect(err.message).toMatch(/limit/);
    expect(alive(pid)).toBe(false);
  });

  it('reports running out of memory under the heap cap', async () => {
    const err = await failure(runTraining(job({ maxSteps: 2 }), { maxHeapMb: 8 }));
    expect(err.kind).toBe('out-of-memory');
    expect(err.message).toMatch(/out of memory.*8 MB/);
  });

  it("passes on the child's own error message", async () => {
    const err = await failure(runTraining(job({ maxSteps: 2, baseModelDir: join(work, 'no-such-model') })));
    expect(err.kind).toBe('failed');
    expect(err.message).toMatch(/no-such-model.*meta\.json/);
  });

  it('refuses an invalid job without starting a process', async () => {
    let spawned = false;
    const err = await failure(
      runTraining(
        { ...job(), batchSize: 0 },
        {
          onSpawn: () => {
            spawned = true;
          },
        },
      ),
    );
    expect(err.kind).toBe('protocol');
    expect(err.message).toMatch(/batchSize/);
    expect(spawned).toBe(false);
  });

  it('ends the child when its parent is SIGKILLed', async () => {
    const parent = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/fixtures/trainer-parent.ts', join(work, 'orphan')],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const childPid = await new Promise<number>((resolve, reject) => {
      let out = '';
      parent.stdout.setEncoding('utf8');
      parent.stdout.on('data', (chunk: string) => {
        out += chunk;
        const m = /child (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      parent.on('exit', () => reject(new Error(`the parent exited early: ${out}`)));
    });
    expect(alive(childPid)).toBe(true);
    parent.kill('SIGKILL');
    expect(await waitFor(() => !alive(childPid), 10_000)).toBe(true);
  });
});
