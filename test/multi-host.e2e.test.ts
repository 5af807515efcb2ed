/**
 * Several hosts, end to end: the fake Discord serves 4 shards; bot host A runs shards 0–1 and bot host B shards
 * 2–3 (SHARD_COUNT=4, SHARD_IDS), each its own process group with its own cache folder; a trainer host
 * (`dist/src/trainer-main.js`, as `npm run trainer` runs it) takes the /retrain jobs. They share nothing but one
 * redis-server and one S3-compatible server (s3rver), both started here and both stopped on purpose:
 *
 *   - /retrain in a server of host A trains on the trainer host (host A forks no trainer), and the new version
 *     answers /babble on host A;
 *   - a version moved into host B's server with no announcement is picked up by reconciling; a /model rollback
 *     there moves the pointer for every host and is announced;
 *   - the trainer host SIGKILLed mid-job: the admin is told, the old model serves, and after a new trainer host
 *     starts the next /retrain succeeds;
 *   - S3 stopped: /babble answers from the models the hosts hold, a /retrain is refused with a clear message;
 *   - Redis stopped (README "More than one host"): /babble still answers from the models in memory, commands that
 *     need the store get a friendly failure, no host exits; with Redis back everything works again.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient } from '@keyv/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SWAP_CHANNEL, parseSwapMessage, type SwapMessage } from '../src/service/swap-bus.js';
import { RETRAIN_FAILURE } from '../src/service/failure.js';
import { STORE_UNREACHABLE } from '../src/model-store/object-registry.js';
import { loadModel, saveModel } from '../src/model/store.js';
import { openConfiguredRegistry, type OpenedRegistry } from '../src/model-store/open-registry.js';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import {
  DEFAULT_MEMBER_PERMISSIONS,
  makeGuild,
  option,
  startFakeDiscord,
  subcommand,
  type FakeDiscord,
  type RecordedRequest,
} from './fake-discord/index.js';
import { ROOT, startEntryProcess, type EntryProcess } from './helpers/entry-process.js';
import { hasRedisServer, startLocalRedis, type LocalRedis } from './helpers/redis-server.js';
import { startLocalS3, type LocalS3 } from './helpers/s3-server.js';

const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.GfAkE0.fake-token-for-multi-host';
const MANAGER = (BigInt(DEFAULT_MEMBER_PERMISSIONS) | (1n << 5n)).toString(); // + Manage Server
/** A server on each shard of 4: (id >> 22) % 4. */
const ON_SHARD = [0, 1, 2, 3].map((k) => String(((1_000_000_000n + BigInt(k)) << 22n) | 7n));
const A_SERVER = ON_SHARD[0]!;
const B_SERVER = ON_SHARD[2]!;
const PREFIX = 'e2e';
const SAID = Array.from(
  { length: 30 },
  (_, i) => `${['me want pizza', 'pizza night with the squad', 'me love the raid', 'doggy want pizza'][i % 4]} ${i}`,
);

type Embed = { title?: string; description?: string; fields?: { name: string; value: string }[] };

async function until<T>(
  cond: () => T | undefined | false | Promise<T | undefined | false>,
  what: string | (() => string),
  ms = 60_000,
) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const run = hasRedisServer() || process.env.CI === 'true';

