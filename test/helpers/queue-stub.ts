/**
 * A retrain manager for training-queue tests: each start takes the scope's training lock (so the worker reports
 * its token), then waits for the test to finish the run (`finish`), or ends cancelled when cancelled. Shared by
 * the in-process tests and the worker process the tests SIGKILL (queue-worker-process.ts).
 */
import { Job, type RetrainManager, type RetrainOutcome } from '../../src/service/retrain.js';
import type { TrainingLocks } from '../../src/service/lock.js';

export interface StubManager extends RetrainManager {
  /** Ends the scope's run with `outcome`. */
  finish(scope: string, outcome: RetrainOutcome): void;
  /** Emits a progress event on the scope's run. */
  progress(scope: string, step: number): void;
  readonly started: string[];
  readonly cancelled: string[];
}

export function stubManager(locks: TrainingLocks): StubManager {
  const runs = new Map<string, Job>();
  const started: string[] = [];
  const cancelled: string[] = [];
  const end = (job: Job, outcome: RetrainOutcome) => {
    if (job.state === 'finished') return;
    job.state = 'finished';
    runs.delete(job.scope);
    job.emit({ type: 'finished', outcome });
    job.settle(outcome);
  };
  return {
    started,
    cancelled,
    start(request) {
      const job = new Job(request.scope, request, (j) => {
        cancelled.push(j.scope);
        end(j, { status: 'cancelled' });
      });
      job.state = 'running';
      runs.set(request.scope, job);
      started.push(request.scope);
      void locks.acquire(request.scope).catch(() => undefined);
      return { status: 'started', job };
    },
    get: (scope) => runs.get(scope),
    cancel(scope) {
      runs.get(scope)?.cancel();
      return runs.has(scope);
    },
    queued: () => [],
    running: () => [...runs.keys()],
    async close() {
      for (const job of [...runs.values()]) job.cancel();
    },
    finish(scope, outcome) {
      const job = runs.get(scope);
      if (job) end(job, outcome);
    },
    progress(scope, step) {
      const progress = {
        step,
        totalSteps: 10,
        epoch: step / 10,
        loss: 1,
        etaSeconds: 1,
        charsPerSecond: 1,
        elapsedSeconds: step,
        sample: 'me want',
      };
      runs.get(scope)?.emit({ type: 'progress', progress });
    },
  };
}

/** A swapped outcome with every field, its chart a few PNG-looking bytes. */
export const swapped = (version: number): RetrainOutcome => ({
  status: 'swapped',
  version,
  previous: 'base',
  gate: {
    pass: true,
    reasons: [],
    server: { before: 2, after: 1.5, ok: true },
    base: { before: 2, after: 2.01, ok: true },
    samples: { wordShare: 1, nonEmpty: 1, shortShare: 1, parrotShare: 0, ok: true, texts: ['me want cookie'] },
    notes: [],
    tolerance: 0.05,
    baseTolerance: 0.1,
  },
  heldOut: { before: { server: 2, base: 2 }, after: { server: 1.5, base: 2.01 } },
  steps: 10,
  seconds: 3,
  chart: Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]),
  lossCurve: [{ step: 1, loss: 1.2 }],
  trainingLines: 40,
  strength: 'normal',
  serverShare: 0.3,
  uptake: null,
});
