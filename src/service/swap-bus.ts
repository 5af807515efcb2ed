/**
 * Model swaps across shards and hosts: the process that commits or rolls back a version announces `{scope, version}`
 * on a Redis channel. Every other process that holds the scope in its model cache (it has served that server lately)
 * then loads the version the registry's `current` pointer names and installs it; it reports `loaded`, or — when it
 * cannot load it (a missing or corrupt file: every hash is checked) — keeps serving the model it had, logs it, and
 * reports `load-failed` on the same channel so the announcing process hears about it too. A process that does not
 * hold the scope loads nothing (it would only evict the servers it does serve from its cache): it reports
 * `not-held`, and reads the pointer when the server is next used. The base scope is always applied: every server
 * without a model of its own talks with it.
 *
 * Messages for one scope are applied in order. A process ignores its own announcements (it installed the model
 * already).
 */
import { BabyLanguageModel } from '../model/baby.js';
import type { Logger } from '../log.js';
import type { ModelCache } from './model-cache.js';
import { BASE_SCOPE, type ModelRegistry } from './registry.js';
import { errorMessage } from '../error-message.js';

export const DEFAULT_SWAP_CHANNEL = 'babble:model-swaps';

export type SwapMessage =
  | { type: 'swap'; scope: string; version: number; origin: string }
  | { type: 'loaded'; scope: string; version: number; origin: string }
  | { type: 'not-held'; scope: string; version: number; origin: string }
  | { type: 'load-failed'; scope: string; version: number; origin: string; reason: string };

/** What the bus needs of node-redis clients: one to publish, one (a duplicate) given over to subscribing. */
export interface PublishClient {
  publish(channel: string, message: string): Promise<unknown>;
}
export interface SubscribeClient {
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
}

export interface SwapBusOptions {
  publisher: PublishClient;
  subscriber: SubscribeClient;
  /** This process's name in messages (e.g. "shard 0"); its own messages are ignored. */
  origin: string;
  registry: ModelRegistry;
  /** This process's cache (the bare one, not the announcing wrapper). */
  models: ModelCache;
  channel?: string;
  /** Loads a version folder (default BabyLanguageModel.load, which verifies every hash). */
  load?: (dir: string) => Promise<BabyLanguageModel>;
  log?: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
  /** Every message from another process, after it was applied (swaps) or as received (reports). */
  onMessage?: (message: SwapMessage) => void;
}

export interface SwapBus {
  readonly origin: string;
  /** Tells the other processes that `scope` now serves `version` (0 = the base). */
  announce(scope: string, version: number): Promise<void>;
  /**
   * Loads `version` of `scope` (what its pointer names now) exactly as if `from` had announced it: after the swaps
   * already queued for the scope, reporting loaded or load-failed on the channel (model-reconcile.ts). Never rejects.
   */
  apply(scope: string, version: number, from: string): Promise<void>;
  /** Waits for the swaps being applied, then stops listening. */
  close(): Promise<void>;
}

/** Parses a message; undefined for anything malformed. */
export function parseSwapMessage(text: string): SwapMessage | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const m = v as Record<string, unknown>;
  if (typeof m.scope !== 'string' || typeof m.origin !== 'string') return undefined;
  if (typeof m.version !== 'number' || !Number.isInteger(m.version) || m.version < 0) return undefined;
  const base = { scope: m.scope, version: m.version, origin: m.origin };
  if (m.type === 'swap') return { type: 'swap', ...base };
  if (m.type === 'loaded') return { type: 'loaded', ...base };
  if (m.type === 'not-held') return { type: 'not-held', ...base };
  if (m.type === 'load-failed' && typeof m.reason === 'string')
    return { type: 'load-failed', ...base, reason: m.reason };
  return undefined;
}

