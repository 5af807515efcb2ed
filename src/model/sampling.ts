/**
 * Choosing the next character from the model's logits: greedy (temperature 0) or softmax sampling at a
 * temperature, optionally restricted to the k likeliest characters, with some ids (the unknown symbol) masked.
 *
 * Nothing here allocates per call when the caller passes a `SamplingScratch`; a scratch belongs to one generation
 * (one caller) and must not be shared by generations that interleave.
 */
import { mulberry32 } from './weights.js';

/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;

/** A deterministic generator for `seed` (mulberry32; the seed is taken as an unsigned 32-bit integer). */
export function createRng(seed: number): Rng {
  if (typeof seed !== 'number' || !Number.isFinite(seed))
    throw new RangeError(`rng seed must be a finite number (got ${String(seed)})`);
  return mulberry32(seed >>> 0);
}

/** A fresh random 32-bit seed (not reproducible; report it if the output should be). */
export function randomSeed(): number {
  return Math.floor(Math.random() * 0x1_0000_0000) >>> 0;
}

export interface SampleOptions {
  /** 0 = argmax (ties → lowest id); > 0 = softmax(logits / temperature). Must be a finite number ≥ 0. */
  temperature: number;
  /** Sample among the k largest logits only; 0 (default) or k ≥ the number of candidates = all. */
  topK?: number;
  /** Uniform [0, 1) source; called exactly once per sample when temperature > 0, never when it is 0. */
  rng: Rng;
  /** Ids that are never returned (the unknown symbol). */
  exclude?: readonly number[];
}

/** Reusable buffers for `sampleFromLogits` over logits of one length. Owned by one caller at a time. */
export class SamplingScratch {
  readonly size: number;
  /** Candidate ids (top-k: sorted by logit, descending, ties by ascending id). */
  readonly ids: Int32Array;
  /** Unnormalised probabilities of the candidates. */
  readonly weights: Float64Array;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`sampling scratch: size must be a positive integer (got ${size})`);
    this.size = size;
    this.ids = new Int32Array(size);
    this.weights = new Float64Array(size);
  }
}

const NO_IDS: readonly number[] = [];

function isExcluded(exclude: readonly number[], id: number): boolean {
  for (let i = 0; i < exclude.length; i++) if (exclude[i] === id) return true;
  return false;
}

/**
 * The id of the largest logit that is not excluded (ties → lowest id). NaN logits count as -Infinity. When every
 * allowed logit is NaN or -Infinity, the lowest allowed id. Throws when every id is excluded.
 */
export function argmax(logits: Float32Array, exclude: readonly number[] = NO_IDS): number {
  let best = -1;
  let bestValue = -Infinity;
  let firstAllowed = -1;
  for (let id = 0; id < logits.length; id++) {
    if (isExcluded(exclude, id)) continue;
    if (firstAllowed < 0) firstAllowed = id;
    const v = logits[id]!;
    if (v > bestValue) {
      bestValue = v;
      best = id;
    }
  }
  if (firstAllowed < 0) throw new RangeError('sampleFromLogits: every id is excluded');
  return best >= 0 ? best : firstAllowed;
}

/**
 * Draws one id from `logits`.
 * - temperature 0: argmax (deterministic; ties → lowest id; the rng is not called).
 * - temperature > 0: softmax(logits / temperature) over the top-k allowed ids (all when topK is 0), computed as
 *   exp((l − max) / T) in double precision so it cannot overflow; the rng is called once.
 * Excluded ids are never returned; NaN and -Infinity logits have probability 0. Without `scratch`, one is
 * allocated for this call.
 */
export function sampleFromLogits(logits: Float32Array, options: SampleOptions, scratch?: SamplingScratch): number {
  const temperature = options.temperature;
  const exclude = options.exclude ?? NO_IDS;
  if (typeof temperature !== 'number' || !(temperature >= 0) || temperature === Infinity) {
    throw new RangeError(`sampleFromLogits: temperature must be a finite number ≥ 0 (got ${String(temperature)})`);
  }
  if (temperature === 0) return argmax(logits, exclude);

  const n = logits.length;
  const s = scratch ?? new SamplingScratch(Math.max(1, n));
  if (s.size < n) throw new RangeError(`sampleFromLogits: scratch holds ${s.size} entries, logits have ${n}`);
  const topK = options.topK ?? 0;
  if (typeof topK !== 'number' || !(topK >= 0))
    throw new RangeError(`sampleFromLogits: topK must be a number ≥ 0 (got ${String(topK)})`);
  const k = topK >= 1 && topK < n ? Math.floor(topK) : n;
  const ids = s.ids;
  const weights = s.weights;

  // Candidates: allowed ids with a finite-or-+Infinity logit; for top-k, kept sorted by logit (descending), and
  // since ids arrive in ascending order and only a strictly larger logit moves ahead, ties keep the lowest ids.
  let m = 0;
  for (let id = 0; id < n; id++) {
    const v = logits[id]!;
    if (!(v > -Infinity) || isExcluded(exclude, id)) continue;
    if (k >= n) {
      ids[m++] = id;
      continue;
    }
    let pos: number;
    if (m < k) pos = m++;
    else if (v > logits[ids[k - 1]!]!) pos = k - 1;
    else continue;
    while (pos > 0 && logits[ids[pos - 1]!]! < v) {
      ids[pos] = ids[pos - 1]!;
      pos--;
    }
    ids[pos] = id;
  }
  if (m === 0) return argmax(logits, exclude);

  let max = -Infinity;
  for (let t = 0; t < m; t++) {
    const v = logits[ids[t]!]!;
    if (v > max) max = v;
  }
  if (max === Infinity) {
    // Infinite logits take all the probability; the first of them (lowest id among the top) is returned.
    for (let t = 0; t < m; t++) if (logits[ids[t]!] === Infinity) return ids[t]!;
  }
  let total = 0;
  for (let t = 0; t < m; t++) {
    const w = Math.exp((logits[ids[t]!]! - max) / temperature);
    weights[t] = w;
    total += w;
  }
  const u = options.rng() * total;
  let acc = 0;
  let lastPositive = ids[0]!;
  for (let t = 0; t < m; t++) {
    const w = weights[t]!;
    if (w <= 0) continue;
    acc += w;
    lastPositive = ids[t]!;
    if (u < acc) return lastPositive;
  }
  return lastPositive; // u rounded up to the total
}
