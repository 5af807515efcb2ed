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
import {
  createCollectionService,
  startRetentionSweeper,
  type CollectionService,
  type Sweeper,
} from './service/collection.js';
import { createBlockedWords } from './service/blocked-words.js';
import { createModeration, type Moderation } from './service/moderation.js';
import type { ModelCache } from './service/model-cache.js';
import { createOutputFilter } from './service/output-filter.js';
import { createTrainingBudget, type TrainingBudget } from './service/training-budget.js';
import { openReplyLimiter, type ReplyLimiter } from './service/rate-limiter.js';
import type { ModelRegistry } from './service/registry.js';
import type { OpenedRegistry } from './model-store/open-registry.js';
import type { RetrainManager } from './service/retrain.js';
import type { SharedState } from './service/redis-coordination.js';
import { openStore, parseStorageUrl } from './storage/open.js';
import { createRetrain } from './retrain-setup.js';
import type { KvStore } from './storage/kv.js';
import { errorMessage } from './error-message.js';

export { BASE_CORPUS_FILE } from './retrain-setup.js';

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
export function armShutdownDeadline(
  ms: number,
  log: Pick<Logger, 'fatal'>,
  exit: (code: number) => void,
): { at: number; cancel(): void } {
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
async function loadModels(
  config: Config,
  log: Logger,
  opened: Opened,
): Promise<{ registry: ModelRegistry; models: ModelCache }> {
  const { initBackend } = await import('./model/backend.js');
  const { createModelCache } = await import('./service/model-cache.js');
  // One log line: which backend, and why any before it was skipped (failed to load, or failed the smoke check).
  const backend = await initBackend(config.backend, { log });

  const { openConfiguredRegistry } = await import('./model-store/open-registry.js');
  opened.modelStore = await openConfiguredRegistry(config, log);
  const { registry } = opened.modelStore;
  try {
    // Before any training or swap: temporary folders are never served, and a crash can leave some behind.
    const { removed } = await registry.init();
    if (removed.length > 0)
      log.warn(
        { removed },
        `removed ${removed.length} unfinished model folder(s) left by an interrupted training or swap`,
      );
    const texts = await removeStaleTrainingText(); // left by a killed bot: erased text must not linger in /tmp
    if (texts > 0) log.warn({ removed: texts }, 'removed training text file(s) left by an interrupted training');
  } catch (error) {
    throw new Error(`could not prepare the model versions folder ${registry.root}: ${errorMessage(error)}`, {
      cause: error,
    });
  }

  const models = createModelCache({ registry, baseDir: config.modelDir, size: config.modelCacheSize, backend });
  const started = Date.now();
  // The base loads now (every hash checked): a bad model stops start-up.
  const base = await models.modelFor(null).catch((error: unknown) => {
    throw new Error(`could not load the model from ${config.modelDir}: ${errorMessage(error)}`, { cause: error });
  });
  const info = (await models.serviceFor(null)).info();
  log.info(
    {
      modelDir: config.modelDir,
      modelStore: opened.modelStore.location,
      version: base.label,
      parameters: info.parameters,
      ms: Date.now() - started,
    },
    'model loaded',
  );
  return { registry, models };
}

/** The config from the environment, or undefined after writing each problem (one line each). */
function readConfig(env: NodeJS.ProcessEnv, writeError: (line: string) => void): Config | undefined {
  try {
    return parseConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) writeError(problem);
    return undefined;
  }
}

/** SIGINT and SIGTERM: the first asks for a stop and arms the deadline, a second exits 1 at once. */
interface StopSignals {
  /** Resolves with the first stop asked for (a signal, or Discord refusing for good). */
  stopped: Promise<Stop>;
  requestStop(stop: Stop): void;
  signalled(): NodeJS.Signals | undefined;
  /** The deadline armed by the signal, or one armed now. */
  armDeadline(): { at: number; cancel(): void };
  /** Disarms the deadline and removes the process listeners. */
  detach(): void;
}

function listenForStop(log: Logger, deadlineMs: number, exit: (code: number) => void): StopSignals {
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
  return {
    stopped,
    requestStop: (stop) => requestStop(stop),
    signalled: () => signalled,
    armDeadline: () => (deadline ??= armShutdownDeadline(deadlineMs, log, exit)),
    detach: () => {
      deadline?.cancel();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('unhandledRejection', onUnhandled);
    },
  };
}

