/**
 * A server that removes the bot is erased entirely (issue 12 item 1), through the real bot (startBot) against the
 * fake Discord, with a real SQLite store, a real model registry and model cache: on GUILD_DELETE its training is
 * cancelled, every model folder goes, the cache forgets it, and its stored data is purged; re-added, it is served
 * the base model. An outage (`unavailable`) keeps everything. Servers that removed the bot while it was away are
 * erased only after PURGE_AFTER_DAYS. Deleted channels and threads (CHANNEL_DELETE, THREAD_DELETE) purge their
 * messages.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBot, type RunningBot } from '../src/discord/app.js';
import { createLogger } from '../src/log.js';
import { loadModel, saveModel, type LoadedModel } from '../src/model/store.js';
import { createCollectionService, type CollectionService } from '../src/service/collection.js';
import { createModelCache, type ModelCache } from '../src/service/model-cache.js';
import { createRegistry, type ModelRegistry } from '../src/service/registry.js';
import { createServerErasure, type ErasureResult, type ReconcileResult } from '../src/service/server-erasure.js';
import type { KvStore } from '../src/storage/kv.js';
import { openStore } from '../src/storage/open.js';
import { makeGuild, startFakeDiscord, type FakeDiscord, type FakeGuild } from './fake-discord/index.js';

const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.GfAkE0.fake-token-for-erasure-tests';
const GONE_WHILE_AWAY = '5500000000000000055';
const DAY = 86_400_000;

let dir: string;
let fake: FakeDiscord;
let bot: RunningBot;
let store: KvStore;
let collection: CollectionService;
let registry: ModelRegistry;
let models: ModelCache;
let guild: FakeGuild;
let base: LoadedModel;
let clock = Date.now();
const cancelled: string[] = [];
const erasures: Array<{ guildId: string; result: ErasureResult }> = [];
const waiters: Array<() => void> = [];
let reconciled: Promise<ReconcileResult>;
const channelPurges: string[] = [];

/** Resolves once `ok()` holds; re-checked after every erasure or channel purge (no polling). */
function when(ok: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (ok() ? resolve() : waiters.push(check));
    check();
  });
}
const wake = () =>
  waiters.splice(0).forEach((w) => {
    w();
  });

async function commitModel(scope: string, tag: string): Promise<void> {
  const tmp = await registry.tempDir(scope);
  await saveModel(tmp, base.weights, base.vocab, { version: tag, corpus: { sha256: '', chars: 0 }, training: { tag } });
  await registry.commit(scope, tmp, {});
}

async function keys(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const page of store.scan(prefix)) out.push(...page.map((r) => r.key));
  return out;
}

beforeAll(async () => {
  base = await loadModel('models/base');
  dir = mkdtempSync(path.join(tmpdir(), 'babble-erasure-'));
  store = await openStore(`sqlite://${path.join(dir, 'babble.sqlite')}`);
  collection = createCollectionService({ store });
  registry = createRegistry({ root: path.join(dir, 'models') });
  models = createModelCache({ registry, baseDir: 'models/base' });
  guild = makeGuild({ name: 'Nursery', channels: [{ name: 'general' }, { name: 'nursery' }] });

  // This server has a model (and a rejected one and a training in progress) and data.
  await commitModel(guild.id, 'server model');
  await registry.keepAside(guild.id, await registry.tempDir(guild.id), { why: 'test' });
  await registry.tempDir(guild.id);
  await collection.setChannel(guild.id, guild.channels[0]!.id, true, '1');
  await collection.updateSettings(guild.id, { replyChance: 50 });
  await collection.optOut(guild.id, '4400000000000000044');
  await collection.teach(guild.id, '4400000000000000045', '5900000000000000001', 'me want cookie');
  // A server that removed the bot while it was away, first seen missing 8 days ago; its data and model must go.
  await commitModel(GONE_WHILE_AWAY, 'gone');
  await collection.updateSettings(GONE_WHILE_AWAY, { replyChance: 10 });
  await store.set(`erase:missing:${GONE_WHILE_AWAY}`, { since: clock - 8 * DAY });

  const real = createServerErasure({
    store,
    collection,
    registry,
    models,
    log: createLogger('silent'),
    now: () => clock,
    retrain: {
      get: (scope) =>
        scope === guild.id ? { cancel: () => void cancelled.push(scope), result: Promise.resolve() } : undefined,
    },
  });
  let reconcileDone!: (r: ReconcileResult) => void;
  reconciled = new Promise((r) => (reconcileDone = r));
  const erasure = {
    eraseServer: async (guildId: string) => {
      const result = await real.eraseServer(guildId);
      erasures.push({ guildId, result });
      wake();
      return result;
    },
    reconcile: async (...a: Parameters<typeof real.reconcile>) => {
      const r = await real.reconcile(...a);
      reconcileDone(r);
      return r;
    },
  };
  const purgeChannel = collection.purgeChannel;
  collection.purgeChannel = async (g, c) => {
    const done = await purgeChannel(g, c);
    channelPurges.push(c);
    wake();
    return done;
  };
  fake = await startFakeDiscord({ token: TOKEN, guilds: [guild] });
  const log = createLogger('silent');
  bot = await startBot({ token: TOKEN, apiUrl: fake.apiUrl, models, registry, collection, log, erasure });
});

