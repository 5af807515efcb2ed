/**
 * The production trainer: Embedding → LSTM → Dropout → LSTM → Dropout → Dense(softmax) trained with hand-written
 * gradients on plain tfjs ops (gradients.ts, lstm-gradients.ts), on whatever backend is active. On wasm, register
 * the fast kernels first (fast-kernels.ts; `initTrainingBackend()` in training-backend.ts does it) for the fast path.
 *
 * Maths (Keras-exact, weights in Keras layout, see weights.ts):
 * - embedding lookup; LSTM gates i, f, c, o from z = x·W + h·U + b, sigmoid recurrent activation, tanh activation;
 *   inverted dropout (rate 0.2) after each LSTM, in training only; Dense + softmax.
 * - loss: mean cross-entropy (nats) over every position (`scheme: 'seq'`, sequence-to-sequence) or over the
 *   character after each `window`-character input (`scheme: 'window'`, the original recipe).
 * - every sequence starts from a zero state (stateless, as Keras `fit` on a non-stateful LSTM).
 * - Adam (β1 0.9, β2 0.999, ε 1e-8, bias-corrected, like PyTorch), gradients clipped to a global norm of 5.
 *
 * Speed: the input projection of all time steps is one matMul per layer (for the first layer a gather from the
 * [V, 4H] table E·W1 + b1, so the embedding never gets a [rows, 32] matMul); the recurrence does one [B, H]·[H, 4H]
 * matMul per step; weight gradients are one matMul each over all steps; nothing uses a transposed matMul. On wasm
 * with the fast kernels (fast-kernels.ts) each LSTM layer is one fused kernel forward and one backward (wasm-kernels.ts:
 * per time step one GEMM and one SIMD cell function), the large products use the same GEMM (fused multiply-add
 * where relaxed SIMD is available; lstm-gradients.ts matMulBias), and the table gradient is a scatter-add
 * (UnsortedSegmentSum) instead of a one-hot matMul. The optimiser runs on plain Float32Arrays (no tensors), so the
 * data-parallel worker (`workers: 2`, the default on 2 cores) costs one copy of the weights and gradients per step.
 */
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { makeBatcher, splitBatch, type Batch, type Batcher, type Scheme } from './batches.js';
import { DROPOUT_RATE, initWeights, mulberry32, type BabyWeights } from '../model/weights.js';
import { startGradientWorker, type GradientWorker } from './gradient-worker.js';
import { gradientArrays, PARAMS, paramShapes, toTensors, toWeights, weightArrays, type Shapes } from './gradients.js';
import { lstmForward, matMulBias } from './lstm-gradients.js';

export interface TrainOptions {
  /** Encoded training text (ids from Vocabulary.encode of normalised lines joined by '\n'). */
  data: Int32Array;
  vocabSize: number;
  /** Fine-tune from these (else initWeights(vocabSize, seed)). */
  init?: BabyWeights;
  /** Passes over the data (an epoch ≈ data.length target characters). Default 1 unless maxSteps or maxSeconds is given. */
  epochs?: number;
  /** Wall-clock budget: stops after the step that reaches it. */
  maxSeconds?: number;
  maxSteps?: number;
  /** Sequences per step; default 128. */
  batchSize?: number;
  /** Time steps per sequence (`seq`); default 32. */
  seqLength?: number;
  /** Default 'seq'. */
  scheme?: Scheme;
  /** Input characters per sample (`window`); default 15. */
  window?: number;
  /** Adam learning rate; default 2e-3. A function gives the rate of each step (0-based step of this call). */
  learningRate?: number | ((step: number) => number);
  /**
   * Adam's moments to continue from, updated in place (`adamState(...)` fresh; callers that train in several calls
   * pass the same one so that the optimiser does not restart). Default: fresh for this call.
   */
  adam?: AdamState;
  /** Global-norm gradient clipping; default 5 (0 or Infinity: none). */
  clipNorm?: number;
  /** Dropout rate after each LSTM; default 0.2. */
  dropout?: number;
  /** Makes initialisation, batches and dropout reproducible (same backend). Default 1. */
  seed?: number;
  /** Cancellation: training stops after the current step and returns with `stoppedBy: 'aborted'`. */
  signal?: AbortSignal;
  /** Called after the first step, then at most every `progressIntervalMs`, and after the last step. */
  onProgress?: (p: TrainProgress) => void | Promise<void>;
  /** Default 1000. */
  progressIntervalMs?: number;
  /**
   * 1: everything on this thread. 2: data-parallel, each batch split in two halves, one computed here and one on a
   * worker_thread (same backend), gradients averaged before one Adam update here. Results differ from `workers: 1`
   * (other dropout masks, summation order) but are reproducible for a seed. Default: `defaultWorkers` (2 on wasm or
   * cpu with at least 2 cores and 2 sequences per batch, else 1).
   */
  workers?: 1 | 2;
  /**
   * A worker from `startGradientWorker(tf.getBackend())` (gradient-worker.ts) to compute the second half with, left
   * running afterwards: callers that train in many short calls (chunks of a retrain) pay its start-up (~0.5–1 s)
   * once. Used when `workers` is 2, which it makes the default.
   */
  gradientWorker?: GradientWorker;
}

