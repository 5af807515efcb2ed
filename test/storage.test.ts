/**
 * One conformance suite for both storage backends (SQLite file, Redis), through the store and the collection
 * service: reads and writes, expiry, prefix scans, 200k rows with interleaved expiries, two writer processes,
 * failures that surface, and isolation between servers. SQLite alone: kill -9 after acknowledged writes.
 *
 * Redis: REDIS_URL (set by .ci/run, which starts a redis-server). Without it the Redis run is skipped locally;
 * with CI=true a missing REDIS_URL fails.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@keyv/redis';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createCollectionService, type IncomingMessage } from '../src/service/collection.js';
import { StorageError, type KvStore } from '../src/storage/kv.js';
import { openStore, parseStorageUrl } from '../src/storage/open.js';
import { redisScanner, scanPattern } from '../src/storage/redis.js';
import { prefixUpperBound } from '../src/storage/sqlite.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REDIS_URL = process.env.REDIS_URL?.trim() || undefined;
const DAY = 86_400_000;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'babble-storage-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  vi.useRealTimers();
});

interface Backend {
  name: 'sqlite' | 'redis';
  available: boolean;
  /** A STORAGE_URL for a fresh, empty place (a new file; for Redis the same server, and a fresh key prefix). */
  fresh(): { url: string; prefix: string };
  /** Makes writes fail until the returned function is called. */
  breakWrites(url: string): Promise<() => Promise<void>>;
}

const backends: Backend[] = [
  {
    name: 'sqlite',
    available: true,
    fresh: () => ({ url: `sqlite://${path.join(dir, `${randomBytes(6).toString('hex')}.sqlite`)}`, prefix: 'babble:' }),
    async breakWrites(url) {
      // Another connection holds the write lock; the store's busy timeout runs out.
      const file = parseStorageUrl(url);
      if (file.kind !== 'sqlite') throw new Error('not sqlite');
      const other = new Database(file.file);
      other.exec('BEGIN EXCLUSIVE');
      return async () => {
        other.exec('COMMIT');
        other.close();
      };
    },
  },
  {
    name: 'redis',
    available: REDIS_URL !== undefined,
    fresh: () => ({ url: REDIS_URL!, prefix: `test-${randomBytes(6).toString('hex')}:` }),
    async breakWrites(url) {
      // Redis refuses writes (OOM) once maxmemory is below what it uses and nothing may be evicted.
      const client = createClient({ url });
      await client.connect();
      const before = await client.configGet(['maxmemory', 'maxmemory-policy']);
      await client.configSet({ maxmemory: '1', 'maxmemory-policy': 'noeviction' });
      return async () => {
        await client.configSet({
          maxmemory: before.maxmemory ?? '0',
          'maxmemory-policy': before['maxmemory-policy'] ?? 'noeviction',
        });
        await client.close();
      };
    },
  },
];

describe('the test environment', () => {
  it.runIf(process.env.CI === 'true')('has a Redis to run the conformance suite against in CI (REDIS_URL)', () => {
    expect(REDIS_URL, 'CI must start redis-server and export REDIS_URL (.ci/run)').toBeDefined();
  });
});

