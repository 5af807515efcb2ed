/**
 * The shared state of several bot processes on one Redis: the training lock and swap announcements, opened the
 * way the bot opens them, and a clear error (password hidden) when Redis can't be reached; and the versions served
 * reconciled with the pointers — a pointer moved with no announcement at all is served within the interval, and a
 * subscription connection Redis dropped (CLIENT KILL TYPE pubsub, on a private redis-server) or a restarted
 * redis-server reconciles on reconnect.
 *
 * Redis: REDIS_URL (set by .ci/run). Without it the Redis part is skipped locally; with CI=true it fails.
 */
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@keyv/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import { createModelCache } from '../src/service/model-cache.js';
import { createRegistry } from '../src/service/registry.js';
import { openSharedState } from '../src/service/redis-coordination.js';
import { hasRedisServer, startLocalRedis, type LocalRedis } from './helpers/redis-server.js';

const REDIS_URL = process.env.REDIS_URL?.trim() || undefined;
const G1 = '200000000000000001';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('names the Redis it could not reach, without its password', async () => {
  const registry = createRegistry({ root: join(tmpdir(), 'babble-shared-unused') });
  const error = await openSharedState({
    url: 'redis://:hunter2secret@127.0.0.1:1',
    registry,
    models: createModelCache({ registry, baseDir: 'models/base' }),
    log: silentLogger(),
    connectTimeoutMs: 500,
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  expect((error as Error).message).toMatch(/could not connect to redis:\/\/:\*\*\*@127\.0\.0\.1:1/);
  expect((error as Error).message).not.toContain('hunter2secret');
});

describe.skipIf(!REDIS_URL)('two processes sharing one Redis (a real redis-server)', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'babble-shared-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('shares the training lock and serves a swap made in one process in the other', async () => {
    const root = join(work, 'models');
    const tag = randomBytes(6).toString('hex');
    const open = async (origin: string) => {
      const registry = createRegistry({ root });
      const models = createModelCache({ registry, baseDir: 'models/base' });
      const shared = await openSharedState({
        url: REDIS_URL!,
        registry,
        models,
        log: silentLogger(),
        origin,
        lockPrefix: `test-${tag}:lock:`,
        channel: `test-${tag}:swaps`,
      });
      return { registry, shared };
    };
    const a = await open('one');
    const b = await open('two');
    try {
      const held = await a.shared.locks.acquire(G1);
      expect(held).not.toBeNull();
      expect(await b.shared.locks.acquire(G1)).toBeNull();
      expect(await held!.release()).toBe(true);
      const other = await b.shared.locks.acquire(G1);
      expect(other).not.toBeNull();
      await other!.release();

      expect((await b.shared.models.modelFor(G1)).label).toBe('base');
      const tmp = await a.registry.tempDir(G1);
      await cp('models/base', tmp, { recursive: true });
      const committed = await a.registry.commit(G1, tmp, {});
      a.shared.models.install(G1, committed.version, committed.model);
      let label = '';
      for (let i = 0; i < 300 && label !== '1'; i++) {
        label = (await b.shared.models.modelFor(G1)).label;
        if (label !== '1') await sleep(10);
      }
      expect(label).toBe('1');
    } finally {
      await a.shared.close();
      await b.shared.close();
    }
  });
});

/** Log lines kept for the assertions. */
function recordingLog() {
  const lines: string[] = [];
  const keep = (obj: unknown, msg?: string) => {
    lines.push(typeof obj === 'string' ? obj : (msg ?? ''));
  };
  return { lines, log: { debug: keep, info: keep, warn: keep, error: keep } };
}

/** A process's shared state on `url` with its own registry over `root` (one models folder: the pointers). */
async function openProcess(url: string, root: string, tag: string, origin: string, reconcileIntervalMs: number) {
  const registry = createRegistry({ root });
  const models = createModelCache({ registry, baseDir: 'models/base' });
  const { lines, log } = recordingLog();
  const shared = await openSharedState({
    url,
    registry,
    models,
    log,
    origin,
    lockPrefix: `test-${tag}:lock:`,
    channel: `test-${tag}:swaps`,
    reconcileIntervalMs,
  });
  return { registry, shared, lines };
}

