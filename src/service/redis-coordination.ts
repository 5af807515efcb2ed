/**
 * What the bot's processes share on Redis (STORAGE_URL=redis://…) beyond the stored rows: the per-server training
 * lock (lock.ts) and model swap announcements (swap-bus.ts). Two connections: one for commands (lock, renew,
 * release, publish) and one given over to the subscription. The current version itself is shared through the
 * registry's `current` pointers (registry.ts), which every process reads. Because pub/sub can lose messages, the
 * versions served are also reconciled with the pointers (model-reconcile.ts) every interval and whenever the
 * subscription reconnects.
 */
import { hostname } from 'node:os';
import type { Logger } from '../log.js';
import type { RedisClient } from '../storage/redis.js';
import { redactUrl } from '../storage/url.js';
import { DEFAULT_LOCK_PREFIX, redisLocks, unlock, type TrainingLocks } from './lock.js';
import type { ModelCache } from './model-cache.js';
import type { ModelRegistry } from './registry.js';
import { createModelReconciler, type ModelReconciler } from './model-reconcile.js';
import { announcingModels, DEFAULT_SWAP_CHANNEL, openSwapBus, type SwapBus } from './swap-bus.js';
import { errorMessage } from '../error-message.js';

export interface SharedStateOptions {
  /** redis://… */
  url: string;
  registry: ModelRegistry;
  /** This process's cache. */
  models: ModelCache;
  log: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
  /** This process's name in swap messages. Default "<host>:<pid>". */
  origin?: string;
  lockPrefix?: string;
  channel?: string;
  /** Training lock time to live. Default 60 000 ms (renewed every third of it while training). */
  lockTtlMs?: number;
  connectTimeoutMs?: number;
  /** Between two reconciles of the versions served with the pointers (MODEL_RECONCILE_SECONDS). Default 60 000 ms. */
  reconcileIntervalMs?: number;
}

export interface SharedState {
  locks: TrainingLocks;
  /** The cache to use from now on: its installs (commit, rollback) are announced to the other processes. */
  models: ModelCache;
  bus: SwapBus;
  /**
   * Frees a scope's training lock held by `token` (a trainer host that died: training-queue/queued-retrain.ts);
   * true when it was still held by that token. A lock taken since by anyone else is left alone.
   */
  releaseLock(scope: string, token: string): Promise<boolean>;
  /** Publishes on a channel with the command connection (the training queue's cancel requests). */
  publish(channel: string, message: string): Promise<void>;
  /** Compares the versions served with the pointers and loads what differs (also on a timer and on reconnect). */
  reconciler: ModelReconciler;
  close(): Promise<void>;
}

/** Connects twice to Redis and subscribes; rejects with a message naming the (redacted) URL if it can't. */
export async function openSharedState(options: SharedStateOptions): Promise<SharedState> {
  const { log } = options;
  let commands: RedisClient;
  let subscriber: RedisClient;
  try {
    const { connectRedis } = await import('../storage/redis.js'); // loaded only for Redis (start-up time)
    [commands, subscriber] = (await connectRedis({
      url: options.url,
      count: 2,
      ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
      onError: (err, i) =>
        log.warn({ err }, `shared state: Redis${i === 1 ? ' (subscription)' : ''} reported an error`),
    })) as [RedisClient, RedisClient];
  } catch (error) {
    throw new Error(
      `could not connect to ${redactUrl(options.url)} for the shared training lock and model swaps: ${errorMessage(error)}`,
      { cause: error },
    );
  }
  const closeAll = async () => {
    for (const c of [subscriber, commands]) if (c.isOpen) await c.close().catch(() => c.destroy());
  };
  const origin = options.origin ?? `${hostname()}:${process.pid}`;
  let bus: SwapBus;
  try {
    bus = await openSwapBus({
      publisher: commands,
      subscriber: {
        subscribe: (ch, l) => subscriber.subscribe(ch, l),
        unsubscribe: (ch) => subscriber.unsubscribe(ch),
      },
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
  const lockPrefix = options.lockPrefix ?? DEFAULT_LOCK_PREFIX;
  const lockClient = { sendCommand: (args: string[]) => commands.sendCommand(args) };
  const locks = redisLocks({
    client: lockClient,
    prefix: lockPrefix,
    ...(options.lockTtlMs !== undefined ? { ttlMs: options.lockTtlMs } : {}),
    onRenewError: (scope, err) => log.warn({ err, scope }, 'training lock: renewal failed'),
  });
  const { reconciler, detach } = startReconciler(options, bus, subscriber);
  log.info({ redis: redactUrl(options.url), origin }, 'shared training lock and model swaps on Redis');
  return {
    locks,
    models: announcingModels(options.models, bus, log),
    bus,
    releaseLock: (scope, token) => unlock(lockClient, lockPrefix + scope, token),
    async publish(channel, message) {
      await commands.publish(channel, message);
    },
    reconciler,
    async close() {
      detach();
      await reconciler.stop();
      await bus.close().catch((err: unknown) => log.warn({ err }, 'shared state: error while unsubscribing'));
      await closeAll();
    },
  };
}

/**
 * The reconcile loop, on its timer and on every reconnect of the subscription: node-redis emits 'reconnecting'
 * when the connection is lost and 'ready' once it is back and subscribed again — messages sent in between are lost.
 */
function startReconciler(
  options: SharedStateOptions,
  bus: SwapBus,
  subscriber: RedisClient,
): { reconciler: ModelReconciler; detach: () => void } {
  const { log } = options;
  const reconciler = createModelReconciler({
    registry: options.registry,
    models: options.models,
    apply: (scope, version) => bus.apply(scope, version, 'reconcile'),
    intervalMs: options.reconcileIntervalMs ?? 60_000,
    log,
  });
  let lost = false;
  const onReconnecting = () => {
    lost = true;
  };
  const onReady = () => {
    if (!lost) return;
    lost = false;
    log.info('shared state: the swap subscription reconnected; comparing the versions served with the pointers');
    reconciler.run('reconnect').catch(() => undefined); // never rejects: the reconciler logs
  };
  subscriber.on('reconnecting', onReconnecting);
  subscriber.on('ready', onReady);
  reconciler.start();
  const detach = () => {
    subscriber.off('reconnecting', onReconnecting);
    subscriber.off('ready', onReady);
  };
  return { reconciler, detach };
}
