/**
 * The whole bot, start to stop: .env → config (checked once) → logger → storage → rate limits → TensorFlow.js
 * backend → model versions (temporary folders left by a crash removed) → the base model → the retrain manager →
 * Discord. `main()` resolves with the process exit code once the bot has stopped (a signal, or Discord refusing
 * for good).
 *
 * Stopping (SIGTERM or SIGINT): new work is refused at once (a command is told the bot is restarting, mentions
 * go unanswered, message edits and deletes are still applied); the replies in progress are finished while a
 * running or queued training is cancelled (its trainer child stopped, nothing swapped); then the bot logs out and
 * the storage is closed, and the process exits 0. It has SHUTDOWN_DEADLINE_MS (10 s) from the signal: replies
 * still not sent when only SHUTDOWN_CLOSE_RESERVE_MS is left are given up (logged), and if the whole stop takes
 * longer than the deadline the process exits 1 with a fatal log line. A second signal exits 1 at once.
 */
import { removeStaleTrainingText } from './training/training-text-file.js';
import dotenv from 'dotenv';
import { ConfigError, parseConfig, type Config } from './config.js';
import { FatalBotError, startBot, type RunningBot } from './discord/app.js';
import { createLogger, type Logger } from './log.js';
import { createCollectionService, startRetentionSweeper, type CollectionService, type Sweeper } from './service/collection.js';
import { createBlockedWords } from './service/blocked-words.js';
import { createModeration, type Moderation } from './service/moderation.js';
import type { ModelCache } from './service/model-cache.js';
import { createOutputFilter } from './service/output-filter.js';
import { createTrainingBudget, type TrainingBudget } from './service/training-budget.js';
import { openReplyLimiter, type ReplyLimiter } from './service/rate-limiter.js';
import type { ModelRegistry } from './service/registry.js';
import type { TrainingLocks } from './service/lock.js';
import type { RetrainManager } from './service/retrain.js';
import type { SharedState } from './service/redis-coordination.js';
import { openStore, parseStorageUrl } from './storage/open.js';
import type { KvStore } from './storage/kv.js';
import { errorMessage } from './error-message.js';

/** The base corpus mixed into every retraining so that the model stays a baby (relative to the working folder). */
export const BASE_CORPUS_FILE = 'data/corpus.txt';

/** From the signal to the end of the process, at most. */
export const SHUTDOWN_DEADLINE_MS = 10_000;
/** Kept out of the wait for replies in progress: for logging out, stopping the trainer and closing the storage. */
export const SHUTDOWN_CLOSE_RESERVE_MS = 3_000;

export interface MainOptions {
  /** Environment to read (default process.env, after loading .env into it). */
  env?: NodeJS.ProcessEnv;
  /** Where config problems go, one line each (default stderr). */
  writeError?: (line: string) => void;
  /** Ends the process when stopping overruns the deadline or on a second signal (default process.exit). */
  exit?: (code: number) => void;
  /** Default SHUTDOWN_DEADLINE_MS. */
  shutdownDeadlineMs?: number;
}

/**
 * Arms the hard deadline of a stop: after `ms`, logs one fatal line and calls `exit(1)`. The timer doesn't keep
 * the process alive; `cancel()` disarms it.
 */
export function armShutdownDeadline(ms: number, log: Pick<Logger, 'fatal'>, exit: (code: number) => void): { at: number; cancel(): void } {
  const at = Date.now() + ms;
  const timer = setTimeout(() => {
    log.fatal({ deadlineMs: ms }, `stopping took longer than ${ms / 1000} s: exiting now`);
    exit(1);
  }, ms);
  timer.unref();
  return { at, cancel: () => clearTimeout(timer) };
}

type Stop = { kind: 'signal'; signal: NodeJS.Signals } | { kind: 'fatal'; error: FatalBotError };

/**
 * Loads the backend, prepares the model versions (removing what a crash left half-written) and loads the base
 * model; logs which backend is in use. TensorFlow.js is imported only here, so a bad configuration is reported at
 * once. Rejects with a message that names the setting to fix.
 */
