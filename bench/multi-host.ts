/**
 * Several hosts: the fake Discord serving 4 shards to bot host A (SHARD_IDS 0-1) and bot host B (2-3), a trainer
 * host (`dist/src/trainer-main.js`), one private redis-server and one s3rver (test/helpers), no shared folder.
 * Figures:
 *  - /retrain of `chars` characters of server text (collected in Redis beforehand) through the BullMQ queue and
 *    the S3 store: dispatch → the result message saying the new version is talking (host A has loaded it by then);
 *  - swap propagation: 20 pointer moves of a server of host B made from outside (this process commits two versions,
 *    then flips between them through the S3 registry and announces each flip on the swap channel, as a host
 *    does), each timed from the flip until host B logs that it serves that version;
 *  - /babble at `rate` per second, half to a server of each host, open loop, after a 1 s warm-up at that rate:
 *    dispatch → reply carrying the text.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from '@keyv/redis';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { loadModel, saveModel } from '../src/model/store.js';
import { openConfiguredRegistry, type OpenedRegistry } from '../src/model-store/open-registry.js';
import { createCollectionService } from '../src/service/collection.js';
import { loadBaseCorpus } from '../src/service/retrain.js';
import { DEFAULT_SWAP_CHANNEL } from '../src/service/swap-bus.js';
import { openStore } from '../src/storage/open.js';
import { makeGuild, option, startFakeDiscord, subcommand, type FakeDiscord } from '../test/fake-discord/index.js';
import { startEntryProcess, type EntryProcess } from '../test/helpers/entry-process.js';
import { startLocalRedis, type LocalRedis } from '../test/helpers/redis-server.js';
import { startLocalS3, type LocalS3 } from '../test/helpers/s3-server.js';
import { MANAGER_PERMISSIONS } from './bot-retrain.js';
import { NO_RATE_LIMITS, ReplyTracker, SEEDS, TOKEN } from './discord.js';
import type { Outcome, Section } from './report.js';
import { serverLikeText, textChars } from './server-text.js';
import { summarize, type Summary } from './stats.js';

/** A server on each shard of 4: (id >> 22) % 4. */
const ON_SHARD = [0, 1, 2, 3].map((k) => String(((1_000_000_000n + BigInt(k)) << 22n) | 7n));
const A_SERVER = ON_SHARD[0]!;
const B_SERVER = ON_SHARD[2]!;
const RESULT_TITLE = /^(New model|Kept the old model|Training did not finish|Training cancelled)/;
export const MULTI_HOST_TARGETS = { retrainSeconds: 30, swapP99Ms: 2000, babbleP99Ms: 15 } as const;

export interface MultiHostFigures {
  retrain: { chars: number; epochs: number; seconds: number; title: string };
  swap: { moves: number; ms: Summary };
  babble: { rate: number; sent: number; answered: number; ms: Summary | null };
  entry: string;
}

interface Bed {
  work: string;
  redis: LocalRedis;
  s3: LocalS3;
  fake: FakeDiscord;
  procs: EntryProcess[];
  modelDir: string;
  store?: OpenedRegistry;
}

function hostEnv(bed: Bed, name: string): Record<string, string> {
  return {
    MODEL_DIR: bed.modelDir,
    DISCORD_TOKEN: TOKEN,
    DISCORD_API_URL: bed.fake.apiUrl,
    STORAGE_URL: bed.redis.url,
    ...bed.s3.env('bench'),
    ...NO_RATE_LIMITS,
    MODELS_DIR: path.join(bed.work, name, 'models'),
    MODEL_CACHE_DIR: path.join(bed.work, name, 'cache'),
    TRAIN_COOLDOWN_MINUTES: '0',
    BABBLE_BACKEND: process.env.BABBLE_BACKEND ?? '',
  };
}

/** Puts `messages` in Redis as collected text of server A (as the gateway handler would). */
async function seed(bed: Bed, channelId: string, messages: readonly string[]): Promise<void> {
  const store = await openStore(bed.redis.url);
  const collection = createCollectionService({ store, retentionDays: 90 });
  try {
    await collection.setChannel(A_SERVER, channelId, true, '5200000000000000001');
    for (let i = 0; i < messages.length; i++) {
      await collection.collect({
        id: String(6_000_000_000_000_000_000n + BigInt(i)),
        guildId: A_SERVER,
        channelId,
        authorId: String(5_200_000_000_000_000_010n + BigInt(i % 17)),
        human: true,
        content: messages[i]!,
        createdAt: Date.now(),
      });
    }
  } finally {
    collection.close();
    await store.close();
  }
}

