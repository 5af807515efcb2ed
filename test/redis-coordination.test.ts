/**
 * The shared state of several bot processes on one Redis: the training lock and swap announcements, opened the
 * way the bot opens them, and a clear error (password hidden) when Redis can't be reached.
 *
 * Redis: REDIS_URL (set by .ci/run). Without it the Redis part is skipped locally; with CI=true it fails.
 */
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import { createModelCache } from '../src/service/model-cache.js';
import { createRegistry } from '../src/service/registry.js';
import { openSharedState } from '../src/service/redis-coordination.js';

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
