/**
 * The bot during a retrain: the real entry point (bench/discord.ts startBotChild, loop probe preloaded) with its
 * storage in a temporary SQLite file that already holds a server's collected messages (~`chars` characters of
 * server-text.ts, written through the collection service as the gateway handler would), MODELS_DIR in a temporary
 * folder. A member with Manage Server sends `/retrain start epochs:N` through the fake Discord; until the result is
 * posted, another server sends a light open-loop /babble load (`rate` per second, rotating members). Figures:
 *  - the bot's event-loop delay over the whole retrain (from the /retrain dispatch to the result received);
 *  - the /babble latencies meanwhile (dispatch → reply carrying the text);
 *  - the wall time as the user sees it (dispatch → the result message), and the result's title;
 *  - the trainer child's nice value (/proc/<pid>/stat) and command line (/proc/<pid>/cmdline), the bot's RSS at
 *    the end, and from the new version's meta.json the training threads and the trainer's tensor count before and
 *    after its training steps.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadBaseCorpus } from '../src/service/retrain.js';
import { createCollectionService } from '../src/service/collection.js';
import { openStore } from '../src/storage/open.js';
import {
  DEFAULT_MEMBER_PERMISSIONS,
  makeGuild,
  option,
  startFakeDiscord,
  subcommand,
  type RecordedRequest,
} from '../test/fake-discord/index.js';
import {
  loopDelayOf,
  ReplyTracker,
  SEEDS,
  startBotChild,
  stopBotChild,
  TOKEN,
  type BotChild,
  type BotEntry,
  type LoopDelay,
  type ProbeReading,
} from './discord.js';
import { serverLikeText, textChars } from './server-text.js';
import { summarize, type Summary } from './stats.js';

/** Default member permissions + Manage Server (what /retrain requires). */
export const MANAGER_PERMISSIONS = (BigInt(DEFAULT_MEMBER_PERMISSIONS) | (1n << 5n)).toString();
const RESULT_TITLE = /^(New model|Kept the old model|Training did not finish|Training cancelled)/;

export interface BotRetrainFigures {
  /** Dispatch of /retrain → the fake received the result message. */
  retrainSeconds: number;
  resultTitle: string;
  swapped: boolean;
  epochs: number;
  serverMessages: number;
  serverChars: number;
  /** The bot's event-loop delay over the retrain. */
  loop: LoopDelay;
  windowSeconds: number;
  /** Stalls ≥ 20 ms during the window: seconds after the /retrain dispatch, and how long. */
  stalls: { atSeconds: number; ms: number }[];
  babble: { rate: number; sent: number; answered: number; failedReplies: number; latencyMs: Summary | null };
  /** Nice value of the trainer child while it ran (null when unreadable). */
  trainerNice: number | null;
  /** How the bot was started, and the trainer child's command line (null when unreadable). */
  entry: string;
  trainerEntry: string | null;
  /** From the new version's meta.json (null when nothing was saved): training threads, trainer tensor counts. */
  workers: number | null;
  trainerTensors: TensorCounts | null;
  botErrorLogs: number;
  specViolations: number;
}

/** tf.memory().numTensors in the trainer before and after its training steps (meta.json training.tensors). */
export interface TensorCounts {
  before: number;
  after: number;
}

/** The training threads and tensor counts a trainer child recorded in a model's meta.json (null when absent). */
export async function trainerRecord(
  modelDir: string,
): Promise<{ workers: number | null; tensors: TensorCounts | null }> {
  const meta = JSON.parse(await readFile(path.join(modelDir, 'meta.json'), 'utf8')) as {
    training?: { workers?: unknown; tensors?: unknown };
  };
  const t = meta.training?.tensors as Partial<TensorCounts> | undefined;
  return {
    workers: typeof meta.training?.workers === 'number' ? meta.training.workers : null,
    tensors: typeof t?.before === 'number' && typeof t.after === 'number' ? { before: t.before, after: t.after } : null,
  };
}

