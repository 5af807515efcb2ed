/**
 * A rollback made while a /retrain trains is not silently overridden (issue 12 item 9): the retrain manager
 * commits with the version it started on, the registry refuses the flip, the admin is told why, and the rolled
 * back version keeps serving. The real trainer child runs; the rollback happens while it trains.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadModel, saveModel } from '../src/model/store.js';
import { RETRAIN_FAILURE } from '../src/service/failure.js';
import { createModelCache } from '../src/service/model-cache.js';
import { createRegistry } from '../src/service/registry.js';
import { createRetrainManager, loadBaseCorpus, type RetrainManagerOptions } from '../src/service/retrain.js';
import { runTraining } from '../src/training/trainer.js';

const G = '200000000000000009';
const TEXT = Array.from({ length: 60 }, (_, i) => `me want pizza ${['now', 'please', 'again', 'too'][i % 4]}`);
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'babble-rollback-race-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

it('a rollback during the training wins: the new model is not swapped in and the admin is told why', async () => {
  const registry = createRegistry({ root: join(work, 'models') });
  const models = createModelCache({ registry, baseDir: 'models/base' });
  const base = await loadModel('models/base');
  for (const tag of ['one', 'two']) {
    const tmp = await registry.tempDir(G);
    const meta = { version: tag, corpus: { sha256: '', chars: 0 }, training: { tag } };
    await saveModel(tmp, base.weights, base.vocab, meta);
    await registry.commit(G, tmp, {});
  }
  // Another admin (or process) rolls the server back to version 1 while the trainer runs on version 2.
  const trainer: NonNullable<RetrainManagerOptions['runTraining']> = async (job, options) => {
    await registry.rollback(G, 1);
    return runTraining(job, options);
  };
  const manager = createRetrainManager({
    registry,
    models,
    trainingText: async () => TEXT,
    baseCorpus: await loadBaseCorpus('data/corpus.txt'),
    baseModelDir: 'models/base',
    progressIntervalMs: 0,
    minLines: 20,
    runTraining: trainer,
    gate: { tolerance: 10 },
    training: { maxSteps: 3, batchSize: 8, workers: 1, childProgressMs: 0, minBaseChars: 3000, graceMs: 500 },
  });
  const started = manager.start({ scope: G, minutes: 1, requestedBy: '42' });
  const outcome = await started.job.result;
  expect(outcome).toMatchObject({ status: 'failed', reason: RETRAIN_FAILURE.moved });
  expect((await registry.history(G)).current).toBe(1);
  expect((await models.modelFor(G)).version).toBe(1);
  expect((await readdir(join(registry.root, G))).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  await manager.close();
});
