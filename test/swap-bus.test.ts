/**
 * Model swaps announced across shards on a real redis-server: two "shards" (two registries on one shared models
 * folder, two model caches, two buses), a commit and a rollback in one served by the other, and a shard that
 * cannot load the new version keeping its old one and reporting it.
 *
 * Redis: REDIS_URL (set by .ci/run). Without it the Redis part is skipped locally; with CI=true it fails.
 */
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@keyv/redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createModelCache, type ModelCache } from '../src/service/model-cache.js';
import { createRegistry, type ModelRegistry } from '../src/service/registry.js';
import {
  announcingModels,
  openSwapBus,
  parseSwapMessage,
  type SwapBus,
  type SwapMessage,
} from '../src/service/swap-bus.js';
import { type RecordedLine, recorder } from './helpers/log-recorder.js';

const REDIS_URL = process.env.REDIS_URL?.trim() || undefined;
const G1 = '200000000000000001';
const G2 = '200000000000000002';

describe('parseSwapMessage', () => {
  it('reads the four kinds of message and refuses malformed ones', () => {
    expect(parseSwapMessage(JSON.stringify({ type: 'swap', scope: G1, version: 2, origin: 'shard 0' }))).toEqual({
      type: 'swap',
      scope: G1,
      version: 2,
      origin: 'shard 0',
    });
    expect(
      parseSwapMessage(JSON.stringify({ type: 'load-failed', scope: G1, version: 2, origin: 'x', reason: 'bad hash' }))
        ?.type,
    ).toBe('load-failed');
    expect(parseSwapMessage(JSON.stringify({ type: 'loaded', scope: G1, version: 0, origin: 'x' }))?.type).toBe(
      'loaded',
    );
    expect(parseSwapMessage(JSON.stringify({ type: 'not-held', scope: G1, version: 3, origin: 'x' }))?.type).toBe(
      'not-held',
    );
    for (const bad of [
      'not json',
      '[]',
      'null',
      JSON.stringify({ type: 'swap', scope: G1, version: -1, origin: 'x' }),
      JSON.stringify({ type: 'swap', scope: G1, version: 1.5, origin: 'x' }),
      JSON.stringify({ type: 'load-failed', scope: G1, version: 1, origin: 'x' }),
      JSON.stringify({ type: 'other', scope: G1, version: 1, origin: 'x' }),
    ]) {
      expect(parseSwapMessage(bad)).toBeUndefined();
    }
  });
});

it.runIf(process.env.CI === 'true')('has a Redis to test swap announcements against in CI (REDIS_URL)', () => {
  expect(REDIS_URL, 'CI must start redis-server and export REDIS_URL (.ci/run)').toBeDefined();
});

interface Shard {
  registry: ModelRegistry;
  /** The bare cache. */
  cache: ModelCache;
  /** The cache the bot uses (installs are announced). */
  models: ModelCache;
  bus: SwapBus;
  received: SwapMessage[];
  lines: RecordedLine[];
  /** Resolves with the next message this shard receives that matches. */
  next(match: (m: SwapMessage) => boolean): Promise<SwapMessage>;
}

