/**
 * The reply rate limits (src/service/rate-limiter.ts): per-user and per-server budgets, who is told, failing open
 * when a counter breaks, and on a real redis-server: counts shared between processes, and the in-memory count
 * taking over while Redis is down or hangs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { createClient } from '@keyv/redis';
import { RateLimiterRes } from 'rate-limiter-flexible';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '../src/log.js';
import {
  COMMAND_NOTICES,
  createReplyLimiter,
  memoryCounters,
  napMessage,
  openReplyLimiter,
  redisCounters,
  type Counter,
  type ReplyLimiter,
  type ReplyLimits,
  type Verdict,
} from '../src/service/rate-limiter.js';

const LIMITS: ReplyLimits = { userReplies: 3, userSeconds: 60, serverReplies: 5, serverSeconds: 60 };

/** A logger at warn level whose lines are kept, parsed. */
function warnings(): { lines: Array<Record<string, unknown>>; log: Logger } {
  const lines: Array<Record<string, unknown>> = [];
  return {
    lines,
    log: createLogger('warn', {
      write: (s: string) => {
        lines.push(JSON.parse(s) as Record<string, unknown>);
      },
    }),
  };
}

function memoryLimiter(limits: ReplyLimits = LIMITS): ReplyLimiter {
  return createReplyLimiter({ counters: memoryCounters(limits), log: warnings().log });
}

async function takeMany(
  limiter: ReplyLimiter,
  n: number,
  request: Parameters<ReplyLimiter['take']>[0],
): Promise<Verdict[]> {
  const out: Verdict[] = [];
  for (let i = 0; i < n; i++) out.push(await limiter.take(request));
  return out;
}

const allowedCount = (verdicts: Verdict[]) => verdicts.filter((v) => v.allowed).length;