describe('storage URLs and key ranges', () => {
  it('reads sqlite:// relative to the working folder, sqlite:/// as absolute, and redis:// as is', () => {
    expect(parseStorageUrl('sqlite://var/b.sqlite', '/srv/bot')).toEqual({
      kind: 'sqlite',
      file: '/srv/bot/var/b.sqlite',
    });
    expect(parseStorageUrl('sqlite:///data/b.sqlite', '/srv/bot')).toEqual({ kind: 'sqlite', file: '/data/b.sqlite' });
    expect(parseStorageUrl('redis://localhost:6379/1')).toEqual({ kind: 'redis', url: 'redis://localhost:6379/1' });
    expect(() => parseStorageUrl('mysql://x')).toThrow(/sqlite:\/\/.*redis:\/\//);
    expect(() => parseStorageUrl('redis://')).toThrow(/Redis URL/);
  });

  it('bounds a prefix range so that it holds exactly the keys that start with the prefix', () => {
    const upper = prefixUpperBound('g:12:');
    for (const k of ['g:12:', 'g:12:m:1', 'g:12:\uffff']) expect(k >= 'g:12:' && k < upper).toBe(true);
    for (const k of ['g:12', 'g:12;', 'g:120:m:1', 'g:13:']) expect(k >= 'g:12:' && k < upper).toBe(false);
  });

  it('escapes glob characters in a Redis SCAN pattern', () => {
    expect(scanPattern('a*b?[c]\\:')).toBe('a\\*b\\?\\[c\\]\\\\:*');
  });
  it('streams a Redis scan page by page, remembering no keys, when distinct is off (the sweep)', async () => {
    // SCAN may return a key again on a later page (while Redis resizes its table): here "p:dup" on every page.
    const pages = Array.from({ length: 5 }, (_, i) => ['p:dup', `p:${i}`, 'other:x']);
    const client = {
      scan: async (cursor: string) => {
        const i = Number(cursor);
        return { cursor: i + 1 < pages.length ? String(i + 1) : '0', keys: pages[i]! };
      },
      mGet: async (keys: string[]) => keys.map((k) => `v-${k}`),
    };
    const read = async (distinct?: boolean) => {
      const out: string[][] = [];
      for await (const page of redisScanner(client as never).scan('p:', 10, distinct)) out.push(page.map((r) => r.key));
      return out;
    };
    // Default: each key once, which takes a set of every key seen so far.
    expect((await read()).flat().filter((k) => k === 'p:dup')).toHaveLength(1);
    // Streaming: a key may come again (nothing is kept between pages), each page as SCAN gave it.
    const streamed = await read(false);
    expect(streamed).toEqual(pages.map((keys) => keys.filter((k) => k.startsWith('p:'))));
  });
});

/** Deletes everything under the store's prefix (Redis runs share a server). */
async function wipe(store: KvStore): Promise<void> {
  for (;;) {
    let n = 0;
    for await (const page of store.scan('')) {
      await store.deleteMany(page.map((r) => r.key));
      n += page.length;
    }
    if (n === 0) return;
  }
}

async function all<T>(store: KvStore, prefix: string, pageSize?: number): Promise<Array<{ key: string; value: T }>> {
  const out: Array<{ key: string; value: T }> = [];
  for await (const page of store.scan<T>(prefix, pageSize)) out.push(...page);
  return out;
}

function message(partial: Partial<IncomingMessage> & { id: string; content: string }): IncomingMessage {
  return { guildId: '100', channelId: '200', authorId: '300', human: true, createdAt: Date.now(), ...partial };
}

/** Runs test/helpers/store-writer.ts in its own process. */
function writer(env: Record<string, string>, onLine?: (line: string) => void) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/store-writer.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let buffered = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    buffered += c;
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      onLine?.(line);
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
  return { child, exited };
}

