/**
 * `/babble` end to end through the fake Discord: the real entry point (`node dist/src/main.js` as `npm start` runs
 * it, from the bench's own compile) as a child process with the real generation service, a steady open-loop stream
 * of INTERACTION_CREATE at a fixed rate, and per interaction the time from dispatch (the frame handed to the gateway
 * socket) to the fake having received the reply that carries the text: the `create_interaction_response` of type
 * 4, or — when the bot deferred (type 5) — the edit of the original message that follows. The bot's event-loop
 * delay during the load comes from bench/loop-probe.ts, preloaded into the bot's process.
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { option, startFakeDiscord, type FakeDiscord, type RecordedRequest } from '../test/fake-discord/index.js';
import { startEntryProcess, type EntryProcess } from '../test/helpers/entry-process.js';
import { loopDelayMs, schedule, summarize, type Summary } from './stats.js';

export const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.GfAkE0.fake-token-for-the-bench';
export const SEEDS = ['me want cookie', 'me love mama', 'goo goo', 'me see doggy', 'night night', 'more milk please'];

/** The bot's event-loop delay over the load (histogram values minus the probe's sampling interval). */
export interface LoopDelay {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  count: number;
  resolutionMs: number;
  /** The bot process's RSS when the load ended. */
  rssMb: number;
  /** Stalls (bench/loop-probe.ts: a timer waking ≥ STALL_MS late): how many, and the longest. */
  stallCount: number;
  longestStallMs: number;
}

/** The loop probe's reading with its sampling interval taken off the histogram figures. */
export function loopDelayOf(read: ProbeReading): LoopDelay {
  const d = (ms: number) => loopDelayMs(ms, read.resolutionMs);
  return {
    p50Ms: d(read.p50Ms),
    p99Ms: d(read.p99Ms),
    maxMs: d(read.maxMs),
    meanMs: d(read.meanMs),
    count: read.count,
    resolutionMs: read.resolutionMs,
    rssMb: read.rssMb,
    stallCount: read.stallCount,
    longestStallMs: read.longestStallMs,
  };
}

/** What bench/loop-probe.ts answers to { probe: 'read' } (raw histogram values, resolution not taken off). */
export interface ProbeReading {
  probe: 'read';
  resolutionMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  count: number;
  rssMb: number;
  heapUsedMb: number;
  externalMb: number;
  arrayBuffersMb: number;
  /** Timer wake-ups ≥ STALL_MS late since the reset: the first 50 (when, ms after the reset, and how late). */
  stalls: { atMs: number; ms: number }[];
  /** All of them, and the longest. */
  stallCount: number;
  longestStallMs: number;
}

export interface DiscordFigures {
  rate: number;
  sent: number;
  answered: number;
  deferred: number;
  /** Replies that were not 2xx, spec violations the fake recorded, error logs of the bot. */
  failedReplies: number;
  /** Ephemeral answers (refusals such as a rate limit's), not counted as answered. */
  ephemeralReplies: number;
  specViolations: number;
  botErrorLogs: number;
  latencyMs: Summary | null;
  /** How late the sender dispatched against its schedule (the fake and the bot share the cores). */
  sendLagMs: Summary;
  achievedRate: number;
  eventLoop: LoopDelay | null;
  eventLoopReason: string | null;
  backend: string | null;
  /** How the bot was started (the command line). */
  entry: string;
}

/** The bot as the bench runs it: the real entry point (test/helpers/entry-process.ts) with an IPC channel. */
export type BotChild = EntryProcess;

/** Where a bench section runs the bot from: a compiled tree (as `npm start` runs it) or the TypeScript sources. */
export type BotEntry = { distDir: string } | { fromSources: true };

/** Environment that switches the bot's reply rate limits off (src/config.ts RATE_LIMIT_*; 0 = no limit). */
export const NO_RATE_LIMITS = { RATE_LIMIT_USER_REPLIES: '0', RATE_LIMIT_SERVER_REPLIES: '0' } as const;

