/**
 * An erase during a retrain never ends in a model trained on the erased text: the real collection service (SQLite),
 * the real retrain manager and real trainer children. A marker word only one member used is in the first
 * training's text; that member /forgets (or a message is deleted) while the trainer runs; the run trains again
 * without it (and says so), or, when erasures come again, refuses and keeps nothing.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { finalMessage } from '../src/discord/commands/retrain.js';
import { ERASED_DURING_TRAINING, RETRAINED_AFTER_ERASURE } from '../src/service/erasure-check.js';
import { createModelCache } from '../src/service/model-cache.js';
import { createRegistry } from '../src/service/registry.js';
import { createRetrainManager, loadBaseCorpus, type RetrainManagerOptions } from '../src/service/retrain.js';
import { runTraining } from '../src/training/trainer.js';
import { C, closeStores, G, msg, setup } from './helpers/collection-setup.js';

const MARKER = 'flumptastic';
const FORGETFUL = '3999';
const OTHERS = ['3001', '3002', '3003'];
const LINES = [
  'pizza night with the squad',
  'who wants to play games',
  'me want pizza',
  'gg everyone',
  'the raid starts at nine',
  'see you in voice chat',
];

let work: string;
let baseCorpus: string[];
let n = 0;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'babble-erasure-retrain-'));
  baseCorpus = await loadBaseCorpus('data/corpus.txt');
});
afterAll(() => rm(work, { recursive: true, force: true }));
afterEach(closeStores);

async function server() {
  const s = await setup();
  await s.collection.setChannel(G, C, true, '1');
  let id = 100;
  for (let i = 0; i < 40; i++) {
    const authorId = OTHERS[i % OTHERS.length]!;
    await s.collection.collect(msg({ id: String(id++), authorId, content: `${LINES[i % LINES.length]} ${i}` }));
  }
  for (let i = 0; i < 5; i++) {
    await s.collection.collect(msg({ id: String(id++), authorId: FORGETFUL, content: `me love ${MARKER} ${i}` }));
  }
  await s.collection.collect(msg({ id: '90', authorId: OTHERS[0]!, content: 'me see doggy' }));
  return s;
}

/** Runs one retrain; `duringRun(i)` is called while the i-th trainer child is running. */
type Collection = Awaited<ReturnType<typeof server>>['collection'];

async function retrain(collection: Collection, duringRun: (i: number) => Promise<void>) {
  const registry = createRegistry({ root: join(work, `root-${n++}`) });
  const models = createModelCache({ registry, baseDir: 'models/base' });
  const jobs: string[][] = [];
  const trainer: NonNullable<RetrainManagerOptions['runTraining']> = (job, options) => {
    const i = jobs.push(job.trainingLines) - 1;
    let erased: Promise<void> = Promise.resolve();
    const ready = (info: { pid: number; envKeys: string[] }) => {
      options.onReady?.(info);
      erased = duringRun(i);
    };
    // The erase is done before the training is reported finished (deterministic, whatever the machine's speed).
    return runTraining(job, { ...options, onReady: ready }).then(async (result) => {
      await erased;
      return result;
    });
  };
  const manager = createRetrainManager({
    registry,
    models,
    baseCorpus,
    baseModelDir: 'models/base',
    progressIntervalMs: 0,
    minLines: 20,
    trainingText: (scope) => collection.trainingText(scope),
    dataGeneration: (scope) => collection.dataGeneration(scope),
    training: { maxSteps: 3, batchSize: 8, workers: 1, childProgressMs: 0, minBaseChars: 3000, graceMs: 500 },
    runTraining: trainer,
  });
  const started = manager.start({ scope: G });
  const outcome = await started.job.result;
  await manager.close();
  const root = join(work, `root-${n - 1}`);
  const folders = await readdir(join(root, G)).catch(() => [] as string[]);
  return { outcome, jobs, registry, folders };
}

const hasMarker = (lines: readonly string[]) => lines.some((l) => l.includes(MARKER));

describe('an erase during a retrain', () => {
  it('without an erase: one training, nothing said', async () => {
    const { collection } = await server();
    const { outcome, jobs } = await retrain(collection, async () => undefined);
    expect(jobs).toHaveLength(1);
    expect(hasMarker(jobs[0]!)).toBe(true);
    expect(outcome.status === 'swapped' || outcome.status === 'rejected').toBe(true);
    expect((outcome as { erasedDuringTraining?: string }).erasedDuringTraining).toBeUndefined();
    expect(finalMessage(G, outcome).embeds[0]!.description).not.toContain(RETRAINED_AFTER_ERASURE);
  });

  it('/forget while training: trains again without the marker, and the admin is told', async () => {
    const { collection } = await server();
    const { outcome, jobs } = await retrain(collection, async (i) => {
      if (i === 0) await collection.forget(G, FORGETFUL);
    });
    expect(jobs).toHaveLength(2);
    expect(hasMarker(jobs[0]!)).toBe(true);
    expect(hasMarker(jobs[1]!)).toBe(false);
    expect(outcome.status === 'swapped' || outcome.status === 'rejected').toBe(true);
    expect((outcome as { erasedDuringTraining?: string }).erasedDuringTraining).toBe('retrained');
    // What the admin reads in the result message.
    expect(finalMessage(G, outcome).embeds[0]!.description).toContain(RETRAINED_AFTER_ERASURE);
  });

  it('erasures during both trainings (a /forget, then a message delete): refused, nothing kept', async () => {
    const { collection } = await server();
    const { outcome, jobs, registry, folders } = await retrain(collection, async (i) => {
      if (i === 0) await collection.forget(G, FORGETFUL);
      else await collection.remove(G, ['90']);
    });
    expect(jobs).toHaveLength(2);
    expect(outcome).toEqual({ status: 'failed', reason: ERASED_DURING_TRAINING });
    expect(finalMessage(G, outcome).embeds[0]!.description).toContain(ERASED_DURING_TRAINING);
    expect(await registry.resolve(G)).toBeNull();
    expect(folders.filter((f) => !f.startsWith('.'))).toEqual([]);
  });
});
