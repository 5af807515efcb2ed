/**
 * STORAGE_URL → a store: `sqlite://relative/file.sqlite`, `sqlite:///absolute/file.sqlite` (embedded, the
 * default) or `redis://host:port` / `rediss://…`. The Redis client is loaded only for a Redis URL: importing it
 * costs a noticeable part of the bot's start-up.
 */
import { Keyv } from 'keyv';
import { keyvKvStore, type KvStore } from './kv.js';
import { SqliteKeyvAdapter } from './sqlite.js';
import { DEFAULT_KEY_PREFIX, parseStorageUrl } from './url.js';

export { DEFAULT_KEY_PREFIX, DEFAULT_STORAGE_URL, parseStorageUrl, type StorageLocation } from './url.js';

export interface OpenStoreOptions {
  cwd?: string;
  /** Default DEFAULT_KEY_PREFIX. */
  prefix?: string;
  /** SQLite: how long a write waits for a lock held by another connection (default 5000 ms). */
  busyTimeoutMs?: number;
  /**
   * SQLite: sync mode of commits (sqlite.ts); default NORMAL. Erasures are durable either way: each is followed by
   * a WAL checkpoint, which syncs (FULL on every write cost 94 % of the ingest rate: `npm run bench`, `ingest`).
   */
  synchronous?: 'NORMAL' | 'FULL';
  /** Redis: each reason opt-outs or erasures could be lost there (redis-durability.ts), after connecting. */
  onDurabilityWarning?: (warning: string) => void;
  /** Errors the backend reports besides the failing call (e.g. a dropped Redis connection). */
  onError?: (error: unknown) => void;
}

export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<KvStore> {
  const location = parseStorageUrl(url, options.cwd);
  const prefix = options.prefix ?? DEFAULT_KEY_PREFIX;
  if (location.kind === 'redis') {
    const { openRedisStore } = await import('./redis.js');
    return openRedisStore({
      url: location.url,
      prefix,
      ...(options.onError ? { onError: options.onError } : {}),
      ...(options.onDurabilityWarning ? { onDurabilityWarning: options.onDurabilityWarning } : {}),
    });
  }
  const adapter = new SqliteKeyvAdapter({
    file: location.file,
    synchronous: options.synchronous ?? 'NORMAL',
    ...(options.busyTimeoutMs !== undefined ? { busyTimeoutMs: options.busyTimeoutMs } : {}),
  });
  const keyv = new Keyv({ store: adapter, namespace: undefined, useKeyPrefix: false, throwOnErrors: true });
  keyv.on('error', (error: unknown) => options.onError?.(error));
  return keyvKvStore({
    kind: 'sqlite',
    location: `sqlite://${location.file}`,
    keyv,
    scanner: adapter,
    prefix,
    close: () => adapter.disconnect(),
  });
}
