/**
 * Retrain wall time, the production path: createRetrainManager (src/service/retrain.ts) with a registry in a
 * temporary folder, a model cache over the base model, the base corpus, the real trainer child (trainer.ts
 * runTraining, forked) and the quality gate; the scope's text is ~`chars` characters of server-like messages
 * (server-text.ts). The clock runs from `start()` to the outcome `swapped` (registry commit done, the cache
 * serving the new version; checked after the clock stops). The budget is the retrain's own `epochs` option.
 *
 * Phases: the trainer is wrapped (same function, timestamps taken around it) and the child's own phase record
 * (meta.json `training.phaseSeconds`, trainer-child.ts) is read from the committed version, with its training
 * threads (`workers`) and tf.memory().numTensors before and after its training steps (`tensors`). The manager runs
 * in the bench process (under tsx), so the trainer child is forked from the TypeScript sources: its command line
 * (/proc/<pid>/cmdline) is recorded.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createModelCache } from '../src/service/model-cache.js';
import { createRegistry } from '../src/service/registry.js';
import {
  createRetrainManager,
  loadBaseCorpus,
  type RetrainOutcome,
  type TrainingSettings,
} from '../src/service/retrain.js';
import { runTraining } from '../src/training/trainer.js';
import { commandLineOf, trainerRecord, type TensorCounts } from './bot-retrain.js';
import type { HeldOutFigures } from '../src/training/trainer-protocol.js';
import { serverLikeText, textChars } from './server-text.js';

/** A guild id for the bench's server. */
export const BENCH_SCOPE = '4200000000000000001';

export interface RetrainPhases {
  /** start() → the trainer called (read and split the text, pick base lines, temporary folder). */
  prepareSeconds: number;
  /** Trainer called → the child says ready (fork, node + tsx + tfjs start-up). */
  childStartSeconds: number;
  /** Inside the child (meta.json phaseSeconds): model load, held-out scoring before, gradient worker start, training, scoring after. */
  child: Record<string, number> | null;
  /** Child ready → the trainer resolved, minus the child's recorded phases: job transfer, save (fsync), samples, exit. */
  childOtherSeconds: number | null;
  /** Trainer resolved → outcome: load the new folder, gate samples, loss chart, registry commit (verify, smoke test, rename, pointer flip), cache install. */
  gateAndSwapSeconds: number;
}

export interface RetrainFigures {
  seconds: number;
  status: RetrainOutcome['status'];
  /** Why it did not swap (failed / rejected). */
  problem: string | null;
  version: number | null;
  /** The model cache served the new version right after. */
  serving: boolean;
  epochs: number;
  serverMessages: number;
  serverChars: number;
  steps: number | null;
  trainSeconds: number | null;
  /** Target characters per second of the training itself (the child's figure; null unless swapped). */
  trainCharsPerSecond: number | null;
  heldOut: { before: HeldOutFigures; after: HeldOutFigures } | null;
  chunks: number | null;
  phases: RetrainPhases;
  /** The trainer child's command line (null when unreadable). */
  trainerEntry: string | null;
  /** Training threads and the trainer's tensor counts from meta.json (null unless swapped). */
  workers: number | null;
  trainerTensors: TensorCounts | null;
}

/** Why a retrain did not swap a model in (the failure, or the gate's reasons), or null when it did. */
export function outcomeProblem(outcome: RetrainOutcome): string | null {
  if (outcome.status === 'failed') return outcome.reason;
  if (outcome.status === 'rejected') return outcome.gate.reasons.join('; ');
  return null;
}

