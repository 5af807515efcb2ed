/**
 * A keyv store adapter over one SQLite file (better-sqlite3): WAL, a busy timeout, atomic batches, an `expires`
 * column, and a keyset cursor over a key range, so listing never depends on keyv's iterator (which skips live
 * rows when expired ones are interleaved and overflows the stack on large tables with @keyv/sqlite).
 *
 * Durability: a write is acknowledged after its transaction commits. With WAL and synchronous=NORMAL a commit
 * survives the process being killed (it is in the WAL file); only a power loss or OS crash can drop the last
 * commits. `synchronous: 'FULL'` syncs the WAL on every commit instead.
 *
 * Erasure: acknowledged erasures survive power loss whatever the sync mode: the checkpoint below syncs the WAL
 * and the database file (FULL on every write would cost 94 % of the ingest rate: `npm run bench`, `ingest`).
 * `secure_delete` is on, so SQLite overwrites deleted rows with zeros, and every delete that removed a
 * row is followed by a WAL checkpoint (TRUNCATE): the zeroed pages reach the database file and the WAL, which
 * still held the old page images, is cut to nothing. A byte scan of the file and its WAL finds no erased text.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { KeyvStoreAdapter, StoredData } from 'keyv';

/** Lets timers and I/O run (the reads here are synchronous). */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface SqliteStoreOptions {
  /** The database file; its folder is created if missing. ':memory:' for a private in-memory database. */
  file: string;
  /** How long a write waits for another connection's lock before failing (SQLITE_BUSY). Default 5000 ms. */
  busyTimeoutMs?: number;
  /** WAL sync mode: NORMAL (default; survives a killed process) or FULL (also survives power loss). */
  synchronous?: 'NORMAL' | 'FULL';
}

export interface RawRow {
  key: string;
  value: string;
}

