/**
 * Rate limits on what makes the baby talk: /babble, mention replies and unprompted replies. Every reply costs one
 * point from its user's budget and one from its server's (none in DMs), each a fixed window counted by
 * rate-limiter-flexible: in memory by default, on Redis when the storage is Redis (so that every process shares
 * the counts).
 *
 * When a budget is spent: a command (/babble, /teach) is answered with a short nap message (ephemeral, so nobody
 * else sees it) the first COMMAND_NOTICES times per member and window, later ones are left unanswered (a member
 * flooding commands costs the bot no reply and no log line at info); a mention gets at most one nap reply per user
 * (or server) per window, later ones get nothing; an unprompted reply is silently skipped.
 *
 * Failures: Redis down, refusing or slow (over `timeoutMs`) → the same limits counted in this process's memory
 * until Redis answers again (rate-limiter-flexible's insurance limiter). Any other failure of a counter → that
 * reply is let through (fail open: the bot keeps talking rather than going silent), logged at most once a minute.
 * Nothing here rejects.
 *
 * No discord.js in here: the Discord side asks `take()` and says what it returns.
 */
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, RLWrapperTimeouts } from 'rate-limiter-flexible';
import type { Logger } from '../log.js';
import type { RedisClient } from '../storage/redis.js';
import { parseStorageUrl, redactUrl } from '../storage/url.js';

export type ReplyKind = 'babble' | 'mention' | 'unprompted' | 'teach';

export interface ReplyLimits {
  /** Replies one user may get per window; 0: no per-user limit. */
  userReplies: number;
  /** The user window, in whole seconds. */
  userSeconds: number;
  /** Replies one server may get per window (all its members together); 0: no per-server limit. */
  serverReplies: number;
  /** The server window, in whole seconds. */
  serverSeconds: number;
}

export interface ReplyRequest {
  kind: ReplyKind;
  userId: string;
  /** null in DMs: only the user's budget counts. */
  guildId: string | null;
}

export type LimitScope = 'user' | 'server';

export type Verdict =
  | { allowed: true }
  | {
      allowed: false;
      /** Whose budget is spent. */
      scope: LimitScope;
      /** When the next reply will be allowed. */
      retryAfterMs: number;
      /**
       * Whether to tell the person (commands: the first COMMAND_NOTICES refusals per member and window; mentions:
       * once per window; unprompted replies: never).
       */
      notify: boolean;
    };

export interface ReplyLimiter {
  /** Spends one reply from the user's and the server's budgets, or says which one is spent. Never rejects. */
  take(request: ReplyRequest): Promise<Verdict>;
  /** Where the counts live, for the start-up log: "memory" or the Redis URL without its password. */
  readonly store: string;
  /** Releases the store's connection (Redis). */
  close(): Promise<void>;
}

/**
 * One fixed-window counter (a rate-limiter-flexible limiter): `consume` resolves when there were points left and
 * rejects with a RateLimiterRes when not, or with an Error when the counter failed.
 */
export interface Counter {
  consume(key: string, points?: number): Promise<RateLimiterRes>;
  reward?(key: string, points?: number): Promise<unknown>;
}

export interface Counters {
  user?: Counter | undefined;
  server?: Counter | undefined;
  /** One point per window: whether a mention's refusal is told (user scope). */
  userNotice?: Counter | undefined;
  /** One point per window: whether a mention's refusal is told (server scope). */
  serverNotice?: Counter | undefined;
  /** COMMAND_NOTICES points per member and window: whether a command's refusal is told. */
  commandNotice?: Counter | undefined;
}

/**
 * How many refused commands a member is told about per window (the user window, or the server's without a user
 * limit). Enough for anyone pressing again by mistake; a flood beyond it gets no answer at all.
 */
export const COMMAND_NOTICES = 3;

/** Redis and memory key prefixes (rate-limiter-flexible adds ":<key>"). */
export const KEY_PREFIXES = {
  user: 'babble:rl:user',
  server: 'babble:rl:server',
  userNotice: 'babble:rl:notice:user',
  serverNotice: 'babble:rl:notice:server',
  commandNotice: 'babble:rl:notice:command',
} as const;