export async function measureRetrain(opts: {
  root: string;
  modelDir: string;
  chars: number;
  epochs: number;
  log: (line: string) => void;
  training?: TrainingSettings;
}): Promise<RetrainFigures> {
  const work = await mkdtemp(path.join(tmpdir(), 'babble-bench-retrain-'));
  try {
    const baseCorpus = await loadBaseCorpus(path.join(opts.root, 'data/corpus.txt'));
    const messages = serverLikeText(opts.chars, baseCorpus);
    const registry = createRegistry({ root: path.join(work, 'models') });
    await registry.init();
    const models = createModelCache({ registry, baseDir: opts.modelDir });
    await models.modelFor(null); // the base is loaded at start-up in the bot too
    const marks: { called?: number; ready?: number; resolved?: number } = {};
    let trainerEntry: string | null = null;
    const manager = createRetrainManager({
      registry,
      models,
      baseModelDir: opts.modelDir,
      baseCorpus,
      trainingText: () => Promise.resolve(messages),
      ...(opts.training ? { training: opts.training } : {}),
      runTraining: (job, options) => {
        marks.called = performance.now();
        return runTraining(job, {
          ...options,
          onReady: (info) => {
            marks.ready = performance.now();
            try {
              trainerEntry = commandLineOf(readFileSync(`/proc/${info.pid}/cmdline`, 'utf8'), opts.root);
            } catch {
              trainerEntry = null;
            }
            options.onReady?.(info);
          },
        }).then((result) => {
          marks.resolved = performance.now();
          return result;
        });
      },
    });
    opts.log(`  retrain: ${messages.length} messages, ${textChars(messages)} chars, epochs ${opts.epochs}`);
    const t0 = performance.now();
    const started = manager.start({ scope: BENCH_SCOPE, epochs: opts.epochs, requestedBy: 'bench' });
    started.job.subscribe((e) => {
      if (e.type === 'progress')
        opts.log(
          `  retrain: step ${e.progress.step}/${e.progress.totalSteps}, loss ${e.progress.loss.toFixed(3)}, ${Math.round(e.progress.charsPerSecond)} chars/s`,
        );
    });
    const outcome = await started.job.result;
    const t1 = performance.now();
    await manager.close();
    const s = (a: number | undefined, b: number | undefined) =>
      a !== undefined && b !== undefined ? (b - a) / 1000 : NaN;
    let child: Record<string, number> | null = null;
    let chunks: number | null = null;
    let serving = false;
    let trainCharsPerSecond: number | null = null;
    let record: Awaited<ReturnType<typeof trainerRecord>> = { workers: null, tensors: null };
    if (outcome.status === 'swapped') {
      record = await trainerRecord(path.join(registry.root, BENCH_SCOPE, String(outcome.version)));
      serving = (await models.modelFor(BENCH_SCOPE)).version === outcome.version;
      const meta = JSON.parse(
        await readFile(path.join(registry.root, BENCH_SCOPE, String(outcome.version), 'meta.json'), 'utf8'),
      ) as { training?: { phaseSeconds?: Record<string, number>; chunks?: number; charsPerSecond?: number } };
      child = meta.training?.phaseSeconds ?? null;
      chunks = meta.training?.chunks ?? null;
      trainCharsPerSecond = meta.training?.charsPerSecond ?? null;
    }
    const childTotal = s(marks.ready, marks.resolved);
    const childSum = child ? Object.values(child).reduce((a, b) => a + b, 0) : NaN;
    const trained = outcome.status === 'swapped' || outcome.status === 'rejected' ? outcome : null;
    return {
      seconds: (t1 - t0) / 1000,
      status: outcome.status,
      problem: outcomeProblem(outcome),
      version: outcome.status === 'swapped' ? outcome.version : null,
      serving,
      epochs: opts.epochs,
      serverMessages: messages.length,
      serverChars: textChars(messages),
      steps: trained?.steps ?? null,
      trainSeconds: trained?.seconds ?? null,
      trainCharsPerSecond,
      heldOut: trained?.heldOut ?? null,
      chunks,
      phases: {
        prepareSeconds: s(t0, marks.called),
        childStartSeconds: s(marks.called, marks.ready),
        child,
        childOtherSeconds: Number.isFinite(childSum) ? childTotal - childSum : null,
        gateAndSwapSeconds: s(marks.resolved, t1),
      },
      trainerEntry,
      workers: record.workers,
      trainerTensors: record.tensors,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
