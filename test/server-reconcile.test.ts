/**
 * Servers removed while the bot was away, on each store (SQLite; Redis with REDIS_URL): reconcile finds servers
 * with data but not joined, records when each was first seen missing, and erases it (data and models) only after
 * PURGE_AFTER_DAYS; the servers still joined, and the records, are left as they should be.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { loadModel, saveModel } from '../src/model/store.js';
import { createCollectionService } from '../src/service/collection.js';
import { createRegistry } from '../src/service/registry.js';
import { createServerErasure } from '../src/service/server-erasure.js';
import type { KvStore } from '../src/storage/kv.js';
import { openStore } from '../src/storage/open.js';

const REDIS_URL = process.env.REDIS_URL?.trim() || undefined;
const DAY = 86_400_000;
const JOINED = '6100000000000000061';
const LEFT = '6200000000000000062';
const MODEL_ONLY = '6300000000000000063';
let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'babble-reconcile-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const kinds: Array<{ name: string; available: boolean; open: () => Promise<KvStore> }> = [
  {
    name: 'sqlite',
    available: true,
    open: () => openStore(`sqlite://${join(work, `${randomBytes(4).toString('hex')}.sqlite`)}`),
  },
  {
    name: 'redis',
    available: REDIS_URL !== undefined,
    open: () => openStore(REDIS_URL!, { prefix: `test-${randomBytes(6).toString('hex')}:` }),
  },
];

describe.each(kinds)('on $name', ({ available, open }) => {
  it.runIf(available)('erases servers missing for the grace period, data and models, and nothing else', async () => {
    const store = await open();
    try {
      const collection = createCollectionService({ store });
      const registry = createRegistry({ root: join(work, randomBytes(4).toString('hex')) });
      const base = await loadModel('models/base');
      const tmp = await registry.tempDir(MODEL_ONLY);
      await saveModel(tmp, base.weights, base.vocab, { version: 'm', corpus: { sha256: '', chars: 0 }, training: {} });
      await registry.commit(MODEL_ONLY, tmp, {});
      for (const g of [JOINED, LEFT]) {
        await collection.updateSettings(g, { replyChance: 5 });
        await collection.optOut(g, '6400000000000000064');
      }
      let clock = Date.UTC(2026, 0, 1);
      const invalidated: string[] = [];
      const erasure = createServerErasure({
        store,
        collection,
        registry,
        models: { install: () => undefined, invalidate: (s) => void invalidated.push(s) },
        log: createLogger('silent'),
        now: () => clock,
        purgeAfterDays: 3,
      });
      const joined = new Set([JOINED]);
      const first = await erasure.reconcile(joined);
      expect(first.erased).toEqual([]);
      expect(first.waiting.sort()).toEqual([LEFT, MODEL_ONLY]);
      clock += 3 * DAY - 1;
      expect((await erasure.reconcile(joined)).erased).toEqual([]);
      clock += 1;
      expect((await erasure.reconcile(joined)).erased.sort()).toEqual([LEFT, MODEL_ONLY]);
      expect(invalidated.sort()).toEqual([LEFT, MODEL_ONLY]);
      expect(await registry.scopes()).toEqual([]);
      expect(await collection.isOptedOut(LEFT, '6400000000000000064')).toBe(false);
      expect(await collection.isOptedOut(JOINED, '6400000000000000064')).toBe(true);
      expect((await collection.getSettings(JOINED)).replyChance).toBe(5);
      const left: string[] = [];
      for await (const page of store.scan('erase:')) left.push(...page.map((r) => r.key));
      expect(left).toEqual([]);
      await collection.close();
    } finally {
      await store.close();
    }
  });
});
