/**
 * The per-server training lock: one training per scope across every process that shares the storage.
 *
 * In memory (one process, the default) a taken scope is simply refused until released. On Redis (shards, several
 * processes) a lock is `SET key token NX PX ttl`: the key expires by itself if its holder dies, the holder renews
 * it while it trains (a Lua script that extends it only while the token is still its own), and releases it with a
 * Lua script that deletes the key only if the token matches — so a holder whose lock expired and was taken by
 * another process can never delete the other's lock. A holder whose renewal finds the token gone has lost the
 * lock: its `lost` signal aborts (the training must then not swap anything in).
 */
import { randomBytes } from 'node:crypto';

export interface LockHandle {
  readonly scope: string;
  /** This holder's token (random). */
  readonly token: string;
  /** Aborts when the lock was found taken by someone else or expired (renewal failed to find our token). */
  readonly lost: AbortSignal;
  /** Stops renewing and releases the lock if it is still ours; true when it was. Safe to call twice. */
  release(): Promise<boolean>;
}

export interface TrainingLocks {
  readonly kind: 'memory' | 'redis';
  /** Takes the scope's lock, or null when another holder has it. Rejects when the lock store fails. */
  acquire(scope: string): Promise<LockHandle | null>;
}

/** A new random token. */
export function lockToken(): string {
  return randomBytes(16).toString('hex');
}

/** One process: a set of taken scopes. */
export function memoryLocks(): TrainingLocks {
  const held = new Map<string, string>();
  return {
    kind: 'memory',
    acquire(scope) {
      if (held.has(scope)) return Promise.resolve(null);
      const token = lockToken();
      held.set(scope, token);
      const lost = new AbortController();
      return Promise.resolve({
        scope,
        token,
        lost: lost.signal,
        release() {
          if (held.get(scope) !== token) return Promise.resolve(false);
          held.delete(scope);
          return Promise.resolve(true);
        },
      });
    },
  };
}

/** What the Redis locks need of a node-redis client (`createClient` of @keyv/redis). */
export interface LockRedisClient {
  sendCommand(args: string[]): Promise<unknown>;
}

/** Deletes KEYS[1] only when its value is ARGV[1]; 1 when deleted. */
export const RELEASE_SCRIPT =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
/** Sets KEYS[1]'s time to live to ARGV[2] ms only when its value is ARGV[1]; 1 when renewed. */
export const RENEW_SCRIPT =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";

/** SET key token NX PX ttl: true when taken. */
export async function tryLock(client: LockRedisClient, key: string, token: string, ttlMs: number): Promise<boolean> {
  const reply = await client.sendCommand(['SET', key, token, 'NX', 'PX', String(Math.max(1, Math.round(ttlMs)))]);
  return reply === 'OK';
}

/** Deletes the key only if it still holds `token`; true when it did. */
export async function unlock(client: LockRedisClient, key: string, token: string): Promise<boolean> {
  return Number(await client.sendCommand(['EVAL', RELEASE_SCRIPT, '1', key, token])) === 1;
}

/** Extends the key's time to live only if it still holds `token`; true when it did. */
export async function renewLock(client: LockRedisClient, key: string, token: string, ttlMs: number): Promise<boolean> {
  return (
    Number(
      await client.sendCommand(['EVAL', RENEW_SCRIPT, '1', key, token, String(Math.max(1, Math.round(ttlMs)))]),
    ) === 1
  );
}

export interface RedisLocksOptions {
  client: LockRedisClient;
  /** Key prefix; the key is prefix + scope. Default "babble:train-lock:". */
  prefix?: string;
  /** The lock's time to live; a dead holder's lock frees itself after this. Default 60 000 ms. */
  ttlMs?: number;
  /** How often a holder renews. Default ttlMs / 3. */
  renewEveryMs?: number;
  /** A renewal that failed (Redis error) or found the lock gone. */
  onRenewError?: (scope: string, error: unknown) => void;
}

export const DEFAULT_LOCK_PREFIX = 'babble:train-lock:';

/** Locks shared by every process on one Redis. */
export function redisLocks(options: RedisLocksOptions): TrainingLocks {
  const { client } = options;
  const prefix = options.prefix ?? DEFAULT_LOCK_PREFIX;
  const ttlMs = options.ttlMs ?? 60_000;
  const renewEveryMs = options.renewEveryMs ?? Math.max(10, Math.floor(ttlMs / 3));
  return {
    kind: 'redis',
    async acquire(scope) {
      const key = prefix + scope;
      const token = lockToken();
      if (!(await tryLock(client, key, token, ttlMs))) return null;
      const lost = new AbortController();
      let released = false;
      let renewing: Promise<void> | undefined;
      const timer = setInterval(() => {
        if (renewing || released) return;
        renewing = renewLock(client, key, token, ttlMs)
          .then((ok) => {
            if (!ok && !released) {
              lost.abort(new Error(`the training lock for ${scope} expired or was taken`));
              clearInterval(timer);
              options.onRenewError?.(scope, lost.signal.reason);
            }
          })
          // A Redis error is not a loss yet: the next renewal may still find our token before the lock expires.
          .catch((error: unknown) => options.onRenewError?.(scope, error))
          .finally(() => {
            renewing = undefined;
          });
      }, renewEveryMs);
      timer.unref();
      return {
        scope,
        token,
        lost: lost.signal,
        async release() {
          if (released) return false;
          released = true;
          clearInterval(timer);
          await renewing;
          return unlock(client, key, token);
        },
      };
    },
  };
}