export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/** The smallest string greater than every string that starts with `prefix` (for a key range). */
export function prefixUpperBound(prefix: string): string {
  if (prefix === '') return '\uffff';
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

export class SqliteKeyvAdapter extends EventEmitter implements KeyvStoreAdapter {
  /** Read by keyv; the dialect keeps keyv from building its own iterator over this store. */
  readonly opts: { dialect: 'babble-sqlite'; url: string; file: string };
  namespace?: string | undefined;
  readonly file: string;
  private readonly db: Database.Database;
  private readonly stmt: {
    get: Database.Statement<[string, number], { value: string }>;
    set: Database.Statement<[string, string, number | null]>;
    del: Database.Statement<[string]>;
    page: Database.Statement<[string, string, string, number, number], RawRow>;
    purge: Database.Statement<[number, number]>;
    clear: Database.Statement<[]>;
  };

  constructor(options: SqliteStoreOptions) {
    super();
    this.file = options.file === ':memory:' ? ':memory:' : path.resolve(options.file);
    if (this.file !== ':memory:') mkdirSync(path.dirname(this.file), { recursive: true });
    this.opts = { dialect: 'babble-sqlite', url: `sqlite://${this.file}`, file: this.file };
    this.db = new Database(this.file, { timeout: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS });
    if (this.file !== ':memory:') this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
    this.db.pragma('secure_delete = ON');
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS keyv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires INTEGER) WITHOUT ROWID;' +
        'CREATE INDEX IF NOT EXISTS keyv_expires ON keyv (expires) WHERE expires IS NOT NULL;',
    );
    this.stmt = {
      get: this.db.prepare('SELECT value FROM keyv WHERE key = ? AND (expires IS NULL OR expires > ?)'),
      set: this.db.prepare(
        'INSERT INTO keyv (key, value, expires) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires = excluded.expires',
      ),
      del: this.db.prepare('DELETE FROM keyv WHERE key = ?'),
      page: this.db.prepare(
        'SELECT key, value FROM keyv WHERE key >= ? AND key < ? AND key > ? AND (expires IS NULL OR expires > ?) ORDER BY key LIMIT ?',
      ),
      purge: this.db.prepare(
        'DELETE FROM keyv WHERE key IN (SELECT key FROM keyv WHERE expires IS NOT NULL AND expires <= ? LIMIT ?)',
      ),
      clear: this.db.prepare('DELETE FROM keyv'),
    };
  }

  private static expiresAt(ttl: number | undefined): number | null {
    return typeof ttl === 'number' && ttl > 0 ? Date.now() + ttl : null;
  }

  async get<Value>(key: string): Promise<StoredData<Value> | undefined> {
    return this.stmt.get.get(key, Date.now())?.value as StoredData<Value> | undefined;
  }

  async getMany<Value>(keys: string[]): Promise<Array<StoredData<Value | undefined>>> {
    const now = Date.now();
    return keys.map((k) => this.stmt.get.get(k, now)?.value as StoredData<Value | undefined>);
  }

  async has(key: string): Promise<boolean> {
    return this.stmt.get.get(key, Date.now()) !== undefined;
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    const now = Date.now();
    return keys.map((k) => this.stmt.get.get(k, now) !== undefined);
  }

  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    this.stmt.set.run(key, String(value), SqliteKeyvAdapter.expiresAt(ttl));
    return true;
  }

  /** All entries in one transaction: all of them are written, or none (and this throws). */
  async setMany(entries: Array<{ key: string; value: unknown; ttl?: number }>): Promise<void> {
    const write = this.db.transaction((list: typeof entries) => {
      for (const e of list) this.stmt.set.run(e.key, String(e.value), SqliteKeyvAdapter.expiresAt(e.ttl));
    });
    write.immediate(entries);
  }

  async delete(key: string): Promise<boolean> {
    return this.erased(this.stmt.del.run(key).changes);
  }

  /** The WAL checkpoint of an erase, for a write that replaced text (an edit). */
  async scrub(): Promise<void> {
    this.erased(1);
  }

  /** After a delete of `changes` rows: the erased bytes leave the WAL (see the module comment). */
  private erased(changes: number): boolean {
    if (changes > 0 && this.file !== ':memory:') this.db.pragma('wal_checkpoint(TRUNCATE)');
    return changes > 0;
  }

  /** All keys in one transaction; true if any existed. */
  async deleteMany(keys: string[]): Promise<boolean> {
    const remove = this.db.transaction((list: string[]) => {
      let n = 0;
      for (const k of list) n += this.stmt.del.run(k).changes;
      return n;
    });
    return this.erased(remove.immediate(keys));
  }

  async clear(): Promise<void> {
    this.erased(this.stmt.clear.run().changes);
  }

  /**
   * Live rows whose key starts with `prefix`, in key order, `pageSize` at a time. Each page is its own query
   * that starts after the last key seen, so rows deleted or added between pages never make it skip a live row
   * that stayed, and no row comes twice.
   */
  async *scan(prefix: string, pageSize = 1000): AsyncGenerator<RawRow[], void> {
    const upper = prefixUpperBound(prefix);
    let after = '';
    for (;;) {
      const rows = this.stmt.page.all(prefix, upper, after, Date.now(), pageSize);
      if (rows.length === 0) return;
      yield rows;
      if (rows.length < pageSize) return;
      after = rows[rows.length - 1]!.key;
      // The reads are synchronous: without this, a scan of many pages would hold the event loop from start to end
      // (a /retrain reading 100k characters stalled /babble for 60 ms). Timers and I/O run between pages.
      await nextTurn();
    }
  }

  /** Physically deletes expired rows, in batches; returns how many. */
  async purgeExpired(batch = 5000): Promise<number> {
    let total = 0;
    for (;;) {
      // One statement: a row written again (new expiry) between a select and a delete can't be lost.
      const n = this.stmt.purge.run(Date.now(), batch).changes;
      total += n;
      if (n < batch) {
        this.erased(total);
        return total;
      }
      await nextTurn();
    }
  }

  async disconnect(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
