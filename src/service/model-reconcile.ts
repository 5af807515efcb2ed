/**
 * Swaps reach every process even when a pub/sub announcement is lost (swap-bus.ts): every interval, and whenever
 * the Redis subscription reconnects, a process compares the version it serves for each scope it holds (the base
 * and the servers in its model cache) with the version the scope's pointer names, and loads the ones that differ
 * through the swap bus's own path — so a process that cannot load the new version keeps the old one, logs it and
 * reports `load-failed` on the channel.
 *
 * A version that could not be loaded here (a damaged object, a store hiccup) is tried again with a growing pause —
 * two intervals, then four, eight… up to MAX_RETRY_MS — not at every interval: a host doesn't download and log the
 * same damaged version every minute. A pointer that moves on is followed at the next run, and a run asked for (the
 * subscription reconnected) tries every version that differs.
 *
 * Runs never overlap: a run asked for while one is going is done once after it (the pointers may have moved after
 * the running one read them). Errors are logged, never thrown; the timer doesn't keep the process alive.
 */
import type { Logger } from '../log.js';
import type { ModelCache } from './model-cache.js';
import { BASE_SCOPE, type ModelRegistry } from './registry.js';

export interface ModelReconcileOptions {
  registry: Pick<ModelRegistry, 'currentVersion'>;
  models: Pick<ModelCache, 'cached' | 'servedVersion'>;
  /** Loads a scope's version as a swap message would (SwapBus.apply); never rejects. */
  apply: (scope: string, version: number) => Promise<void>;
  /** Between two runs (MODEL_RECONCILE_SECONDS). */
  intervalMs: number;
  log?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Clock for the retry pauses (tests). */
  now?: () => number;
}

/** The reason of the timer's runs: only they keep the pauses before retrying a failed version. */
const INTERVAL_RUN = 'interval';

/** The longest pause before a version that failed to load here is tried again. */
export const MAX_RETRY_MS = 60 * 60_000;

/** A version of a scope that could not be loaded here: how often, and not before when to try again. */
interface FailedLoad {
  version: number;
  tries: number;
  retryAt: number;
}

export interface ReconcileRun {
  /** Scopes compared (their pointer read, or not held here). */
  checked: number;
  /** Scopes whose pointer named another version than the one served, and were loaded (or tried). */
  applied: { scope: string; from: number; to: number }[];
}

export interface ModelReconciler {
  /** Starts the timer (a first run after one interval). */
  start(): void;
  /** Asks for a run now (e.g. the subscription reconnected); resolves when it (and any run it waited for) is done. */
  run(reason: string): Promise<ReconcileRun | undefined>;
  /** Stops the timer and waits for a run in progress; later runs do nothing. */
  stop(): Promise<void>;
}

/**
 * Compares one scope: the move it loaded (or tried), 'same' when nothing was to do or a failed version waits for its
 * retry, or the error reading its pointer.
 */
async function reconcileScope(
  options: ModelReconcileOptions,
  failed: Map<string, FailedLoad>,
  scope: string,
  pauses: boolean,
): Promise<{ from: number; to: number } | 'same' | { error: unknown }> {
  const now = options.now ?? Date.now;
  const served = await options.models.servedVersion(scope);
  if (served === undefined) return 'same'; // not held here: its next use reads the pointer anyway
  let current: number;
  try {
    current = await options.registry.currentVersion(scope);
  } catch (error) {
    return { error };
  }
  const before = failed.get(scope);
  if (current === served) {
    failed.delete(scope);
    return 'same';
  }
  if (pauses && before && before.version === current && now() < before.retryAt) return 'same';
  options.log?.info({ scope, served, pointer: current }, 'model reconcile: the pointer moved; loading its version');
  await options.apply(scope, current);
  if ((await options.models.servedVersion(scope)) === served) {
    const tries = before?.version === current ? before.tries + 1 : 1;
    failed.set(scope, {
      version: current,
      tries,
      retryAt: now() + Math.min(options.intervalMs * 2 ** tries, MAX_RETRY_MS),
    });
  } else failed.delete(scope);
  return { from: served, to: current };
}

/** One pass over the base scope and every server scope in the cache; unreadable pointers are logged once a pass. */
async function reconcileOnce(
  options: ModelReconcileOptions,
  failed: Map<string, FailedLoad>,
  pauses: boolean,
): Promise<ReconcileRun> {
  const scopes = [BASE_SCOPE, ...options.models.cached().filter((s) => s !== BASE_SCOPE)];
  for (const scope of failed.keys()) if (!scopes.includes(scope)) failed.delete(scope); // left the cache
  const run: ReconcileRun = { checked: 0, applied: [] };
  const unreadable: string[] = [];
  let firstError: unknown;
  for (const scope of scopes) {
    const outcome = await reconcileScope(options, failed, scope, pauses);
    if (outcome !== 'same' && 'error' in outcome) {
      if (unreadable.length === 0) firstError = outcome.error;
      unreadable.push(scope);
      continue;
    }
    run.checked += 1;
    if (outcome !== 'same') run.applied.push({ scope, ...outcome });
  }
  if (unreadable.length > 0)
    options.log?.warn(
      { err: firstError, scopes: unreadable },
      'model reconcile: could not read the pointers; still serving what is loaded',
    );
  return run;
}

export function createModelReconciler(options: ModelReconcileOptions): ModelReconciler {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<ReconcileRun | undefined> | undefined;
  let again: Promise<ReconcileRun | undefined> | undefined;
  const failed = new Map<string, FailedLoad>();

  async function guarded(reason: string): Promise<ReconcileRun | undefined> {
    if (stopped) return undefined;
    try {
      return await reconcileOnce(options, failed, reason === INTERVAL_RUN);
    } catch (err) {
      options.log?.error({ err, reason }, 'model reconcile failed; trying again at the next interval');
      return undefined;
    }
  }

  function run(reason: string): Promise<ReconcileRun | undefined> {
    if (!running) {
      const p = guarded(reason).finally(() => {
        if (running === p) running = undefined;
      });
      running = p;
      return p;
    }
    // One run at a time: a single follow-up for everything asked meanwhile.
    again ??= running.then(() => {
      again = undefined;
      return run(reason);
    });
    return again;
  }

  return {
    start() {
      if (stopped || timer) return;
      timer = setInterval(() => {
        if (!running) run(INTERVAL_RUN).catch(() => undefined); // never rejects: guarded logs
      }, options.intervalMs);
      timer.unref();
    },
    run,
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      await again;
      await running;
    },
  };
}