afterAll(async () => {
  await bot?.stop();
  await fake?.close();
  await collection?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('servers removed while the bot was away', () => {
  it('after the start-up burst, a server missing for PURGE_AFTER_DAYS is erased; a joined one is kept', async () => {
    const r = await reconciled;
    expect(r.erased).toEqual([GONE_WHILE_AWAY]);
    expect(existsSync(path.join(registry.root, GONE_WHILE_AWAY))).toBe(false);
    expect(await keys(`g:${GONE_WHILE_AWAY}:`)).toEqual([]);
    expect(await keys('erase:missing:')).toEqual([]);
    expect((await registry.history(guild.id)).current).toBe(1);
  });

  it('a server first seen missing is only recorded (maybe an outage), and erased after the grace period', async () => {
    const other = '5600000000000000056';
    await commitModel(other, 'other');
    const log = createLogger('silent');
    const erasure = createServerErasure({ store, collection, registry, models, log, now: () => clock });
    const joined = new Set([guild.id]);
    expect(await erasure.reconcile(joined)).toEqual({ waiting: [other], erased: [] });
    clock += 6 * DAY;
    expect(await erasure.reconcile(joined)).toEqual({ waiting: [other], erased: [] });
    expect(existsSync(path.join(registry.root, other))).toBe(true);
    // Seen again: the record is cleared, and the grace period starts over if it goes missing later.
    expect(await erasure.reconcile(new Set([guild.id, other]))).toEqual({ waiting: [], erased: [] });
    clock += 2 * DAY;
    expect(await erasure.reconcile(joined)).toEqual({ waiting: [other], erased: [] });
    clock += 7 * DAY;
    expect(await erasure.reconcile(joined)).toEqual({ waiting: [], erased: [other] });
    expect(existsSync(path.join(registry.root, other))).toBe(false);
    // Another shard's servers are left to that shard.
    await commitModel(other, 'again');
    clock += 30 * DAY;
    await erasure.reconcile(joined, () => false);
    expect(existsSync(path.join(registry.root, other))).toBe(true);
    await registry.removeScope(other);
  });
});

describe('deleted channels and threads', () => {
  it('CHANNEL_DELETE and THREAD_DELETE purge the messages collected there', async () => {
    const general = guild.channels[0]!.id;
    const thread = '5700000000000000057';
    await collection.setChannel(guild.id, thread, true, '1');
    const said = { guildId: guild.id, authorId: '4400000000000000046', human: true, createdAt: Date.now() };
    await collection.collectMany([
      { ...said, id: '5800000000000000001', channelId: general, content: 'in general' },
      { ...said, id: '5800000000000000002', channelId: thread, content: 'in the thread' },
    ]);
    expect(await collection.trainingText(guild.id)).toEqual(expect.arrayContaining(['in general', 'in the thread']));
    // An uncached thread (never seen by this client): its delete still purges.
    fake.dispatch('THREAD_DELETE', { id: thread, guild_id: guild.id, parent_id: general, type: 11 });
    await when(() => channelPurges.includes(thread));
    expect(await collection.trainingText(guild.id)).not.toContain('in the thread');
    expect(await collection.trainingText(guild.id)).toContain('in general');
    fake.dispatch('CHANNEL_DELETE', { ...guild.channels[0], guild_id: guild.id });
    await when(() => channelPurges.includes(general));
    expect(await collection.trainingText(guild.id)).not.toContain('in general');
    expect((await collection.channels(guild.id)).map((c) => c.channelId)).not.toContain(general);
  });
});

describe('GUILD_DELETE', () => {
  it('an outage keeps all; a removal erases models, cache entry, training and data; re-added: the base', async () => {
    expect((await models.modelFor(guild.id)).version).toBe(1); // loaded and cached
    expect(models.cached()).toContain(guild.id);

    fake.removeGuild(guild.id, true); // an outage
    fake.addGuild(guild);
    fake.removeGuild(guild.id);
    await when(() => erasures.some((e) => e.guildId === guild.id));
    const mine = erasures.filter((e) => e.guildId === guild.id);
    expect(mine).toEqual([{ guildId: guild.id, result: { models: true, data: 'done' } }]);

    expect(cancelled).toEqual([guild.id]);
    expect(existsSync(path.join(registry.root, guild.id))).toBe(false);
    expect((await readdir(registry.root)).filter((n) => n.includes(guild.id))).toEqual([]);
    expect(models.cached()).not.toContain(guild.id);
    expect(await keys(`g:${guild.id}:`)).toEqual([]);

    fake.addGuild(guild);
    const served = await models.modelFor(guild.id);
    expect(served.version).toBe(0);
    expect(served.label).toBe('base');
    expect(await registry.resolve(guild.id)).toBeNull();
  });
});
