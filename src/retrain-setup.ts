/**
 * The retrain manager the configuration asks for, over the parts the bot (bot.ts) or a trainer host
 * (trainer-host.ts) has opened: the base corpus, the training settings, the quality gate, the word filter, the
 * training budget and the per-server lock.
 */
import type { Config } from './config.js';
import type { Logger } from './log.js';
import type { CollectionService } from './service/collection.js';
import type { TrainingLocks } from './service/lock.js';
import type { ModelCache } from './service/model-cache.js';
import type { Moderation } from './service/moderation.js';
import type { ModelRegistry } from './service/registry.js';
import type { RetrainManager } from './service/retrain.js';
import type { TrainingBudget } from './service/training-budget.js';
import { errorMessage } from './error-message.js';

/** The base corpus mixed into every retraining so that the model stays a baby (relative to the working folder). */
export const BASE_CORPUS_FILE = 'data/corpus.txt';

export interface RetrainParts {
  registry: ModelRegistry;
  models: ModelCache;
  collection: Pick<CollectionService, 'trainingText' | 'dataGeneration'>;
  locks: TrainingLocks | undefined;
  moderation: Moderation;
  budget: TrainingBudget;
}

export async function createRetrain(config: Config, log: Logger, parts: RetrainParts): Promise<RetrainManager> {
  const { registry, models, collection, locks, moderation, budget } = parts;
  const { createRetrainManager, loadBaseCorpus } = await import('./service/retrain.js');
  const { BASE_SCOPE } = await import('./service/registry.js');
  let baseCorpus: string[];
  try {
    baseCorpus = await loadBaseCorpus(BASE_CORPUS_FILE);
  } catch (error) {
    throw new Error(
      `could not read the base corpus ${BASE_CORPUS_FILE} (retraining mixes it in; run the bot from the project folder): ${errorMessage(error)}`,
      { cause: error },
    );
  }
  return createRetrainManager({
    registry,
    models,
    baseModelDir: config.modelDir,
    log,
    // The shared base model is retrained on the base corpus alone; a server's on what it collected and was taught.
    trainingText: (scope) => (scope === BASE_SCOPE ? Promise.resolve([]) : collection.trainingText(scope)),
    dataGeneration: (scope) => (scope === BASE_SCOPE ? Promise.resolve('') : collection.dataGeneration(scope)),
    baseCorpus,
    concurrency: config.trainConcurrency,
    defaultMinutes: config.trainDefaultMinutes,
    ...(config.trainDefaultEpochs > 0 ? { defaultEpochs: config.trainDefaultEpochs } : {}),
    maxMinutes: config.trainMaxMinutes,
    minLines: config.trainMinLines,
    gate: { tolerance: config.trainGateTolerance, maxFlaggedRate: config.trainGateMaxFlagged },
    moderation,
    budget,
    training: { maxHeapMb: config.trainMaxHeapMb },
    ...(locks ? { locks } : {}),
  });
}