export interface TrainProgress {
  /** Steps done. */
  step: number;
  /** Steps planned (estimated from speed when only a time budget bounds the run). */
  totalSteps: number;
  /** Epochs done, fractional. */
  epoch: number;
  /** Mean training loss (nats per target character) of the steps since the previous report. */
  loss: number;
  charsPerSecond: number;
  etaSeconds: number;
  elapsedSeconds: number;
}

export interface TrainResult {
  weights: BabyWeights;
  steps: number;
  targetChars: number;
  seconds: number;
  /** Target characters per second over the whole run. */
  charsPerSecond: number;
  /** Mean training loss (nats) of the last min(10, steps) steps; NaN when no step ran. */
  finalLoss: number;
  /** The training loss of every step (before that step's update). */
  lossCurve: { step: number; loss: number }[];
  stoppedBy: 'epochs' | 'time' | 'steps' | 'aborted';
  /** Threads that computed gradients. */
  workers: number;
  /** Adam's moments after the last step (pass as `adam` to continue). */
  adam: AdamState;
}

/** Adam moments, one array per parameter (PARAMS order), and the number of updates made. */
export interface AdamState {
  m: Float32Array[];
  v: Float32Array[];
  t: number;
}

const BETA1 = 0.9;
const BETA2 = 0.999;
const EPSILON = 1e-8;

/** Fresh Adam state for parameters of these sizes. */
export function adamState(params: readonly Float32Array[]): AdamState {
  return { m: params.map((p) => new Float32Array(p.length)), v: params.map((p) => new Float32Array(p.length)), t: 0 };
}

/**
 * One Adam update in place (bias-corrected, like PyTorch: p −= lr_t · m / (√v + ε) with lr_t = lr·√(1−β2^t)/(1−β1^t)),
 * after scaling the gradients to a global norm of at most `clipNorm` (0 or Infinity: no clipping). Returns the
 * gradients' global norm before clipping.
 */
export function adamUpdate(
  params: Float32Array[],
  grads: readonly Float32Array[],
  state: AdamState,
  lr: number,
  clipNorm: number,
): number {
  let squares = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) squares += g[i]! * g[i]!;
  const norm = Math.sqrt(squares);
  const scale = clipNorm > 0 && Number.isFinite(clipNorm) ? Math.min(1, clipNorm / (norm + 1e-6)) : 1;
  const t = state.t + 1;
  const lrT = (lr * Math.sqrt(1 - BETA2 ** t)) / (1 - BETA1 ** t);
  params.forEach((p, k) => {
    const g = grads[k]!;
    const m = state.m[k]!;
    const v = state.v[k]!;
    if (g.length !== p.length)
      throw new Error(`adamUpdate: gradient ${k} has ${g.length} values, parameter ${p.length}`);
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]! * scale;
      const mi = BETA1 * m[i]! + (1 - BETA1) * gi;
      const vi = BETA2 * v[i]! + (1 - BETA2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p[i] = p[i]! - (lrT * mi) / (Math.sqrt(vi) + EPSILON);
    }
  });
  state.t = t;
  return norm;
}

function stepSeed(seed: number, step: number, replica: number): number {
  return (
    (Math.imul(seed >>> 0, 0x2c1b3c6d) ^ Math.imul(step + 1, 0x297a2d39) ^ Math.imul(replica + 1, 0x5bd1e995)) >>> 0
  );
}

