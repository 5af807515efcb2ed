/**
 * Training throughput of the production path: BabyLanguageModel.train (what `npm run train` calls; it runs
 * initBackend, encodes the text and calls train() from src/training/train.ts), batch × seq, a fixed number of steps,
 * the rate taken after the warm-up steps from the per-step progress reports.
 */
import { readFile } from 'node:fs/promises';
import { BabyLanguageModel } from '../src/model/baby.js';
import { initBackend, tf } from '../src/model/backend.js';
import { rateAfterWarmup } from './stats.js';

export interface TrainingFigures {
  charsPerSecond: number;
  /** Target characters per second over the whole run, warm-up included. */
  charsPerSecondWithWarmup: number;
  warmupSteps: number;
  timedSteps: number;
  timedSeconds: number;
  targetCharsPerStep: number;
  finalLoss: number;
  /** tf.memory().numTensors before and after the run (the trainer must free what it makes). */
  tensorsBefore: number;
  tensorsAfter: number;
  /** Threads that computed gradients (the train report's `workers`: 2 = the main thread and a gradient worker). */
  workers: number;
}

export async function measureTraining(opts: {
  corpus: string;
  batchSize: number;
  seqLength: number;
  warmupSteps: number;
  timedSteps: number;
  log: (line: string) => void;
}): Promise<TrainingFigures> {
  const text = await readFile(opts.corpus, 'utf8');
  const model = BabyLanguageModel.build({ seed: 1 });
  const checkpoints: { step: number; elapsedSeconds: number }[] = [];
  const total = opts.warmupSteps + opts.timedSteps;
  await initBackend(); // model.train does this too; done first so the tensor count is of the backend in use
  const tensorsBefore = tf.memory().numTensors;
  const report = await model.train(text, {
    maxSteps: total,
    batchSize: opts.batchSize,
    seqLength: opts.seqLength,
    seed: 1,
    progressIntervalMs: 0,
    onProgress: (p) => {
      checkpoints.push({ step: p.step, elapsedSeconds: p.elapsedSeconds });
      if (p.step === total || p.step % 5 === 0)
        opts.log(
          `  training step ${p.step}/${total}: ${Math.round(p.charsPerSecond)} chars/s so far, loss ${p.loss.toFixed(3)}`,
        );
    },
  });
  const tensorsAfter = tf.memory().numTensors;
  if (report.steps !== total)
    throw new Error(`training stopped after ${report.steps} of ${total} steps (${report.stoppedBy})`);
  const targetCharsPerStep = report.targetChars / report.steps;
  const timed = rateAfterWarmup(checkpoints, opts.warmupSteps, targetCharsPerStep);
  return {
    charsPerSecond: timed.rate,
    charsPerSecondWithWarmup: report.charsPerSecond,
    warmupSteps: opts.warmupSteps,
    timedSteps: timed.steps,
    timedSeconds: timed.seconds,
    targetCharsPerStep,
    finalLoss: report.finalLoss,
    tensorsBefore,
    tensorsAfter,
    workers: report.workers,
  };
}
