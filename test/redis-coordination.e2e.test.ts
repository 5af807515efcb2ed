/**
 * End to end: two bot processes (the real entry point) with STORAGE_URL=redis://… and one models folder, against
 * the fake Discord. A version of the base committed to the folder and announced on Redis is loaded by both (every
 * process applies base swaps; a server's version only where that server is held, swap-bus.test.ts and the shards
 * e2e); a damaged one is refused by both, each keeping its model and reporting it on the channel; both stop cleanly
 * on SIGTERM.
 *
 * Not ShardingManager (SHARDS is not built yet): two plain processes, which is what shards on one machine are.
 * Redis: REDIS_URL (set by .ci/run). Without it this is skipped locally; with CI=true it fails.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@keyv/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_SCOPE, createRegistry } from '../src/service/registry.js';
import { DEFAULT_SWAP_CHANNEL, parseSwapMessage, type SwapMessage } from '../src/service/swap-bus.js';
import { startFakeDiscord, type FakeDiscord } from './fake-discord/index.js';
import { startEntryProcess, type EntryProcess } from './helpers/entry-process.js';

const REDIS_URL = process.env.REDIS_URL?.trim() || undefined;
const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.GfAkE0.fake-token-for-shared-e2e';

it.runIf(process.env.CI === 'true')('has a Redis for the two-process test in CI (REDIS_URL)', () => {
  expect(REDIS_URL, 'CI must start redis-server and export REDIS_URL (.ci/run)').toBeDefined();
});

describe.skipIf(!REDIS_URL)('two bot processes on one Redis and one models folder', () => {
  let fake: FakeDiscord;
  let root: string;
  let bots: EntryProcess[] = [];
  let subscriber: ReturnType<typeof createClient>;
  let publisher: ReturnType<typeof createClient>;
  const heard: SwapMessage[] = [];
  let onHeard: () => void = () => undefined;

  async function heardWhere(pred: (ms: SwapMessage[]) => boolean, timeoutMs = 30_000): Promise<void> {
    const start = Date.now();
    while (!pred(heard)) {
      if (Date.now() - start > timeoutMs) throw new Error(`not heard within ${timeoutMs} ms: ${JSON.stringify(heard)}`);
      await new Promise<void>((resolve) => {
        onHeard = resolve;
        setTimeout(resolve, 200);
      });
    }
  }

  async function commitCopy(scope: string) {
    const registry = createRegistry({ root });
    const tmp = await registry.tempDir(scope);
    await cp('models/base', tmp, { recursive: true });
    return registry.commit(scope, tmp, { test: true });
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'babble-shared-e2e-'));
    fake = await startFakeDiscord({ token: TOKEN });
    subscriber = createClient({ url: REDIS_URL! });
    publisher = createClient({ url: REDIS_URL! });
    await subscriber.connect();
    await publisher.connect();
    await subscriber.subscribe(DEFAULT_SWAP_CHANNEL, (text) => {
      const m = parseSwapMessage(text);
      if (m && m.scope === BASE_SCOPE) heard.push(m);
      onHeard();
    });
    const env = { DISCORD_TOKEN: TOKEN, DISCORD_API_URL: fake.apiUrl, STORAGE_URL: REDIS_URL!, MODELS_DIR: root };
    bots = [startEntryProcess({ env }), startEntryProcess({ env })];
    await Promise.all(bots.map((b) => b.waitForLog((l) => l.msg === 'serving', 120_000)));
  }, 150_000);

  afterAll(async () => {
    for (const b of bots) if (b.child.exitCode === null && b.child.signalCode === null) b.child.kill('SIGKILL');
    if (subscriber?.isOpen) await subscriber.close();
    if (publisher?.isOpen) await publisher.close();
    await fake?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  /** The bots' names on the channel (other tests' processes may share this Redis and channel). */
  const botOrigins = () =>
    bots.map((b) => b.logs.find((l) => l.msg === 'shared training lock and model swaps on Redis')?.origin);
  const fromBots = (ms: SwapMessage[]) => ms.filter((m) => botOrigins().includes(m.origin));

  it('opens the shared lock and swap channel in each process', () => {
    const origins = botOrigins();
    expect(origins.every((o) => typeof o === 'string')).toBe(true);
    expect(new Set(origins).size).toBe(2);
  });

  it('loads an announced version of the base in both processes', async () => {
    const v1 = await commitCopy(BASE_SCOPE);
    await publisher.publish(
      DEFAULT_SWAP_CHANNEL,
      JSON.stringify({ type: 'swap', scope: BASE_SCOPE, version: v1.version, origin: 'test' }),
    );
    await heardWhere((ms) => fromBots(ms).filter((m) => m.type === 'loaded' && m.version === v1.version).length === 2);
    for (const b of bots)
      await b.waitForLog(
        (l) => l.msg === 'model swap applied' && l.scope === BASE_SCOPE && l.version === v1.version,
        10_000,
      );
  }, 60_000);

  it('keeps the old version in both processes when the new one is damaged, and each reports it', async () => {
    const v2 = await commitCopy(BASE_SCOPE);
    const weights = join(v2.dir, 'weights.bin');
    const bytes = await readFile(weights);
    bytes[200] = (bytes[200]! + 1) % 256;
    await writeFile(weights, bytes);
    await publisher.publish(
      DEFAULT_SWAP_CHANNEL,
      JSON.stringify({ type: 'swap', scope: BASE_SCOPE, version: v2.version, origin: 'test' }),
    );
    await heardWhere(
      (ms) => fromBots(ms).filter((m) => m.type === 'load-failed' && m.version === v2.version).length === 2,
    );
    const origins = fromBots(heard)
      .filter((m) => m.type === 'load-failed')
      .map((m) => m.origin);
    expect(new Set(origins).size).toBe(2);
    for (const b of bots)
      await b.waitForLog((l) => l.level === 50 && /still serving the previous one/.test(String(l.msg)), 10_000);
  }, 60_000);

  it('both stop with exit code 0 on SIGTERM', async () => {
    for (const b of bots) b.child.kill('SIGTERM');
    const exits = await Promise.all(bots.map((b) => b.exited));
    expect(exits.map((e) => e.code)).toEqual([0, 0]);
  }, 30_000);
});
