/**
 * Training batches from encoded text, in the time-major layout the trainer uses (row `t * batchSize + b` is time
 * step t of sequence b).
 *
 * - `seq` (sequence-to-sequence): the text is cut into non-overlapping pieces of `seqLength` inputs; the target of
 *   every input is the next character. Each epoch the cut points move by a random offset and the pieces are
 *   shuffled, so an epoch shows every piece once (the last batch is filled up with pieces from the start of the
 *   same epoch's order).
 * - `window`: every position of the text (after the first `window` characters) is one sample: the `window`
 *   characters before it are the input, the character itself the only target. Shuffled each epoch.
 *
 * Batches depend only on (data, options, seed, step index): the same seed gives the same batches.
 */
import { mulberry32 } from '../model/weights.js';

export type Scheme = 'seq' | 'window';

export interface BatchOptions {
  scheme: Scheme;
  batchSize: number;
  /** Inputs per sequence for `seq`. */
  seqLength: number;
  /** Inputs per sample for `window`. */
  window: number;
  seed: number;
}

export interface Batch {
  /** Time steps (seqLength or window). */
  steps: number;
  batchSize: number;
  /** [steps * batchSize] input ids, time-major. */
  inputs: Int32Array;
  /** `seq`: [steps * batchSize] target ids, time-major; `window`: [batchSize], the target after the last input. */
  targets: Int32Array;
}

export interface Batcher {
  readonly stepsPerEpoch: number;
  /** Target characters in one batch. */
  readonly targetsPerBatch: number;
  /** The batch of global step `step` (0-based; epoch = floor(step / stepsPerEpoch)). */
  batch(step: number): Batch;
}

/** Time steps per sequence when a caller gives none. */
export const DEFAULT_SEQ_LENGTH = 32;

/**
 * The sequence length to train `chars` encoded characters with: the one asked for (default 32), shrunk so that a
 * short text still gives at least one sequence, and never below 2.
 */
export function fitSeqLength(chars: number, requested: number = DEFAULT_SEQ_LENGTH): number {
  return Math.max(2, Math.min(requested, Math.floor(chars / 2)));
}

function checkPositiveInt(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`batches: ${name} must be a positive integer (got ${value})`);
}

/** Fisher–Yates permutation of 0..n-1 from a seeded generator. */
export function permutation(n: number, rand: () => number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/** A generator for epoch `epoch` of run `seed` (independent streams per epoch). */
function epochRandom(seed: number, epoch: number): () => number {
  return mulberry32((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0);
}

export function makeBatcher(data: Int32Array, options: BatchOptions): Batcher {
  const { scheme, batchSize: B } = options;
  checkPositiveInt('batchSize', B);
  const T = scheme === 'seq' ? options.seqLength : options.window;
  checkPositiveInt(scheme === 'seq' ? 'seqLength' : 'window', T);
  // seq: pieces of T inputs + 1 target overhang, at any offset in [0, T): floor((len - T) / T) always fit.
  const samples = scheme === 'seq' ? Math.floor((data.length - T) / T) : data.length - T;
  if (samples < 1) {
    throw new RangeError(
      `batches: ${data.length} characters are too few for ${scheme} training with ${scheme === 'seq' ? 'seqLength' : 'window'} ${T}`,
    );
  }
  const stepsPerEpoch = Math.ceil(samples / B);
  let cachedEpoch = -1;
  let order: Uint32Array = new Uint32Array(0);
  let offset = 0;

  const prepare = (epoch: number) => {
    if (epoch === cachedEpoch) return;
    const rand = epochRandom(options.seed, epoch);
    offset = scheme === 'seq' ? Math.floor(rand() * T) : 0;
    order = permutation(samples, rand);
    cachedEpoch = epoch;
  };

  return {
    stepsPerEpoch,
    targetsPerBatch: scheme === 'seq' ? B * T : B,
    batch(step: number): Batch {
      if (!Number.isInteger(step) || step < 0)
        throw new RangeError(`batches: step must be a non-negative integer (got ${step})`);
      const epoch = Math.floor(step / stepsPerEpoch);
      prepare(epoch);
      const first = (step - epoch * stepsPerEpoch) * B;
      const inputs = new Int32Array(T * B);
      const targets = new Int32Array(scheme === 'seq' ? T * B : B);
      for (let b = 0; b < B; b++) {
        const sample = order[(first + b) % samples]!;
        // seq: piece `sample` starts at offset + sample*T; window: sample s predicts data[s + T] from data[s..s+T).
        const start = scheme === 'seq' ? offset + sample * T : sample;
        for (let t = 0; t < T; t++) inputs[t * B + b] = data[start + t]!;
        if (scheme === 'seq') {
          for (let t = 0; t < T; t++) targets[t * B + b] = data[start + t + 1]!;
        } else {
          targets[b] = data[start + T]!;
        }
      }
      return { steps: T, batchSize: B, inputs, targets };
    },
  };
}

/**
 * Splits a batch into `parts` batches of consecutive sequences (sizes differ by at most one), for data-parallel
 * replicas. Each part keeps the time-major layout.
 */
export function splitBatch(batch: Batch, parts: number): Batch[] {
  const { steps: T, batchSize: B } = batch;
  checkPositiveInt('parts', parts);
  if (parts > B) throw new RangeError(`batches: cannot split ${B} sequences into ${parts} parts`);
  const windowTargets = batch.targets.length !== T * B; // one target per sequence (window scheme)
  const out: Batch[] = [];
  let first = 0;
  for (let k = 0; k < parts; k++) {
    const size = Math.floor(B / parts) + (k < B % parts ? 1 : 0);
    const inputs = new Int32Array(T * size);
    const targets = new Int32Array(windowTargets ? size : T * size);
    for (let t = 0; t < T; t++) {
      inputs.set(batch.inputs.subarray(t * B + first, t * B + first + size), t * size);
      if (!windowTargets) targets.set(batch.targets.subarray(t * B + first, t * B + first + size), t * size);
    }
    if (windowTargets) targets.set(batch.targets.subarray(first, first + size));
    out.push({ steps: T, batchSize: size, inputs, targets });
    first += size;
  }
  return out;
}