describe.runIf(run)('two bot hosts and a trainer host on one Redis and one S3 store', () => {
  let fake: FakeDiscord;
  let redis: LocalRedis;
  let s3: LocalS3;
  let work: string;
  let store: OpenedRegistry;
  const nursery = makeGuild({ id: A_SERVER, name: 'Nursery', channels: [{ name: 'general' }, { name: 'chat' }] });
  const playroom = makeGuild({ id: B_SERVER, name: 'Playroom' });
  const hosts: Record<'A' | 'B', EntryProcess> = {} as Record<'A' | 'B', EntryProcess>;
  const trainers: EntryProcess[] = [];
  const heard: SwapMessage[] = [];
  let listener: ReturnType<typeof createClient>;

  const commonEnv = () => ({
    DISCORD_TOKEN: TOKEN,
    DISCORD_API_URL: fake.apiUrl,
    STORAGE_URL: redis.url,
    ...s3.env(PREFIX),
    LOG_LEVEL: 'debug',
    TRAIN_MAX_MINUTES: '2',
    TRAIN_DEFAULT_MINUTES: '0.2',
    TRAIN_COOLDOWN_MINUTES: '0',
    TRAIN_STALLED_SECONDS: '5',
    MODEL_RECONCILE_SECONDS: '2',
    RATE_LIMIT_USER_REPLIES: '100',
  });

  function startHost(name: 'A' | 'B', ids: string): EntryProcess {
    return startEntryProcess({
      env: {
        ...commonEnv(),
        SHARD_COUNT: '4',
        SHARD_IDS: ids,
        MODELS_DIR: path.join(work, name, 'models'),
        MODEL_CACHE_DIR: path.join(work, name, 'cache'),
      },
    });
  }

  async function startTrainer(): Promise<EntryProcess> {
    const n = trainers.length;
    const { DISCORD_TOKEN: _none, DISCORD_API_URL: _api, ...env } = commonEnv();
    const trainer = startEntryProcess({
      role: 'trainer-main',
      env: {
        ...env,
        MODELS_DIR: path.join(work, `T${n}`, 'models'),
        MODEL_CACHE_DIR: path.join(work, `T${n}`, 'cache'),
      },
    });
    trainers.push(trainer);
    await trainer.waitForLog((l) => l.msg === 'trainer host serving', 60_000);
    return trainer;
  }

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'babble-multi-host-'));
    [redis, s3] = await Promise.all([startLocalRedis({ persist: work }), startLocalS3()]);
    fake = await startFakeDiscord({ token: TOKEN, shards: 4, guilds: [nursery, playroom] });
    listener = createClient({ url: redis.url });
    listener.on('error', () => undefined);
    await listener.connect();
    await listener.subscribe(DEFAULT_SWAP_CHANNEL, (text) => {
      const m = parseSwapMessage(text);
      if (m) heard.push(m);
    });
    hosts.A = startHost('A', '0-1');
    hosts.B = startHost('B', '2-3');
    await Promise.all([
      startTrainer(),
      ...Object.values(hosts).map((h) => h.waitForLog((l) => l.msg === 'all shards serving', 180_000)),
    ]);
    await until(
      () => Object.values(hosts).every((h) => h.logs.filter((l) => l.msg === 'serving').length === 2),
      'every shard serving',
    );
    const config = parseConfig(
      { ...commonEnv(), MODEL_CACHE_DIR: path.join(work, 'test', 'cache') },
      { requireModelDir: false },
    );
    for (const [k, v] of Object.entries(s3.env(PREFIX))) if (k.startsWith('AWS_')) process.env[k] = v;
    store = await openConfiguredRegistry(config, createLogger('silent'));
  }, 250_000);

  afterAll(async () => {
    for (const p of [...Object.values(hosts), ...trainers])
      if (p && p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await store?.close();
    if (listener?.isOpen) await listener.close().catch(() => undefined);
    await fake?.close();
    await s3?.close();
    await redis?.stop().catch(() => undefined);
    if (work) await rm(work, { recursive: true, force: true });
  });

  function command(guildId: string, name: string, options: ReturnType<typeof option>[], extra = {}) {
    return fake.sendInteraction({
      guild_id: guildId,
      member: { permissions: MANAGER },
      data: { name, options, ...extra },
    });
  }
  const responses = (token: string) =>
    fake.requests.filter(
      (r: RecordedRequest) =>
        (r.operationId === 'create_interaction_response' && r.params.interaction_token === token) ||
        (r.operationId === 'update_original_webhook_message' && r.params.webhook_token === token),
    );
  /** The latest message of an interaction (its callback's data, or its latest edit). */
  function latest(token: string): { content?: string; embeds?: Embed[] } | undefined {
    const all = responses(token);
    const last = all[all.length - 1];
    if (!last) return undefined;
    const body = last.body as { type?: number; data?: { content?: string; embeds?: Embed[] } };
    // A deferral (type 5) has no message yet: {} until the edit comes.
    return last.operationId === 'create_interaction_response' ? (body.data ?? {}) : (body as { embeds?: Embed[] });
  }
  async function answer(token: string, match: (m: { content?: string; embeds?: Embed[] }) => boolean, ms = 60_000) {
    return until(
      () => {
        const m = latest(token);
        return m && match(m) ? m : undefined;
      },
      () => `an answer to ${token}; got ${JSON.stringify(latest(token))}; ${hostState()}`,
      ms,
    );
  }
  /** For timeouts: how the hosts are, and their last warnings and errors. */
  const hostState = () =>
    [...Object.entries(hosts), ...trainers.map((t, i) => [`T${i}`, t] as const)]
      .map(([name, h]) => {
        const bad = h.logs
          .slice(-3)
          .map((l) => ({ ...l, err: (l.err as { message?: string } | undefined)?.message, time: undefined }));
        return `host ${name} exit ${h.child.exitCode}: ${JSON.stringify(bad).slice(0, 1500)} ${h.stderr().slice(-500)}`;
      })
      .join('\n');
  const babble = async (guildId: string) =>
    (
      await answer(
        command(guildId, 'babble', [option('seed', 'me want'), option('rng', 5)]).token,
        (m) => typeof m.content === 'string',
      )
    ).content!;
  const servedVersion = async (guildId: string) =>
    (
      await answer(command(guildId, 'model', [subcommand('info')]).token, (m) => Boolean(m.embeds?.[0]?.fields))
    ).embeds![0]!.fields!.find((f) => f.name === 'Version')!.value;
  /** /model info's version, or undefined when it answered something else (e.g. a failure while Redis reconnects). */
  const versionOrNothing = async (guildId: string) => {
    const m = await answer(command(guildId, 'model', [subcommand('info')]).token, (x) =>
      Boolean(x.embeds || x.content),
    );
    return m.embeds?.[0]?.fields?.find((f) => f.name === 'Version')?.value;
  };
  const finalTitle = (token: string, ms = 150_000) =>
    answer(token, (m) => /New model|Kept the old|did not finish|cancelled/.test(m.embeds?.[0]?.title ?? ''), ms);

  it('collects the nursery on host A and retrains it on the trainer host; host A then serves version 1', async () => {
    const chat = nursery.channels[1]!;
    const on = command(
      A_SERVER,
      'collect',
      [subcommand('set', [option('channel', chat.id, 7), option('enabled', true)])],
      {
        resolved: { channels: { [chat.id]: { id: chat.id, name: chat.name, type: 0, permissions: MANAGER } } },
      },
    );
    await answer(on.token, (m) => /Collection is on/.test(m.content ?? ''));
    for (const [i, content] of SAID.entries())
      fake.sendMessage({
        guild_id: A_SERVER,
        channel_id: chat.id,
        content,
        author: { id: `51000000000000000${10 + (i % 3)}` },
      });
    await until(
      () =>
        hosts.A.logs.filter((l) => l.msg === 'message collected' && l.outcome === 'collected').length >= SAID.length,
      'every message collected on host A',
    );
    expect(await servedVersion(A_SERVER)).toBe('base');
    const { token } = command(A_SERVER, 'retrain', [subcommand('start', [option('minutes', 0.2, 10)])]);
    const result = await finalTitle(token);
    expect(result.embeds![0]).toMatchObject({ title: 'New model: version 1 is talking now' });
    const trainer = trainers[0]!;
    expect(trainer.logs.some((l) => l.msg === 'training queue: job started' && l.scope === A_SERVER)).toBe(true);
    expect(trainer.logs.some((l) => l.msg === 'trainer child ready')).toBe(true);
    expect(hosts.A.logs.some((l) => l.msg === 'trainer child ready')).toBe(false);
    expect(await servedVersion(A_SERVER)).toBe('1');
    expect(await store.registry.currentVersion(A_SERVER)).toBe(1);
  }, 240_000);

  it('picks up a version moved with no announcement by reconciling, and propagates a rollback', async () => {
    expect(await servedVersion(B_SERVER)).toBe('base');
    const base = await loadModel(path.join(ROOT, 'models/base'));
    const tmp = await store.registry.tempDir(B_SERVER);
    await saveModel(tmp, base.weights, base.vocab, { version: 'b1', corpus: { sha256: '', chars: 0 }, training: {} });
    await store.registry.commit(B_SERVER, tmp, { by: 'test' }); // the pointer moves; nothing is published
    await until(async () => (await servedVersion(B_SERVER)) === '1', 'host B to reconcile to version 1', 30_000);
    const before = heard.length;
    const { token } = command(B_SERVER, 'model', [subcommand('rollback', [option('version', 0, 4)])]);
    await answer(token, (m) => /base/i.test(m.content ?? ''));
    expect(await store.registry.currentVersion(B_SERVER)).toBe(0);
    expect(await servedVersion(B_SERVER)).toBe('base');
    await until(
      () => heard.slice(before).some((m) => m.type === 'swap' && m.scope === B_SERVER && m.version === 0),
      'the rollback announced to every host',
    );
  }, 120_000);

  it('tells the admin when the trainer host dies mid-job; the old model serves and the next /retrain works', async () => {
    const doomed = trainers[0]!;
    const readyBefore = doomed.logs.filter((l) => l.msg === 'trainer child ready').length;
    const { token } = command(A_SERVER, 'retrain', [subcommand('start', [option('minutes', 1, 10)])]);
    await until(
      () => doomed.logs.filter((l) => l.msg === 'trainer child ready').length > readyBefore,
      'the trainer host to start training',
    ).catch((err: Error) => {
      throw new Error(`${err.message}; ${hostState()}`);
    });
    doomed.child.kill('SIGKILL');
    const told = await finalTitle(token, 90_000);
    expect(told.embeds![0]!.description).toContain(RETRAIN_FAILURE.trainerLost);
    expect(await servedVersion(A_SERVER)).toBe('1');
    await startTrainer();
    const again = command(A_SERVER, 'retrain', [subcommand('start', [option('minutes', 0.2, 10)])]);
    const result = await finalTitle(again.token);
    expect(result.embeds![0]).toMatchObject({ title: 'New model: version 2 is talking now' });
    expect(await servedVersion(A_SERVER)).toBe('2');
  }, 300_000);

  it('keeps babbling from held models while S3 is down, and refuses a /retrain with a clear message', async () => {
    await s3.stop();
    try {
      expect(await babble(B_SERVER)).toMatch(/^me want/);
      expect(await babble(A_SERVER)).toMatch(/^me want/);
      const { token } = command(A_SERVER, 'retrain', [subcommand('start', [option('minutes', 0.2, 10)])]);
      const refused = await finalTitle(token, 60_000);
      expect(refused.embeds![0]!.description).toContain(STORE_UNREACHABLE);
    } finally {
      await s3.start();
    }
    expect(await servedVersion(A_SERVER)).toBe('2');
  }, 120_000);

  it('answers a friendly failure while Redis is down, no host exits, and all works again once it is back', async () => {
    await redis.stop();
    try {
      // Every command reads the store (the server's word filter, settings, budget): none can be checked now.
      expect(await babble(A_SERVER)).toMatch(/memory \(its storage\) isn't working right now/);
      const retrain = command(B_SERVER, 'retrain', [subcommand('start', [option('minutes', 0.2, 10)])]);
      const refusal = await answer(retrain.token, (m) => Boolean(m.content ?? m.embeds?.[0]?.description));
      expect(JSON.stringify(refusal)).toMatch(/isn't working right now|try again/i);
      expect(JSON.stringify(refusal)).not.toMatch(/ECONNREFUSED|at .*\.js|redis:\/\//);
    } finally {
      await redis.start();
    }
    for (const host of Object.values(hosts)) expect(host.child.exitCode).toBeNull();
    await until(async () => (await versionOrNothing(A_SERVER)) === '2', 'host A answering with Redis back', 60_000);
    expect(await babble(B_SERVER)).toMatch(/^me want/);
    expect(existsSync(path.join(work, 'A', 'cache', A_SERVER, '2'))).toBe(true);
  }, 120_000);

  it('stops every host with exit code 0 on SIGTERM', async () => {
    const all = [...Object.values(hosts), trainers[trainers.length - 1]!];
    for (const p of all) p.child.kill('SIGTERM');
    await until(
      () => all.every((p) => p.child.exitCode !== null || p.child.signalCode !== null),
      () => `every host to exit; ${hostState()}`,
      45_000,
    );
    const exits = await Promise.all(all.map((p) => p.exited));
    expect(exits.map((e) => e.code)).toEqual([0, 0, 0]);
    fake.assertNoViolations();
  }, 60_000);
});