/** A process's command line from the text of /proc/<pid>/cmdline, paths under `root` made relative to it. */
export function commandLineOf(cmdline: string, root: string): string {
  return cmdline
    .split('\0')
    .filter((a) => a !== '')
    .map((a, i) => {
      if (i === 0) return path.basename(a);
      return path.isAbsolute(a) && !path.relative(root, a).startsWith('..') ? path.relative(root, a) : a;
    })
    .join(' ');
}

/** Field 19 (nice) of /proc/<pid>/stat; null when unreadable. */
export function niceOf(statText: string): number | null {
  const after = statText
    .slice(statText.lastIndexOf(')') + 2)
    .trim()
    .split(/\s+/);
  const nice = Number(after[19 - 3]);
  return Number.isInteger(nice) ? nice : null;
}

async function seedStorage(
  file: string,
  guildId: string,
  channelId: string,
  messages: readonly string[],
): Promise<void> {
  const store = await openStore(`sqlite://${file}`);
  const collection = createCollectionService({ store, retentionDays: 90 });
  try {
    await collection.setChannel(guildId, channelId, true, '5200000000000000001');
    const first = 6_000_000_000_000_000_000n;
    for (let i = 0; i < messages.length; i++) {
      const outcome = await collection.collect({
        id: String(first + BigInt(i)),
        guildId,
        channelId,
        authorId: String(5_200_000_000_000_000_010n + BigInt(i % 17)),
        human: true,
        content: messages[i]!,
        createdAt: Date.now(), // collected only when sent after collection was switched on
      });
      if (outcome !== 'collected') throw new Error(`seeding the storage: message ${i} was not collected (${outcome})`);
    }
  } finally {
    collection.close();
    await store.close();
  }
}