async function loadModels(config: Config, log: Logger): Promise<{ registry: ModelRegistry; models: ModelCache }> {
  const { initBackend } = await import('./model/backend.js');
  const { createModelCache } = await import('./service/model-cache.js');
  const { createRegistry } = await import('./service/registry.js');
  // One log line: which backend, and why any before it was skipped (failed to load, or failed the smoke check).
  const backend = await initBackend(config.backend, { log });

  const registry = createRegistry({ root: config.modelsDir, keep: config.modelVersionsKept });
  try {
    // Before any training or swap: temporary folders are never served, and a crash can leave some behind.
    const { removed } = await registry.init();
    if (removed.length > 0) log.warn({ removed }, `removed ${removed.length} unfinished model folder(s) left by an interrupted training or swap`);
    const texts = await removeStaleTrainingText(); // left by a killed bot: erased text must not linger in /tmp
    if (texts > 0) log.warn({ removed: texts }, 'removed training text file(s) left by an interrupted training');
  } catch (error) {
    throw new Error(`could not prepare the model versions folder MODELS_DIR ${config.modelsDir}: ${errorMessage(error)}`, { cause: error });
  }

  const models = createModelCache({ registry, baseDir: config.modelDir, size: config.modelCacheSize, backend });
  const started = Date.now();
  // The base loads now (every hash checked): a bad model stops start-up.
  const base = await models.modelFor(null).catch((error: unknown) => {
    throw new Error(`could not load the model from ${config.modelDir}: ${errorMessage(error)}`, { cause: error });
  });
  const info = (await models.serviceFor(null)).info();
  log.info(
    { modelDir: config.modelDir, modelsDir: registry.root, version: base.label, parameters: info.parameters, ms: Date.now() - started },
    'model loaded',
  );
  return { registry, models };
}

async function createRetrain(
  config: Config,
  log: Logger,
  registry: ModelRegistry,
  models: ModelCache,
  collection: CollectionService,
  locks: TrainingLocks | undefined,
  moderation: Moderation,
  budget: TrainingBudget,
): Promise<RetrainManager> {
  const { createRetrainManager, loadBaseCorpus } = await import('./service/retrain.js');
  const { BASE_SCOPE } = await import('./service/registry.js');
  let baseCorpus: string[];
  try {
    baseCorpus = await loadBaseCorpus(BASE_CORPUS_FILE);
  } catch (error) {
    throw new Error(`could not read the base corpus ${BASE_CORPUS_FILE} (retraining mixes it in; run the bot from the project folder): ${errorMessage(error)}`, { cause: error });
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
    maxMinutes: config.trainMaxMinutes,
    minLines: config.trainMinLines,
    gate: { tolerance: config.trainGateTolerance, maxFlaggedRate: config.trainGateMaxFlagged },
    moderation,
    budget,
    training: { maxHeapMb: config.trainMaxHeapMb },
    ...(locks ? { locks } : {}),
  });
}

