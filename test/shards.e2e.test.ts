/**
 * End to end: `SHARDS=2` with STORAGE_URL=redis://… — the real entry point runs discord.js's ShardingManager, two
 * shard processes log in to the fake Discord (which routes each server's events to its shard), each server's
 * /babble is answered once by its own shard, a swap announced on Redis is loaded by the shard serving that server, and SIGTERM
 * stops everything with exit code 0. Also: SHARDS without Redis, and a bad SHARDS, are refused. And shards spread
 * over hosts: two entry processes as two hosts (SHARD_COUNT=4, SHARD_IDS=0-1 and 2-3, each its own MODELS_DIR, one
 * Redis), each server answered exactly once, by the host that runs its shard; SIGTERM stops both with exit code 0.
 *
 * Redis: REDIS_URL (set by .ci/run). Without it the two-shard part is skipped locally; with CI=true it fails.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@keyv/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../src/service/registry.js';
import { parseShards } from '../src/config.js';
import { DEFAULT_SWAP_CHANNEL, parseSwapMessage, type SwapMessage } from '../src/service/swap-bus.js';
import { makeGuild, option, startFakeDiscord, type FakeDiscord } from './fake-discord/index.js';
import { startEntryProcess, type EntryProcess } from './helpers/entry-process.js';

const REDIS_URL = process.env.REDIS_URL?.trim() || undefined;
const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.GfAkE0.fake-token-for-shards-e2e';
/** Server ids on shard 0 and shard 1 of 2: (id >> 22) % 2. */
const ON_SHARD_0 = String((1_000_000_000n << 22n) | 7n);
const ON_SHARD_1 = String((1_000_000_001n << 22n) | 7n);

describe('parseShards', () => {
  it('reads auto and whole numbers, treats empty as unset, and refuses the rest', () => {
    expect(parseShards(undefined)).toBeUndefined();
    expect(parseShards(' ')).toBeUndefined();
    expect(parseShards('auto')).toBe('auto');
    expect(parseShards('2')).toBe(2);
    for (const bad of ['0', '-1', '1.5', 'two', '02', '100000'])
      expect(() => parseShards(bad)).toThrow(/SHARDS must be/);
  });
});

describe('refused sharding settings', () => {
  it('exits 1 with one clear line when SHARDS is set without Redis storage', async () => {
    const p = startEntryProcess({ env: { SHARDS: '2', DISCORD_TOKEN: TOKEN, STORAGE_URL: 'sqlite://:memory:' } });
    const line = await p.waitForLog((l) => l.level === 60 || l.level === 'fatal');
    expect(String(line.msg)).toMatch(/SHARDS needs STORAGE_URL=redis/);
    expect((await p.exited).code).toBe(1);
  });

  it('exits 1 on a bad SHARDS value', async () => {
    const p = startEntryProcess({ env: { SHARDS: 'lots', DISCORD_TOKEN: TOKEN, STORAGE_URL: 'redis://127.0.0.1:1' } });
    const line = await p.waitForLog((l) => l.level === 60 || l.level === 'fatal');
    expect(String(line.msg)).toMatch(/SHARDS must be/);
    expect((await p.exited).code).toBe(1);
  });
});

it.runIf(process.env.CI === 'true')('has a Redis for the two-shard test in CI (REDIS_URL)', () => {
  expect(REDIS_URL, 'CI must start redis-server and export REDIS_URL (.ci/run)').toBeDefined();
});