async function startHosts(bed: Bed, distDir: string): Promise<void> {
  for (const [name, ids] of [
    ['A', '0-1'],
    ['B', '2-3'],
  ] as const) {
    bed.procs.push(
      startEntryProcess({
        env: { ...hostEnv(bed, name), SHARD_COUNT: '4', SHARD_IDS: ids, LOG_LEVEL: 'info' },
        distDir,
      }),
    );
  }
  const { DISCORD_TOKEN: _t, DISCORD_API_URL: _u, ...trainerEnv } = hostEnv(bed, 'T');
  bed.procs.push(startEntryProcess({ role: 'trainer-main', env: { ...trainerEnv, LOG_LEVEL: 'info' }, distDir }));
  await Promise.all([
    bed.procs[0]!.waitForLog((l) => l.msg === 'all shards serving', 180_000),
    bed.procs[1]!.waitForLog((l) => l.msg === 'all shards serving', 180_000),
    bed.procs[2]!.waitForLog((l) => l.msg === 'trainer host serving', 60_000),
  ]);
}

/** /retrain through the queue: dispatch → the result message. */
async function timeRetrain(
  bed: Bed,
  tracker: ReplyTracker,
  epochs: number,
): Promise<{ seconds: number; title: string }> {
  const { token } = bed.fake.sendInteraction({
    guild_id: A_SERVER,
    member: { permissions: MANAGER_PERMISSIONS },
    data: { name: 'retrain', options: [subcommand('start', [option('epochs', epochs, 10)])] },
  });
  const t0 = performance.now();
  const result = await bed.fake.waitForRequest(
    (r) =>
      r.operationId === 'update_original_webhook_message' &&
      r.params.webhook_token === token &&
      RESULT_TITLE.test((r.body as { embeds?: { title?: string }[] }).embeds?.[0]?.title ?? ''),
    600_000,
  );
  tracker.scan();
  return {
    seconds: (performance.now() - t0) / 1000,
    title: (result.body as { embeds: { title: string }[] }).embeds[0]!.title,
  };
}

/** Two versions of server B committed from here, then `moves` flips between them, each announced and timed. */
async function timeSwaps(bed: Bed, root: string, moves: number): Promise<number[]> {
  const config = parseConfig({ ...hostEnv(bed, 'bench') }, { requireModelDir: false });
  for (const [k, v] of Object.entries(bed.s3.env('bench'))) if (k.startsWith('AWS_')) process.env[k] = v;
  bed.store = await openConfiguredRegistry(config, createLogger('silent'));
  const { registry } = bed.store;
  const base = await loadModel(path.join(root, 'models/base'));
  for (const tag of ['b1', 'b2']) {
    const tmp = await registry.tempDir(B_SERVER);
    await saveModel(tmp, base.weights, base.vocab, { version: tag, corpus: { sha256: '', chars: 0 }, training: {} });
    await registry.commit(B_SERVER, tmp, { bench: true });
  }
  const publisher = createClient({ url: bed.redis.url });
  await publisher.connect();
  const hostB = bed.procs[1]!;
  const times: number[] = [];
  try {
    for (let i = 0; i < moves; i++) {
      const version = i % 2 === 0 ? 1 : 2;
      const applied = (l: Record<string, unknown>) =>
        l.msg === 'model swap applied' && l.scope === B_SERVER && l.version === version;
      const before = hostB.logs.filter(applied).length;
      const t0 = performance.now();
      await registry.rollback(B_SERVER, version);
      const message = { type: 'swap', scope: B_SERVER, version, origin: 'bench' };
      await publisher.publish(DEFAULT_SWAP_CHANNEL, JSON.stringify(message));
      // The shard of host B that serves the server (it answered the warm-up /babble there) loads it.
      while (hostB.logs.filter(applied).length <= before) {
        if (performance.now() - t0 > 30_000) throw new Error(`swap ${i} did not reach host B within 30 s`);
        await sleep(2);
      }
      times.push(performance.now() - t0);
    }
  } finally {
    await publisher.close();
  }
  return times;
}