export async function openSwapBus(options: SwapBusOptions): Promise<SwapBus> {
  const channel = options.channel ?? DEFAULT_SWAP_CHANNEL;
  const load = options.load ?? ((dir: string) => BabyLanguageModel.load(dir));
  const { log, origin, registry, models } = options;
  const chains = new Map<string, Promise<void>>();

  const publish = (message: SwapMessage) => options.publisher.publish(channel, JSON.stringify(message));

  async function apply(message: Extract<SwapMessage, { type: 'swap' }>): Promise<void> {
    const { scope } = message;
    if (scope !== BASE_SCOPE && (await models.servedVersion(scope)) === undefined) {
      log?.debug({ scope, version: message.version, from: message.origin }, 'model swap: server not held here');
      await publish({ type: 'not-held', scope, version: message.version, origin }).catch((err: unknown) =>
        log?.warn({ err }, 'model swap: could not report the swap'),
      );
      return;
    }
    try {
      const resolved = await registry.resolve(scope);
      const version = resolved?.version ?? 0;
      if (version !== message.version) {
        // The announced version is incomplete here (the registry fell back) or already replaced; a newer
        // announcement, if any, follows. Keep what is served.
        throw new Error(
          `version ${message.version} is not what the models folder serves here (it serves ${version === 0 ? 'the base' : `version ${version}`})`,
        );
      }
      if (resolved === null) {
        // The scope went back to the base: nothing to load for a server; the shipped base reloads on next use.
        models.install(scope, 0, undefined);
      } else {
        models.install(scope, resolved.version, await load(resolved.dir));
      }
      log?.info({ scope, version, from: message.origin }, 'model swap applied');
    } catch (error) {
      const reason = errorMessage(error);
      log?.error(
        { scope, version: message.version, from: message.origin, reason },
        'model swap: could not load the new version; still serving the previous one',
      );
      await publish({ type: 'load-failed', scope, version: message.version, origin, reason }).catch((err: unknown) =>
        log?.warn({ err }, 'model swap: could not report the failed load'),
      );
      return;
    }
    await publish({ type: 'loaded', scope, version: message.version, origin }).catch((err: unknown) =>
      log?.warn({ err }, 'model swap: could not report the load'),
    );
  }

  /** Applies a swap after those queued for its scope; resolves when done (failures are logged, never thrown). */
  function enqueue(message: Extract<SwapMessage, { type: 'swap' }>): Promise<void> {
    const previous = chains.get(message.scope) ?? Promise.resolve();
    const next = previous.then(() => apply(message)).then(() => options.onMessage?.(message));
    const settled: Promise<void> = next
      .catch((err: unknown) => log?.error({ err, scope: message.scope }, 'model swap failed unexpectedly'))
      .then(() => {
        if (chains.get(message.scope) === settled) chains.delete(message.scope);
      });
    chains.set(message.scope, settled);
    return settled;
  }

  function onRaw(text: string): void {
    const message = parseSwapMessage(text);
    if (!message) {
      log?.warn({ channel }, 'model swap: ignored a malformed message');
      return;
    }
    if (message.origin === origin) return;
    if (message.type !== 'swap') {
      if (message.type === 'load-failed')
        log?.warn(
          { scope: message.scope, version: message.version, shard: message.origin, reason: message.reason },
          'model swap: another process could not load the new version',
        );
      options.onMessage?.(message);
      return;
    }
    // Never rejects (failures are logged and reported in apply); the next message for the scope waits for it.
    void enqueue(message).catch(() => undefined);
  }

  await options.subscriber.subscribe(channel, onRaw);
  return {
    origin,
    async announce(scope, version) {
      await publish({ type: 'swap', scope, version, origin });
    },
    apply(scope, version, from) {
      return enqueue({ type: 'swap', scope, version, origin: from });
    },
    async close() {
      await options.subscriber.unsubscribe(channel);
      await Promise.all([...chains.values()]);
    },
  };
}

/**
 * The cache with announcements: `install` (a commit or rollback in this process) installs here and announces
 * the swap to the other processes. A failed announcement is logged; this process serves the new model anyway.
 */
export function announcingModels(
  models: ModelCache,
  bus: Pick<SwapBus, 'announce'>,
  log?: Pick<Logger, 'warn'>,
): ModelCache {
  return {
    ...models,
    install(scope, version, model) {
      models.install(scope, version, model);
      void bus
        .announce(scope, version)
        .catch((err: unknown) =>
          log?.warn({ err, scope, version }, 'model swap: could not announce the new version to the other shards'),
        );
    },
  };
}
