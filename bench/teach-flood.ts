/**
 * A member trying to /teach 50 MB: the real bot (compiled, as `npm start` runs it, LOG_LEVEL info) on a SQLite
 * file, one member of server F sending /teach with the most text one command takes (TEACH_MAX_LENGTH characters) on
 * an open-loop schedule (`teachRate` a second) until `megabytes` have been attempted, while /babble runs at `rate`
 * per second in two other servers. The shipped per-member reply limit applies (RATE_LIMIT_USER_REPLIES, a /teach
 * spends from it like a /babble; past it the member is told COMMAND_NOTICES times a window, then left unanswered),
 * then the member's teach quota (TEACH_MAX_*); the per-server limit is off so that the /babble load — every request
 * from a new member — is answered, not napped. Figures: the bot's VmRSS (/proc) before the flood, after a fifth of
 * it and at its end (flat = no growth while the last 40 MB are attempted), its peak (VmHWM) and after; the other servers'
 * /babble latency (dispatch → the fake has the reply); the bot's event loop (bench/loop-probe.ts) and the CPU of
 * the bot and of the bench (the fake Discord and the load); how many /teach were accepted, napped, refused by the
 * quota or left unanswered. */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_QUOTAS } from '../src/service/collection/quotas.js';
import { TEACH_MAX_LENGTH } from '../src/service/collection/consent.js';
import { makeGuild, option, startFakeDiscord, type RecordedRequest } from '../test/fake-discord/index.js';
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
import { parseProcStatus } from './bot-memory.js';
import { parseSelfStat, TICKS_PER_SECOND } from './contention.js';
import type { Outcome, Section } from './report.js';
import { summarize, type Summary } from './stats.js';

/** RSS growth allowed over the last four fifths of the flood (40 MB attempted): the text is not kept. */
export const TEACH_FLOOD_TARGETS = { rssGrowthMb: 16, babbleP99Ms: 15 } as const;
const FLOODER = { id: '5400000000000000001', username: 'flooder' };
const QUOTA_REFUSAL =
  /taught the baby all it can take from one person here.*you have [\d,]+ texts, ([\d,]+) characters/;

export interface TeachFloodFigures {
  attemptedMb: number;
  /**
   * napped: told to wait by the rate limit (or any other answer); unanswered: refused by the rate limit past the
   * member's notices (rate-limiter.ts COMMAND_NOTICES), no answer at all.
   */
  teach: {
    sent: number;
    accepted: number;
    refusedByQuota: number;
    napped: number;
    unanswered: number;
    storedChars: number | null;
  };
  rssMb: { before: number; atFifth: number; atEnd: number; peak: number; after: number };
  /** Share of one core used during the flood by the bot and by the bench (the fake Discord and the load). */
  cpuCores: { bot: number; bench: number };
  /** The bot's event loop during the flood (bench/loop-probe.ts) and its JS heap at the end. */
  botLoop: LoopDelay & { heapUsedMb: number; heapUsedBeforeMb: number };
  babble: { rate: number; sent: number; answered: number; ms: Summary | null };
  seconds: number;
}

/** CPU seconds the process has used (bench/contention.ts's reading of /proc/<pid>/stat). */
function cpuSeconds(pid: number): number {
  return parseSelfStat(readFileSync(`/proc/${pid}/stat`, 'utf8')) / TICKS_PER_SECOND;
}

