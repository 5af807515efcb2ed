/**
 * The whole bot, start to stop: .env → config (checked once) → logger → storage → TensorFlow.js backend → model →
 * Discord.
 * `main()` resolves with the process exit code once the bot has stopped (a signal, or Discord refusing for good).
 */
import dotenv from 'dotenv';
import { ConfigError, parseConfig, type Config } from './config.js';
import { FatalBotError, startBot, type RunningBot } from './discord/app.js';
import { createLogger, type Logger } from './log.js';
import { createCollectionService, startRetentionSweeper, type CollectionService, type Sweeper } from './service/collection.js';
import { openStore } from './storage/open.js';
import type { KvStore } from './storage/kv.js';

export interface MainOptions {
  /** Environment to read (default process.env, after loading .env into it). */
  env?: NodeJS.ProcessEnv;
  /** Where config problems go, one line each (default stderr). */
  writeError?: (line: string) => void;
}

type Stop = { kind: 'signal'; signal: NodeJS.Signals } | { kind: 'fatal'; error: FatalBotError };

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Loads the backend and the model; logs which backend is in use. TensorFlow.js is imported only here, so a bad
 * configuration is reported at once.
 */
async function loadService(config: Config, log: Logger) {
  const { initBackend } = await import('./model/backend.js');
  const { createGenerationService } = await import('./service/generation.js');
  const backend = await initBackend(config.backend);
  log.info({ backend: backend.name, reason: backend.reason, skipped: backend.skipped }, `tfjs backend: ${backend.name}`);
  const started = Date.now();
  const service = await createGenerationService({ modelDir: config.modelDir });
  const info = service.info();
  log.info({ modelDir: config.modelDir, version: info.version, parameters: info.parameters, ms: Date.now() - started }, 'model loaded');
  return service;
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

  let requestStop: (stop: Stop) => void = () => undefined;
  const stopped = new Promise<Stop>((resolve) => {
    requestStop = resolve;
  });
  let signalled: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'stopping');
    signalled ??= signal;
    requestStop({ kind: 'signal', signal });
  };
  const onUnhandled = (reason: unknown) => log.error({ err: reason }, 'unhandled rejection (the bot keeps running)');
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('unhandledRejection', onUnhandled);

  let service: Awaited<ReturnType<typeof loadService>> | undefined;
  let bot: RunningBot | undefined;
  let store: KvStore | undefined;
  let collection: CollectionService | undefined;
  let sweeper: Sweeper | undefined;
  try {
    try {
      store = await openStore(config.storageUrl, { onError: (error) => log.warn({ err: error }, 'storage reported an error') });
    } catch (error) {
      log.fatal({ err: error }, `could not open the storage at STORAGE_URL: ${errorMessage(error)}`);
      return 1;
    }
    log.info({ storage: store.location, kind: store.kind, retentionDays: config.retentionDays }, 'storage open');
    collection = createCollectionService({ store, retentionDays: config.retentionDays, log });
    sweeper = startRetentionSweeper(collection, log);

    try {
      service = await loadService(config, log);
    } catch (error) {
      log.fatal({ err: error }, `could not load the model from ${config.modelDir}: ${errorMessage(error)}`);
      return 1;
    }
    if (signalled) return 0;

    try {
      bot = await startBot({
        token: config.discordToken,
        apiUrl: config.discordApiUrl,
        devGuildId: config.devGuildId,
        service,
        collection,
        log,
        onFatal: (error) => requestStop({ kind: 'fatal', error }),
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
    await bot?.stop().catch((error: unknown) => log.error({ err: error }, 'error while logging out'));
    sweeper?.stop();
    await sweeper?.running();
    collection?.close();
    await store?.close().catch((error: unknown) => log.error({ err: error }, 'error while closing the storage'));
    service?.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('unhandledRejection', onUnhandled);
  }
}