/** What main() has opened so far (closed by closeAll). */
interface Opened {
  modelStore?: OpenedRegistry | undefined;
  bot?: RunningBot | undefined;
  retrain?: RetrainManager | undefined;
  limiter?: ReplyLimiter | undefined;
  store?: KvStore | undefined;
  collection?: CollectionService | undefined;
  sweeper?: Sweeper | undefined;
  shared?: SharedState | undefined;
}

/** What the models and Discord need from the storage side. */
interface Services {
  store: KvStore;
  collection: CollectionService;
  moderation: Moderation;
  budget: TrainingBudget;
  limiter: ReplyLimiter;
}

export async function main(options: MainOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  if (!options.env) dotenv.config({ quiet: true });
  const writeError = options.writeError ?? ((line: string) => process.stderr.write(`${line}\n`));
  const config = readConfig(env, writeError);
  if (!config) return 1;
  const log = createLogger(config.logLevel);
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const signals = listenForStop(log, options.shutdownDeadlineMs ?? SHUTDOWN_DEADLINE_MS, exit);
  const opened: Opened = {};
  try {
    return await serve(config, log, signals, opened);
  } catch (error) {
    log.fatal({ err: error }, `unexpected failure: ${errorMessage(error)}`);
    return 1;
  } finally {
    await closeAll(opened, log, signals.armDeadline());
    signals.detach();
  }
}

/** Opens everything, serves until asked to stop, and says the exit code (what is opened goes into `opened`). */
async function serve(config: Config, log: Logger, signals: StopSignals, opened: Opened): Promise<number> {
  const services = await startServices(config, log, opened);
  if (!services) return 1;
  const started = await startModels(config, log, services, opened);
  if (!started) return 1;
  if (signals.signalled()) return 0;
  opened.bot = await startDiscord(config, log, services, started, signals);
  if (!opened.bot) return 1;
  log.info('serving');
  const stop = await signals.stopped;
  if (stop.kind === 'fatal') {
    log.fatal({ closeCode: stop.error.closeCode }, stop.error.message);
    return 1;
  }
  return 0;
}

/** The storage, collection and its retention sweeper, the word filter, the training budget and the rate limits. */
async function startServices(config: Config, log: Logger, opened: Opened): Promise<Services | undefined> {
  let store: KvStore;
  try {
    const onError = (error: unknown) => log.warn({ err: error }, 'storage reported an error');
    const onDurabilityWarning = (warning: string) => log.warn({ storage: 'redis' }, warning);
    store = await openStore(config.storageUrl, { onError, onDurabilityWarning });
  } catch (error) {
    log.fatal({ err: error }, `could not open the storage at STORAGE_URL: ${errorMessage(error)}`);
    return undefined;
  }
  opened.store = store;
  log.info({ storage: store.location, kind: store.kind, retentionDays: config.retentionDays }, 'storage open');
  const collection = createCollectionService({
    store,
    retentionDays: config.retentionDays,
    log,
    journalPath: config.erasureJournal,
    quotas: config.quotas,
  });
  opened.collection = collection;
  // Erasures the last run could not apply before it stopped go first.
  await collection.replayJournal().catch((error: unknown) => {
    const where = `ERASURE_JOURNAL ${config.erasureJournal}`;
    throw new Error(`could not apply the erasures recorded in ${where}: ${errorMessage(error)}`, { cause: error });
  });
  opened.sweeper = startRetentionSweeper(collection, log);
  // Everything generated passes the word filter: the built-in list (OUTPUT_FILTER) and each server's own words.
  const filter = createOutputFilter({ builtIn: config.outputFilter });
  const moderation = createModeration({ filter, words: createBlockedWords(store), log });
  const budget = createTrainingBudget({
    store,
    dailyMinutes: config.trainDailyMinutes,
    cooldownMinutes: config.trainCooldownMinutes,
  });
  const limiter = await openReplyLimiter(config.storageUrl, config.rateLimits, { log });
  opened.limiter = limiter;
  log.info({ store: limiter.store, ...config.rateLimits }, 'rate limits');
  return { store, collection, moderation, budget, limiter };
}