/**
 * The real entry point with the loop probe preloaded, only the variables given (PATH and HOME aside: no real token
 * can leak in), the bench's backend choice, and the reply rate limits off (every /babble of a load must generate,
 * not get the "nap" answer).
 */
export function startBotChild(entry: BotEntry, env: Record<string, string>): BotChild {
  return startEntryProcess({
    env: { BABBLE_BACKEND: process.env.BABBLE_BACKEND ?? '', ...NO_RATE_LIMITS, ...env },
    preload: ['bench/loop-probe.ts'],
    ipc: true,
    ...entry,
  });
}

/** Stops the bot (SIGTERM, SIGKILL after 10 s) if it still runs. */
export async function stopBotChild(bot: BotChild | undefined): Promise<void> {
  if (!bot || bot.child.exitCode !== null || bot.child.signalCode !== null) return;
  bot.child.kill('SIGTERM');
  const timer = setTimeout(() => bot.child.kill('SIGKILL'), 10_000);
  await bot.exited;
  clearTimeout(timer);
}

const EPHEMERAL = 1 << 6;

/** Follows the fake's requests and stamps, per interaction token, when the reply carrying the text arrived. */
export class ReplyTracker {
  readonly sentAt = new Map<string, number>();
  readonly doneAt = new Map<string, number>();
  readonly deferred = new Set<string>();
  failed = 0;
  /** Ephemeral answers (only the asker sees them: a refusal such as the rate limit's nap), not counted as answered. */
  ephemeral = 0;
  #scanned = 0;

  constructor(private readonly fake: FakeDiscord) {}

  /** Call on every fake event: stamps the requests recorded since the last call with the current time. */
  scan(): void {
    const now = performance.now();
    const requests = this.fake.requests;
    for (; this.#scanned < requests.length; this.#scanned++) this.#see(requests[this.#scanned]!, now);
  }

  #see(r: RecordedRequest, now: number): void {
    if (r.operationId === 'create_interaction_response') {
      const token = r.params.interaction_token;
      if (token === undefined || !this.sentAt.has(token) || this.doneAt.has(token)) return;
      if (r.status >= 300) {
        this.failed++;
        return;
      }
      const body = r.body as { type?: unknown; data?: { flags?: unknown } } | undefined;
      if (body?.type === 5) this.deferred.add(token);
      else if (typeof body?.data?.flags === 'number' && (body.data.flags & EPHEMERAL) !== 0)
        this.ephemeral++; // a refusal (rate limit, error), not a babble
      else this.doneAt.set(token, now);
    } else if (r.operationId === 'update_original_webhook_message') {
      const token = r.params.webhook_token;
      if (token === undefined || !this.deferred.has(token) || this.doneAt.has(token)) return;
      if (r.status >= 300) this.failed++;
      else this.doneAt.set(token, now);
    }
  }

  /**
   * Stamps every reply as it arrives for the rest of the fake's life: one watcher that the fake calls synchronously
   * on every request it records. It never resolves; fake.close() ends it.
   */
  watch(): void {
    this.fake
      .waitFor(
        () => {
          this.scan();
          return false;
        },
        3_600_000,
        'bench reply watcher',
      )
      .catch(() => undefined);
  }

  /** Waits until every one of `tokens` has its reply, or `timeoutMs` has passed (the rest count as unanswered). */
  async settle(tokens: readonly string[], timeoutMs: number): Promise<void> {
    const until = performance.now() + timeoutMs;
    while (tokens.some((t) => !this.doneAt.has(t)) && performance.now() < until) await sleep(20);
  }

  latencies(tokens: Iterable<string>): number[] {
    const out: number[] = [];
    for (const t of tokens) {
      const sent = this.sentAt.get(t);
      const done = this.doneAt.get(t);
      if (sent !== undefined && done !== undefined) out.push(done - sent);
    }
    return out;
  }
}