/** Moves G1's pointer to a new version in the registry alone: nothing is announced. */
async function commitSilently(registry: ReturnType<typeof createRegistry>): Promise<number> {
  const tmp = await registry.tempDir(G1);
  await cp('models/base', tmp, { recursive: true });
  return (await registry.commit(G1, tmp, {})).version;
}

/** Polls until the process serves `label` for G1 (or `tries` × 20 ms went by). */
async function servedLabel(models: { modelFor(g: string): Promise<{ label: string }> }, label: string, tries = 500) {
  let now = '';
  for (let i = 0; i < tries && now !== label; i++) {
    now = (await models.modelFor(G1)).label;
    if (now !== label) await sleep(20);
  }
  return now;
}

describe.skipIf(!REDIS_URL)('reconciling with the pointers (a real redis-server)', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'babble-reconcile-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('serves a version whose pointer moved with no swap message at all, within the reconcile interval', async () => {
    const root = join(work, 'models');
    const tag = randomBytes(6).toString('hex');
    const b = await openProcess(REDIS_URL!, root, tag, 'b', 1000);
    try {
      expect((await b.shared.models.modelFor(G1)).label).toBe('base');
      const version = await commitSilently(createRegistry({ root }));
      // One interval (1 s) plus the load; polled for at most 10 s on a busy machine.
      expect(await servedLabel(b.shared.models, String(version))).toBe(String(version));
      expect(b.lines).toContain('model reconcile: the pointer moved; loading its version');
    } finally {
      await b.shared.close();
    }
  });
});

describe.skipIf(!(hasRedisServer() || process.env.CI === 'true'))(
  'a dropped swap subscription (a private redis-server)',
  () => {
    let redis: LocalRedis;
    let work: string;
    beforeAll(async () => {
      [redis, work] = await Promise.all([startLocalRedis(), mkdtemp(join(tmpdir(), 'babble-reconnect-'))]);
    });
    afterAll(async () => {
      await redis?.stop();
      await rm(work, { recursive: true, force: true });
    });

    it('reconciles when the subscription connection comes back after Redis dropped it', async () => {
      const root = join(work, 'models');
      const b = await openProcess(redis.url, root, 'reconnect', 'b', 3_600_000); // no timed run during the test
      const admin = createClient({ url: redis.url });
      await admin.connect();
      try {
        expect((await b.shared.models.modelFor(G1)).label).toBe('base');
        const version = await commitSilently(createRegistry({ root }));
        const killed = await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
        expect(Number(killed)).toBeGreaterThanOrEqual(1);
        expect(await servedLabel(b.shared.models, String(version))).toBe(String(version));
        expect(b.lines).toContain(
          'shared state: the swap subscription reconnected; comparing the versions served with the pointers',
        );
      } finally {
        await admin.close();
        await b.shared.close();
      }
    });

    it('reconciles once Redis is back after a restart, for a pointer moved during the outage', async () => {
      const root = join(work, 'models-restart');
      const b = await openProcess(redis.url, root, 'restart', 'b', 3_600_000);
      try {
        expect((await b.shared.models.modelFor(G1)).label).toBe('base');
        await redis.stop();
        const version = await commitSilently(createRegistry({ root })); // no Redis to announce it on
        await redis.start();
        // node-redis retries with a growing pause (at most 5 s, storage/redis.ts): poll for up to 20 s.
        expect(await servedLabel(b.shared.models, String(version), 1000)).toBe(String(version));
        expect(b.lines).toContain(
          'shared state: the swap subscription reconnected; comparing the versions served with the pointers',
        );
      } finally {
        await b.shared.close();
      }
    });
  },
);