/** How long a Redis count may take before the in-memory count answers instead. */
export const DEFAULT_REDIS_TIMEOUT_MS = 500;

/** Failures of a counter are logged at most this often. */
const FAILURE_LOG_INTERVAL_MS = 60_000;

function waitText(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  if (s < 90) return `${s} s`;
  return `${Math.ceil(s / 60)} min`;
}

/** What a person is told when the budget is spent: "The baby needs a nap — try again in 12 s." */
export function napMessage(verdict: { scope: LimitScope; retryAfterMs: number }): string {
  const wait = waitText(verdict.retryAfterMs);
  return verdict.scope === 'user'
    ? `The baby needs a nap — try again in ${wait}.`
    : `The baby needs a nap — everyone here has kept it busy. Try again in ${wait}.`;
}

/** The limiter over the given counters (a missing counter: no limit of that kind). */
export function createReplyLimiter(options: {
  counters: Counters;
  log: Pick<Logger, 'warn'>;
  store?: string;
  close?: () => Promise<void>;
  now?: () => number;
}): ReplyLimiter {
  const { counters, log } = options;
  const now = options.now ?? Date.now;
  let lastFailureLog = -Infinity;
  let failuresSinceLog = 0;

  /** true: spent; a RateLimiterRes: refused; undefined: the counter failed (let through). */
  async function spend(counter: Counter, key: string, what: string): Promise<true | RateLimiterRes | undefined> {
    try {
      await counter.consume(key);
      return true;
    } catch (error) {
      if (error instanceof RateLimiterRes) return error;
      failuresSinceLog += 1;
      const t = now();
      if (t - lastFailureLog >= FAILURE_LOG_INTERVAL_MS) {
        log.warn(
          { err: error, counter: what, failures: failuresSinceLog },
          'rate limiter failed; letting replies through',
        );
        lastFailureLog = t;
        failuresSinceLog = 0;
      }
      return undefined;
    }
  }

  async function shouldNotify(kind: ReplyKind, scope: LimitScope, id: string, userId: string): Promise<boolean> {
    if (kind === 'babble' || kind === 'teach') {
      if (!counters.commandNotice) return true;
      // A failing counter tells: a member pressing a command is owed an answer.
      return !((await spend(counters.commandNotice, userId, 'command notice')) instanceof RateLimiterRes);
    }
    if (kind === 'unprompted') return false;
    const counter = scope === 'user' ? counters.userNotice : counters.serverNotice;
    if (!counter) return true;
    // A failing notice counter stays quiet: never spam.
    return (await spend(counter, id, `${scope} notice`)) === true;
  }

  return {
    store: options.store ?? 'memory',
    async take({ kind, userId, guildId }) {
      if (counters.user) {
        const spent = await spend(counters.user, userId, 'user');
        if (spent instanceof RateLimiterRes) {
          return {
            allowed: false,
            scope: 'user',
            retryAfterMs: spent.msBeforeNext,
            notify: await shouldNotify(kind, 'user', userId, userId),
          };
        }
      }
      if (counters.server && guildId !== null) {
        const spent = await spend(counters.server, guildId, 'server');
        if (spent instanceof RateLimiterRes) {
          // The user didn't get a reply: their point is given back.
          await counters.user?.reward?.(userId).catch(() => undefined);
          return {
            allowed: false,
            scope: 'server',
            retryAfterMs: spent.msBeforeNext,
            notify: await shouldNotify(kind, 'server', guildId, userId),
          };
        }
      }
      return { allowed: true };
    },
    close: options.close ?? (async () => undefined),
  };
}

function memoryLimiter(points: number, seconds: number, keyPrefix: string): RateLimiterMemory | undefined {
  return points > 0 ? new RateLimiterMemory({ points, duration: seconds, keyPrefix }) : undefined;
}