function stepRandom(seed: number, step: number, replica = 0): () => number {
  return mulberry32(stepSeed(seed, step, replica));
}

function checkIds(data: Int32Array, vocabSize: number, what: string): void {
  for (let i = 0; i < data.length; i++) {
    const id = data[i]!;
    if (!(id >= 0 && id < vocabSize))
      throw new RangeError(`${what}: id ${id} at position ${i} is outside 0..${vocabSize - 1}`);
  }
}

const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The default of TrainOptions.workers: 2 on the single-threaded backends (wasm, cpu) when the machine has at least
 * 2 cores and the batch at least 2 sequences; 1 otherwise (tfjs-node's native backend already uses every core).
 */
export function defaultWorkers(batchSize: number, backend: string = tf.getBackend()): 1 | 2 {
  return batchSize >= 2 && (backend === 'wasm' || backend === 'cpu') && availableParallelism() >= 2 ? 2 : 1;
}

/** train()'s options with their defaults filled in and checked. */
interface TrainPlan {
  scheme: Scheme;
  seed: number;
  lrAt: (step: number) => number;
  clipNorm: number;
  dropout: number;
  init: BabyWeights;
  batcher: Batcher;
  /** Steps allowed by `epochs` and `maxSteps`. */
  stepLimit: number;
  maxSteps: number;
  maxSeconds: number;
  progressInterval: number;
  shapes: Shapes;
  workers: 1 | 2;
}

/** Fills in and checks train()'s options (throws saying which one is wrong). */
function planTraining(opts: TrainOptions): TrainPlan {
  const { data, vocabSize } = opts;
  const scheme: Scheme = opts.scheme ?? 'seq';
  if (scheme !== 'seq' && scheme !== 'window') throw new Error(`train: unknown scheme ${String(scheme)}`);
  const seed = opts.seed ?? 1;
  const rate = opts.learningRate ?? 2e-3;
  const dropout = opts.dropout ?? DROPOUT_RATE;
  if (!(dropout >= 0 && dropout < 1)) throw new RangeError(`train: dropout must be in [0, 1) (got ${dropout})`);
  const init = opts.init ?? initWeights(vocabSize, seed);
  if (init.vocabSize !== vocabSize) {
    throw new Error(`train: init weights have vocabSize ${init.vocabSize}, expected ${vocabSize}`);
  }
  checkIds(data, vocabSize, 'train');
  const batchSize = opts.batchSize ?? 128;
  const window = opts.window ?? 15;
  const batcher = makeBatcher(data, { scheme, batchSize, seqLength: opts.seqLength ?? 32, window, seed });
  const { stepLimit, maxSteps } = stepBudget(opts, batcher.stepsPerEpoch);
  return {
    scheme,
    seed,
    lrAt: typeof rate === 'function' ? rate : () => rate,
    clipNorm: opts.clipNorm ?? 5,
    dropout,
    init,
    batcher,
    stepLimit,
    maxSteps,
    maxSeconds: opts.maxSeconds ?? Infinity,
    progressInterval: opts.progressIntervalMs ?? 1000,
    shapes: { vocabSize, embeddingDim: init.embeddingDim, units: init.units },
    workers: gradientThreads(opts, batchSize),
  };
}

/** The most steps `epochs` and `maxSteps` allow (Infinity when only time bounds the run). */
function stepBudget(opts: TrainOptions, stepsPerEpoch: number): { stepLimit: number; maxSteps: number } {
  const unbounded = opts.maxSteps === undefined && opts.maxSeconds === undefined;
  const epochs = opts.epochs ?? (unbounded ? 1 : Infinity);
  if (!(epochs > 0)) throw new RangeError(`train: epochs must be positive (got ${epochs})`);
  const epochSteps = Number.isFinite(epochs) ? Math.max(1, Math.ceil(epochs * stepsPerEpoch)) : Infinity;
  const maxSteps = opts.maxSteps ?? Infinity;
  return { stepLimit: Math.min(epochSteps, maxSteps), maxSteps };
}

/** TrainOptions.workers with its default, checked against the batch size. */
function gradientThreads(opts: TrainOptions, batchSize: number): 1 | 2 {
  const workers = opts.workers ?? (opts.gradientWorker ? 2 : defaultWorkers(batchSize));
  if (workers !== 1 && workers !== 2) throw new RangeError(`train: workers must be 1 or 2 (got ${String(workers)})`);
  if (workers === 2 && batchSize < 2) throw new RangeError('train: workers: 2 needs a batchSize of at least 2');
  return workers;
}

/** The master copy of the parameters (PARAMS order, updated in place) from the initial weights, and their shapes. */
function initialParams(init: BabyWeights, shapes: Shapes): { shapeList: number[][]; params: Float32Array[] } {
  const shapeList = PARAMS.map((n) => paramShapes(shapes)[n]);
  const initArrays = weightArrays(init);
  shapeList.forEach((shape, i) => {
    const name = PARAMS[i]!;
    const n = shape.reduce((a, b) => a * b, 1);
    if (initArrays[name].length !== n) {
      throw new Error(`train: weights ${name} has ${initArrays[name].length} values, expected ${n}`);
    }
  });
  return { shapeList, params: PARAMS.map((n) => new Float32Array(initArrays[n])) };
}

/** `opts.adam` if it fits the parameters (else throws), or a fresh state. */
function adamFor(opts: TrainOptions, params: readonly Float32Array[]): AdamState {
  const adam = opts.adam ?? adamState(params);
  if (adam.m.length !== params.length || adam.m.some((m, i) => m.length !== params[i]!.length)) {
    throw new Error('train: the Adam state does not fit these weights');
  }
  return adam;
}

/** The worker thread for the second half of each batch with `workers: 2`: the caller's, or a new one. */
async function gradientHelper(opts: TrainOptions, workers: 1 | 2): Promise<GradientWorker | undefined> {
  if (workers === 2 && opts.gradientWorker && opts.gradientWorker.backend !== tf.getBackend()) {
    throw new Error(`train: the gradient worker runs ${opts.gradientWorker.backend}, this thread ${tf.getBackend()}`);
  }
  return workers === 2 ? (opts.gradientWorker ?? (await startGradientWorker(tf.getBackend()))) : undefined;
}

/** What one training step needs, made once per train() call. */
interface StepContext extends TrainPlan {
  shapeList: number[][];
  /** The master copy, updated in place. */
  params: Float32Array[];
  adam: AdamState;
}

/** A training run so far. */
interface StepRun {
  /** performance.now() at the start. */
  started: number;
  step: number;
  lossCurve: { step: number; loss: number }[];
  /** Losses of the steps since the previous progress report. */
  sinceReport: number[];
  /** performance.now() at the previous progress report. */
  lastReport: number;
  stoppedBy: TrainResult['stoppedBy'];
}

function elapsedSeconds(run: StepRun): number {
  return (performance.now() - run.started) / 1000;
}

/** One step on this thread: gradients of the whole batch, one Adam update. Returns the loss. */
function oneThreadStep(ctx: StepContext, batch: Batch, step: number): number {
  const { params, scheme, dropout, seed } = ctx;
  const local = gradientArrays(params, ctx.shapeList, batch, scheme, dropout, stepRandom(seed, step));
  adamUpdate(params, local.grads, ctx.adam, ctx.lrAt(step), ctx.clipNorm);
  return local.loss;
}

/** One data-parallel step: half the batch here, half on the helper, gradients averaged, one Adam update. */
async function twoThreadStep(ctx: StepContext, helper: GradientWorker, batch: Batch, step: number): Promise<number> {
  const { params, shapeList, scheme, dropout, seed } = ctx;
  const [mine, theirs] = splitBatch(batch, 2) as [Batch, Batch];
  const maskSeed = stepSeed(seed, step, 1);
  const copy = params.map((p) => p.slice());
  const remote = helper.compute({ params: copy, shapes: shapeList, batch: theirs, scheme, dropout, maskSeed });
  remote.catch(() => undefined); // a rejection is handled by the await below, even if the local part throws first
  const local = gradientArrays(params, shapeList, mine, scheme, dropout, stepRandom(seed, step));
  const other = await remote;
  // Each part's loss is a mean over its targets: weigh by target counts.
  const w = mine.targets.length / (mine.targets.length + theirs.targets.length);
  local.grads.forEach((g, k) => {
    const o = other.grads[k]!;
    for (let i = 0; i < g.length; i++) g[i] = w * g[i]! + (1 - w) * o[i]!;
  });
  adamUpdate(params, local.grads, ctx.adam, ctx.lrAt(step), ctx.clipNorm);
  return w * local.loss + (1 - w) * other.loss;
}

/** Why training stops before the next step, or undefined to go on. */
function stopBeforeStep(
  ctx: StepContext,
  run: StepRun,
  signal: AbortSignal | undefined,
): TrainResult['stoppedBy'] | undefined {
  if (signal?.aborted) return 'aborted';
  if (run.step < ctx.stepLimit) return undefined;
  return run.step >= ctx.maxSteps ? 'steps' : 'epochs';
}

/** Counts a finished step and its loss; throws when the loss is not finite. */
function recordStep(run: StepRun, loss: number): void {
  run.step++;
  const step = run.step;
  run.lossCurve.push({ step, loss });
  run.sinceReport.push(loss);
  if (!Number.isFinite(loss)) throw new Error(`train: loss became ${loss} at step ${step}`);
}

/** Reports progress (mean loss since the previous report, speed, time left) to `onProgress`, if given. */
async function reportProgress(ctx: StepContext, run: StepRun, onProgress: TrainOptions['onProgress']): Promise<void> {
  if (!onProgress) return;
  const { step } = run;
  const { stepLimit, batcher } = ctx;
  const seconds = elapsedSeconds(run);
  const perStep = seconds / Math.max(1, step);
  const timeLeft = Math.max(0, ctx.maxSeconds - seconds);
  const totalSteps = Number.isFinite(stepLimit) ? stepLimit : step + Math.ceil(timeLeft / perStep);
  const loss = run.sinceReport.reduce((a, b) => a + b, 0) / Math.max(1, run.sinceReport.length);
  run.sinceReport = [];
  run.lastReport = performance.now();
  await onProgress({
    step,
    totalSteps,
    epoch: step / batcher.stepsPerEpoch,
    loss,
    charsPerSecond: (step * batcher.targetsPerBatch) / Math.max(seconds, 1e-9),
    etaSeconds: Math.min(timeLeft, Math.max(0, (Math.min(totalSteps, stepLimit) - step) * perStep)),
    elapsedSeconds: seconds,
  });
}

/** Steps until a limit, the time budget or the signal stops them (recorded in `run.stoppedBy`). */
async function runSteps(
  ctx: StepContext,
  helper: GradientWorker | undefined,
  run: StepRun,
  opts: TrainOptions,
): Promise<void> {
  for (;;) {
    const stop = stopBeforeStep(ctx, run, opts.signal);
    if (stop) {
      run.stoppedBy = stop;
      return;
    }
    const batch = ctx.batcher.batch(run.step);
    const loss = helper ? await twoThreadStep(ctx, helper, batch, run.step) : oneThreadStep(ctx, batch, run.step);
    recordStep(run, loss);
    if (elapsedSeconds(run) >= ctx.maxSeconds) {
      run.stoppedBy = 'time';
      return;
    }
    if (run.step === 1 || performance.now() - run.lastReport >= ctx.progressInterval) {
      await reportProgress(ctx, run, opts.onProgress);
    }
    await nextTick(); // let timers and abort signals run
  }
}

/** train()'s result once the steps are done. */
function trainResult(ctx: StepContext, run: StepRun): TrainResult {
  const { step, lossCurve } = run;
  const seconds = elapsedSeconds(run);
  const tail = lossCurve.slice(-10);
  return {
    weights: toWeights(ctx.params, ctx.shapes),
    steps: step,
    targetChars: step * ctx.batcher.targetsPerBatch,
    seconds,
    charsPerSecond: (step * ctx.batcher.targetsPerBatch) / Math.max(seconds, 1e-9),
    finalLoss: tail.length ? tail.reduce((a, b) => a + b.loss, 0) / tail.length : NaN,
    lossCurve,
    stoppedBy: run.stoppedBy,
    workers: ctx.workers,
    adam: ctx.adam,
  };
}

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const plan = planTraining(opts);
  const { shapeList, params } = initialParams(plan.init, plan.shapes);
  const adam = adamFor(opts, params);
  const ownHelper = plan.workers === 2 && !opts.gradientWorker;
  const helper = await gradientHelper(opts, plan.workers);
  const ctx: StepContext = { ...plan, shapeList, params, adam };
  const run: StepRun = {
    started: performance.now(),
    step: 0,
    lossCurve: [],
    sinceReport: [],
    lastReport: -Infinity,
    stoppedBy: 'epochs',
  };
  try {
    await runSteps(ctx, helper, run, opts);
    if (run.step > 0 && run.sinceReport.length > 0) await reportProgress(ctx, run, opts.onProgress);
    return trainResult(ctx, run);
  } finally {
    if (ownHelper) await helper?.terminate();
  }
}