/** /babble at `rate` per second for `seconds`, alternating a server of host A and one of host B. */
async function timeBabble(bed: Bed, tracker: ReplyTracker, rate: number, seconds: number) {
  const tokens: string[] = [];
  const t0 = performance.now();
  for (let i = 0; i < rate * seconds; i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait >= 1) await sleep(Math.round(wait));
    const { token } = bed.fake.sendInteraction({
      guild_id: i % 2 === 0 ? A_SERVER : B_SERVER,
      user: { id: String(5_300_000_000_000_000_001n + BigInt(i % 12)), username: `kid${i % 12}` },
      data: { name: 'babble', options: [option('seed', SEEDS[i % SEEDS.length]!), option('rng', i + 1)] },
    });
    tracker.sentAt.set(token, performance.now());
    tokens.push(token);
  }
  await tracker.settle(tokens, 15_000);
  tracker.scan();
  return { sent: tokens.length, latencies: tracker.latencies(tokens) };
}

async function stopAll(bed: Bed): Promise<void> {
  for (const p of bed.procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
  await Promise.race([Promise.all(bed.procs.map((p) => p.exited)), sleep(20_000)]);
  for (const p of bed.procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await bed.store?.close();
  await bed.fake.close();
  await bed.s3.close();
  await bed.redis.stop();
  await rm(bed.work, { recursive: true, force: true });
}

export async function measureMultiHost(opts: {
  root: string;
  distDir: string;
  modelDir: string;
  chars: number;
  epochs: number;
  rate: number;
  log: (line: string) => void;
}): Promise<MultiHostFigures> {
  const work = await mkdtemp(path.join(tmpdir(), 'babble-bench-multi-host-'));
  const nursery = makeGuild({ id: A_SERVER, name: 'Nursery', channels: [{ name: 'general' }, { name: 'chat' }] });
  const playroom = makeGuild({ id: B_SERVER, name: 'Playroom' });
  const [redis, s3] = await Promise.all([startLocalRedis({ persist: work }), startLocalS3()]);
  const fake = await startFakeDiscord({ token: TOKEN, shards: 4, guilds: [nursery, playroom] });
  const bed: Bed = { work, redis, s3, fake, procs: [], modelDir: path.resolve(opts.modelDir) };
  try {
    const messages = serverLikeText(opts.chars, await loadBaseCorpus(path.join(opts.root, 'data/corpus.txt')));
    await seed(bed, nursery.channels[1]!.id, messages);
    await startHosts(bed, opts.distDir);
    const tracker = new ReplyTracker(fake);
    tracker.watch();
    await timeBabble(bed, tracker, 20, 2); // warm both hosts
    const retrain = await timeRetrain(bed, tracker, opts.epochs);
    opts.log(
      `multi_host: /retrain ${textChars(messages)} chars via queue + S3 → "${retrain.title}" in ${retrain.seconds.toFixed(1)} s`,
    );
    const swaps = await timeSwaps(bed, opts.root, 20);
    // Only the shard holding server B loads each announced version (the others report not-held): let the last of
    // the 20 loads finish, so that /babble is measured in the steady state it claims, then warm up at the rate (as
    // the discord section does; not counted).
    await sleep(3000);
    await timeBabble(bed, tracker, opts.rate, 1);
    const babble = await timeBabble(bed, tracker, opts.rate, 10);
    const p99 = (xs: number[]) => (xs.length ? summarize(xs).p99 : Number.NaN);
    opts.log(`multi_host: swap p99 ${p99(swaps).toFixed(0)} ms; /babble p99 ${p99(babble.latencies).toFixed(2)} ms`);
    return {
      retrain: { chars: textChars(messages), epochs: opts.epochs, ...retrain },
      swap: { moves: swaps.length, ms: summarize(swaps) },
      babble: {
        rate: opts.rate,
        sent: babble.sent,
        answered: babble.latencies.length,
        ms: babble.latencies.length ? summarize(babble.latencies) : null,
      },
      entry: 'node dist/src/main.js (SHARD_COUNT=4, two hosts) + node dist/src/trainer-main.js',
    };
  } finally {
    await stopAll(bed);
  }
}

export function multiHostSection(o: Outcome<MultiHostFigures>): Section {
  if (!o.ok) return { pass: null, reason: o.reason, targets: MULTI_HOST_TARGETS };
  const v = o.value;
  const checks = {
    retrain_swapped: v.retrain.title.startsWith('New model'),
    retrain_within_target: v.retrain.seconds <= MULTI_HOST_TARGETS.retrainSeconds,
    swap_p99_within_target: v.swap.ms.p99 <= MULTI_HOST_TARGETS.swapP99Ms,
    babble_p99_within_target:
      v.babble.ms !== null && v.babble.answered === v.babble.sent && v.babble.ms.p99 <= MULTI_HOST_TARGETS.babbleP99Ms,
  };
  return { ...v, targets: MULTI_HOST_TARGETS, checks, pass: Object.values(checks).every(Boolean), reason: null };
}
