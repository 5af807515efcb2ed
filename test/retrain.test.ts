/**
 * Retraining end to end with real trainer children (a few tiny steps each): the swap, the quality gate, one run per
 * server, the global queue, cancel, crashes and corrupt output leaving the serving model alone.
 */
import { readdir, readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PNG_SIGNATURE } from '../src/service/loss-chart.js';
import { createLogger } from '../src/log.js';
import { RETRAIN_FAILURE, TRAINER_FAILURE } from '../src/service/failure.js';
import { memoryLocks } from '../src/service/lock.js';
import { NO_WORDS } from '../src/service/moderation.js';
import { createModelCache, type ModelCache } from '../src/service/model-cache.js';
import { createRegistry, type ModelRegistry } from '../src/service/registry.js';
import {
  createRetrainManager,
  loadBaseCorpus,
  type RetrainEvent,
  type RetrainManagerOptions,
  type RetrainOutcome,
} from '../src/service/retrain.js';
import { importKerasModel } from '../src/keras/import.js';
import { runTraining, TrainingError } from '../src/training/trainer.js';
import type { RunTrainingOptions } from '../src/training/trainer.js';
import type { TrainJob } from '../src/training/trainer-protocol.js';

const G1 = '200000000000000001';
const G2 = '200000000000000002';
const G3 = '200000000000000003';
/** A server that talks about pizza and games, in its own words. */
const SERVER_TEXT = Array.from(
  { length: 60 },
  (_, i) =>
    [
      'pizza night with the squad',
      'who wants to play games tonight',
      'me want pizza',
      'gg everyone',
      'the raid starts at nine',
      'lol that was funny',
      'pizza is the best food',
      'see you in voice chat',
    ][i % 8]! +
    (i >= 8 ? ` ${['again', 'too', 'now', 'please', 'ok', 'yes', 'maybe', 'later'][Math.floor(i / 8) % 8]}` : ''),
);

let work: string;
let baseCorpus: string[];
let registry: ModelRegistry;
let models: ModelCache;
let spawned: number[];
let n = 0;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'babble-retrain-'));
  baseCorpus = await loadBaseCorpus('data/corpus.txt');
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});
beforeEach(() => {
  registry = createRegistry({ root: join(work, `root-${n++}`) });
  models = createModelCache({ registry, baseDir: 'models/base' });
  spawned = [];
});

type Trainer = NonNullable<RetrainManagerOptions['runTraining']>;

/** The real trainer, counting children. */
const counting: Trainer = (job, options) =>
  runTraining(job, {
    ...options,
    onSpawn: (pid) => {
      spawned.push(pid);
      options.onSpawn?.(pid);
    },
  });

function manager(overrides: Partial<RetrainManagerOptions> = {}) {
  return createRetrainManager({
    registry,
    models,
    trainingText: async () => SERVER_TEXT,
    baseCorpus,
    baseModelDir: 'models/base',
    progressIntervalMs: 0,
    minLines: 20,
    training: { maxSteps: 3, batchSize: 8, workers: 1, childProgressMs: 0, minBaseChars: 3000, graceMs: 500 },
    runTraining: counting,
    ...overrides,
  });
}

function record(events: RetrainEvent[]) {
  return (e: RetrainEvent) => events.push(e);
}

async function leftovers(scope: string): Promise<string[]> {
  try {
    return (await readdir(join(registry.root, scope))).filter((f) => f.startsWith('.tmp-'));
  } catch {
    return [];
  }
}

function expectStatus<S extends RetrainOutcome['status']>(
  o: RetrainOutcome,
  status: S,
): Extract<RetrainOutcome, { status: S }> {
  expect(o.status, JSON.stringify(o).slice(0, 300)).toBe(status);
  return o as Extract<RetrainOutcome, { status: S }>;
}