export async function main(options: MainOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  if (!options.env) dotenv.config({ quiet: true });
  const writeError = options.writeError ?? ((line: string) => process.stderr.write(`${line}\n`));

  let config: Config;
  try {
    config = parseConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) writeError(problem);
    return 1;
  }
  const log = createLogger(config.logLevel);
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const deadlineMs = options.shutdownDeadlineMs ?? SHUTDOWN_DEADLINE_MS;

  let requestStop: (stop: Stop) => void = () => undefined;
  const stopped = new Promise<Stop>((resolve) => {
    requestStop = resolve;
  });
  let deadline: { at: number; cancel(): void } | undefined;
  let signalled: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      log.warn({ signal }, 'second signal: exiting now without finishing');
      exit(1);
      return;
    }
    signalled = signal;
    log.info({ signal, deadlineMs }, 'stopping');
    deadline = armShutdownDeadline(deadlineMs, log, exit);
    requestStop({ kind: 'signal', signal });
  };
  const onUnhandled = (reason: unknown) => log.error({ err: reason }, 'unhandled rejection (the bot keeps running)');
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('unhandledRejection', onUnhandled);

  let bot: RunningBot | undefined;
  let retrain: RetrainManager | undefined;
  let limiter: ReplyLimiter | undefined;
  let store: KvStore | undefined;
  let collection: CollectionService | undefined;
  let sweeper: Sweeper | undefined;
  let shared: SharedState | undefined;
  try {
    try {
      store = await openStore(config.storageUrl, {
        onError: (error) => log.warn({ err: error }, 'storage reported an error'),
        onDurabilityWarning: (warning) => log.warn({ storage: 'redis' }, warning),
      });
    } catch (error) {
      log.fatal({ err: error }, `could not open the storage at STORAGE_URL: ${errorMessage(error)}`);
      return 1;
    }
    log.info({ storage: store.location, kind: store.kind, retentionDays: config.retentionDays }, 'storage open');
    collection = createCollectionService({ store, retentionDays: config.retentionDays, log, quotas: config.quotas });
    sweeper = startRetentionSweeper(collection, log);
    // Everything generated passes the word filter: the built-in list (OUTPUT_FILTER) and each server's own words.
    const filter = createOutputFilter({ builtIn: config.outputFilter });
    const moderation = createModeration({ filter, words: createBlockedWords(store), log });
    const budget = createTrainingBudget({
      store, dailyMinutes: config.trainDailyMinutes, cooldownMinutes: config.trainCooldownMinutes,
    });
    limiter = await openReplyLimiter(config.storageUrl, config.rateLimits, { log });
    log.info({ store: limiter.store, ...config.rateLimits }, 'rate limits');

    let registry: ModelRegistry;
    let models: ModelCache;
    try {
      ({ registry, models } = await loadModels(config, log));
      const location = parseStorageUrl(config.storageUrl);
      if (location.kind === 'redis') {
        // Several processes (shards) on one Redis: one training per server among them, and swaps announced.
        const { openSharedState } = await import('./service/redis-coordination.js');
        shared = await openSharedState({ url: location.url, registry, models, log });
        models = shared.models;
      }
      retrain = await createRetrain(config, log, registry, models, collection, shared?.locks, moderation, budget);
    } catch (error) {
      log.fatal({ err: error }, errorMessage(error));
      return 1;
    }
    if (signalled) return 0;

    try {
      bot = await startBot({
        token: config.discordToken,
        apiUrl: config.discordApiUrl,
        devGuildId: config.devGuildId,
        models,
        registry,
        retrain: {
          manager: retrain, ownerIds: config.botOwnerIds, maxMinutes: config.trainMaxMinutes,
          budget, defaultMinutes: config.trainDefaultMinutes,
        },
        collection,
        log,
        onFatal: (error) => requestStop({ kind: 'fatal', error }),
        limiter,
        moderation,
      });
    } catch (error) {
      if (error instanceof FatalBotError) {
        log.fatal({ closeCode: error.closeCode }, error.message);
        return 1;
      }
      throw error;
    }
    log.info('serving');

    const stop = await stopped;
    if (stop.kind === 'fatal') {
      log.fatal({ closeCode: stop.error.closeCode }, stop.error.message);
      return 1;
    }
    return 0;
  } catch (error) {
    log.fatal({ err: error }, `unexpected failure: ${errorMessage(error)}`);
    return 1;
  } finally {
    deadline ??= armShutdownDeadline(deadlineMs, log, exit);
    const stopStarted = Date.now();
    const stopTraining = async () => {
      if (!retrain) return;
      const training = [...retrain.running(), ...retrain.queued()];
      if (training.length > 0) log.info({ scopes: training }, 'stopping the training (nothing is swapped)');
      await retrain.close().catch((error: unknown) => log.error({ err: error }, 'error while stopping the training'));
    };
    // At the same time: a /retrain in progress finishes its message once its training is cancelled.
    const drainMs = Math.max(0, deadline.at - Date.now() - SHUTDOWN_CLOSE_RESERVE_MS);
    await Promise.all([
      stopTraining(),
      bot?.stop({ drainMs }).catch((error: unknown) => log.error({ err: error }, 'error while logging out')),
    ]);
    await shared?.close().catch((error: unknown) => log.warn({ err: error }, 'error while closing the shared training lock and swaps'));
    sweeper?.stop();
    await sweeper?.running();
    collection?.close();
    await store?.close().catch((error: unknown) => log.error({ err: error }, 'error while closing the storage'));
    await limiter?.close().catch((error: unknown) => log.warn({ err: error }, 'error while closing the rate limiter'));
    if (bot) log.info({ ms: Date.now() - stopStarted }, 'stopped');
    deadline.cancel();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('unhandledRejection', onUnhandled);
  }
}