/** The model versions, the models (shared among processes on Redis) and the retrain manager; undefined if not. */
async function startModels(
  config: Config,
  log: Logger,
  services: Services,
  opened: Opened,
): Promise<{ registry: ModelRegistry; models: ModelCache; retrain: RetrainManager } | undefined> {
  try {
    const { registry, models: local } = await loadModels(config, log, opened);
    let models = local;
    const location = parseStorageUrl(config.storageUrl);
    if (location.kind === 'redis') {
      // Several processes (shards) on one Redis: one training per server among them, and swaps announced.
      const { openSharedState } = await import('./service/redis-coordination.js');
      opened.shared = await openSharedState({
        url: location.url,
        registry,
        models,
        log,
        reconcileIntervalMs: config.modelReconcileSeconds * 1000,
      });
      models = opened.shared.models;
    }
    const { collection, moderation, budget } = services;
    const locks = opened.shared?.locks;
    opened.retrain =
      config.trainerMode === 'queue' && opened.shared && location.kind === 'redis'
        ? await queuedRetrain(config, log, location.url, opened.shared, models)
        : await createRetrain(config, log, { registry, models, collection, locks, moderation, budget });
    return { registry, models, retrain: opened.retrain };
  } catch (error) {
    log.fatal({ err: error }, errorMessage(error));
    return undefined;
  }
}

/**
 * TRAINER_MODE=queue: /retrain becomes a job for the trainer hosts (npm run trainer); a version they swap in is
 * loaded here before the reply says it is talking.
 */
async function queuedRetrain(
  config: Config,
  log: Logger,
  redisUrl: string,
  shared: SharedState,
  models: ModelCache,
): Promise<RetrainManager> {
  const { createQueuedRetrain } = await import('./training-queue/queued-retrain.js');
  const manager = await createQueuedRetrain({
    redisUrl,
    stalledMs: config.trainStalledSeconds * 1000,
    shared,
    log,
    onSwapped: async (scope) => {
      models.invalidate(scope);
      await models
        .modelFor(scope === 'base' ? null : scope)
        .catch((err: unknown) => log.warn({ err, scope }, 'retrain: could not load the new version here yet'));
    },
  });
  log.info({ stalledSeconds: config.trainStalledSeconds }, 'trainings go to the queue for `npm run trainer` hosts');
  return manager;
}

/** Logs in to Discord and serves; undefined (logged) when Discord refuses for good. */
async function startDiscord(
  config: Config,
  log: Logger,
  services: Services,
  { registry, models, retrain }: { registry: ModelRegistry; models: ModelCache; retrain: RetrainManager },
  signals: StopSignals,
): Promise<RunningBot | undefined> {
  try {
    const { createServerErasure } = await import('./service/server-erasure.js');
    const { store, collection } = services;
    const erasure = createServerErasure({
      store,
      collection,
      registry,
      models,
      retrain,
      log,
      purgeAfterDays: config.purgeAfterDays,
    });
    return await startBot({
      erasure,
      token: config.discordToken,
      apiUrl: config.discordApiUrl,
      devGuildId: config.devGuildId,
      models,
      registry,
      retrain: {
        manager: retrain,
        ownerIds: config.botOwnerIds,
        maxMinutes: config.trainMaxMinutes,
        budget: services.budget,
        defaultMinutes: config.trainDefaultMinutes,
      },
      collection: services.collection,
      log,
      onFatal: (error) => signals.requestStop({ kind: 'fatal', error }),
      limiter: services.limiter,
      moderation: services.moderation,
    });
  } catch (error) {
    if (error instanceof FatalBotError) {
      log.fatal({ closeCode: error.closeCode }, error.message);
      return undefined;
    }
    throw error;
  }
}

/**
 * Stops the training and Discord (at the same time), then the shared state, the sweeper, collection, the storage
 * and the rate limiter; replies in progress get until SHUTDOWN_CLOSE_RESERVE_MS before the deadline.
 */
async function closeAll(opened: Opened, log: Logger, deadline: { at: number }): Promise<void> {
  const { bot, retrain, shared, sweeper, collection, store, limiter, modelStore } = opened;
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
  await shared?.close().catch((error: unknown) => {
    log.warn({ err: error }, 'error while closing the shared training lock and swaps');
  });
  sweeper?.stop();
  await sweeper?.running();
  await collection?.close().catch((error: unknown) => {
    log.error({ err: error }, 'could not record the erasures not yet applied');
  });
  await store?.close().catch((error: unknown) => log.error({ err: error }, 'error while closing the storage'));
  await limiter?.close().catch((error: unknown) => log.warn({ err: error }, 'error while closing the rate limiter'));
  await modelStore?.close().catch((error: unknown) => log.warn({ err: error }, 'error while closing the model store'));
  if (bot) log.info({ ms: Date.now() - stopStarted }, 'stopped');
}
