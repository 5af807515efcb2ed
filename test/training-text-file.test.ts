/**
 * The training text goes to the trainer child through a 0600 file that holds it (and the IPC job does not), and
 * the file is gone when the job ends: after success, a child-side failure, a cancel and a SIGKILL of the child.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runTraining, TrainingError, type RunTrainingOptions } from '../src/training/trainer.js';
import type { TrainJob } from '../src/training/trainer-protocol.js';
import {
  removeStaleTrainingText,
  STALE_TRAINING_TEXT_MS,
  withTrainingText,
  writeTrainingTextFile,
} from '../src/training/training-text-file.js';

const CORPUS = readFileSync('data/corpus.txt', 'utf8').trim().split('\n');
const MARKER = 'zebrafrobnicate';
const work = mkdtempSync(join(tmpdir(), 'babble-textfile-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;

function job(overrides: Partial<TrainJob> = {}): TrainJob {
  return {
    baseModelDir: 'models/base',
    outDir: join(work, `out-${n++}`),
    version: 'test',
    trainingLines: [`me like ${MARKER}`, 'pizza pizza pizza', 'the server is fun', 'me want pizza'],
    baseCorpusLines: CORPUS.slice(0, 100),
    heldOut: { server: ['me want pizza party'], base: CORPUS.slice(4400, 4420) },
    batchSize: 8,
    workers: 1,
    progressIntervalMs: 0,
    ...overrides,
  };
}

interface Seen {
  path: string;
  mode: number;
  holdsMarker: boolean;
}

/** Runs a job, recording the text file as it was while the job ran; returns the outcome and the file. */
async function run(j: TrainJob, options: RunTrainingOptions = {}): Promise<{ error?: TrainingError; seen: Seen }> {
  let seen: Seen | undefined;
  const onTextFile = (path: string) => {
    seen = { path, mode: statSync(path).mode & 0o777, holdsMarker: readFileSync(path, 'utf8').includes(MARKER) };
  };
  try {
    await runTraining(j, { ...options, onTextFile });
    return { seen: seen! };
  } catch (err) {
    expect(err).toBeInstanceOf(TrainingError);
    return { error: err as TrainingError, seen: seen! };
  }
}

function expectGone(seen: Seen): void {
  expect(seen.mode).toBe(0o600);
  expect(seen.holdsMarker).toBe(true);
  expect(existsSync(seen.path)).toBe(false);
  expect(existsSync(dirname(seen.path))).toBe(false);
}

describe('the training text file', () => {
  it('is 0600, the job sent holds no line, and the child reads the lines back', async () => {
    const file = await writeTrainingTextFile(job(), work);
    try {
      expect(statSync(file.path).mode & 0o777).toBe(0o600);
      expect(statSync(dirname(file.path)).mode & 0o777).toBe(0o700);
      expect(JSON.stringify(file.job)).not.toContain(MARKER);
      const back = await withTrainingText(file.job);
      expect(back.trainingLines).toEqual(job().trainingLines);
      expect(back.textFile).toBeUndefined();
    } finally {
      await file.remove();
    }
    expect(existsSync(file.path)).toBe(false);
  });

  it('is deleted after a successful run', async () => {
    const { error, seen } = await run(job({ maxSteps: 2 }));
    expect(error).toBeUndefined();
    expectGone(seen);
  });

  it('is deleted after the child fails', async () => {
    const { error, seen } = await run(job({ maxSteps: 2, baseModelDir: join(work, 'no-such-model') }));
    expect(error?.kind).toBe('failed');
    expectGone(seen);
  });

  it('is deleted after a cancel', async () => {
    const controller = new AbortController();
    const { error, seen } = await run(job({ maxSeconds: 60 }), {
      signal: controller.signal,
      onProgress: () => controller.abort(),
    });
    expect(error?.kind).toBe('cancelled');
    expectGone(seen);
  });

  it('is deleted after the child is SIGKILLed', async () => {
    let pid = -1;
    const { error, seen } = await run(job({ maxSeconds: 60 }), {
      onSpawn: (p) => {
        pid = p;
      },
      onProgress: () => process.kill(pid, 'SIGKILL'),
    });
    expect(error?.signal).toBe('SIGKILL');
    expectGone(seen);
  });
});

describe('training text left by a killed bot', () => {
  it('is removed at start once it is older than an hour; a fresh one (another process training) stays', async () => {
    const parent = mkdtempSync(join(work, 'tmp-'));
    const old = await writeTrainingTextFile(job(), parent);
    const fresh = await writeTrainingTextFile(job(), parent);
    const longAgo = (Date.now() - STALE_TRAINING_TEXT_MS - 60_000) / 1000;
    utimesSync(dirname(old.path), longAgo, longAgo);
    expect(await removeStaleTrainingText(parent)).toBe(1);
    expect(existsSync(old.path)).toBe(false);
    expect(existsSync(fresh.path)).toBe(true);
  });
});
