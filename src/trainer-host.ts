/**
 * A trainer host (`npm run trainer`, TRAINER_MODE=queue): takes /retrain jobs from the BullMQ queue in Redis and
 * runs each as a single-host bot would — the trainer child (no Discord token, heap cap, time limit), the quality
 * gate, the commit to the model store (MODEL_STORE_URL) and the swap announced to every bot host. It reads the
 * servers' text, word filters and training budgets from the shared storage (STORAGE_URL, Redis) and never talks
 * to Discord. Stops on SIGTERM or SIGINT: no new jobs, running ones cancelled (nothing swapped), exit 0.
 */
import dotenv from 'dotenv';
import { ConfigError, parseConfig, type Config } from './config.js';
import { createLogger, type Logger } from './log.js';
import { errorMessage } from './error-message.js';
import { createRetrain } from './retrain-setup.js';
import { createBlockedWords } from './service/blocked-words.js';
import { createCollectionService } from './service/collection.js';
import { createModeration } from './service/moderation.js';
import { createOutputFilter } from './service/output-filter.js';
import { createTrainingBudget } from './service/training-budget.js';
import type { KvStore } from './storage/kv.js';
import { openStore, parseStorageUrl } from './storage/open.js';
import type { OpenedRegistry } from './model-store/open-registry.js';
import type { SharedState } from './service/redis-coordination.js';
import type { TrainerWorker } from './training-queue/worker.js';
import type { RedisClient } from './storage/redis.js';

export interface TrainerHostOptions {
  env?: NodeJS.ProcessEnv;
}

/** What a trainer host has opened (closed in reverse order). */
interface Opened {
  store?: KvStore;
  modelStore?: OpenedRegistry;
  shared?: SharedState;
  subscriber?: RedisClient;
  worker?: TrainerWorker;
}

/** Runs a trainer host until SIGTERM or SIGINT; resolves with the exit code. */
export async function runTrainerHost(options: TrainerHostOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  if (!options.env) dotenv.config({ quiet: true });
  let config: Config;
  try {
    config = parseConfig(env, { role: 'trainer' });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) process.stderr.write(`${problem}\n`);
    return 1;
  }
  const log = createLogger(config.logLevel);
  const storage = parseStorageUrl(config.storageUrl);
  if (storage.kind !== 'redis') {
    log.fatal('npm run trainer needs STORAGE_URL=redis://… (the training queue and the servers’ text live there)');
    return 1;
  }
  const opened: Opened = {};
  let stop: (signal: NodeJS.Signals) => void = () => undefined;
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    stop = resolve;
  });
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    await openAll(config, log, storage.url, opened);
    log.info('trainer host serving');
    log.info({ signal: await stopped }, 'stopping the trainer host');
    return 0;
  } catch (error) {
    log.fatal({ err: error }, `the trainer host could not start: ${errorMessage(error)}`);
    return 1;
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    await closeAll(opened, log);
  }
}

/** Storage, model store, shared lock and swaps, the cancel subscription and the queue worker. */
async function openAll(config: Config, log: Logger, redisUrl: string, opened: Opened): Promise<void> {
  const store = await openStore(config.storageUrl, {
    onError: (err) => log.warn({ err }, 'storage reported an error'),
  });
  opened.store = store;
  const collection = createCollectionService({
    store,
    retentionDays: config.retentionDays,
    log,
    journalPath: config.erasureJournal,
    quotas: config.quotas,
  });
  const filter = createOutputFilter({ builtIn: config.outputFilter });
  const moderation = createModeration({ filter, words: createBlockedWords(store), log });
  const budget = createTrainingBudget({
    store,
    dailyMinutes: config.trainDailyMinutes,
    cooldownMinutes: config.trainCooldownMinutes,
  });
  const { initBackend } = await import('./model/backend.js');
  const backend = await initBackend(config.backend, { log });
  const { openConfiguredRegistry } = await import('./model-store/open-registry.js');
  opened.modelStore = await openConfiguredRegistry(config, log);
  const { registry } = opened.modelStore;
  await registry.init();
  const { createModelCache } = await import('./service/model-cache.js');
  const local = createModelCache({ registry, baseDir: config.modelDir, size: 1, backend });
  const { openSharedState } = await import('./service/redis-coordination.js');
  const shared = await openSharedState({ url: redisUrl, registry, models: local, log });
  opened.shared = shared;
  const { connectRedis } = await import('./storage/redis.js');
  [opened.subscriber] = await connectRedis({ url: redisUrl, onError: (err) => log.warn({ err }, 'cancel channel') });
  const subscriber = opened.subscriber!;
  const { startTrainerWorker } = await import('./training-queue/worker.js');
  opened.worker = await startTrainerWorker({
    redisUrl,
    concurrency: config.trainConcurrency,
    stalledMs: config.trainStalledSeconds * 1000,
    subscribe: (channel, listener) => subscriber.subscribe(channel, listener),
    log,
    createManager: (reportLocks) =>
      createRetrain(config, log, {
        registry,
        models: shared.models,
        collection,
        locks: reportLocks(shared.locks),
        moderation,
        budget,
      }),
  });
}

async function closeAll(opened: Opened, log: Logger): Promise<void> {
  const quietly = (what: string) => (err: unknown) => log.warn({ err }, `error while closing ${what}`);
  log.debug('closing the queue worker');
  await opened.worker?.close().catch(quietly('the queue worker'));
  log.debug('closing the cancel channel');
  if (opened.subscriber?.isOpen) await opened.subscriber.close().catch(quietly('the cancel channel'));
  log.debug('closing the shared state');
  await opened.shared?.close().catch(quietly('the shared lock and swaps'));
  log.debug('closing the model store');
  await opened.modelStore?.close().catch(quietly('the model store'));
  log.debug('closing the storage');
  await opened.store?.close().catch(quietly('the storage'));
}