describe.skipIf(!REDIS_URL)('SHARDS=2 against the fake Discord', () => {
  let fake: FakeDiscord;
  let root: string;
  let bot: EntryProcess;
  let subscriber: ReturnType<typeof createClient>;
  let publisher: ReturnType<typeof createClient>;
  const heard: SwapMessage[] = [];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'babble-shards-e2e-'));
    fake = await startFakeDiscord({
      token: TOKEN,
      shards: 2,
      guilds: [makeGuild({ id: ON_SHARD_0, name: 'Zero' }), makeGuild({ id: ON_SHARD_1, name: 'One' })],
    });
    subscriber = createClient({ url: REDIS_URL! });
    publisher = createClient({ url: REDIS_URL! });
    await subscriber.connect();
    await publisher.connect();
    await subscriber.subscribe(DEFAULT_SWAP_CHANNEL, (text) => {
      const m = parseSwapMessage(text);
      if (m && m.scope === ON_SHARD_1) heard.push(m);
    });
    bot = startEntryProcess({
      env: {
        SHARDS: '2',
        DISCORD_TOKEN: TOKEN,
        DISCORD_API_URL: fake.apiUrl,
        STORAGE_URL: REDIS_URL!,
        MODELS_DIR: root,
      },
    });
    await bot.waitForLog((l) => l.msg === 'all shards serving', 180_000);
    // A shard is ready for the manager when it has logged in; it logs "serving" once its start-up has finished.
    for (let i = 0; i < 600 && bot.logs.filter((l) => l.msg === 'serving').length < 2; i++)
      await new Promise((r) => setTimeout(r, 100));
  }, 250_000);

  afterAll(async () => {
    if (bot && bot.child.exitCode === null && bot.child.signalCode === null) bot.child.kill('SIGKILL');
    if (subscriber?.isOpen) await subscriber.close();
    if (publisher?.isOpen) await publisher.close();
    await fake?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('logs in two shards, each seeing only its own server', () => {
    const sessions = fake.sessions().filter((s) => s.connected);
    expect(sessions.map((s) => s.shard).sort()).toEqual([
      [0, 2],
      [1, 2],
    ]);
    expect(bot.logs.filter((l) => l.msg === 'serving')).toHaveLength(2);
  });

  it('answers each server once, from its own shard', async () => {
    for (const guild of [ON_SHARD_0, ON_SHARD_1]) {
      const { token } = fake.sendInteraction({
        guild_id: guild,
        data: { name: 'babble', options: [option('seed', 'me want'), option('rng', 3)] },
      });
      await fake.waitForRequest(
        (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === token,
        30_000,
      );
      await new Promise((r) => setTimeout(r, 300));
      expect(
        fake.requests.filter(
          (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === token,
        ),
      ).toHaveLength(1);
    }
  }, 70_000);

  it('loads an announced version in the shard that serves the server; the other shard only reports not holding it', async () => {
    // The test above had each shard answer its own server: shard 1 holds ON_SHARD_1 in its cache, shard 0 does not.
    const registry = createRegistry({ root });
    const tmp = await registry.tempDir(ON_SHARD_1);
    await cp('models/base', tmp, { recursive: true });
    const v1 = await registry.commit(ON_SHARD_1, tmp, { test: true });
    await publisher.publish(
      DEFAULT_SWAP_CHANNEL,
      JSON.stringify({ type: 'swap', scope: ON_SHARD_1, version: v1.version, origin: 'test' }),
    );
    // Only this bot's shards (other tests' processes may share this Redis and channel).
    const shardOrigins = bot.logs
      .filter((l) => l.msg === 'shared training lock and model swaps on Redis')
      .map((l) => l.origin);
    expect(new Set(shardOrigins).size).toBe(2);
    const reports = () =>
      heard.filter((m) => m.type !== 'swap' && m.version === v1.version && shardOrigins.includes(m.origin));
    for (let i = 0; i < 300 && reports().length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    expect(
      reports()
        .map((m) => m.type)
        .sort(),
    ).toEqual(['loaded', 'not-held']);
    expect(bot.logs.filter((l) => l.msg === 'model swap applied' && l.scope === ON_SHARD_1)).toHaveLength(1);
  }, 60_000);

  it('stops every shard and exits 0 on SIGTERM', async () => {
    bot.child.kill('SIGTERM');
    const exit = await bot.exited;
    expect(exit.code).toBe(0);
    expect(bot.logs.filter((l) => l.msg === 'stopped')).toHaveLength(2);
  }, 40_000);
});

describe.skipIf(!REDIS_URL)('a shard that cannot start', () => {
  it('stops the manager with exit code 1 when a shard exits (Discord rejects the token)', async () => {
    const fake = await startFakeDiscord({ token: TOKEN, shards: 2 });
    const root = await mkdtemp(join(tmpdir(), 'babble-shards-bad-'));
    try {
      const p = startEntryProcess({
        env: {
          SHARDS: '2',
          DISCORD_TOKEN: `${TOKEN}-wrong`,
          DISCORD_API_URL: fake.apiUrl,
          STORAGE_URL: REDIS_URL!,
          MODELS_DIR: root,
        },
      });
      const exit = await p.exited;
      expect(exit.code).toBe(1);
      expect(
        p.logs.some(
          (l) =>
            l.msg === 'a shard stopped on its own: stopping the others' ||
            /the shards could not start/.test(String(l.msg)),
        ),
      ).toBe(true);
      expect(p.logs.some((l) => l.msg === 'all shards serving')).toBe(false);
    } finally {
      await fake.close();
      await rm(root, { recursive: true, force: true });
    }
  }, 120_000);
});

/** Server ids on shards 0 to 3 of 4: (id >> 22) % 4 = k. */
const ON_SHARD_OF_4 = [0, 1, 2, 3].map((k) => String(((1_000_000_000n + BigInt(k)) << 22n) | 7n));

describe.skipIf(!REDIS_URL)('SHARD_COUNT=4 over two hosts (SHARD_IDS 0-1 and 2-3) against the fake Discord', () => {
  let fake: FakeDiscord;
  let work: string;
  const hosts: { name: string; shards: number[]; bot: EntryProcess }[] = [];
  /** Every /babble sent: its server's shard, the interaction id and token. */
  const sent: { shard: number; id: string; token: string }[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'babble-hosts-e2e-'));
    fake = await startFakeDiscord({
      token: TOKEN,
      shards: 4,
      guilds: ON_SHARD_OF_4.map((id, k) => makeGuild({ id, name: `Shard ${k}` })),
    });
    for (const [name, ids, shards] of [
      ['A', '0-1', [0, 1]],
      ['B', '2-3', [2, 3]],
    ] as const) {
      // Separate process groups with their own models folder: nothing on disk is shared, only Redis.
      const bot = startEntryProcess({
        env: {
          SHARD_COUNT: '4',
          SHARD_IDS: ids,
          DISCORD_TOKEN: TOKEN,
          DISCORD_API_URL: fake.apiUrl,
          STORAGE_URL: REDIS_URL!,
          MODELS_DIR: join(work, name),
        },
      });
      hosts.push({ name, shards: [...shards], bot });
    }
    // Each host starts its two shards 5.5 s apart (discord.js's IDENTIFY spacing); the hosts start side by side.
    await Promise.all(hosts.map((h) => h.bot.waitForLog((l) => l.msg === 'all shards serving', 180_000)));
    const serving = () => hosts.every((h) => h.bot.logs.filter((l) => l.msg === 'serving').length === 2);
    for (let i = 0; i < 600 && !serving(); i++) await new Promise((r) => setTimeout(r, 100));
  }, 250_000);

  afterAll(async () => {
    for (const { bot } of hosts)
      if (bot.child.exitCode === null && bot.child.signalCode === null) bot.child.kill('SIGKILL');
    await fake?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('logs in all four shards, each host starting only the shards its SHARD_IDS names', () => {
    const sessions = fake.sessions().filter((s) => s.connected);
    expect(sessions.map((s) => s.shard).sort()).toEqual([
      [0, 4],
      [1, 4],
      [2, 4],
      [3, 4],
    ]);
    for (const { bot, shards } of hosts) {
      const started = bot.logs.filter((l) => l.msg === 'shard starting');
      expect(started.map((l) => l.shard).sort()).toEqual(shards);
      expect(started.every((l) => l.of === 4)).toBe(true);
      expect(bot.logs.filter((l) => l.msg === 'serving')).toHaveLength(2);
    }
  });

  it('answers /babble in a server of each shard, from the host that runs its shard', async () => {
    for (const [shard, guild] of ON_SHARD_OF_4.entries()) {
      const { id, token } = fake.sendInteraction({
        guild_id: guild,
        data: { name: 'babble', options: [option('seed', 'me want'), option('rng', 3)] },
      });
      sent.push({ shard, id, token });
      await fake.waitForRequest(
        (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === token,
        30_000,
      );
      const owner = hosts.find((h) => h.shards.includes(shard))!;
      const done = await owner.bot.waitForLog((l) => l.msg === 'command done' && l.interaction === id, 30_000);
      expect(done.guild).toBe(guild);
    }
  }, 150_000);

  it('stops both hosts with exit code 0 on SIGTERM; each /babble was answered exactly once, by one host', async () => {
    for (const { bot } of hosts) bot.child.kill('SIGTERM');
    const exits = await Promise.all(hosts.map((h) => h.bot.exited));
    expect(exits.map((e) => e.code)).toEqual([0, 0]);
    for (const { bot } of hosts) expect(bot.logs.filter((l) => l.msg === 'stopped')).toHaveLength(2);
    // Nothing is left running that could still answer: count over the whole run.
    expect(sent).toHaveLength(4);
    for (const { shard, id, token } of sent) {
      const responses = fake.requests.filter(
        (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === token,
      );
      expect(responses).toHaveLength(1);
      const handledBy = hosts.filter((h) => h.bot.logs.some((l) => l.interaction === id)).map((h) => h.name);
      expect(handledBy).toEqual([shard < 2 ? 'A' : 'B']);
    }
  }, 60_000);
});