describe('retrain manager', () => {
  it('trains, passes the gate, swaps the new version in for that server only, and reports progress and a chart', async () => {
    const other = (await models.modelFor(G2)).model.generate('me ', { length: 40, rng: 5 });
    const m = manager();
    const events: RetrainEvent[] = [];
    const start = m.start({ scope: G1, minutes: 1, requestedBy: '42' });
    expect(start.status).toBe('started');
    start.job.subscribe(record(events));
    const outcome = expectStatus(await start.job.result, 'swapped');
    expect(outcome.version).toBe(1);
    expect(outcome.previous).toBe('base');
    expect(outcome.steps).toBe(3);
    expect(outcome.gate.pass).toBe(true);
    expect(outcome.heldOut.before.server).toBeGreaterThan(0);
    expect(outcome.chart.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(events.filter((e) => e.type === 'progress').length).toBeGreaterThan(0);
    expect(events.at(-1)).toEqual({ type: 'finished', outcome });
    const served = await models.modelFor(G1);
    expect(served).toMatchObject({ scope: G1, version: 1, label: '1' });
    expect((await registry.history(G1)).versions[0]!.record?.details.requestedBy).toBe('42');
    expect((await models.modelFor(G2)).model.generate('me ', { length: 40, rng: 5 })).toBe(other);
    expect(spawned).toHaveLength(1);
    expect(await leftovers(G1)).toEqual([]);
    expect(m.get(G1)).toBeUndefined();
  });

  it('keeps a model that fails the gate aside, with the reason, and keeps serving the old one', async () => {
    const m = manager({
      trainingText: async () => Array.from({ length: 40 }, (_, i) => `zqx${i} vvkj qqzz xkcd wq${i}`),
      training: {
        maxSteps: 6,
        batchSize: 16,
        workers: 1,
        childProgressMs: 0,
        minBaseChars: 200,
        learningRate: 0.05,
        graceMs: 500,
      },
    });
    const outcome = expectStatus(await m.start({ scope: G1 }).job.result, 'rejected');
    expect(outcome.gate.pass).toBe(false);
    expect(outcome.gate.reasons.length).toBeGreaterThan(0);
    expect(outcome.keptAs).toMatch(/rejected-/);
    expect(outcome.gate.reasons.join(' ')).toMatch(/worse on the held-out baby corpus/);
    const history = await registry.history(G1);
    expect(history.current).toBe(0);
    expect(history.versions).toEqual([]);
    expect(history.rejected[0]!.details?.reasons).toEqual(outcome.gate.reasons);
    expect((await models.modelFor(G1)).label).toBe('base');
  });

  it('refuses a model whose samples trip the word filter above the set rate, and never shows them', async () => {
    // A filter that blocks every non-empty text: all the samples trip it.
    const screen = (text: string) => (text.trim() ? { list: 'server' as const } : undefined);
    const m = manager({ moderation: { screenerFor: async () => screen } });
    const events: RetrainEvent[] = [];
    const start = m.start({ scope: G1 });
    start.job.subscribe(record(events));
    const outcome = expectStatus(await start.job.result, 'rejected');
    expect(outcome.gate.reasons.join(' ')).toMatch(/trip the word filter \(\d+% of them, at most 10% allowed\)/);
    for (const text of outcome.gate.samples.texts) expect(['', NO_WORDS]).toContain(text);
    const samples = events.flatMap((e) => (e.type === 'progress' ? [e.progress.sample] : []));
    expect(samples.length).toBeGreaterThan(0);
    for (const sample of samples) expect(['', NO_WORDS]).toContain(sample);
    expect((await models.modelFor(G1)).label).toBe('base');
  });

  it('fails without training when the word filter cannot be read', async () => {
    const broken = () => Promise.reject(new Error('SQLITE_IOERR /var/secret/babble.sqlite'));
    const m = manager({ moderation: { screenerFor: broken } });
    const outcome = expectStatus(await m.start({ scope: G1 }).job.result, 'failed');
    expect(outcome.reason).toBe(RETRAIN_FAILURE.wordFilter);
    expect(outcome.errorId).toMatch(/^[0-9a-f]{8}$/);
    expect(spawned).toEqual([]);
  });

  it('20 concurrent requests for one server start exactly one child; the others are told it is running', async () => {
    const m = manager();
    const results = Array.from({ length: 20 }, () => m.start({ scope: G1 }));
    expect(results.filter((r) => r.status === 'started')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'busy')).toHaveLength(19);
    const job = results[0]!.job;
    for (const r of results) expect(r.job).toBe(job);
    expectStatus(await job.result, 'swapped');
    expect(spawned).toHaveLength(1);
    expect(m.start({ scope: G1 }).status).toBe('started');
    await m.get(G1)!.result;
  });

  it('queues beyond TRAIN_CONCURRENCY with positions, moves the queue on cancel, and runs the next', async () => {
    const m = manager({ concurrency: 1 });
    const first = m.start({ scope: G1 });
    const second = m.start({ scope: G2 });
    const third = m.start({ scope: G3 });
    expect([first.status, second.status, third.status]).toEqual(['started', 'queued', 'queued']);
    expect([second.job.position, third.job.position]).toEqual([1, 2]);
    expect(m.queued()).toEqual([G2, G3]);
    const thirdEvents: RetrainEvent[] = [];
    third.job.subscribe(record(thirdEvents));
    expect(m.cancel(G2)).toBe(true);
    expectStatus(await second.job.result, 'cancelled');
    expect(third.job.position).toBe(1);
    expect(thirdEvents).toContainEqual({ type: 'queued', position: 1 });
    expectStatus(await first.job.result, 'swapped');
    expectStatus(await third.job.result, 'swapped');
    expect(thirdEvents.map((e) => e.type)).toContain('started');
    expect(spawned).toHaveLength(2);
  });

  it("cancels a running training: nothing is swapped, nothing is left behind, and the server's lock is released", async () => {
    const m = manager({
      training: { maxSteps: 10_000, batchSize: 8, workers: 1, childProgressMs: 0, minBaseChars: 3000, graceMs: 500 },
    });
    const { job } = m.start({ scope: G1 });
    job.subscribe((e) => {
      if (e.type === 'progress') m.cancel(G1);
    });
    expectStatus(await job.result, 'cancelled');
    expect((await registry.history(G1)).versions).toEqual([]);
    expect(await leftovers(G1)).toEqual([]);
    expect(m.get(G1)).toBeUndefined();
  });

  it('a trainer killed with SIGKILL mid-training: the admin gets the reason, nothing is swapped, the lock is released', async () => {
    const killing: Trainer = (job, options) => {
      let pid = -1;
      return counting(job, {
        ...options,
        onSpawn: (p) => {
          pid = p;
        },
        onProgress: (p) => {
          process.kill(pid, 'SIGKILL');
          options.onProgress?.(p);
        },
      });
    };
    const m = manager({
      runTraining: killing,
      training: { maxSteps: 10_000, batchSize: 8, workers: 1, childProgressMs: 0, minBaseChars: 3000 },
    });
    const outcome = expectStatus(await m.start({ scope: G1 }).job.result, 'failed');
    expect(outcome.reason).toBe(TRAINER_FAILURE.crashed);
    expect(outcome.errorId).toMatch(/^[0-9a-f]{8}$/);
    expect(await registry.resolve(G1)).toBeNull();
    expect(await leftovers(G1)).toEqual([]);
    expect(m.get(G1)).toBeUndefined();
  });

  it('corrupt weights from the trainer are refused and the old version keeps serving', async () => {
    const m = manager();
    expectStatus(await m.start({ scope: G1 }).job.result, 'swapped');
    const corrupting: Trainer = async (job: TrainJob, options: RunTrainingOptions) => {
      const result = await counting(job, options);
      const path = join(job.outDir, 'weights.bin');
      const bytes = await readFile(path);
      bytes.fill(0, 0, 4096);
      await writeFile(path, bytes);
      return result;
    };
    const m2 = manager({ runTraining: corrupting });
    const outcome = expectStatus(await m2.start({ scope: G1 }).job.result, 'failed');
    expect(outcome.reason).toBe(RETRAIN_FAILURE.load);
    expect((await registry.resolve(G1))?.version).toBe(1);
    expect((await models.modelFor(G1)).version).toBe(1);
    expect(await leftovers(G1)).toEqual([]);
  });

  it("charges each run's trainer time to its server's budget, and nothing for a run that never trained", async () => {
    const charges: Array<{ scope: string; ms: number }> = [];
    const budget = {
      charge: async (scope: string, start: number, end: number) => {
        charges.push({ scope, ms: end - start });
      },
    };
    const before = Date.now();
    expectStatus(await manager({ budget }).start({ scope: G1 }).job.result, 'swapped');
    expect(charges).toEqual([{ scope: G1, ms: expect.any(Number) }]);
    expect(charges[0]!.ms).toBeGreaterThan(0);
    expect(charges[0]!.ms).toBeLessThanOrEqual(Date.now() - before);
    expectStatus(await manager({ budget, trainingText: async () => ['hi'] }).start({ scope: G2 }).job.result, 'failed');
    expect(charges).toHaveLength(1);
  });

  it('refuses to train on too little text without starting a child', async () => {
    const m = manager({ trainingText: async () => ['hi', 'hello'] });
    const outcome = expectStatus(await m.start({ scope: G1 }).job.result, 'failed');
    expect(outcome.reason).toMatch(/not enough text.*2 usable lines.*20/);
    expect(spawned).toEqual([]);
  });

  it('a failing text source: a fixed reason and an error id; the raw error (paths, secrets) only logged', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const write = (s: string) => {
      lines.push(JSON.parse(s) as Record<string, unknown>);
    };
    const log = createLogger('info', { write });
    const raw = 'SQLITE_BUSY: database is locked at /srv/babble/var/babble.sqlite (password=hunter2)';
    const m = manager({
      log,
      trainingText: async () => {
        throw new Error(raw);
      },
    });
    const outcome = expectStatus(await m.start({ scope: G1 }).job.result, 'failed');
    expect(outcome.reason).toBe(RETRAIN_FAILURE.readText);
    expect(JSON.stringify(outcome)).not.toMatch(/SQLITE|\/srv|hunter2/);
    const line = lines.find((l) => l.errorId === outcome.errorId)!;
    expect((line.err as { message: string }).message).toBe(raw);
  });

  it('a trainer that cannot start (ENOENT, no exit event) fails clearly and frees the slot and the lock', async () => {
    const locks = memoryLocks();
    const cannotStart: Trainer = (job, options) =>
      runTraining(job, { ...options, execPath: join(work, 'no-such-node') });
    const m = manager({ concurrency: 1, locks, runTraining: cannotStart });
    const first = m.start({ scope: G1 });
    const second = m.start({ scope: G2 });
    expect(second.status).toBe('queued');
    const outcome = expectStatus(await first.job.result, 'failed');
    expect(outcome.reason).toBe(TRAINER_FAILURE['not-started']);
    // The slot: the queued run got it (and failed the same way).
    expectStatus(await second.job.result, 'failed');
    // The per-server job and lock: free again.
    expect(m.get(G1)).toBeUndefined();
    const lock = await locks.acquire(G1);
    expect(lock).not.toBeNull();
    await lock!.release();
    expect(await leftovers(G1)).toEqual([]);
  });

  it('throttles progress events for the UI while keeping the latest figures', async () => {
    let childReports = 0;
    const m = manager({
      progressIntervalMs: 60 * 60_000,
      runTraining: (job, options) =>
        counting(job, {
          ...options,
          onProgress: (p) => {
            childReports++;
            options.onProgress?.(p);
          },
        }),
    });
    const events: RetrainEvent[] = [];
    const { job } = m.start({ scope: G1 });
    job.subscribe(record(events));
    await job.result;
    expect(childReports).toBeGreaterThan(1);
    expect(events.filter((e) => e.type === 'progress')).toHaveLength(1);
    expect(job.latest?.step).toBe(3);
  });

  it('close() cancels queued and running runs, waits for them, and refuses new ones', async () => {
    const m = manager({
      training: { maxSteps: 10_000, batchSize: 8, workers: 1, childProgressMs: 0, minBaseChars: 3000, graceMs: 500 },
    });
    const running = m.start({ scope: G1 });
    const waiting = m.start({ scope: G2 });
    await new Promise<void>((resolve) =>
      running.job.subscribe((e) => {
        if (e.type === 'progress') resolve();
      }),
    );
    await m.close();
    expectStatus(await running.job.result, 'cancelled');
    expectStatus(await waiting.job.result, 'cancelled');
    expect(() => m.start({ scope: G3 })).toThrow(/shutting down/);
    expect(await leftovers(G1)).toEqual([]);
    expect(spawned).toHaveLength(1);
  });
});

