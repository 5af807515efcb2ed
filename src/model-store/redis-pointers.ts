/**
 * The per-server `current` pointer of the model store, in Redis: the version a server serves (0 = the base).
 * It moves only by compare-and-set (a Lua script: set to `next` only if it still holds `expected`), so of two
 * writers that read the same pointer only one can win. Version numbers come from an INCR counter per server, so
 * two trainers never upload to the same version.
 */
import { errorMessage } from '../error-message.js';
import { scanPattern, type RedisClient } from '../storage/redis.js';
import { StoreUnavailableError } from './object-store.js';

export const POINTER_PREFIX = 'babble:model-current:';
export const COUNTER_PREFIX = 'babble:model-next:';

/** Sets KEYS[1] to ARGV[2] when it holds ARGV[1] ("" = absent); 1 when set. */
export const CAS_SCRIPT = `local cur = redis.call('GET', KEYS[1])
if (cur == false and ARGV[1] == '') or cur == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 end
return 0`;

export interface PointerStore {
  /** The version the pointer names; undefined when there is none. Rejects when Redis fails. */
  get(scope: string): Promise<number | undefined>;
  /** Moves the pointer from `expected` (undefined = absent) to `next`; false when it held something else. */
  compareAndSet(scope: string, expected: number | undefined, next: number): Promise<boolean>;
  /** A version number never handed out before for the scope, above `atLeast`. */
  nextVersion(scope: string, atLeast: number): Promise<number>;
  /** The pointers of every scope that has one. */
  scopes(): Promise<string[]>;
  remove(scope: string): Promise<void>;
}

function parseVersion(text: unknown): number | undefined {
  if (typeof text !== 'string' || !/^\d{1,9}$/.test(text)) return undefined;
  return Number(text);
}

/**
 * The pointers of one store (`namespace`: its bucket and prefix), so that bots on other stores can share the Redis:
 * keys `babble:model-current:<namespace>:<scope>` and `babble:model-next:<namespace>:<scope>`.
 */
export function redisPointers(client: Pick<RedisClient, 'sendCommand'>, namespace: string): PointerStore {
  const send = (args: string[]) =>
    client.sendCommand(args).catch((err: unknown) => {
      throw new StoreUnavailableError(`Redis did not answer ${args[0]}: ${errorMessage(err)}`, { cause: err });
    });
  const pointerKey = (scope: string) => `${POINTER_PREFIX}${namespace}:${scope}`;
  const counterKey = (scope: string) => `${COUNTER_PREFIX}${namespace}:${scope}`;
  return {
    async get(scope) {
      return parseVersion(await send(['GET', pointerKey(scope)]));
    },
    async compareAndSet(scope, expected, next) {
      const reply = await send([
        'EVAL',
        CAS_SCRIPT,
        '1',
        pointerKey(scope),
        expected === undefined ? '' : String(expected),
        String(next),
      ]);
      return Number(reply) === 1;
    },
    async nextVersion(scope, atLeast) {
      for (;;) {
        const n = Number(await send(['INCR', counterKey(scope)]));
        if (n > atLeast) return n;
        // The counter was lost (a flushed Redis) while versions remain in the store: jump past them.
        await send(['SET', counterKey(scope), String(atLeast)]);
      }
    },
    async scopes() {
      const found = new Set<string>();
      let cursor = '0';
      do {
        const match = `${scanPattern(pointerKey(''))}`;
        const reply = (await send(['SCAN', cursor, 'MATCH', match, 'COUNT', '500'])) as unknown as [string, string[]];
        cursor = String(reply[0]);
        for (const key of reply[1]) found.add(String(key).slice(pointerKey('').length));
      } while (cursor !== '0');
      return [...found];
    },
    async remove(scope) {
      await send(['DEL', pointerKey(scope), counterKey(scope)]);
    },
  };
}
