/**
 * What the bot's processes share on Redis (STORAGE_URL=redis://…) beyond the stored rows: the per-server training
 * lock (lock.ts) and model swap announcements (swap-bus.ts). Two connections: one for commands (lock, renew,
 * release, publish) and one given over to the subscription. The current version itself is shared through the
 * models folder's `current` pointers (registry.ts), which every process on the machine reads.
 */
import { hostname } from 'node:os';
import { createClient } from '@keyv/redis';
import type { Logger } from '../log.js';
import { redactUrl } from '../storage/url.js';
import { DEFAULT_LOCK_PREFIX, redisLocks, type TrainingLocks } from './lock.js';
import type { ModelCache } from './models.js';
import type { ModelRegistry } from './registry.js';
import { announcingModels, DEFAULT_SWAP_CHANNEL, openSwapBus, type SwapBus } from './swap-bus.js';

export interface SharedStateOptions {
  /** redis://… */
  url: string;
  registry: ModelRegistry;
  /** This process's cache. */
  models: ModelCache;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** This process's name in swap messages. Default "<host>:<pid>". */
  origin?: string;
  lockPrefix?: string;
  channel?: string;
  /** Training lock time to live. Default 60 000 ms (renewed every third of it while training). */
  lockTtlMs?: number;
  connectTimeoutMs?: number;
}

export interface SharedState {
  locks: TrainingLocks;
  /** The cache to use from now on: its installs (commit, rollback) are announced to the other processes. */
  models: ModelCache;
  bus: SwapBus;
  close(): Promise<void>;
}

/** Connects twice to Redis and subscribes; rejects with a message naming the (redacted) URL if it can't. */
export async function openSharedState(options: SharedStateOptions): Promise<SharedState> {
  const { log } = options;
  let connectedOnce = false;
  const commands = createClient({
    url: options.url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.connectTimeoutMs ?? 5000,
      reconnectStrategy: (retries: number, cause: Error) => (!connectedOnce && retries >= 3 ? cause : Math.min(100 * 2 ** retries, 5000)),
    },
  });
  commands.on('error', (err: unknown) => log.warn({ err }, 'shared state: Redis reported an error'));
  const subscriber = commands.duplicate();
  subscriber.on('error', (err: unknown) => log.warn({ err }, 'shared state: Redis (subscription) reported an error'));
  const closeAll = async () => {
    for (const c of [subscriber, commands]) if (c.isOpen) await c.close().catch(() => c.destroy());
  };
  try {
    await commands.connect();
    await subscriber.connect();
    connectedOnce = true;
  } catch (error) {
    for (const c of [subscriber, commands]) if (c.isOpen) c.destroy();
    throw new Error(`could not connect to ${redactUrl(options.url)} for the shared training lock and model swaps: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const origin = options.origin ?? `${hostname()}:${process.pid}`;
  let bus: SwapBus;
  try {
    bus = await openSwapBus({
      publisher: commands,
      subscriber: { subscribe: (ch, l) => subscriber.subscribe(ch, l), unsubscribe: (ch) => subscriber.unsubscribe(ch) },
      origin,
      registry: options.registry,
      models: options.models,
      channel: options.channel ?? DEFAULT_SWAP_CHANNEL,
      log,
    });
  } catch (error) {
    await closeAll();
    throw error;
  }
  const locks = redisLocks({
    client: { sendCommand: (args) => commands.sendCommand(args) },
    prefix: options.lockPrefix ?? DEFAULT_LOCK_PREFIX,
    ...(options.lockTtlMs !== undefined ? { ttlMs: options.lockTtlMs } : {}),
    onRenewError: (scope, err) => log.warn({ err, scope }, 'training lock: renewal failed'),
  });
  log.info({ redis: redactUrl(options.url), origin }, 'shared training lock and model swaps on Redis');
  return {
    locks,
    models: announcingModels(options.models, bus, log),
    bus,
    async close() {
      await bus.close().catch((err: unknown) => log.warn({ err }, 'shared state: error while unsubscribing'));
      await closeAll();
    },
  };
}