export async function measureBotRetrain(opts: {
  root: string;
  entry: BotEntry;
  modelDir: string;
  chars: number;
  epochs: number;
  rate: number;
  log: (line: string) => void;
}): Promise<BotRetrainFigures> {
  const work = await mkdtemp(path.join(tmpdir(), 'babble-bench-bot-retrain-'));
  const nursery = makeGuild({ name: 'Nursery', channels: [{ name: 'general' }, { name: 'chat' }] });
  const other = makeGuild({ name: 'Elsewhere' });
  const chat = nursery.channels[1]!;
  const fake = await startFakeDiscord({ token: TOKEN, guilds: [nursery, other] });
  const tracker = new ReplyTracker(fake);
  let bot: BotChild | undefined;
  try {
    const baseCorpus = await loadBaseCorpus(path.join(opts.root, 'data/corpus.txt'));
    const messages = serverLikeText(opts.chars, baseCorpus);
    const storage = path.join(work, 'babble.sqlite');
    const seeded = performance.now();
    await seedStorage(storage, nursery.id, chat.id, messages);
    opts.log(
      `  storage seeded with ${messages.length} messages (${textChars(messages)} chars) in ${((performance.now() - seeded) / 1000).toFixed(1)} s`,
    );

    bot = startBotChild(opts.entry, {
      DISCORD_TOKEN: TOKEN,
      DISCORD_API_URL: fake.apiUrl,
      MODEL_DIR: path.resolve(opts.modelDir),
      STORAGE_URL: `sqlite://${storage}`,
      MODELS_DIR: path.join(work, 'models'),
      LOG_LEVEL: 'info',
    });
    await bot.waitForLog((l) => l.msg === 'serving', 120_000);
    tracker.watch();

    // Warm the babble path in the other server (first use builds what is built lazily).
    for (let i = 0; i < 20; i++) {
      const { token } = fake.sendInteraction({
        guild_id: other.id,
        data: { name: 'babble', options: [option('seed', SEEDS[i % SEEDS.length]!), option('rng', i + 1)] },
      });
      tracker.sentAt.set(token, performance.now());
      await sleep(20);
    }
    await sleep(500);
    const errorLogsBefore = bot.logs.filter((l) => typeof l.level === 'number' && l.level >= 50).length;

    await bot.ask({ probe: 'reset' }, 5_000);
    const { token: retrainToken } = fake.sendInteraction({
      guild_id: nursery.id,
      member: { permissions: MANAGER_PERMISSIONS },
      data: { name: 'retrain', options: [subcommand('start', [option('epochs', opts.epochs, 10)])] },
    });
    const t0 = performance.now();
    opts.log(`  /retrain start epochs:${opts.epochs} sent; /babble at ${opts.rate}/s in another server meanwhile`);
    const got: { result?: RecordedRequest; at: number; trainerNice: number | null; trainerEntry: string | null } = {
      at: 0,
      trainerNice: null,
      trainerEntry: null,
    };
    const final = fake
      .waitForRequest(
        (r) =>
          r.operationId === 'update_original_webhook_message' &&
          r.params.webhook_token === retrainToken &&
          RESULT_TITLE.test((r.body as { embeds?: { title?: string }[] }).embeds?.[0]?.title ?? ''),
        600_000,
      )
      .then((r) => {
        got.at = performance.now();
        got.result = r;
      });
    final.catch(() => undefined);

    void bot
      .waitForLog((l) => l.msg === 'trainer child ready', 120_000)
      .then(
        (l) => {
          try {
            got.trainerNice = niceOf(readFileSync(`/proc/${Number(l.pid)}/stat`, 'utf8'));
            got.trainerEntry = commandLineOf(readFileSync(`/proc/${Number(l.pid)}/cmdline`, 'utf8'), opts.root);
          } catch {
            got.trainerNice ??= null;
          }
        },
        () => undefined,
      );

    const tokens: string[] = [];
    const users = Array.from({ length: 12 }, (_, i) => ({
      id: String(5_300_000_000_000_000_001n + BigInt(i)),
      username: `kid${i}`,
    }));
    for (let i = 0; got.result === undefined; i++) {
      const wait = t0 + (i * 1000) / opts.rate - performance.now();
      if (wait >= 1) await sleep(Math.round(wait));
      if (got.result !== undefined) break;
      if (bot.child.exitCode !== null || bot.child.signalCode !== null)
        throw new Error('the bot exited during the retrain');
      if (performance.now() - t0 > 600_000) throw new Error('no retrain result within 600 s');
      const { token } = fake.sendInteraction({
        guild_id: other.id,
        user: users[i % users.length]!,
        data: { name: 'babble', options: [option('seed', SEEDS[i % SEEDS.length]!), option('rng', i + 1)] },
      });
      tracker.sentAt.set(token, performance.now());
      tokens.push(token);
    }
    await final;
    const read = await bot.ask<ProbeReading>({ probe: 'read' }, 5_000);
    const windowSeconds = (performance.now() - t0) / 1000;
    await tracker.settle(tokens, 15_000);
    tracker.scan();
    const latencies = tracker.latencies(tokens);
    const title = (got.result!.body as { embeds: { title: string }[] }).embeds[0]!.title;
    const version = /^New model: version (\d+)/.exec(title)?.[1];
    const record = version
      ? await trainerRecord(path.join(work, 'models', nursery.id, version))
      : { workers: null, tensors: null };
    return {
      retrainSeconds: (got.at - t0) / 1000,
      resultTitle: title,
      swapped: title.startsWith('New model'),
      epochs: opts.epochs,
      serverMessages: messages.length,
      serverChars: textChars(messages),
      loop: loopDelayOf(read),
      windowSeconds,
      stalls: read.stalls.map((x) => ({ atSeconds: Math.round(x.atMs / 100) / 10, ms: x.ms })),
      babble: {
        rate: opts.rate,
        sent: tokens.length,
        answered: latencies.length,
        failedReplies: tracker.failed,
        latencyMs: latencies.length ? summarize(latencies) : null,
      },
      trainerNice: got.trainerNice,
      entry: bot.entry,
      trainerEntry: got.trainerEntry,
      workers: record.workers,
      trainerTensors: record.tensors,
      botErrorLogs: bot.logs.filter((l) => typeof l.level === 'number' && l.level >= 50).length - errorLogsBefore,
      specViolations: fake.violations.length,
    };
  } finally {
    await stopBotChild(bot);
    await fake.close();
    await rm(work, { recursive: true, force: true });
  }
}