describe.skipIf(!REDIS_URL)('swap announcements on Redis (a real redis-server)', () => {
  let work: string;
  const clients: { isOpen: boolean; close(): Promise<unknown> }[] = [];
  const buses: SwapBus[] = [];

  async function connect() {
    const c = createClient({ url: REDIS_URL!, disableOfflineQueue: true });
    c.on('error', () => undefined);
    await c.connect();
    clients.push(c);
    return c;
  }

  async function shard(origin: string, root: string, channel: string): Promise<Shard> {
    const registry = createRegistry({ root });
    const cache = createModelCache({ registry, baseDir: 'models/base' });
    const publisher = await connect();
    const subscriber = await connect();
    const received: SwapMessage[] = [];
    const waiters: { match: (m: SwapMessage) => boolean; resolve: (m: SwapMessage) => void }[] = [];
    const { lines, log } = recorder();
    const bus = await openSwapBus({
      publisher,
      subscriber: {
        subscribe: (ch, l) => subscriber.subscribe(ch, l),
        unsubscribe: (ch) => subscriber.unsubscribe(ch),
      },
      origin,
      registry,
      models: cache,
      channel,
      log,
      onMessage: (m) => {
        received.push(m);
        for (const w of waiters.splice(0)) {
          if (w.match(m)) w.resolve(m);
          else waiters.push(w);
        }
      },
    });
    buses.push(bus);
    return {
      registry,
      cache,
      models: announcingModels(cache, bus, log),
      bus,
      received,
      lines,
      next: (match) => new Promise((resolve) => waiters.push({ match, resolve })),
    };
  }

  /** Two shards on one models folder and one channel. */
  async function twoShards(): Promise<[Shard, Shard]> {
    const root = join(work, randomBytes(4).toString('hex'));
    const channel = `test-swaps-${randomBytes(6).toString('hex')}`;
    return [await shard('shard 0', root, channel), await shard('shard 1', root, channel)];
  }

  /** Commits a copy of the shipped model as the scope's next version, in `s`'s registry. */
  async function commitCopy(s: Shard, scope: string) {
    const tmp = await s.registry.tempDir(scope);
    await cp('models/base', tmp, { recursive: true });
    return s.registry.commit(scope, tmp, { test: true });
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'babble-swap-'));
  });
  afterEach(async () => {
    for (const b of buses.splice(0)) await b.close();
    for (const c of clients.splice(0)) if (c.isOpen) await c.close();
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('serves a version committed in one shard in the other, and a rollback too', async () => {
    const [a, b] = await twoShards();
    expect((await b.models.modelFor(G1)).label).toBe('base');
    const committed = await commitCopy(a, G1);
    const applied = b.next((m) => m.type === 'swap' && m.scope === G1);
    const heard = a.next((m) => m.type === 'loaded');
    a.models.install(G1, committed.version, committed.model);
    expect(await applied).toMatchObject({ type: 'swap', scope: G1, version: 1, origin: 'shard 0' });
    const served = await b.models.modelFor(G1);
    expect(served.label).toBe('1');
    expect(served.model).not.toBe(committed.model); // loaded by shard 1 itself
    expect(await heard).toMatchObject({ type: 'loaded', scope: G1, version: 1, origin: 'shard 1' });
    expect((await b.models.modelFor(G2)).label).toBe('base');

    const back = await a.registry.rollback(G1, 0);
    const rolled = b.next((m) => m.type === 'swap' && m.version === 0);
    a.models.install(G1, back.version, back.model);
    await rolled;
    expect((await b.models.modelFor(G1)).label).toBe('base');
    // The announcing shard never hears its own swap.
    expect(a.received.filter((m) => m.type === 'swap')).toEqual([]);
  });

  it('loads nothing for a server it does not hold: reports not-held and reads the pointer on its next use', async () => {
    const [a, b] = await twoShards();
    expect((await b.models.modelFor(G2)).label).toBe('base'); // shard 1 serves another server
    const v1 = await commitCopy(a, G1);
    const report = a.next((m) => m.type !== 'swap' && m.scope === G1);
    a.models.install(G1, v1.version, v1.model);
    expect(await report).toMatchObject({ type: 'not-held', scope: G1, version: 1, origin: 'shard 1' });
    expect(b.cache.cached()).toEqual([G2]); // nothing installed, nothing evicted
    expect(b.lines.some((l) => l.msg === 'model swap applied')).toBe(false);
    expect((await b.models.modelFor(G1)).label).toBe('1');
  });

  it('keeps serving the old version in a shard that cannot load the new one, and reports it to the others', async () => {
    const [a, b] = await twoShards();
    expect((await b.models.modelFor(G1)).label).toBe('base'); // shard 1 holds the server
    const v1 = await commitCopy(a, G1);
    const first = b.next((m) => m.type === 'swap');
    a.models.install(G1, v1.version, v1.model);
    await first;
    const before = await b.models.modelFor(G1);
    expect(before.label).toBe('1');

    const v2 = await commitCopy(a, G1);
    // Damage version 2 on disk after shard 0 loaded it (same size, other bytes): shard 1's load checks every hash.
    const weights = join(v2.dir, 'weights.bin');
    const bytes = await readFile(weights);
    bytes[100] = (bytes[100]! + 1) % 256;
    await writeFile(weights, bytes);
    const failed = a.next((m) => m.type === 'load-failed');
    const second = b.next((m) => m.type === 'swap' && m.version === 2);
    a.models.install(G1, v2.version, v2.model);
    await second;
    const report = await failed;
    expect(report).toMatchObject({ type: 'load-failed', scope: G1, version: 2, origin: 'shard 1' });
    expect(report.type === 'load-failed' && report.reason.length).toBeGreaterThan(0);
    const after = await b.models.modelFor(G1);
    expect(after.label).toBe('1');
    expect(after.model).toBe(before.model);
    expect(b.lines.some((l) => l.level === 'error' && /still serving the previous one/.test(l.msg))).toBe(true);
    expect(a.lines.some((l) => l.level === 'warn' && /could not load/.test(l.msg))).toBe(true);
    expect((await a.models.modelFor(G1)).label).toBe('2');
  });
});