describe.each(backends)('$name store', (backend) => {
  const opened: KvStore[] = [];
  async function open(place = backend.fresh(), busyTimeoutMs?: number): Promise<KvStore> {
    const store = await openStore(place.url, {
      prefix: place.prefix,
      ...(busyTimeoutMs !== undefined ? { busyTimeoutMs } : {}),
    });
    opened.push(store);
    return store;
  }
  afterAll(async () => {
    for (const s of opened) {
      if (backend.name === 'redis') await wipe(s).catch(() => undefined);
      await s.close();
    }
  });

  describe.skipIf(!backend.available)(`conformance (${backend.name})`, () => {
    it('reads back what it wrote, several at once, and deletes', async () => {
      const store = await open();
      await store.set('a', { n: 1, list: [1, 'two'], nested: { ok: true } });
      await store.setMany([
        { key: 'b', value: 'text' },
        { key: 'c', value: 42 },
      ]);
      expect(await store.get('a')).toEqual({ n: 1, list: [1, 'two'], nested: { ok: true } });
      expect(await store.getMany(['b', 'c', 'missing'])).toEqual(['text', 42, undefined]);
      await store.deleteMany(['a', 'c', 'never-there']);
      expect(await store.getMany(['a', 'b', 'c'])).toEqual([undefined, 'text', undefined]);
    });

    it('forgets a row once its time to live has passed, in reads and in scans', async () => {
      const store = await open();
      // The store's clock (Date) stands still until moved: expiry is judged by it, not by how fast the machine is.
      // (A Redis server also expires keys by its own clock; 60 s is far longer than this test.)
      const t0 = Date.now();
      vi.useFakeTimers({ toFake: ['Date'], now: t0 });
      await store.setMany([
        { key: 'x:short', value: 1, ttlMs: 60_000 },
        { key: 'x:long', value: 2, ttlMs: 3_600_000 },
        { key: 'x:forever', value: 3 },
      ]);
      vi.setSystemTime(t0 + 59_999);
      expect(await store.get('x:short')).toBe(1);
      vi.setSystemTime(t0 + 60_001);
      expect(await store.get('x:short')).toBeUndefined();
      expect(await store.getMany(['x:short', 'x:long'])).toEqual([undefined, 2]);
      expect((await all(store, 'x:')).map((r) => r.key).sort()).toEqual(['x:forever', 'x:long']);
    });

    it('refuses a time to live that is not positive instead of storing forever', async () => {
      const store = await open();
      await expect(store.set('k', 1, 0)).rejects.toBeInstanceOf(StorageError);
      await expect(store.setMany([{ key: 'k', value: 1, ttlMs: -5 }])).rejects.toBeInstanceOf(StorageError);
      expect(await store.get('k')).toBeUndefined();
    });

    it('scans exactly the keys under a prefix, each once, page by page, even while rows are deleted between pages', async () => {
      const store = await open();
      const inside = Array.from({ length: 250 }, (_, i) => `g:12:m:${i}`);
      const outside = ['g:1:m:1', 'g:120:m:1', 'g:12;', 'g:12', 'h:12:m:1'];
      await store.setMany([...inside, ...outside].map((key) => ({ key, value: { key } })));
      const seen: string[] = [];
      for await (const page of store.scan<{ key: string }>('g:12:', 40)) {
        for (const row of page) expect(row.value.key).toBe(row.key);
        seen.push(...page.map((r) => r.key));
        // Delete what was just seen: later pages must still bring every other row.
        await store.deleteMany(page.map((r) => r.key));
      }
      expect(seen.sort()).toEqual([...inside].sort());
      expect((await all(store, '')).map((r) => r.key).sort()).toEqual([...outside].sort());
    });

    it('lets timers and I/O run between the pages of a scan (a long read never holds the event loop throughout)', async () => {
      const store = await open();
      await store.setMany(
        Array.from({ length: 1000 }, (_, i) => ({ key: `t:${String(i).padStart(4, '0')}`, value: i })),
      );
      let ticks = 0;
      let ticking = true;
      const tick = () => {
        ticks += 1;
        if (ticking) setImmediate(tick);
      };
      setImmediate(tick);
      let rows = 0;
      const ticksAtPage: number[] = [];
      for await (const page of store.scan<number>('t:', 100)) {
        rows += page.length;
        ticksAtPage.push(ticks);
      }
      ticking = false;
      expect(rows).toBe(1000);
      // Pages of about 100 (a Redis SCAN's COUNT is a hint: not exactly 10 pages there).
      expect(ticksAtPage.length).toBeGreaterThanOrEqual(5);
      // The loop turned between every two pages.
      for (let i = 1; i < ticksAtPage.length; i++) expect(ticksAtPage[i]).toBeGreaterThan(ticksAtPage[i - 1]!);
    });

    it('200,000 messages with interleaved expiries: the training set has every live message exactly once', async () => {
      const place = backend.fresh();
      const store = await open(place);
      const t0 = Date.now();
      // The service's clock and the store's (Date) stand still at t0, so every row is written; half of them expire
      // 300 ms after t0, when the store's clock is moved past it.
      vi.useFakeTimers({ toFake: ['Date'], now: t0 });
      const collection = createCollectionService({ store, retentionDays: 90, now: () => t0 });
      // Collection was switched on before the oldest message was sent.
      await createCollectionService({ store, now: () => t0 - 91 * DAY }).setChannel('100', '200', true, '1');
      const n = 200_000;
      const messages: IncomingMessage[] = [];
      for (let i = 0; i < n; i++) {
        messages.push(
          message({ id: String(1_000_000 + i), content: `m ${i}`, createdAt: i % 2 === 0 ? t0 - 90 * DAY + 300 : t0 }),
        );
      }
      const started = performance.now();
      const counts = await collection.collectMany(messages);
      const wroteMs = Math.round(performance.now() - started);
      expect(counts.collected).toBe(n);
      vi.setSystemTime(t0 + 301);
      const readStarted = performance.now();
      const text = await collection.trainingText('100');
      const readMs = Math.round(performance.now() - readStarted);
      const expected = messages.filter((_, i) => i % 2 === 1).map((m) => m.content);
      expect(text.length).toBe(n / 2);
      expect(new Set(text).size).toBe(n / 2);
      expect([...text].sort()).toEqual(expected.sort());
      // SQLite kept the expired rows on disk until now (Redis expires them itself).
      const purged = await store.purgeExpired();
      if (backend.name === 'sqlite') expect(purged).toBe(n); // messages and their index entries
      console.info(`[${backend.name}] 200k messages: write ${wroteMs} ms, training set ${readMs} ms`);
      collection.close();
      if (backend.name === 'redis') await wipe(store);
    }, 180_000);

    it('two writer processes × 10,000 messages into one store: 20,000 messages', async () => {
      const place = backend.fresh();
      const store = await open(place);
      const collection = createCollectionService({ store });
      await collection.setChannel('100', '200', true, '1');
      // Both start writing at the same moment, once both processes are up.
      const common = {
        STORAGE_URL: place.url,
        KEY_PREFIX: place.prefix,
        GUILD: '100',
        CHANNEL: '200',
        COUNT: '10000',
        START_AT: String(Date.now() + 3000),
      };
      const started = Date.now();
      const a = writer({ ...common, AUTHOR: '301', FIRST_ID: '5000000' });
      const b = writer({ ...common, AUTHOR: '302', FIRST_ID: '6000000' });
      const [ra, rb] = await Promise.all([a.exited, b.exited]);
      expect(ra, ra.stderr).toMatchObject({ code: 0 });
      expect(rb, rb.stderr).toMatchObject({ code: 0 });
      const text = await collection.trainingText('100');
      expect(text.length).toBe(20_000);
      expect(new Set(text).size).toBe(20_000);
      expect((await collection.privacy('100', '301')).messages).toBe(10_000);
      expect((await collection.privacy('100', '302')).messages).toBe(10_000);
      console.info(`[${backend.name}] two writers × 10k: ${Date.now() - started} ms (processes included)`);
      collection.close();
      if (backend.name === 'redis') await wipe(store);
    }, 180_000);

    it('a store that fails: writes reject with StorageError, the member is refused, gateway events wait and are all written after', async () => {
      const place = backend.fresh();
      const store = await open(place, 50);
      const collection = createCollectionService({ store, retryInitialMs: 60_000 });
      await collection.setChannel('100', '200', true, '1');
      expect(await collection.collect(message({ id: '1', content: 'before the failure' }))).toBe('collected');

      const repair = await backend.breakWrites(place.url);
      let repaired = false;
      try {
        await expect(store.set('k', 1)).rejects.toBeInstanceOf(StorageError);
        await expect(collection.teach('100', '300', '9', 'me want cookie')).rejects.toBeInstanceOf(StorageError);
        expect(await collection.collect(message({ id: '2', content: 'during the failure' }))).toBe('queued');
        expect(await collection.collect(message({ id: '3', content: 'also during' }))).toBe('queued');
        await collection.remove('100', ['1']);
        expect(collection.pendingCount()).toBe(3);
        await repair();
        repaired = true;
      } finally {
        if (!repaired) await repair();
      }
      await collection.retryNow();
      expect(collection.pendingCount()).toBe(0);
      expect((await collection.trainingText('100')).sort()).toEqual(['also during', 'during the failure']);
      collection.close();
    }, 60_000);

    it('keeps servers apart: nothing of one server is readable through another', async () => {
      const store = await open();
      const collection = createCollectionService({ store });
      // "12" is a prefix of "123": keys must not leak between them.
      const [a, b] = ['12', '123'];
      await collection.setChannel(a, '201', true, '1');
      await collection.setChannel(b, '202', true, '1');
      await collection.updateSettings(a, { replyChance: 100 });
      await collection.collect(message({ id: '11', guildId: a, channelId: '201', content: 'secret of a' }));
      await collection.collect(message({ id: '12', guildId: b, channelId: '202', content: 'secret of b' }));
      // A message sent in b's server but naming a's channel is still b's (and a's channel isn't on in b).
      expect(
        await collection.collect(message({ id: '13', guildId: b, channelId: '201', content: 'wrong channel' })),
      ).toBe('not-enabled');
      await collection.teach(a, '300', '21', 'taught to a');
      await collection.teach(b, '300', '22', 'taught to b');

      expect(await collection.trainingText(a)).toEqual(['secret of a', 'taught to a']);
      expect(await collection.trainingText(b)).toEqual(['secret of b', 'taught to b']);
      expect((await collection.channels(a)).map((c) => c.channelId)).toEqual(['201']);
      expect((await collection.channels(b)).map((c) => c.channelId)).toEqual(['202']);
      expect((await collection.getSettings(b)).replyChance).toBe(0);
      expect(await collection.privacy(b, '300')).toMatchObject({
        messages: 1,
        taught: 1,
        channels: [{ channelId: '202', messages: 1 }],
      });

      await collection.optOut(a, '300');
      expect(await collection.isOptedOut(b, '300')).toBe(false);
      expect(await collection.forget(a, '300')).toEqual({ messages: 1, taught: 1 });
      expect(await collection.trainingText(b)).toEqual(['secret of b', 'taught to b']);
      await collection.purgeGuild(a);
      expect(await collection.trainingText(a)).toEqual([]);
      expect(await collection.trainingText(b)).toEqual(['secret of b', 'taught to b']);
      expect((await collection.channels(b)).map((c) => c.channelId)).toEqual(['202']);
      collection.close();
    });
  });
});

