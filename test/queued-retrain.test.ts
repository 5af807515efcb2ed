/**
 * The training queue end to end on a real redis-server: a bot host's queued manager (queued-retrain.ts) and trainer
 * hosts' workers (worker.ts) with a stub retrain manager — progress and the outcome come back, one job per server
 * across bot hosts, cancel reaches the worker or removes a waiting job, and a trainer host SIGKILLed mid-job ends
 * the run with the fixed text, its training lock freed, and the next /retrain succeeding on another worker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createClient } from '@keyv/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RETRAIN_FAILURE } from '../src/service/failure.js';
import { DEFAULT_LOCK_PREFIX, redisLocks } from '../src/service/lock.js';
import type { RetrainEvent, RetrainManager } from '../src/service/retrain.js';
import { createQueuedRetrain } from '../src/training-queue/queued-retrain.js';
import { startTrainerWorker, type TrainerWorker } from '../src/training-queue/worker.js';
import { hasRedisServer, startLocalRedis, type LocalRedis } from './helpers/redis-server.js';
import { stubManager, swapped, type StubManager } from './helpers/queue-stub.js';

const run = hasRedisServer() || process.env.CI === 'true';
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const STALLED_MS = 1500;

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.runIf(run)('the training queue', () => {
  let redis: LocalRedis;
  let client: ReturnType<typeof createClient>;
  const closers: (() => Promise<unknown>)[] = [];
  let scopeCount = 100;
  const nextScope = () => String(scopeCount++);

  beforeAll(async () => {
    redis = await startLocalRedis();
    client = createClient({ url: redis.url });
    await client.connect();
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await client?.close();
    await redis?.stop();
  });

  const shared = () => ({
    releaseLock: async (scope: string, token: string) =>
      Number(
        await client.sendCommand([
          'EVAL',
          "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end",
          '1',
          DEFAULT_LOCK_PREFIX + scope,
          token,
        ]),
      ) === 1,
    publish: async (channel: string, message: string) => {
      await client.publish(channel, message);
    },
  });

  async function botHost(swaps: string[] = []): Promise<RetrainManager> {
    const manager = await createQueuedRetrain({
      redisUrl: redis.url,
      stalledMs: STALLED_MS,
      shared: shared(),
      progressIntervalMs: 0,
      pollMs: 500,
      closeWaitMs: 500,
      log: silent,
      onSwapped: (scope, version) => {
        swaps.push(`${scope}:${version}`);
      },
    });
    closers.push(() => manager.close());
    return manager;
  }

  /** A trainer host in this process; `close` it at the end of the test (it would take later tests' jobs). */
  async function trainerHost(): Promise<{ worker: TrainerWorker; stub: StubManager; close(): Promise<void> }> {
    const subscriber = client.duplicate();
    await subscriber.connect();
    let stub!: StubManager;
    const worker = await startTrainerWorker({
      redisUrl: redis.url,
      concurrency: 2,
      stalledMs: STALLED_MS,
      subscribe: (channel, listener) => subscriber.subscribe(channel, listener),
      log: silent,
      createManager: async (report) => {
        stub = stubManager(report(redisLocks({ client })));
        return stub;
      },
    });
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      await worker.close();
      await subscriber.close();
    };
    closers.push(close);
    return { worker, stub, close };
  }

  it('runs a job on a trainer host and brings back its progress and outcome, chart bytes and all', async () => {
    const swaps: string[] = [];
    const bot = await botHost(swaps);
    const { stub, close } = await trainerHost();
    const scope = nextScope();
    const events: RetrainEvent[] = [];
    const start = bot.start({ scope, requestedBy: '42' });
    start.job.subscribe((e) => events.push(e));
    await until(() => stub.started.includes(scope), 'the worker to start the job');
    await until(() => bot.running().includes(scope), 'the bot to see the job running');
    stub.progress(scope, 3);
    await until(() => events.some((e) => e.type === 'progress'), 'a progress event');
    stub.finish(scope, swapped(4));
    const outcome = await start.job.result;
    expect(outcome.status).toBe('swapped');
    expect(outcome.status === 'swapped' ? [...outcome.chart] : []).toEqual([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
    expect(swaps).toEqual([`${scope}:4`]);
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['started', 'progress', 'finished']));
    await close();
  });

  it('allows one job per server across bot hosts: the second host is told the server is busy', async () => {
    const [a, b] = [await botHost(), await botHost()];
    const scope = nextScope();
    const first = a.start({ scope });
    await until(() => first.job.position !== undefined, 'the first job to be queued');
    const second = b.start({ scope });
    expect(await second.job.result).toEqual({ status: 'failed', reason: RETRAIN_FAILURE.busyElsewhere });
    first.job.cancel();
    expect(await first.job.result).toEqual({ status: 'cancelled' });
  });

  it('removes a waiting job on cancel, and cancels a running one on the trainer host that runs it', async () => {
    const bot = await botHost();
    const waiting = bot.start({ scope: nextScope() });
    await until(() => waiting.job.position !== undefined, 'the job to be queued');
    waiting.job.cancel();
    expect(await waiting.job.result).toEqual({ status: 'cancelled' });

    const { stub, close } = await trainerHost();
    const scope = nextScope();
    const running = bot.start({ scope });
    await until(() => stub.started.includes(scope), 'the worker to start the job');
    await until(() => bot.running().includes(scope), 'the bot to see the job running');
    expect(bot.cancel(scope)).toBe(true);
    expect(await running.job.result).toEqual({ status: 'cancelled' });
    expect(stub.cancelled).toContain(scope);
    await close();
  });

  it('tells the admin when the trainer host dies mid-job, frees its lock, and the next run succeeds', {
    timeout: 60_000,
  }, async () => {
    const bot = await botHost();
    const scope = nextScope();
    const child: ChildProcess = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/helpers/queue-worker-process.ts', redis.url, String(STALLED_MS)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    closers.push(async () => child.kill('SIGKILL'));
    await until(() => out.includes('"ready"'), 'the worker process', 30_000);
    const doomed = bot.start({ scope });
    await until(() => out.includes(`"started":"${scope}"`), 'the job to start in the worker process');
    await until(async () => (await client.get(DEFAULT_LOCK_PREFIX + scope)) !== null, 'the lock to be taken');
    await until(() => bot.running().includes(scope), 'the bot to see the job running');
    child.kill('SIGKILL');
    expect(await doomed.job.result).toEqual({ status: 'failed', reason: RETRAIN_FAILURE.trainerLost });
    expect(await client.get(DEFAULT_LOCK_PREFIX + scope)).toBeNull();

    const { stub, close } = await trainerHost();
    const again = bot.start({ scope });
    await until(() => stub.started.includes(scope), 'a new worker to take the next run');
    stub.finish(scope, swapped(1));
    expect((await again.job.result).status).toBe('swapped');
    await close();
  });
});