describe('reply limits in memory', () => {
  it('lets a user have userReplies replies per window, then says how long to wait; another user is not affected', async () => {
    const limiter = memoryLimiter();
    const verdicts = await takeMany(limiter, 5, { kind: 'babble', userId: 'u1', guildId: 'g1' });
    expect(verdicts.map((v) => v.allowed)).toEqual([true, true, true, false, false]);
    const refused = verdicts[3]!;
    if (refused.allowed) throw new Error('unreachable');
    expect(refused.scope).toBe('user');
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(LIMITS.userSeconds * 1000);
    expect((await limiter.take({ kind: 'babble', userId: 'u2', guildId: 'g1' })).allowed).toBe(true);
  });

  it("shares a server's budget among its members, not across servers, and gives a refused user's point back", async () => {
    const limiter = memoryLimiter({ userReplies: 1, userSeconds: 60, serverReplies: 2, serverSeconds: 60 });
    expect((await limiter.take({ kind: 'mention', userId: 'a', guildId: 'g1' })).allowed).toBe(true);
    expect((await limiter.take({ kind: 'mention', userId: 'b', guildId: 'g1' })).allowed).toBe(true);
    const third = await limiter.take({ kind: 'mention', userId: 'c', guildId: 'g1' });
    expect(third).toMatchObject({ allowed: false, scope: 'server' });
    // c's own budget (1) was not spent by the refused reply: c still gets one elsewhere.
    expect((await limiter.take({ kind: 'mention', userId: 'c', guildId: 'g2' })).allowed).toBe(true);
    expect(await limiter.take({ kind: 'mention', userId: 'c', guildId: 'g2' })).toMatchObject({
      allowed: false,
      scope: 'user',
    });
  });

  it('counts only the user in DMs', async () => {
    const limiter = memoryLimiter({ userReplies: 4, userSeconds: 60, serverReplies: 1, serverSeconds: 60 });
    expect(allowedCount(await takeMany(limiter, 6, { kind: 'babble', userId: 'dm-user', guildId: null }))).toBe(4);
  });

  it('0 replies means no limit of that kind', async () => {
    const noUser = memoryLimiter({ userReplies: 0, userSeconds: 60, serverReplies: 3, serverSeconds: 60 });
    expect(allowedCount(await takeMany(noUser, 5, { kind: 'babble', userId: 'u', guildId: 'g' }))).toBe(3);
    expect(allowedCount(await takeMany(noUser, 20, { kind: 'babble', userId: 'u', guildId: null }))).toBe(20);
    const none = memoryLimiter({ userReplies: 0, userSeconds: 60, serverReplies: 0, serverSeconds: 60 });
    expect(allowedCount(await takeMany(none, 50, { kind: 'mention', userId: 'u', guildId: 'g' }))).toBe(50);
  });

  it("tells a member's refused commands COMMAND_NOTICES times per window, a mention once per window (per user, or per server), an unprompted reply never", async () => {
    const limiter = memoryLimiter({ userReplies: 1, userSeconds: 60, serverReplies: 3, serverSeconds: 60 });
    const refusedNotices = (vs: Verdict[]) => vs.filter((v) => !v.allowed).map((v) => (v.allowed ? null : v.notify));

    expect(COMMAND_NOTICES).toBe(3);
    expect(refusedNotices(await takeMany(limiter, 3, { kind: 'babble', userId: 'b', guildId: 'g0' }))).toEqual([
      true,
      true,
    ]);
    // /teach spends from the same notices as /babble: one more is told, then none.
    expect(refusedNotices(await takeMany(limiter, 3, { kind: 'teach', userId: 'b', guildId: 'g0' }))).toEqual([
      true,
      false,
      false,
    ]);
    // Another member of the same server is told as usual.
    expect(refusedNotices(await takeMany(limiter, 2, { kind: 'babble', userId: 'b2', guildId: 'g0' }))).toEqual([true]);
    expect(refusedNotices(await takeMany(limiter, 6, { kind: 'mention', userId: 'm', guildId: 'g1' }))).toEqual([
      true,
      false,
      false,
      false,
      false,
    ]);
    expect(refusedNotices(await takeMany(limiter, 3, { kind: 'unprompted', userId: 'u', guildId: 'g2' }))).toEqual([
      false,
      false,
    ]);

    // The server budget of g3 (3) spent by three people; the next two get one notice between them.
    for (const userId of ['p1', 'p2', 'p3'])
      expect((await limiter.take({ kind: 'mention', userId, guildId: 'g3' })).allowed).toBe(true);
    const p4 = await limiter.take({ kind: 'mention', userId: 'p4', guildId: 'g3' });
    const p5 = await limiter.take({ kind: 'mention', userId: 'p5', guildId: 'g3' });
    expect([p4, p5]).toMatchObject([
      { allowed: false, scope: 'server', notify: true },
      { allowed: false, scope: 'server', notify: false },
    ]);
  });

  it('says "The baby needs a nap — try again in N s", rounding up, and in minutes for long waits', () => {
    expect(napMessage({ scope: 'user', retryAfterMs: 11_200 })).toBe('The baby needs a nap — try again in 12 s.');
    expect(napMessage({ scope: 'user', retryAfterMs: 3 })).toBe('The baby needs a nap — try again in 1 s.');
    expect(napMessage({ scope: 'server', retryAfterMs: 600_000 })).toBe(
      'The baby needs a nap — everyone here has kept it busy. Try again in 10 min.',
    );
  });
});

describe('a failing counter', () => {
  const broken: Counter = { consume: () => Promise.reject(new Error('store down')) };
  /** Every point of it spent: the next one comes in 5 s. */
  const spent: Counter = { consume: () => Promise.reject(new RateLimiterRes(0, 5000, 2, false)) };

  it('lets replies through (fails open) and logs it once a minute, not once per reply', async () => {
    const { lines, log } = warnings();
    let t = 0;
    const limiter = createReplyLimiter({ counters: { user: broken, server: broken }, log: log, now: () => t });
    expect(allowedCount(await takeMany(limiter, 10, { kind: 'babble', userId: 'u', guildId: 'g' }))).toBe(10);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.msg).toBe('rate limiter failed; letting replies through');
    expect(lines[0]!.err).toMatchObject({ message: 'store down' });
    t += 61_000;
    await limiter.take({ kind: 'mention', userId: 'u', guildId: 'g' });
    expect(lines).toHaveLength(2);
    // 20 counter calls failed in the ten takes; the first was logged; 19 more, and this one.
    expect(lines[1]!.failures).toBe(20);
  });

  it('tells a refused command when the command notice counter fails (a member pressing a command is owed an answer)', async () => {
    const limiter = createReplyLimiter({ counters: { user: spent, commandNotice: broken }, log: warnings().log });
    expect(await limiter.take({ kind: 'babble', userId: 'u', guildId: null })).toMatchObject({
      allowed: false,
      notify: true,
    });
  });

  it('leaves a refused command untold once the command notice counter is spent', async () => {
    const limiter = createReplyLimiter({ counters: { user: spent, commandNotice: spent }, log: warnings().log });
    expect(await limiter.take({ kind: 'teach', userId: 'u', guildId: null })).toMatchObject({
      allowed: false,
      notify: false,
    });
  });

  it('keeps a refused mention quiet when the notice counter fails (never spam)', async () => {
    const limiter = createReplyLimiter({ counters: { user: spent, userNotice: broken }, log: warnings().log });
    expect(await limiter.take({ kind: 'mention', userId: 'u', guildId: null })).toEqual({
      allowed: false,
      scope: 'user',
      retryAfterMs: 5000,
      notify: false,
    });
  });
});