describe('sqlite durability', () => {
  it('kill -9 right after acknowledged writes: every acknowledged message is there after reopening', async () => {
    const place = backends[0]!.fresh();
    const setup = await openStore(place.url);
    const collection = createCollectionService({ store: setup });
    await collection.setChannel('100', '200', true, '1');
    collection.close();
    await setup.close();

    const acked: string[] = [];
    let killed = false;
    const w = writer(
      {
        STORAGE_URL: place.url,
        KEY_PREFIX: place.prefix,
        GUILD: '100',
        CHANNEL: '200',
        AUTHOR: '300',
        FIRST_ID: '7000000',
        COUNT: '1000000',
        ACK: '1',
      },
      (line) => {
        if (!line.startsWith('ack ')) return;
        acked.push(`m ${line.slice(4)}`);
        if (acked.length >= 3000 && !killed) {
          killed = true;
          w.child.kill('SIGKILL');
        }
      },
    );
    const end = await w.exited;
    expect(end.signal, end.stderr).toBe('SIGKILL');

    const reopened = await openStore(place.url);
    const after = createCollectionService({ store: reopened });
    const text = new Set(await after.trainingText('100'));
    const missing = acked.filter((t) => !text.has(t));
    expect(acked.length).toBeGreaterThanOrEqual(3000);
    expect(missing).toEqual([]);
    after.close();
    await reopened.close();
  }, 120_000);
});