/** The four counters' points, windows and key prefixes for `limits` (a notice: one point per window). */
function counterSpecs(
  limits: ReplyLimits,
): Record<keyof Counters, { points: number; seconds: number; keyPrefix: string }> {
  return {
    user: { points: limits.userReplies, seconds: limits.userSeconds, keyPrefix: KEY_PREFIXES.user },
    server: { points: limits.serverReplies, seconds: limits.serverSeconds, keyPrefix: KEY_PREFIXES.server },
    userNotice: {
      points: limits.userReplies > 0 ? 1 : 0,
      seconds: limits.userSeconds,
      keyPrefix: KEY_PREFIXES.userNotice,
    },
    serverNotice: {
      points: limits.serverReplies > 0 ? 1 : 0,
      seconds: limits.serverSeconds,
      keyPrefix: KEY_PREFIXES.serverNotice,
    },
    commandNotice: {
      points: limits.userReplies > 0 || limits.serverReplies > 0 ? COMMAND_NOTICES : 0,
      seconds: limits.userReplies > 0 ? limits.userSeconds : limits.serverSeconds,
      keyPrefix: KEY_PREFIXES.commandNotice,
    },
  };
}

/** In-memory counters for `limits` (per process). */
export function memoryCounters(limits: ReplyLimits): Counters {
  const specs = counterSpecs(limits);
  const make = (k: keyof Counters) => memoryLimiter(specs[k].points, specs[k].seconds, specs[k].keyPrefix);
  return {
    user: make('user'),
    server: make('server'),
    userNotice: make('userNotice'),
    serverNotice: make('serverNotice'),
    commandNotice: make('commandNotice'),
  };
}

/**
 * Counters on a connected node-redis client (`createClient` of @keyv/redis, with `disableOfflineQueue`), each insured by an in-memory one: while Redis fails or takes longer
 * than `timeoutMs`, the same limits are counted in this process.
 */
export function redisCounters(client: object, limits: ReplyLimits, timeoutMs = DEFAULT_REDIS_TIMEOUT_MS): Counters {
  const specs = counterSpecs(limits);
  const make = (k: keyof Counters): Counter | undefined => {
    const { points, seconds, keyPrefix } = specs[k];
    const insuranceLimiter = memoryLimiter(points, seconds, keyPrefix);
    if (!insuranceLimiter) return undefined;
    const redis = new RateLimiterRedis({
      storeClient: client,
      useRedisPackage: true,
      rejectIfRedisNotReady: true,
      points,
      duration: seconds,
      keyPrefix,
      insuranceLimiter,
    });
    return new RLWrapperTimeouts({ limiter: redis, timeoutMs });
  };
  return {
    user: make('user'),
    server: make('server'),
    userNotice: make('userNotice'),
    serverNotice: make('serverNotice'),
    commandNotice: make('commandNotice'),
  };
}

export interface OpenLimiterOptions {
  log: Pick<Logger, 'warn'>;
  /** Redis connection timeout in ms (default 5000). */
  connectTimeoutMs?: number;
  /** How long a Redis count may take (default DEFAULT_REDIS_TIMEOUT_MS). */
  timeoutMs?: number;
}

/**
 * The limiter for STORAGE_URL: counts on Redis (its own connection) when the storage is Redis, in memory
 * otherwise. If Redis can't be reached at start-up, counts in memory and says so (the bot still starts).
 */
export async function openReplyLimiter(
  storageUrl: string,
  limits: ReplyLimits,
  options: OpenLimiterOptions,
): Promise<ReplyLimiter> {
  const { log } = options;
  const location = parseStorageUrl(storageUrl);
  if (location.kind !== 'redis' || (limits.userReplies <= 0 && limits.serverReplies <= 0)) {
    return createReplyLimiter({ counters: memoryCounters(limits), log, store: 'memory' });
  }
  let client: RedisClient;
  try {
    const { connectRedis } = await import('../storage/redis.js'); // loaded only for Redis (start-up time)
    [client] = (await connectRedis({
      url: location.url,
      ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
      // Connection trouble shows as counter failures (answered in memory); the storage reports Redis errors already.
      onError: () => undefined,
    })) as [RedisClient];
  } catch (error) {
    log.warn(
      { err: error, redis: redactUrl(location.url) },
      'rate limits: could not reach Redis; counting in memory in this process',
    );
    return createReplyLimiter({ counters: memoryCounters(limits), log, store: 'memory' });
  }
  return createReplyLimiter({
    counters: redisCounters(client, limits, options.timeoutMs),
    log,
    store: redactUrl(location.url),
    close: async () => {
      if (client.isOpen) await client.close();
    },
  });
}
