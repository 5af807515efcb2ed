/**
 * The key-value store the services use: keyv for reads and writes (SQLite or Redis underneath), plus a cursor
 * over a key prefix that each backend implements natively (keyv's own iterator is not used: see sqlite.ts).
 *
 * Every failure surfaces: a write that keyv reports as `false`, an error keyv would only emit, or a backend
 * exception all become a rejected promise with a StorageError. Nothing here imports discord.js.
 */
import type { Keyv } from 'keyv';
import type { RawRow } from './sqlite.js';
import { errorMessage } from '../error-message.js';

/** A store operation failed; nothing of that operation can be assumed written (batches are all-or-nothing). */
export class StorageError extends Error {
  override name = 'StorageError';
  constructor(
    readonly operation: string,
    cause: unknown,
  ) {
    super(`storage ${operation} failed: ${errorMessage(cause)}`, { cause });
  }
}

export interface KvEntry {
  key: string;
  value: unknown;
  /** Time to live in ms; undefined = forever. */
  ttlMs?: number | undefined;
}

export interface KvRow<T> {
  key: string;
  value: T;
  /** Epoch ms after which the row is gone, if it has a time to live. */
  expires: number | undefined;
}

export interface ScanOptions {
  /**
   * Default true: a row that exists for the whole scan comes exactly once (on Redis, whose SCAN may return a key
   * twice, that means remembering every key seen so far). False: it may come more than once, and the scan holds
   * no more than a page in memory, however many keys there are (the retention sweep).
   */
  distinct?: boolean;
}

export interface KvStore {
  readonly kind: 'sqlite' | 'redis';
  /** Where the data is, for logs (no password). */
  readonly location: string;
  get<T>(key: string): Promise<T | undefined>;
  getMany<T>(keys: readonly string[]): Promise<Array<T | undefined>>;
  set(key: string, value: unknown, ttlMs?: number): Promise<void>;
  /** Atomic on both backends (one SQLite transaction, one Redis MULTI). */
  setMany(entries: readonly KvEntry[]): Promise<void>;
  /** Atomic on both backends. Missing keys are fine. */
  deleteMany(keys: readonly string[]): Promise<void>;
  /**
   * Every live row whose key starts with `prefix`, a page at a time. A row that exists for the whole scan comes
   * exactly once; rows may be deleted between pages.
   */
  scan<T>(prefix: string, pageSize?: number, options?: ScanOptions): AsyncGenerator<Array<KvRow<T>>, void>;
  /** Physically removes expired rows (SQLite keeps them on disk until then; Redis expires them itself). */
  purgeExpired(): Promise<number>;
  /**
   * Makes text that a write replaced leave the disk now, and every write so far durable (SQLite: a WAL checkpoint,
   * which syncs the WAL and the database file; deletes do it themselves). For an edit that took words out and for
   * an opt-out, before the member is told. Absent or a no-op on Redis (its persistence is checked at start).
   */
  scrub?(): Promise<void>;
  close(): Promise<void>;
}

/** What a backend adds to keyv: a cursor over a range of physical keys, and expired-row removal. */
export interface RawScanner {
  scan(physicalPrefix: string, pageSize: number, distinct?: boolean): AsyncGenerator<RawRow[], void>;
  purgeExpired(): Promise<number>;
  scrub?(): Promise<void>;
}

export interface KeyvKvStoreOptions {
  kind: KvStore['kind'];
  location: string;
  /** Created with `throwOnErrors: true` and `useKeyPrefix: false`, no namespace. */
  keyv: Keyv;
  scanner: RawScanner;
  /** Prepended to every key (so one database can hold several bots or test runs). */
  prefix: string;
  close(): Promise<void>;
}

async function guard<T>(operation: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof StorageError) throw error;
    throw new StorageError(operation, error);
  }
}

export function keyvKvStore(options: KeyvKvStoreOptions): KvStore {
  const { keyv, scanner, prefix } = options;
  if (!keyv.throwOnErrors) throw new Error('keyvKvStore: keyv must be created with throwOnErrors: true');
  const full = (key: string) => prefix + key;
  let closed = false;

  return {
    kind: options.kind,
    location: options.location,
    get: (key) => guard('read', async () => keyv.get(full(key))),
    getMany: (keys) => guard('read', async () => (keys.length === 0 ? [] : await keyv.getMany(keys.map(full)))),
    set: (key, value, ttlMs) =>
      guard('write', async () => {
        if (ttlMs !== undefined && !(ttlMs > 0)) throw new Error(`time to live must be positive (got ${ttlMs})`);
        const ok = await keyv.set(full(key), value, ttlMs);
        if (ok !== true) throw new Error('keyv set() returned false');
      }),
    setMany: (entries) =>
      guard('write', async () => {
        if (entries.length === 0) return;
        for (const e of entries) {
          if (e.ttlMs !== undefined && !(e.ttlMs > 0))
            throw new Error(`time to live must be positive (got ${e.ttlMs})`);
        }
        const results: unknown = await keyv.setMany(
          entries.map((e) => ({ key: full(e.key), value: e.value, ttl: e.ttlMs })),
        );
        // @keyv/redis returns nothing on success; an adapter that reports per-entry results must report all true.
        if (Array.isArray(results) && results.some((r) => r !== true))
          throw new Error('keyv setMany() reported a failed entry');
      }),
    deleteMany: (keys) =>
      guard('delete', async () => {
        if (keys.length === 0) return;
        await keyv.deleteMany(keys.map(full));
      }),
    async *scan<T>(
      scanPrefix: string,
      pageSize = 1000,
      scanOptions: ScanOptions = {},
    ): AsyncGenerator<Array<KvRow<T>>, void> {
      const pages = scanner.scan(full(scanPrefix), pageSize, scanOptions.distinct ?? true);
      for (;;) {
        const next = await guard('scan', () => pages.next());
        if (next.done) return;
        const now = Date.now();
        const rows: Array<KvRow<T>> = [];
        for (const raw of next.value) {
          const data = (await keyv.deserializeData<T>(raw.value)) as { value?: T; expires?: number | null } | undefined;
          if (!data || data.value === undefined) continue;
          const expires = typeof data.expires === 'number' ? data.expires : undefined;
          if (expires !== undefined && expires <= now) continue;
          rows.push({ key: raw.key.slice(prefix.length), value: data.value, expires });
        }
        if (rows.length > 0) yield rows;
      }
    },
    purgeExpired: () => guard('purge', () => scanner.purgeExpired()),
    scrub: () => guard('scrub', async () => scanner.scrub?.()),
    close: async () => {
      if (closed) return;
      closed = true;
      await options.close();
    },
  };
}
