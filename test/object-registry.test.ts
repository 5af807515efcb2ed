/**
 * Model versions in an S3-compatible store (s3rver, in its own process) with the pointers in a real redis-server:
 * what one host commits another host serves byte for byte; of two concurrent commits exactly one wins; a commit
 * stopped before the pointer moved, a damaged object, a stopped S3 or a stopped Redis never serve anything but a
 * complete, verified version.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadModel, saveModel, type LoadedModel } from '../src/model/store.js';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { STORE_UNREACHABLE } from '../src/model-store/object-registry.js';
import { openConfiguredRegistry, type OpenedRegistry } from '../src/model-store/open-registry.js';
import { PointerMovedError, RegistryError, type ModelRegistry } from '../src/service/registry.js';
import { hasRedisServer, startLocalRedis, type LocalRedis } from './helpers/redis-server.js';
import { S3_BUCKET, startLocalS3, type LocalS3 } from './helpers/s3-server.js';

const GUILD = '222222222222222222';
const run = hasRedisServer() || process.env.CI === 'true';

describe.runIf(run)('the S3 model store', () => {
  let s3: LocalS3;
  let redis: LocalRedis;
  let work: string;
  let base: LoadedModel;
  const opened: OpenedRegistry[] = [];
  let prefixCount = 0;

  beforeAll(async () => {
    [s3, redis] = await Promise.all([startLocalS3(), startLocalRedis()]);
    // The AWS SDK reads the credentials from the process environment, as it does in the bot.
    for (const [k, v] of Object.entries(s3.env(''))) if (k.startsWith('AWS_')) vi.stubEnv(k, v);
    work = await mkdtemp(join(tmpdir(), 'babble-object-registry-'));
    base = await loadModel('models/base');
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    for (const o of opened) await o.close();
    await s3?.close();
    await redis?.stop();
    await rm(work, { recursive: true, force: true });
  });

  /** Two "hosts" on one store: same S3 prefix and Redis, each its own cache folder. */
  async function hosts(count = 2): Promise<ModelRegistry[]> {
    const prefix = `t${prefixCount++}`;
    const out: ModelRegistry[] = [];
    for (let i = 0; i < count; i++) {
      const config = parseConfig(
        {
          DISCORD_TOKEN: 'a.b.c',
          STORAGE_URL: redis.url,
          ...s3.env(prefix),
          MODEL_CACHE_DIR: join(work, prefix, `host-${i}`),
          MODEL_VERSIONS_KEPT: '2',
        },
        { requireModelDir: false },
      );
      const o = await openConfiguredRegistry(config, createLogger('silent'));
      opened.push(o);
      await o.registry.init();
      out.push(o.registry);
    }
    return out;
  }

  async function trained(registry: ModelRegistry, tag: string): Promise<string> {
    const tmp = await registry.tempDir(GUILD);
    await saveModel(tmp, base.weights, base.vocab, {
      version: tag,
      corpus: { sha256: '', chars: 0 },
      training: { tag },
    });
    return tmp;
  }

  async function servedTag(registry: ModelRegistry): Promise<string> {
    const r = await registry.resolve(GUILD);
    return r ? String((await loadModel(r.dir)).meta.training.tag) : 'base';
  }

  it('serves on a second host, byte for byte, what the first committed', async () => {
    const [a, b] = await hosts();
    const { version } = await a!.commit(GUILD, await trained(a!, 'one'), { who: 'alice' });
    expect(version).toBe(1);
    const onA = await a!.resolve(GUILD);
    const onB = await b!.resolve(GUILD);
    expect(onB?.version).toBe(1);
    expect(onB?.dir).not.toBe(onA?.dir);
    for (const file of ['model.json', 'weights.bin', 'vocab.json', 'meta.json', 'version.json'])
      expect(await readFile(join(onB!.dir, file))).toEqual(await readFile(join(onA!.dir, file)));
    expect(await b!.currentVersion(GUILD)).toBe(1);
    expect((await b!.history(GUILD)).versions[0]?.record?.details).toEqual({ who: 'alice' });
  });

  it('lets exactly one of two concurrent commits win; the loser is never served', async () => {
    const [a, b] = await hosts();
    const [tmpA, tmpB] = [await trained(a!, 'from-a'), await trained(b!, 'from-b')];
    const results = await Promise.allSettled([
      a!.commit(GUILD, tmpA, {}, { expectCurrent: 0 }),
      b!.commit(GUILD, tmpB, {}, { expectCurrent: 0 }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(PointerMovedError);
    const winner = results[0]!.status === 'fulfilled' ? 'from-a' : 'from-b';
    expect(await servedTag(a!)).toBe(winner);
    expect(await servedTag(b!)).toBe(winner);
  });

  it('never serves a version whose commit stopped after the upload, before the pointer moved', async () => {
    const [a, b] = await hosts();
    await a!.commit(GUILD, await trained(a!, 'old'), {});
    const crash = new Error('killed between upload and pointer');
    await expect(
      a!.commit(
        GUILD,
        await trained(a!, 'new'),
        {},
        {
          afterStep: (step) => {
            if (step === 'uploaded') throw crash;
          },
        },
      ),
    ).rejects.toThrow();
    expect(await servedTag(b!)).toBe('old');
    expect(await b!.currentVersion(GUILD)).toBe(1);
  });

  it('refuses a damaged object naming the file, and the host keeps what it has', async () => {
    const [a, b] = await hosts();
    const prefix = `t${prefixCount - 1}`;
    await a!.commit(GUILD, await trained(a!, 'good'), {});
    expect(await servedTag(b!)).toBe('good');
    await a!.commit(GUILD, await trained(a!, 'next'), {});
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    await client.send(
      new PutObjectCommand({ Bucket: S3_BUCKET, Key: `${prefix}/${GUILD}/2/weights.bin`, Body: Buffer.from('junk') }),
    );
    client.destroy();
    const err = await b!.resolve(GUILD).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(String((err as Error).message)).toMatch(/weights\.bin/);
    // Still on disk in B's cache, still complete: version 1 is what B was serving.
    expect(await readFile(join(work, prefix, 'host-1', GUILD, '1', 'meta.json'), 'utf8')).toContain('good');
  });

  it('serves cached versions while S3 is down, and refuses a commit with the fixed text', async () => {
    const [a, b] = await hosts();
    await a!.commit(GUILD, await trained(a!, 'cached'), {});
    expect(await servedTag(b!)).toBe('cached');
    await s3.stop();
    try {
      expect(await servedTag(b!)).toBe('cached');
      await expect(a!.tempDir(GUILD)).rejects.toThrow(STORE_UNREACHABLE); // a training is refused before it starts
      await expect(a!.rollback(GUILD)).rejects.toThrow(STORE_UNREACHABLE);
    } finally {
      await s3.start();
    }
    expect(await servedTag(b!)).toBe('cached');
  });

  it('rolls back, prunes to the versions kept, and erases a server everywhere', async () => {
    const [a, b] = await hosts();
    for (const tag of ['v1', 'v2', 'v3']) await a!.commit(GUILD, await trained(a!, tag), {});
    expect((await a!.history(GUILD)).versions.map((v) => v.version)).toEqual([3, 2]);
    const back = await b!.rollback(GUILD);
    expect(back.version).toBe(2);
    expect(await servedTag(a!)).toBe('v2');
    await expect(b!.rollback(GUILD, 1)).rejects.toThrow(/there is no version 1/);
    expect(await a!.scopes()).toContain(GUILD);
    const cachedOnB = join(work, `t${prefixCount - 1}`, 'host-1', GUILD, '2');
    expect(existsSync(cachedOnB)).toBe(true);
    expect(await a!.removeScope(GUILD)).toBe(true);
    expect(await b!.resolve(GUILD)).toBeNull();
    expect(existsSync(cachedOnB)).toBe(false); // the other host's copy goes when it learns of the erasure
    expect((await b!.history(GUILD)).versions).toEqual([]);
    expect(await a!.scopes()).not.toContain(GUILD);
  });

  it('with Redis down serves the version last known here from the cache, not a newer rolled-back one', async () => {
    const [a, b] = await hosts();
    await a!.commit(GUILD, await trained(a!, 'r1'), {});
    await a!.commit(GUILD, await trained(a!, 'r2'), {});
    await a!.rollback(GUILD, 1);
    expect(await servedTag(b!)).toBe('r1');
    expect(await servedTag(a!)).toBe('r1');
    await redis.stop();
    try {
      // A has both versions cached; it last read the pointer at 1 (the rollback), so 1 it serves.
      expect(await servedTag(a!)).toBe('r1');
      await expect(a!.currentVersion(GUILD)).rejects.toThrow(STORE_UNREACHABLE);
    } finally {
      await redis.start();
    }
  });
});