/** Sends `count` /babble interactions on an open-loop schedule; returns the tokens and how late each send was. */
async function sendAtRate(
  fake: FakeDiscord,
  tracker: ReplyTracker,
  count: number,
  rate: number,
  offset: number,
): Promise<{ tokens: string[]; lagMs: number[]; seconds: number }> {
  const due = schedule(count, rate);
  const tokens: string[] = [];
  const lagMs: number[] = [];
  const t0 = performance.now();
  let first = 0;
  let last = 0;
  for (let i = 0; i < count; i++) {
    // No busy-waiting: the fake shares this thread and must take the replies as they come. Timers have ~1 ms
    // granularity; latency is measured from the actual send, and the schedule is absolute, so the rate holds.
    const wait = t0 + due[i]! - performance.now();
    if (wait >= 1) await sleep(Math.round(wait));
    const k = offset + i;
    const { token } = fake.sendInteraction({
      data: { name: 'babble', options: [option('seed', SEEDS[k % SEEDS.length]!), option('rng', k + 1)] },
    });
    const at = performance.now();
    tracker.sentAt.set(token, at);
    tokens.push(token);
    lagMs.push(at - (t0 + due[i]!));
    if (i === 0) first = at;
    last = at;
  }
  return { tokens, lagMs, seconds: (last - first) / 1000 };
}

export async function measureDiscord(opts: {
  entry: BotEntry;
  modelDir: string;
  rate: number;
  count: number;
  warmup: number;
  log: (line: string) => void;
}): Promise<DiscordFigures> {
  const fake = await startFakeDiscord({ token: TOKEN });
  const tracker = new ReplyTracker(fake);
  let bot: BotChild | undefined;
  try {
    bot = startBotChild(opts.entry, {
      DISCORD_TOKEN: TOKEN,
      DISCORD_API_URL: fake.apiUrl,
      MODEL_DIR: path.resolve(opts.modelDir),
      LOG_LEVEL: 'info', // the shipped default: one log line per command, as in production
    });
    await bot.waitForLog((l) => l.msg === 'serving', 120_000);
    const backend = bot.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('tfjs backend:'))?.backend;
    opts.log(`  bot serving (backend ${String(backend)}); warm-up ${opts.warmup} interactions`);

    tracker.watch();

    const warm = await sendAtRate(fake, tracker, opts.warmup, Math.min(50, opts.rate), 0);
    await tracker.settle(warm.tokens, 30_000);

    const errorLogsBefore = bot.logs.filter((l) => typeof l.level === 'number' && l.level >= 50).length;
    let eventLoop: LoopDelay | null = null;
    let eventLoopReason: string | null = null;
    try {
      await bot.ask({ probe: 'reset' }, 5_000);
    } catch (error) {
      eventLoopReason = (error as Error).message;
    }
    opts.log(`  sending ${opts.count} /babble interactions at ${opts.rate}/s`);
    const load = await sendAtRate(fake, tracker, opts.count, opts.rate, opts.warmup);
    await tracker.settle(load.tokens, 30_000);
    if (eventLoopReason === null) {
      try {
        const read = await bot.ask<ProbeReading>({ probe: 'read' }, 5_000);
        eventLoop = loopDelayOf(read);
      } catch (error) {
        eventLoopReason = (error as Error).message;
      }
    }
    tracker.scan();
    const latencies = tracker.latencies(load.tokens);
    const loadSet = new Set(load.tokens);
    return {
      rate: opts.rate,
      sent: load.tokens.length,
      answered: latencies.length,
      deferred: [...tracker.deferred].filter((t) => loadSet.has(t)).length,
      failedReplies: tracker.failed,
      ephemeralReplies: tracker.ephemeral,
      specViolations: fake.violations.length,
      botErrorLogs: bot.logs.filter((l) => typeof l.level === 'number' && l.level >= 50).length - errorLogsBefore,
      latencyMs: latencies.length > 0 ? summarize(latencies) : null,
      sendLagMs: summarize(load.lagMs),
      achievedRate: load.seconds > 0 ? (load.tokens.length - 1) / load.seconds : NaN,
      eventLoop,
      eventLoopReason,
      backend: typeof backend === 'string' ? backend : null,
      entry: bot.entry,
    };
  } finally {
    await stopBotChild(bot);
    await fake.close();
  }
}
