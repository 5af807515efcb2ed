/**
 * The learning rate of a retrain (fine-tuning a model that already talks), step by step:
 *
 *   rate(step, elapsed) = peak × warmup × (floor + (1 − floor) × ½(1 + cos(π × progress)))
 *
 * - warmup: linear from 1/warmupSteps to 1 over the first `warmupSteps` steps (at most a tenth of a step-bounded run).
 *   Adam's first updates are about `rate` per weight whatever the gradient's size, so a run that starts at full rate
 *   jolts the model it continues from; warming up lets a second /retrain build on the first instead of undoing it.
 * - cosine decay from peak to `floor` × peak over the run's budget; `progress` is the larger of steps / step limit and
 *   seconds / time budget (a run ends on whichever comes first), so the last steps are small and the run ends settled.
 *
 * The trainer child (trainer-child.ts) also carries Adam's moments from one training chunk to the next, so the
 * optimiser never restarts within a run.
 */

/** Peak learning rate of a retrain when the job does not say. */
export const FINE_TUNE_PEAK_RATE = 2e-3;
export const FINE_TUNE_WARMUP_STEPS = 40;
export const FINE_TUNE_FLOOR = 0.1;

export interface ScheduleOptions {
  peak?: number;
  /** Steps the run may take (Infinity when only time bounds it). */
  stepLimit: number;
  /** Seconds the run may take (Infinity when only steps bound it). */
  maxSeconds: number;
  warmupSteps?: number;
  floor?: number;
}

/** The rate of global step `step` (0-based) after `elapsedSeconds` of training. */
export type RateSchedule = (step: number, elapsedSeconds: number) => number;

export function fineTuneSchedule(options: ScheduleOptions): RateSchedule {
  const peak = options.peak ?? FINE_TUNE_PEAK_RATE;
  const floor = options.floor ?? FINE_TUNE_FLOOR;
  const warmup = Math.max(
    1,
    Math.min(
      options.warmupSteps ?? FINE_TUNE_WARMUP_STEPS,
      Number.isFinite(options.stepLimit) ? Math.ceil(options.stepLimit / 10) : Infinity,
    ),
  );
  return (step, elapsedSeconds) => {
    const bySteps = Number.isFinite(options.stepLimit) && options.stepLimit > 0 ? step / options.stepLimit : 0;
    const byTime =
      Number.isFinite(options.maxSeconds) && options.maxSeconds > 0 ? elapsedSeconds / options.maxSeconds : 0;
    const progress = Math.min(1, Math.max(bySteps, byTime, 0));
    const warm = Math.min(1, (step + 1) / warmup);
    return peak * warm * (floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * progress)));
  };
}