export interface CrossEntropyOptions {
  /** Characters per forward chunk; default 64. */
  seqLength?: number;
  /** Parallel streams; default 128. */
  batchSize?: number;
}

/**
 * Held-out cross-entropy in bits per character, with the training forward pass and no dropout.
 *
 * The text is cut into `batchSize` contiguous streams of equal length (fewer when the text is short; the few
 * characters left over at the end are not scored). Each stream is read in chunks of `seqLength` with the LSTM state
 * CARRIED from chunk to chunk (as generation carries it), starting from a zero state, so every character of a
 * stream after its first is scored once, with all of its stream before it as context.
 */
export async function crossEntropyBits(
  weights: BabyWeights,
  data: Int32Array,
  opts: CrossEntropyOptions = {},
): Promise<number> {
  const T = opts.seqLength ?? 64;
  const B = opts.batchSize ?? 128;
  if (!Number.isInteger(T) || T < 1 || !Number.isInteger(B) || B < 1)
    throw new RangeError('crossEntropyBits: seqLength and batchSize must be positive integers');
  if (data.length < 2) throw new RangeError('crossEntropyBits: need at least 2 characters');
  checkIds(data, weights.vocabSize, 'crossEntropyBits');
  const streams = Math.max(1, Math.min(B, Math.floor((data.length - 1) / T)));
  const length = Math.floor((data.length - 1) / streams); // targets per stream
  const p = toTensors(weights);
  let state: tf.Tensor2D[] | undefined; // h1, c1, h2, c2
  let total = 0;
  let count = 0;
  try {
    for (let pos = 0; pos < length; pos += T) {
      const steps = Math.min(T, length - pos);
      const inputs = new Int32Array(steps * streams);
      const targets = new Int32Array(steps * streams);
      for (let t = 0; t < steps; t++) {
        for (let s = 0; s < streams; s++) {
          inputs[t * streams + s] = data[s * length + pos + t]!;
          targets[t * streams + s] = data[s * length + pos + t + 1]!;
        }
      }
      const prev = state;
      const out = tf.tidy(() => {
        const table = matMulBias(p.embedding as tf.Tensor2D, p.w1 as tf.Tensor2D, p.b1 as tf.Tensor1D);
        const xw1 = tf.gather(table, tf.tensor1d(inputs, 'int32')) as tf.Tensor2D;
        const l1 = lstmForward(xw1, p.u1 as tf.Tensor2D, steps, prev ? { h0: prev[0], c0: prev[1] } : {});
        const xw2 = matMulBias(l1.outputs, p.w2 as tf.Tensor2D, p.b2 as tf.Tensor1D);
        const l2 = lstmForward(xw2, p.u2 as tf.Tensor2D, steps, prev ? { h0: prev[2], c0: prev[3] } : {});
        const logp = tf.logSoftmax(tf.add(tf.matMul(l2.outputs, p.wd), p.bd));
        const picked = tf.sum(tf.mul(tf.oneHot(tf.tensor1d(targets, 'int32'), weights.vocabSize), logp));
        return { picked, state: [l1.h, l1.c, l2.h, l2.c] };
      });
      total -= out.picked.dataSync()[0]!;
      count += steps * streams;
      out.picked.dispose();
      if (prev) tf.dispose(prev);
      state = out.state;
      await nextTick();
    }
  } finally {
    if (state) tf.dispose(state);
    tf.dispose(Object.values(p));
  }
  return total / count / Math.LN2;
}
