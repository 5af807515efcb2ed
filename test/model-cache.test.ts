/**
 * The per-server model cache: the base for servers without a model, each server's current version otherwise,
 * lazy loading into an LRU cache, swaps that leave other servers alone, and the base scope.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BabyLanguageModel } from '../src/model/baby.js';
import { loadModel, saveModel, type LoadedModel } from '../src/model/store.js';
import type { BabyWeights } from '../src/model/weights.js';
import { createModelCache, type ModelCache } from '../src/service/model-cache.js';
import { createRegistry, type ModelRegistry } from '../src/service/registry.js';

const A = '100000000000000001';
const B = '100000000000000002';
const C = '100000000000000003';
let base: LoadedModel;
let work: string;
let registry: ModelRegistry;
let cache: ModelCache;
let loads: string[];
let n = 0;

beforeAll(async () => {
  base = await loadModel('models/base');
  work = await mkdtemp(join(tmpdir(), 'babble-models-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});
beforeEach(() => {
  registry = createRegistry({ root: join(work, `root-${n++}`) });
  loads = [];
  cache = createModelCache({
    registry,
    baseDir: 'models/base',
    size: 2,
    load: (dir) => {
      loads.push(dir);
      return BabyLanguageModel.load(dir);
    },
  });
});

/** The base weights pushed towards one letter, so its babble is recognisably different. */
function leaning(letter: string): BabyWeights {
  const weights = base.weights as BabyWeights;
  const id = base.vocab.id(letter);
  const bias = new Float32Array(weights.dense.bias);
  bias[id] = bias[id]! + 6;
  return { ...weights, dense: { kernel: weights.dense.kernel, bias } };
}

async function commit(scope: string, letter: string): Promise<number> {
  const tmp = await registry.tempDir(scope);
  await saveModel(tmp, leaning(letter), base.vocab, {
    version: letter,
    corpus: { sha256: '', chars: 0 },
    training: { letter },
  });
  return (await registry.commit(scope, tmp, {})).version;
}

const babble = async (guild: string | null) =>
  (await cache.modelFor(guild)).model.generate('me ', { length: 40, rng: 7 });

describe('modelFor', () => {
  it('serves the shipped base to servers without a model and outside servers, loading it once', async () => {
    const a = await cache.modelFor(A);
    const none = await cache.modelFor(null);
    expect(a).toMatchObject({ scope: 'base', version: 0, label: 'base' });
    expect(a.model).toBe(none.model);
    expect(loads.filter((d) => d === 'models/base')).toHaveLength(1);
  });

  it("serves a server's current version, loaded lazily, once for concurrent callers", async () => {
    await commit(A, 'z');
    expect(loads).toEqual([]);
    const [x, y] = await Promise.all([cache.modelFor(A), cache.modelFor(A)]);
    expect(x.model).toBe(y.model);
    expect(x).toMatchObject({ scope: A, version: 1, label: '1' });
    expect(loads).toHaveLength(1);
    expect(x.model.meta?.training.letter).toBe('z');
  });

  it("swapping one server's model never changes another server's babble", async () => {
    const beforeB = await babble(B);
    const beforeA = await babble(A);
    await commit(A, 'z');
    const version = await commit(A, 'z');
    const fresh = await BabyLanguageModel.load(join(registry.root, A, String(version)));
    cache.install(A, version, fresh);
    expect(await babble(A)).not.toBe(beforeA);
    expect(await babble(B)).toBe(beforeB);
    expect((await cache.modelFor(B)).label).toBe('base');
  });

  it('a generation holding the old model finishes on it after a swap', async () => {
    const old = (await cache.modelFor(A)).model;
    const expected = old.generate('me ', { length: 40, rng: 3 });
    const version = await commit(A, 'q');
    cache.install(A, version, await BabyLanguageModel.load(join(registry.root, A, String(version))));
    expect((await cache.modelFor(A)).model).not.toBe(old);
    expect(old.generate('me ', { length: 40, rng: 3 })).toBe(expected);
  });

  it('evicts the least recently used server when full, and reloads it on demand', async () => {
    await commit(A, 'x');
    await commit(B, 'y');
    await commit(C, 'z');
    await cache.modelFor(A);
    await cache.modelFor(B);
    await cache.modelFor(A); // A is now the most recent
    await cache.modelFor(C); // evicts B
    expect(cache.cached()).toEqual([A, C]);
    const before = loads.length;
    await cache.modelFor(B);
    expect(loads.length).toBe(before + 1);
    expect(cache.cached()).toEqual([C, B]);
  });

  it('install with no model sends the server back to the base; invalidate re-reads the registry', async () => {
    const version = await commit(A, 'z');
    expect((await cache.modelFor(A)).version).toBe(version);
    await registry.rollback(A, 0);
    cache.install(A, 0, undefined);
    expect((await cache.modelFor(A)).label).toBe('base');
    await registry.rollback(A, version);
    cache.invalidate(A);
    expect((await cache.modelFor(A)).version).toBe(version);
  });

  it('tells the version it serves for a scope without loading anything or changing the LRU order', async () => {
    const version = await commit(A, 'x');
    expect(await cache.servedVersion(A)).toBeUndefined();
    expect(await cache.servedVersion('base')).toBeUndefined();
    expect(loads).toEqual([]);
    await cache.modelFor(A);
    await cache.modelFor(B); // no model of its own: served the base
    expect(await cache.servedVersion(A)).toBe(version);
    expect(await cache.servedVersion(B)).toBe(0);
    expect(await cache.servedVersion('base')).toBe(0);
    expect(cache.cached()).toEqual([A, B]);
    cache.install(A, 0, undefined);
    expect(await cache.servedVersion(A)).toBe(0);
    expect(loads).toHaveLength(2); // A's version and the shipped base
  });

  it('a retrained base serves every server without its own model, and not the others', async () => {
    await commit(A, 'x');
    const ownA = await babble(A);
    const baseVersion = await commit('base', 'z');
    cache.install('base', baseVersion, await BabyLanguageModel.load(join(registry.root, 'base', String(baseVersion))));
    expect((await cache.modelFor(B)).label).toBe(`base ${baseVersion}`);
    expect(await babble(B)).toBe(await babble(null));
    expect(await babble(A)).toBe(ownA);
  });
});

describe('serviceFor', () => {
  it("answers with the server's model and reports its version label", async () => {
    await commit(A, 'z');
    const service = await cache.serviceFor(A);
    expect(service.info().version).toBe('1');
    const text = await service.babble({ seed: 'me ', rng: 7, length: 40, stopAtEndOfUtterance: false });
    expect(text).toBe(
      (await cache.modelFor(A)).model.generate('me ', { length: 40, rng: 7, temperature: 0.5, topK: 0 }),
    );
    expect((await cache.serviceFor(B)).info().version).toBe('base');
  });
});