/** VmRSS and VmHWM (its peak so far) of the process, in MB. */
function memory(pid: number): { rssMb: number; hwmMb: number } {
  return parseProcStatus(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

const rssMb = (pid: number) => memory(pid).rssMb;

/** The text of a /teach answer (the callback's data). */
function answerText(r: RecordedRequest): string {
  return (r.body as { data?: { content?: string } } | undefined)?.data?.content ?? '';
}

function classify(fake: { requests: RecordedRequest[] }, tokens: Set<string>) {
  let accepted = 0;
  let refusedByQuota = 0;
  let napped = 0;
  let storedChars: number | null = null;
  for (const r of fake.requests) {
    if (r.operationId !== 'create_interaction_response' || !tokens.has(r.params.interaction_token ?? '')) continue;
    const text = answerText(r);
    const quota = QUOTA_REFUSAL.exec(text);
    if (quota) {
      refusedByQuota++;
      storedChars = Number(quota[1]!.replace(/,/g, ''));
    } else if (/learn|taught|remember/i.test(text) && !/can't|cannot|isn't/i.test(text)) accepted++;
    else napped++;
  }
  return {
    accepted,
    refusedByQuota,
    napped,
    unanswered: tokens.size - accepted - refusedByQuota - napped,
    storedChars,
  };
}

export async function measureTeachFlood(opts: {
  entry: BotEntry;
  modelDir: string;
  megabytes: number;
  teachRate: number;
  rate: number;
  log: (line: string) => void;
}): Promise<TeachFloodFigures> {
  const work = await mkdtemp(path.join(tmpdir(), 'babble-bench-teach-flood-'));
  const flood = makeGuild({ name: 'Flood' });
  const others = [makeGuild({ name: 'Calm one' }), makeGuild({ name: 'Calm two' })];
  const fake = await startFakeDiscord({ token: TOKEN, guilds: [flood, ...others] });
  const tracker = new ReplyTracker(fake);
  let bot: BotChild | undefined;
  try {
    bot = startBotChild(opts.entry, {
      DISCORD_TOKEN: TOKEN,
      DISCORD_API_URL: fake.apiUrl,
      MODEL_DIR: path.resolve(opts.modelDir),
      STORAGE_URL: `sqlite://${path.join(work, 'babble.sqlite')}`,
      MODELS_DIR: path.join(work, 'models'),
      LOG_LEVEL: 'info', // the shipped default: one log line per command
      RATE_LIMIT_USER_REPLIES: '',
      RATE_LIMIT_SERVER_REPLIES: '0',
    });
    await bot.waitForLog((l) => l.msg === 'serving', 120_000);
    await fake.waitFor(() => fake.sessions().some((s) => s.connected), 120_000, 'the bot logged in');
    tracker.watch();
    const pid = bot.child.pid!;
    for (let i = 0; i < 100; i++) {
      const { token } = fake.sendInteraction({
        guild_id: others[i % 2]!.id,
        data: { name: 'babble', options: [option('seed', SEEDS[i % SEEDS.length]!), option('rng', i + 1)] },
      });
      tracker.sentAt.set(token, performance.now());
      await sleep(5);
    }
    await sleep(1000);
    const before = rssMb(pid);
    const teaches = Math.ceil((opts.megabytes * 1_000_000) / TEACH_MAX_LENGTH);
    const text = 'me want cookie '.repeat(Math.ceil(TEACH_MAX_LENGTH / 15)).slice(0, TEACH_MAX_LENGTH);
    const teachTokens = new Set<string>();
    const babbleTokens: string[] = [];
    const t0 = performance.now();
    const heapUsedBeforeMb = (await bot.ask<ProbeReading>({ probe: 'read' }, 5_000)).heapUsedMb;
    await bot.ask({ probe: 'reset' }, 5_000);
    const botCpu0 = cpuSeconds(pid);
    const benchCpu0 = process.cpuUsage();
    let sentTeach = 0;
    let sentBabble = 0;
    let atFifth = Number.NaN;
    for (;;) {
      const elapsed = performance.now() - t0;
      const teachDue = Math.min(teaches, Math.floor((elapsed * opts.teachRate) / 1000));
      for (; sentTeach < teachDue; sentTeach++) {
        const { token } = fake.sendInteraction({
          guild_id: flood.id,
          user: FLOODER,
          data: { name: 'teach', options: [option('text', text)] },
        });
        teachTokens.add(token);
      }
      const babbleDue = Math.floor((elapsed * opts.rate) / 1000);
      for (; sentBabble < babbleDue; sentBabble++) {
        const { token } = fake.sendInteraction({
          guild_id: others[sentBabble % 2]!.id,
          user: { id: String(5_300_000_000_000_000_001n + BigInt(sentBabble)), username: `kid${sentBabble}` },
          data: {
            name: 'babble',
            options: [option('seed', SEEDS[sentBabble % SEEDS.length]!), option('rng', sentBabble + 1)],
          },
        });
        tracker.sentAt.set(token, performance.now());
        babbleTokens.push(token);
      }
      if (Number.isNaN(atFifth) && sentTeach >= teaches / 5) atFifth = rssMb(pid);
      if (sentTeach >= teaches) break;
      await sleep(1);
    }
    const seconds = (performance.now() - t0) / 1000;
    const atEnd = rssMb(pid);
    const benchCpu = process.cpuUsage(benchCpu0);
    const read = await bot.ask<ProbeReading>({ probe: 'read' }, 5_000);
    const botLoop = { ...loopDelayOf(read), heapUsedMb: read.heapUsedMb, heapUsedBeforeMb };
    const cpuCores = {
      bot: (cpuSeconds(pid) - botCpu0) / seconds,
      bench: (benchCpu.user + benchCpu.system) / 1e6 / seconds,
    };
    await tracker.settle(babbleTokens, 15_000);
    const peak = memory(pid).hwmMb;
    await sleep(2000);
    const after = rssMb(pid);
    tracker.scan();
    const latencies = tracker.latencies(babbleTokens);
    const teach = { sent: sentTeach, ...classify(fake, teachTokens) };
    opts.log(
      `teach_flood: ${teach.sent} /teach (${opts.megabytes} MB) in ${seconds.toFixed(0)} s: ${teach.accepted} accepted, ` +
        `${teach.refusedByQuota} refused by the quota, ${teach.napped} napped, ${teach.unanswered} left unanswered; RSS ${before.toFixed(0)} → ${atFifth.toFixed(0)} ` +
        `(a fifth) → ${atEnd.toFixed(0)} (end), peak ${peak.toFixed(0)}, after ${after.toFixed(0)} MB; CPU bot ` +
        `${cpuCores.bot.toFixed(2)}, bench ${cpuCores.bench.toFixed(2)} cores`,
    );
    return {
      attemptedMb: (teaches * TEACH_MAX_LENGTH) / 1_000_000,
      teach,
      rssMb: { before, atFifth, atEnd, peak, after },
      cpuCores,
      botLoop,
      babble: {
        rate: opts.rate,
        sent: babbleTokens.length,
        answered: latencies.length,
        ms: latencies.length ? summarize(latencies) : null,
      },
      seconds,
    };
  } finally {
    await stopBotChild(bot);
    await fake.close();
    await rm(work, { recursive: true, force: true });
  }
}

export function teachFloodSection(o: Outcome<TeachFloodFigures>): Section {
  if (!o.ok) return { pass: null, reason: o.reason, targets: TEACH_FLOOD_TARGETS };
  const v = o.value;
  const checks = {
    rss_flat_within_target: v.rssMb.atEnd - v.rssMb.atFifth <= TEACH_FLOOD_TARGETS.rssGrowthMb,
    babble_p99_within_target:
      v.babble.ms !== null && v.babble.answered === v.babble.sent && v.babble.ms.p99 <= TEACH_FLOOD_TARGETS.babbleP99Ms,
    stored_within_quota: v.teach.accepted * TEACH_MAX_LENGTH <= DEFAULT_QUOTAS.teachCharsPerMember,
  };
  return {
    ...v,
    quota: { teachPerMember: DEFAULT_QUOTAS.teachPerMember, teachCharsPerMember: DEFAULT_QUOTAS.teachCharsPerMember },
    targets: TEACH_FLOOD_TARGETS,
    checks,
    pass: Object.values(checks).every(Boolean),
    reason: null,
  };
}
