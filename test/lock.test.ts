/**
 * The per-server training lock: in memory, and on a real redis-server (SET NX PX, token-checked release and
 * renewal), and two retrain managers sharing one Redis (two shards) training one server only once.
 *
 * Redis: REDIS_URL (set by .ci/run, which starts a redis-server). Without it the Redis part is skipped locally;
 * with CI=true a missing REDIS_URL fails.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@keyv/redis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { memoryLocks, redisLocks, tryLock, unlock, type LockRedisClient } from '../src/service/lock.js';
import { createModelCache } from '../src/service/model-cache.js';
import { createRegistry } from '../src/service/registry.js';
import { createRetrainManager, type RetrainManagerOptions, type RetrainOutcome } from '../src/service/retrain.js';
import { TrainingError } from '../src/training/trainer.js';

const REDIS_URL = process.env.REDIS_URL?.trim() || undefined;
const G1 = '200000000000000001';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('memory locks', () => {
  it('refuses a taken scope until it is released, and scopes are independent', async () => {
    const locks = memoryLocks();
    const a = await locks.acquire('s1');
    expect(a).not.toBeNull();
    expect(await locks.acquire('s1')).toBeNull();
    expect(await locks.acquire('s2')).not.toBeNull();
    expect(await a!.release()).toBe(true);
    expect(await a!.release()).toBe(false);
    expect(await locks.acquire('s1')).not.toBeNull();
  });
});

it.runIf(process.env.CI === 'true')('has a Redis to test the shared lock against in CI (REDIS_URL)', () => {
  expect(REDIS_URL, 'CI must start redis-server and export REDIS_URL (.ci/run)').toBeDefined();
});

describe.skipIf(!REDIS_URL)('Redis locks (a real redis-server)', () => {
  let client: ReturnType<typeof createClient>;
  let lockClient: LockRedisClient;
  let work: string;
  const prefix = () => `test-lock-${randomBytes(6).toString('hex')}:`;

  beforeAll(async () => {
    client = createClient({ url: REDIS_URL!, disableOfflineQueue: true });
    client.on('error', () => undefined);
    await client.connect();
    lockClient = { sendCommand: (args) => client.sendCommand(args) };
    work = await mkdtemp(join(tmpdir(), 'babble-lock-'));
  });
  afterAll(async () => {
    if (client?.isOpen) await client.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('takes a free key once (SET NX PX) and releases only with the right token', async () => {
    const key = `${prefix()}k`;
    expect(await tryLock(lockClient, key, 'tok-a', 10_000)).toBe(true);
    expect(await tryLock(lockClient, key, 'tok-b', 10_000)).toBe(false);
    expect(await unlock(lockClient, key, 'tok-b')).toBe(false);
    expect(await client.get(key)).toBe('tok-a');
    const pttl = await client.pTTL(key);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(10_000);
    expect(await unlock(lockClient, key, 'tok-a')).toBe(true);
    expect(await client.exists(key)).toBe(0);
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('lets another holder take a lock whose holder stopped renewing once it expired', async () => {
    const p = prefix();
    const dead = redisLocks({ client: lockClient, prefix: p, ttlMs: 10_000, renewEveryMs: 3_600_000 });
    const other = redisLocks({ client: lockClient, prefix: p, ttlMs: 10_000 });
    const first = await dead.acquire(G1);
    expect(first).not.toBeNull();
    expect(await other.acquire(G1)).toBeNull();
    // The lock carries its time to live; the rest of it passes at once (instead of being waited for) and Redis
    // drops the key.
    const pttl = await client.pTTL(p + G1);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(10_000);
    await client.pExpire(p + G1, 1);
    await vi.waitFor(async () => expect(await client.exists(p + G1)).toBe(0), { timeout: 10_000 });
    const second = await other.acquire(G1);
    expect(second).not.toBeNull();
    // The first holder's late release must not delete the second holder's lock.
    expect(await first!.release()).toBe(false);
    expect(await client.get(p + G1)).toBe(second!.token);
    expect(await second!.release()).toBe(true);
  });

  it('keeps a held lock alive past its time to live by renewing it', async () => {
    // The renewal timer runs on a fake clock: a renewal happens when the test says it is due, however busy the
    // machine is.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const p = prefix();
    const holder = redisLocks({ client: lockClient, prefix: p, ttlMs: 10_000, renewEveryMs: 1_000 });
    const other = redisLocks({ client: lockClient, prefix: p, ttlMs: 10_000 });
    const held = await holder.acquire(G1);
    // Most of its time to live is gone (set so, instead of waited for); the renewal gives it the whole of it again.
    await client.pExpire(p + G1, 2_000);
    vi.advanceTimersByTime(1_000);
    await vi.waitFor(async () => expect(await client.pTTL(p + G1)).toBeGreaterThan(2_000), { timeout: 10_000 });
    expect(await other.acquire(G1)).toBeNull();
    expect(held!.lost.aborted).toBe(false);
    expect(await held!.release()).toBe(true);
    expect(await other.acquire(G1)).not.toBeNull();
  });

  it('signals a holder that its lock was taken from it', async () => {
    const p = prefix();
    const errors: unknown[] = [];
    const holder = redisLocks({
      client: lockClient,
      prefix: p,
      ttlMs: 10_000,
      renewEveryMs: 20,
      onRenewError: (_s, e) => errors.push(e),
    });
    const held = await holder.acquire(G1);
    await client.set(p + G1, 'someone-else');
    await new Promise<void>((resolve) => held!.lost.addEventListener('abort', () => resolve(), { once: true }));
    expect(held!.lost.aborted).toBe(true);
    expect(errors.length).toBeGreaterThan(0);
    expect(await held!.release()).toBe(false);
    expect(await client.get(p + G1)).toBe('someone-else');
  });

  describe('two retrain managers on one Redis (two shards)', () => {
    /** A trainer that waits until it is cancelled; records which manager it ran in. */
    function blockingTrainer(name: string, calls: string[]): NonNullable<RetrainManagerOptions['runTraining']> {
      return (_job, options) => {
        calls.push(name);
        return new Promise((_resolve, reject) => {
          const stop = () => reject(new TrainingError('cancelled', 'cancelled'));
          if (options.signal?.aborted) stop();
          options.signal?.addEventListener('abort', stop, { once: true });
        });
      };
    }

    function manager(name: string, p: string, calls: string[], ttlMs = 10_000, renewEveryMs?: number) {
      const registry = createRegistry({ root: join(work, `${name}-${randomBytes(4).toString('hex')}`) });
      return createRetrainManager({
        registry,
        models: createModelCache({ registry, baseDir: 'models/base' }),
        trainingText: async () => Array.from({ length: 30 }, (_, i) => `me want pizza number ${i}`),
        baseCorpus: ['me want cookie', 'hi mama', 'where ball'],
        baseModelDir: 'models/base',
        minLines: 1,
        runTraining: blockingTrainer(name, calls),
        locks: redisLocks({
          client: lockClient,
          prefix: p,
          ttlMs,
          ...(renewEveryMs !== undefined ? { renewEveryMs } : {}),
        }),
      });
    }

    async function until(check: () => boolean): Promise<void> {
      for (let i = 0; i < 500 && !check(); i++) await sleep(10);
      expect(check()).toBe(true);
    }

    it('trains a server in one shard only; the other is told it is busy, and may train once the first ends', async () => {
      const p = prefix();
      const calls: string[] = [];
      const a = manager('a', p, calls);
      const b = manager('b', p, calls);
      const first = a.start({ scope: G1 });
      await until(() => calls.length === 1);
      const refused: RetrainOutcome = await b.start({ scope: G1 }).job.result;
      expect(refused.status).toBe('failed');
      expect(refused.status === 'failed' && refused.reason).toMatch(/already training/);
      expect(calls).toEqual(['a']);

      a.cancel(G1);
      expect((await first.job.result).status).toBe('cancelled');
      expect(await client.exists(p + G1)).toBe(0);
      const again = b.start({ scope: G1 });
      await until(() => calls.length === 2);
      expect(calls).toEqual(['a', 'b']);
      b.cancel(G1);
      expect((await again.job.result).status).toBe('cancelled');
      await Promise.all([a.close(), b.close()]);
    });

    it('stops a run whose lock was lost, without a swap, and says why', async () => {
      const p = prefix();
      const calls: string[] = [];
      const a = manager('a', p, calls, 10_000, 20);
      const run = a.start({ scope: G1 });
      await until(() => calls.length === 1);
      await client.set(p + G1, 'another-shard');
      const outcome = await run.job.result;
      expect(outcome.status).toBe('failed');
      expect(outcome.status === 'failed' && outcome.reason).toMatch(/lock was lost/);
      expect(await client.get(p + G1)).toBe('another-shard');
      await a.close();
    });
  });
});
