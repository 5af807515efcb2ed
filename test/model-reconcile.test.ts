/**
 * The reconcile loop (model-reconcile.ts) with a fake registry and cache and fake timers: a version this process
 * missed is loaded on the next interval, a version it cannot load leaves the old model serving and is reported on
 * the bus (through the swap bus's own path), runs never overlap, an unreadable pointer is logged, and stop() stops.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BabyLanguageModel } from '../src/model/baby.js';
import { createModelCache } from '../src/service/model-cache.js';
import { createModelReconciler } from '../src/service/model-reconcile.js';
import type { ModelRegistry, ResolvedVersion } from '../src/service/registry.js';
import { openSwapBus, parseSwapMessage, type SwapMessage } from '../src/service/swap-bus.js';
import { recorder } from './helpers/log-recorder.js';

const G1 = '300000000000000001';
const G2 = '300000000000000002';
const INTERVAL = 1000;

/** Pointers by scope; `served` by scope (undefined: not in the cache). */
function fakes(pointers: Record<string, number>, served: Record<string, number>) {
  const reads: string[] = [];
  const registry = {
    async currentVersion(scope: string) {
      reads.push(scope);
      return pointers[scope] ?? 0;
    },
  };
  const models = {
    cached: () => Object.keys(served).filter((s) => s !== 'base'),
    servedVersion: async (scope: string) => served[scope],
  };
  return { registry, models, reads };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('createModelReconciler', () => {
  it('loads, on the next interval, the version a pointer moved to that this process missed, and only that one', async () => {
    const { registry, models } = fakes({ base: 0, [G1]: 3, [G2]: 1 }, { base: 0, [G1]: 2, [G2]: 1 });
    const applied: [string, number][] = [];
    const reconciler = createModelReconciler({
      registry,
      models,
      apply: async (scope, version) => {
        applied.push([scope, version]);
      },
      intervalMs: INTERVAL,
    });
    reconciler.start();
    await vi.advanceTimersByTimeAsync(INTERVAL - 1);
    expect(applied).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(applied).toEqual([[G1, 3]]);
    expect(await reconciler.run('test')).toEqual({ checked: 3, applied: [{ scope: G1, from: 2, to: 3 }] });
    await reconciler.stop();
  });

  it('keeps the old model serving when the new version cannot be loaded, logs it and reports load-failed', async () => {
    const published: SwapMessage[] = [];
    const v1 = { name: 'v1' } as unknown as BabyLanguageModel;
    let pointer = 1;
    const registry = {
      resolve: async (scope: string): Promise<ResolvedVersion | null> =>
        scope === G1 ? ({ version: pointer, dir: `/models/${G1}/${pointer}` } as ResolvedVersion) : null,
      currentVersion: async (scope: string) => (scope === G1 ? pointer : 0),
    } as unknown as ModelRegistry;
    const load = async (dir: string) => {
      if (dir.endsWith('/1')) return v1;
      if (dir === 'models/base') return { name: 'base' } as unknown as BabyLanguageModel;
      throw new Error(`weights.bin: sha256 does not match meta.json (${dir})`);
    };
    const cache = createModelCache({ registry, baseDir: 'models/base', load });
    const { lines, log } = recorder();
    const bus = await openSwapBus({
      publisher: {
        publish: async (_channel, text) => {
          published.push(parseSwapMessage(text)!);
        },
      },
      subscriber: { subscribe: async () => undefined, unsubscribe: async () => undefined },
      origin: 'host b',
      registry,
      models: cache,
      load,
      log,
    });
    expect((await cache.modelFor(G1)).model).toBe(v1);
    const reconciler = createModelReconciler({
      registry,
      models: cache,
      apply: (scope, version) => bus.apply(scope, version, 'reconcile'),
      intervalMs: INTERVAL,
      log,
    });
    reconciler.start();
    pointer = 2; // moved elsewhere; its announcement never came
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(published).toEqual([
      expect.objectContaining({ type: 'load-failed', scope: G1, version: 2, origin: 'host b' }),
    ]);
    expect((published[0] as { reason: string }).reason).toMatch(/sha256 does not match/);
    expect(lines.some((l) => l.level === 'error' && /still serving the previous one/.test(l.msg))).toBe(true);
    expect((await cache.modelFor(G1)).model).toBe(v1);
    expect(await cache.servedVersion(G1)).toBe(1);
    await reconciler.stop();
    await bus.close();
  });

  it('tries a version it could not load again after 2, 4, 8… intervals, not at every run, and follows a pointer that moves on at once', async () => {
    const pointers: Record<string, number> = { base: 0, [G1]: 2 };
    const served: Record<string, number> = { base: 0, [G1]: 1 };
    const { registry, models } = fakes(pointers, served);
    const tries: [number, number][] = []; // [run, version]
    let runs = 0;
    let loadable = new Set<number>();
    const reconciler = createModelReconciler({
      registry,
      models,
      apply: async (scope, version) => {
        tries.push([runs, version]);
        if (loadable.has(version)) served[scope] = version;
      },
      intervalMs: INTERVAL,
      now: () => Date.now(),
    });
    reconciler.start();
    for (runs = 1; runs <= 16; runs++) await vi.advanceTimersByTimeAsync(INTERVAL);
    // Run 1 fails; then after 2 intervals (run 3), 4 (run 7), 8 (run 15).
    expect(tries).toEqual([
      [1, 2],
      [3, 2],
      [7, 2],
      [15, 2],
    ]);
    // The pointer moves on: the next run tries the new version, which loads.
    pointers[G1] = 3;
    loadable = new Set([3]);
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(tries.at(-1)).toEqual([17, 3]);
    expect(served[G1]).toBe(3);
    // And a later failure starts again from one interval's wait after the first try.
    pointers[G1] = 4;
    for (runs = 18; runs <= 21; runs++) await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(tries.slice(5)).toEqual([
      [18, 4],
      [20, 4],
    ]);
    await reconciler.stop();
  });

  it('never runs twice at once: runs asked for meanwhile become one run after it, and interval ticks wait', async () => {
    const { registry, models, reads } = fakes({ [G1]: 2 }, { base: 0, [G1]: 1 });
    let active = 0;
    let most = 0;
    let release: () => void = () => undefined;
    const reconciler = createModelReconciler({
      registry,
      models,
      apply: async () => {
        active += 1;
        most = Math.max(most, active);
        await new Promise<void>((r) => {
          release = r;
        });
        active -= 1;
      },
      intervalMs: INTERVAL,
    });
    reconciler.start();
    const first = reconciler.run('reconnect');
    await vi.advanceTimersByTimeAsync(0);
    const second = reconciler.run('reconnect');
    const third = reconciler.run('reconnect');
    await vi.advanceTimersByTimeAsync(INTERVAL * 3); // ticks while the first run is stuck in its load
    expect(reads).toEqual(['base', G1]);
    release();
    await first;
    await vi.waitFor(() => expect(active).toBe(1)); // the one follow-up run, for the second and third requests
    release();
    await Promise.all([second, third]);
    expect(reads).toEqual(['base', G1, 'base', G1]);
    expect(most).toBe(1);
    const stopping = reconciler.stop();
    release();
    await stopping;
  });

  it('logs the pointers it cannot read (one line a run) and still compares the other scopes', async () => {
    const { lines, log } = recorder();
    const applied: string[] = [];
    const reconciler = createModelReconciler({
      registry: {
        currentVersion: async (scope) => {
          if (scope === G1) throw new Error('Redis is unreachable');
          return 5;
        },
      },
      models: { cached: () => [G1, G2], servedVersion: async () => 4 },
      apply: async (scope) => {
        applied.push(scope);
      },
      intervalMs: INTERVAL,
      log,
    });
    const run = await reconciler.run('test');
    expect(run).toEqual({
      checked: 2,
      applied: [
        { scope: 'base', from: 4, to: 5 },
        { scope: G2, from: 4, to: 5 },
      ],
    });
    expect(applied).toEqual(['base', G2]);
    expect(lines.map(({ level, msg }) => ({ level, msg }))).toEqual([
      { level: 'info', msg: 'model reconcile: the pointer moved; loading its version' },
      { level: 'info', msg: 'model reconcile: the pointer moved; loading its version' },
      { level: 'warn', msg: 'model reconcile: could not read the pointers; still serving what is loaded' },
    ]);
    await reconciler.stop();
  });

  it('stops: no run after stop(), on the timer or asked for', async () => {
    const { registry, models, reads } = fakes({ [G1]: 2 }, { base: 0, [G1]: 1 });
    const reconciler = createModelReconciler({ registry, models, apply: async () => undefined, intervalMs: INTERVAL });
    reconciler.start();
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(reads).toHaveLength(2);
    await reconciler.stop();
    await vi.advanceTimersByTimeAsync(INTERVAL * 5);
    expect(await reconciler.run('late')).toBeUndefined();
    expect(reads).toHaveLength(2);
    expect(vi.getTimerCount()).toBe(0);
  });
});