describe('retrain of an imported model', () => {
  it('prepares the server text over the vocabulary of the model it fine-tunes (an imported one keeps its case)', async () => {
    const imported = join(registry.root, '..', 'imported-model');
    await importKerasModel({ file: 'test/fixtures/keras/k3_two.keras', out: imported, overwrite: true });
    let job: TrainJob | undefined;
    const m = manager({
      baseModelDir: imported,
      trainingText: async () =>
        Array.from({ length: 30 }, (_, i) => `Doggy ${'abcdefghiklmnoprstuvwy'.slice(0, (i % 20) + 1)} ${i} go WOOF`),
      runTraining: async (j) => {
        job = j;
        throw new TrainingError('failed', 'stopped by the test');
      },
    });
    expectStatus(await m.start({ scope: '999000111' }).job.result, 'failed');
    expect(job?.baseModelDir).toBe(imported);
    expect(job?.trainingLines.length).toBeGreaterThan(0);
    // D and W are in its alphabet (kept), O and F are not (folded to o, f), digits are not at all (dropped).
    for (const line of job!.trainingLines) expect(line).toMatch(/^Doggy [a-y]+ go Woof$/);
  });

  it('fails a retrain of an imported model Babble cannot train, telling why, and swaps nothing', async () => {
    const imported = join(registry.root, '..', 'imported-three');
    const chars = (JSON.parse(await readFile('test/fixtures/keras/expected.json', 'utf8')) as { chars: string[] })
      .chars;
    await importKerasModel({
      file: 'test/fixtures/keras/k2_three.h5',
      vocab: { chars: chars.join('') },
      out: imported,
      overwrite: true,
    });
    const m = manager({
      baseModelDir: imported,
      trainingText: async () =>
        Array.from({ length: 30 }, (_, i) => `Doggy ${'abcdefghiklmnoprstuvwy'.slice(0, (i % 20) + 1)}`),
    });
    const outcome = expectStatus(await m.start({ scope: '999000222' }).job.result, 'failed');
    expect(outcome.reason).toMatch(/cannot be trained by Babble: it has 3 LSTM layer/);
    expect(await registry.resolve('999000222')).toBeNull();
  }, 60_000);
});