/** A free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
  });
  return child;
}

const hasRedis = await new Promise<boolean>((resolve) => {
  const probe = spawn('redis-server', ['--version'], { stdio: 'ignore' });
  probe.once('error', () => resolve(false));
  probe.once('exit', (code) => resolve(code === 0));
});

describe.skipIf(!hasRedis)('reply limits on Redis (a real redis-server)', () => {
  let redis: ChildProcess;
  let url: string;
  const limiters: ReplyLimiter[] = [];

  beforeAll(async () => {
    const port = await freePort();
    redis = await startRedis(port);
    url = `redis://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    for (const l of limiters) await l.close().catch(() => undefined);
    if (redis.exitCode === null && redis.signalCode === null) {
      redis.kill('SIGCONT');
      redis.kill('SIGKILL');
    }
  });

  it('shares the counts between processes (two limiters, one Redis)', async () => {
    const limits: ReplyLimits = { userReplies: 4, userSeconds: 60, serverReplies: 100, serverSeconds: 60 };
    const a = await openReplyLimiter(url, limits, { log: warnings().log });
    const b = await openReplyLimiter(url, limits, { log: warnings().log });
    limiters.push(a, b);
    expect(a.store).toBe(url);
    const request = { kind: 'babble' as const, userId: 'shared-user', guildId: 'g' };
    expect(allowedCount(await takeMany(a, 3, request))).toBe(3);
    expect((await b.take(request)).allowed).toBe(true);
    expect(await b.take(request)).toMatchObject({ allowed: false, scope: 'user' });
    expect(await a.take(request)).toMatchObject({ allowed: false, scope: 'user' });
  });

  it('keeps limiting in memory while Redis hangs (over the timeout) and after it is gone, without a failure reaching the caller', async () => {
    const client = createClient({ url, disableOfflineQueue: true, socket: { reconnectStrategy: () => 200 } });
    client.on('error', () => undefined);
    await client.connect();
    const { lines, log } = warnings();
    const limiter = createReplyLimiter({
      counters: redisCounters(client, { userReplies: 2, userSeconds: 60, serverReplies: 100, serverSeconds: 60 }, 300),
      log: log,
      close: async () => {
        if (client.isOpen) client.destroy();
      },
    });
    limiters.push(limiter);

    redis.kill('SIGSTOP'); // Redis hangs: commands get no answer.
    const hung = await takeMany(limiter, 3, { kind: 'babble', userId: 'while-hung', guildId: null });
    expect(hung.map((v) => v.allowed)).toEqual([true, true, false]);

    redis.kill('SIGCONT');
    redis.kill('SIGKILL');
    await once(redis, 'exit');
    const down = await takeMany(limiter, 3, { kind: 'babble', userId: 'while-down', guildId: null });
    expect(down.map((v) => v.allowed)).toEqual([true, true, false]);
    expect(lines).toEqual([]);
  });

  it('counts in memory, saying so, when Redis cannot be reached at start-up', async () => {
    const { lines, log } = warnings();
    const limiter = await openReplyLimiter(`redis://127.0.0.1:${await freePort()}`, LIMITS, {
      log: log,
      connectTimeoutMs: 500,
    });
    limiters.push(limiter);
    expect(limiter.store).toBe('memory');
    expect(lines.map((l) => l.msg)).toEqual(['rate limits: could not reach Redis; counting in memory in this process']);
    expect(allowedCount(await takeMany(limiter, 5, { kind: 'babble', userId: 'u', guildId: null }))).toBe(
      LIMITS.userReplies,
    );
  });
});
