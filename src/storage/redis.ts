/**
 * The Redis backend: keyv over @keyv/redis for reads and writes (batches in one MULTI), and SCAN for listing a
 * key prefix. Commands fail at once while the connection is down (no offline queue), so a failing Redis is
 * reported instead of leaving writes hanging. Redis expires rows itself.
 */
import KeyvRedis, { createClient } from '@keyv/redis';
import { Keyv } from 'keyv';
import { keyvKvStore, StorageError, type KvStore, type RawScanner } from './kv.js';
import type { RawRow } from './sqlite.js';
import { redisDurabilityWarnings } from './redis-durability.js';
import { redactUrl } from './url.js';

export interface RedisStoreOptions {
  /** redis://[user:password@]host:port[/db] or rediss://… */
  url: string;
  prefix: string;
  /** Connection timeout in ms (default 5000). */
  connectTimeoutMs?: number;
  onError?: (error: unknown) => void;
  /** Told each reason opt-outs or erasures could be lost there (redis-durability.ts), once, after connecting. */
  onDurabilityWarning?: (warning: string) => void;
}

/** A SCAN MATCH pattern that matches exactly the keys starting with `prefix`. */
export function scanPattern(prefix: string): string {
  return `${prefix.replace(/[*?[\]\\^-]/g, (c) => `\\${c}`)}*`;
}

export type RedisClient = ReturnType<typeof createClient>;
type Client = RedisClient;

export interface RedisConnectOptions {
  /** redis://[user:password@]host:port[/db] or rediss://… */
  url: string;
  /** Connection timeout in ms (default 5000). */
  connectTimeoutMs?: number;
  /** How many clients of the same settings (e.g. one more for a subscription); default 1. */
  count?: number;
  /** The clients' 'error' events (index = which client); without a listener node-redis would throw them. */
  onError: (error: unknown, index: number) => void;
}

/**
 * The one way the bot connects to Redis (storage, rate-limit counters, training lock and model swaps): node-redis
 * clients without an offline queue (commands fail at once while the connection is down), that give up after a few
 * tries at start-up and, once connected, keep reconnecting for ever (commands fail meanwhile, and their callers
 * report it). Rejects with the connection error, every client closed, if Redis can't be reached.
 */
export async function connectRedis(options: RedisConnectOptions): Promise<RedisClient[]> {
  let connectedOnce = false;
  const first: Client = createClient({
    url: options.url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.connectTimeoutMs ?? 5000,
      reconnectStrategy: (retries: number, cause: Error) =>
        !connectedOnce && retries >= 3 ? cause : Math.min(100 * 2 ** retries, 5000),
    },
  });
  const clients = [first];
  for (let i = 1; i < (options.count ?? 1); i++) clients.push(first.duplicate());
  clients.forEach((client, i) => {
    client.on('error', (error: unknown) => options.onError(error, i));
  });
  try {
    for (const client of clients) await client.connect();
    connectedOnce = true;
  } catch (error) {
    for (const client of clients) if (client.isOpen) client.destroy();
    throw error;
  }
  return clients;
}

/**
 * SCAN over a key prefix, a page at a time. SCAN may return a key more than once: with `distinct` (the default)
 * each is passed on once, which takes a set of every key seen; without, nothing is kept between pages.
 */
export function redisScanner(client: Pick<Client, 'scan' | 'mGet'>): RawScanner {
  return {
    async *scan(physicalPrefix: string, pageSize: number, distinct = true): AsyncGenerator<RawRow[], void> {
      const seen = distinct ? new Set<string>() : undefined;
      let cursor = '0';
      do {
        const reply = await client.scan(cursor, { MATCH: scanPattern(physicalPrefix), COUNT: pageSize });
        cursor = String(reply.cursor);
        const keys = reply.keys.map(String).filter((k) => k.startsWith(physicalPrefix) && !seen?.has(k));
        for (const k of keys) seen?.add(k);
        if (keys.length === 0) continue;
        const values = await client.mGet(keys);
        const rows: RawRow[] = [];
        keys.forEach((key, i) => {
          const value = values[i];
          if (typeof value === 'string') rows.push({ key, value });
        });
        if (rows.length > 0) yield rows;
      } while (cursor !== '0');
    },
    purgeExpired: async () => 0,
  };
}

/** Connects (rejecting with a StorageError if Redis can't be reached) and returns the store. */
export async function openRedisStore(options: RedisStoreOptions): Promise<KvStore> {
  let client: Client;
  try {
    [client] = (await connectRedis({
      url: options.url,
      ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
      onError: (error) => options.onError?.(error),
    })) as [Client];
  } catch (error) {
    throw new StorageError(`connect to ${redactUrl(options.url)}`, error);
  }
  if (options.onDurabilityWarning) {
    for (const warning of await redisDurabilityWarnings(client)) options.onDurabilityWarning(warning);
  }
  const adapter = new KeyvRedis(client, { throwOnErrors: true, throwOnConnectError: true });
  const keyv = new Keyv({ store: adapter, namespace: undefined, useKeyPrefix: false, throwOnErrors: true });
  keyv.on('error', (error: unknown) => options.onError?.(error));
  return keyvKvStore({
    kind: 'redis',
    location: redactUrl(options.url),
    keyv,
    scanner: redisScanner(client),
    prefix: options.prefix,
    close: async () => {
      if (client.isOpen) await client.close();
    },
  });
}
