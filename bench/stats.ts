/**
 * Pure helpers of the benchmark: percentiles, summaries, targets and pass/fail, rounding.
 */

/** Nearest-rank percentile (p in 0..100) of values sorted ascending: the smallest value with ≥ p % at or below it. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile: no samples');
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile: p must be in 0..100 (got ${p})`);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export interface Summary {
  n: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
}

/** Sorted copy's p50, p99, mean and max (the input is left alone). */
export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new RangeError('summarize: no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: sum / sorted.length,
    max: sorted[sorted.length - 1]!,
  };
}

/** Rounds to `digits` decimals; null and non-finite values become null. */
export function round(value: number | null | undefined, digits = 2): number | null {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** a / b, or null when either is missing or b is not a positive finite number. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined) return null;
  if (!Number.isFinite(a) || !Number.isFinite(b) || b <= 0) return null;
  return a / b;
}

export interface Target {
  op: '>=' | '<=' | '==';
  value: number;
}

/** Parses ">= 5", "<= 0.25", "== 0". */
export function parseTarget(text: string): Target {
  const m = /^\s*(>=|<=|==)\s*(-?\d+(?:\.\d+)?)\s*$/.exec(text);
  if (!m) throw new Error(`bad target ${JSON.stringify(text)}`);
  return { op: m[1] as Target['op'], value: Number(m[2]) };
}

/** Whether `value` meets `target` ("<= 15"); null when there is no value to judge. */
export function meets(value: number | null, target: string): boolean | null {
  if (value === null || !Number.isFinite(value)) return null;
  const t = parseTarget(target);
  if (t.op === '>=') return value >= t.value;
  if (t.op === '<=') return value <= t.value;
  return value === t.value;
}

/**
 * Rate of a run from (step, elapsed seconds) checkpoints, excluding the first `warmupSteps` steps:
 * (lastStep − warmupStep) · unitsPerStep / (lastElapsed − warmupElapsed). Needs a checkpoint at exactly
 * `warmupSteps` (or 0, the start, when warmupSteps is 0) and at least one step after it.
 */
export function rateAfterWarmup(
  checkpoints: readonly { step: number; elapsedSeconds: number }[],
  warmupSteps: number,
  unitsPerStep: number,
): { rate: number; steps: number; seconds: number } {
  const start = warmupSteps === 0 ? { step: 0, elapsedSeconds: 0 } : checkpoints.find((c) => c.step === warmupSteps);
  if (!start) throw new Error(`rateAfterWarmup: no checkpoint at step ${warmupSteps}`);
  const last = checkpoints.reduce<{ step: number; elapsedSeconds: number } | undefined>(
    (a, c) => (!a || c.step > a.step ? c : a),
    undefined,
  );
  if (!last || last.step <= start.step) throw new Error('rateAfterWarmup: no step after the warm-up');
  const seconds = last.elapsedSeconds - start.elapsedSeconds;
  if (!(seconds > 0)) throw new Error('rateAfterWarmup: non-positive duration');
  const steps = last.step - start.step;
  return { rate: (steps * unitsPerStep) / seconds, steps, seconds };
}

/** A timer waking at least this late (ms) is a stall of the event loop (bench/loop-probe.ts). */
export const STALL_MS = 20;

/**
 * Event-loop delay from a monitorEventLoopDelay reading: its values are intervals between wake-ups of a timer that
 * should fire every `resolutionMs`, so the delay is the value minus the resolution (never below 0).
 */
export function loopDelayMs(histogramMs: number, resolutionMs: number): number {
  return Math.max(0, histogramMs - resolutionMs);
}

/** Open-loop send times in ms from the start: `count` sends at `rate` per second, send i due at i / rate s. */
export function schedule(count: number, rate: number): number[] {
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError('schedule: rate must be a positive number');
  if (!Number.isInteger(count) || count < 0) throw new RangeError('schedule: count must be a whole number');
  return Array.from({ length: count }, (_, i) => (i * 1000) / rate);
}
