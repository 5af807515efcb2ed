/**
 * The trainer child process: forked by trainer.ts (`child_process.fork`), it fine-tunes one model and exits.
 *
 *   ready → (start { job }) → progress… → saved → done → exit 0
 *
 * - It exits as soon as its parent goes: a `'disconnect'` handler, and a `process.connected` check at start (a child
 *   with no such handler keeps running after its parent is SIGKILLed).
 * - `cancel` ends it at once (exit 0, nothing saved); the parent cleans the temporary folder.
 * - It lowers its own CPU priority (nice `TRAINER_NICENESS`) before it starts any thread, so that on a busy machine
 *   the bot's event loop, not the training, gets the cores first; the gradient worker thread inherits it.
 * - With 2 workers, ONE gradient worker thread (train.ts `gradientWorker`) serves the whole job.
 * - Training runs in chunks so that a fresh sample babble can be drawn between them (train() reports no weights
 *   while it runs): the first chunk lasts `sampleEverySeconds` (default 20 s), each next one twice as long as the one
 *   before (20, 40, 80… s), so a long run restarts few times. Adam's moments carry over from chunk to chunk; each
 *   chunk uses its own batch order. The learning rate follows fine-tune-schedule.ts (warm-up, then cosine decay over
 *   the run's budget) from `job.learningRate` (default FINE_TUNE_PEAK_RATE) as peak.
 * - The new model is written with saveModel into `job.outDir`: every file fsynced, meta.json last, then the folder.
 *   Its training record holds `phaseSeconds` (load, scoreBefore, workerStart, train, scoreAfter), `chunks`, and
 *   `tensors`: tf.memory().numTensors of this thread before and after the training steps (a leak shows there).
 * - Any error: an `error` message, then exit 1.
 *
 * The code at the bottom runs only in a process forked with BABBLE_TRAINER_CHILD=1 and an IPC channel.
 */
import { setPriority } from 'node:os';
import { BabyLanguageModel, encodeTrainingText, type BabyTrainReport } from '../model/baby.js';
import { tf } from '../model/backend.js';
import { fitSeqLength, makeBatcher } from './batches.js';
import { withTrainingText } from './training-text-file.js';
import { startGradientWorker, type GradientWorker } from './gradient-worker.js';
import type { AdamState, TrainProgress } from './train.js';
import { mulberry32 } from '../model/weights.js';
import { initTrainingBackend } from './training-backend.js';
import { FINE_TUNE_PEAK_RATE, fineTuneSchedule } from './fine-tune-schedule.js';
import {
  downsampleCurve,
  parseParentMessage,
  type ChildMessage,
  type HeldOutFigures,
  type TrainJob,
  TRAINER_CHILD_FLAG,
} from './trainer-protocol.js';
import { errorMessage } from '../error-message.js';

/** Seeds of the samples drawn during and after training. */
export const SAMPLE_SEEDS = ['me ', 'me want ', 'hi ', 'where '] as const;
const SAMPLE_OPTIONS = { temperature: 0.5, length: 60, stopAtEndOfUtterance: true } as const;
/** The trainer's CPU priority (Unix nice value; 19 is the lowest priority). */
export const TRAINER_NICENESS = 10;
/** Length of the first training chunk when the job does not say (TrainJob.sampleEverySeconds). */
export const FIRST_CHUNK_SECONDS = 20;

/** Length in seconds of training chunk `index` (0-based): `first`, then doubling. */
export function chunkSeconds(index: number, first: number): number {
  return first * 2 ** Math.min(index, 30);
}

/** Lowers this thread's priority (threads started afterwards inherit it); false where the OS refuses. */
export function lowerPriority(niceness: number = TRAINER_NICENESS): boolean {
  try {
    setPriority(niceness);
    return true;
  } catch {
    return false;
  }
}

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send || !process.connected) {
      reject(new Error('trainer child: the parent is gone'));
      return;
    }
    process.send(message, undefined, {}, (err: Error | null) => (err ? reject(err) : resolve()));
  });
}

/** The server's lines and the base corpus lines in one deterministic shuffled list. */
export function mixLines(server: readonly string[], base: readonly string[], seed: number): string[] {
  const lines = [...server, ...base];
  const rand = mulberry32(seed ^ 0x5eed);
  for (let i = lines.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [lines[i], lines[j]] = [lines[j]!, lines[i]!];
  }
  return lines;
}

async function heldOutBits(model: BabyLanguageModel, lines: readonly string[]): Promise<number | null> {
  if (lines.length === 0) return null;
  const { data } = encodeTrainingText(lines, model.vocab);
  if (data.length < 2) return null;
  return model.bitsPerChar(lines);
}

async function figures(model: BabyLanguageModel, job: TrainJob): Promise<HeldOutFigures> {
  return { server: await heldOutBits(model, job.heldOut.server), base: await heldOutBits(model, job.heldOut.base) };
}

function sampleOf(model: BabyLanguageModel, i: number): string {
  const seed = SAMPLE_SEEDS[i % SAMPLE_SEEDS.length]!;
  return model.generate(seed, { ...SAMPLE_OPTIONS, rng: i }).trim();
}

/** The job's settings with their defaults, and the sizes worked out from its text. */
interface JobPlan {
  seed: number;
  /** The server's and the base corpus lines, mixed. */
  lines: string[];
  batchSize: number;
  seqLength: number;
  stepsPerEpoch: number;
  maxSeconds: number;
  /** Steps allowed by `epochs` and `maxSteps` (Infinity: only time bounds the run). */
  stepLimit: number;
  /** Length of the first chunk in seconds. */
  firstChunk: number;
  progressIntervalMs: number;
  workers: 1 | 2;
  peakRate: number;
}

/** Seconds spent in each phase of a job (the training record's `phaseSeconds`). */
type Phases = { load: number; scoreBefore: number; workerStart: number; train: number; scoreAfter: number };

interface PhaseClock {
  phase: Phases;
  lap(name: keyof Phases): void;
  /** Records `seconds` under a name and marks now. */
  set(name: keyof Phases, seconds: number): void;
}

/** A stopwatch over the phases of a job: `lap` records the time since the previous mark under a name. */
function phaseClock(): PhaseClock {
  const phase: Phases = { load: 0, scoreBefore: 0, workerStart: 0, train: 0, scoreAfter: 0 };
  let mark = performance.now();
  return {
    phase,
    lap(name) {
      const now = performance.now();
      phase[name] = (now - mark) / 1000;
      mark = now;
    },
    set(name, seconds) {
      mark = performance.now();
      phase[name] = seconds;
    },
  };
}

/** Mixes and measures the job's text and fills in the defaults; throws when there is nothing to train on. */
function planJob(job: TrainJob, model: BabyLanguageModel): JobPlan {
  const seed = job.seed ?? 1;
  const lines = mixLines(job.trainingLines, job.baseCorpusLines, seed);
  const { data } = encodeTrainingText(lines, model.vocab);
  if (data.length < 2) throw new Error('there is no training text (after normalisation)');
  const batchSize = job.batchSize ?? 128;
  // The same slice length BabyLanguageModel.train picks for this text.
  const seqLength = fitSeqLength(data.length, job.seqLength);
  const stepsPerEpoch = makeBatcher(data, { scheme: 'seq', batchSize, seqLength, window: 15, seed }).stepsPerEpoch;
  const epochs = job.epochs ?? (job.maxSeconds === undefined && job.maxSteps === undefined ? 1 : Infinity);
  const epochSteps = Number.isFinite(epochs) ? Math.max(1, Math.ceil(epochs * stepsPerEpoch)) : Infinity;
  return {
    seed,
    lines,
    batchSize,
    seqLength,
    stepsPerEpoch,
    maxSeconds: job.maxSeconds ?? Infinity,
    stepLimit: Math.min(epochSteps, job.maxSteps ?? Infinity),
    firstChunk: job.sampleEverySeconds ?? FIRST_CHUNK_SECONDS,
    progressIntervalMs: job.progressIntervalMs ?? 1000,
    workers: job.workers ?? 1,
    peakRate: job.learningRate ?? FINE_TUNE_PEAK_RATE,
  };
}

/** What the chunks of one job did, together. */
interface ChunkedRun {
  curve: { step: number; loss: number }[];
  steps: number;
  /** Chunks run. */
  chunks: number;
  /** The babble shown in progress messages, drawn again after each chunk. */
  sample: string;
  stoppedBy: 'epochs' | 'time' | 'steps';
  targetChars: number;
  adam: AdamState | undefined;
}

/** A chunked run with its wall-clock seconds and this thread's tensor count before and after it. */
type TimedRun = ChunkedRun & { seconds: number; tensors: { before: number; after: number } };

/** Why the run stops before its next chunk, or undefined to go on. */
function stopBefore(
  run: ChunkedRun,
  plan: JobPlan,
  job: TrainJob,
  timeLeft: number,
): ChunkedRun['stoppedBy'] | undefined {
  if (timeLeft <= 0) return 'time';
  if (run.steps < plan.stepLimit) return undefined;
  return job.maxSteps !== undefined && run.steps >= job.maxSteps ? 'steps' : 'epochs';
}

/** The progress message for a report of train() `p` in the chunk that began after `stepsBefore` steps. */
function progressMessage(
  plan: JobPlan,
  stepsBefore: number,
  p: TrainProgress,
  seconds: number,
  sample: string,
): ChildMessage {
  const step = stepsBefore + p.step;
  const perStep = seconds / Math.max(1, step);
  const left = Math.max(0, plan.maxSeconds - seconds);
  const byTime = Number.isFinite(left) ? step + Math.ceil(left / perStep) : Infinity;
  const totalSteps = Math.max(step, Math.min(plan.stepLimit, byTime));
  return {
    type: 'progress',
    step,
    totalSteps: Number.isFinite(totalSteps) ? totalSteps : step,
    epoch: step / plan.stepsPerEpoch,
    loss: Number.isFinite(p.loss) ? p.loss : 0,
    etaSeconds: Math.min(left, Math.max(0, (totalSteps - step) * perStep)),
    charsPerSecond: p.charsPerSecond,
    elapsedSeconds: seconds,
    sample,
  };
}

/** Adds one chunk's report to the run. */
function addChunk(run: ChunkedRun, report: BabyTrainReport, stepsBefore: number): void {
  for (const point of report.lossCurve) run.curve.push({ step: stepsBefore + point.step, loss: point.loss });
  run.steps += report.steps;
  run.targetChars += report.targetChars;
  run.adam = report.adam;
  run.chunks++;
}

/** Trains chunk after chunk (a fresh sample between them) until time, steps or epochs run out. */
async function trainInChunks(
  model: BabyLanguageModel,
  job: TrainJob,
  plan: JobPlan,
  helper: GradientWorker | undefined,
  elapsed: () => number,
  emit: (m: ChildMessage) => Promise<void>,
): Promise<ChunkedRun> {
  const { maxSeconds, stepLimit, seed } = plan;
  const run: ChunkedRun = {
    curve: [],
    steps: 0,
    chunks: 0,
    sample: sampleOf(model, 0),
    stoppedBy: 'epochs',
    targetChars: 0,
    adam: undefined,
  };
  const rateAt = fineTuneSchedule({ peak: plan.peakRate, stepLimit, maxSeconds });
  for (;;) {
    const timeLeft = maxSeconds - elapsed();
    const stop = stopBefore(run, plan, job, timeLeft);
    if (stop) {
      run.stoppedBy = stop;
      break;
    }
    const stepsBefore = run.steps;
    const report = await model.train(plan.lines, {
      maxSeconds: Math.min(chunkSeconds(run.chunks, plan.firstChunk), timeLeft),
      ...(Number.isFinite(stepLimit) ? { maxSteps: stepLimit - run.steps } : {}),
      batchSize: plan.batchSize,
      seqLength: plan.seqLength,
      learningRate: (step) => rateAt(stepsBefore + step, elapsed()),
      ...(run.adam ? { adam: run.adam } : {}),
      workers: plan.workers,
      ...(helper ? { gradientWorker: helper } : {}),
      seed: (seed + run.chunks * 7919) >>> 0,
      progressIntervalMs: plan.progressIntervalMs,
      onProgress: (p) => emit(progressMessage(plan, stepsBefore, p, elapsed(), run.sample)),
    });
    addChunk(run, report, stepsBefore);
    run.sample = sampleOf(model, run.chunks);
    if (report.steps === 0) break;
  }
  return run;
}

/** The chunked training with its gradient worker, timed, with the tensor count before and after. */
async function trainTimed(
  model: BabyLanguageModel,
  job: TrainJob,
  plan: JobPlan,
  clock: PhaseClock,
  emit: (m: ChildMessage) => Promise<void>,
): Promise<TimedRun> {
  // One worker thread for every chunk (its start-up, ~0.5–1 s, paid once).
  const helper: GradientWorker | undefined =
    plan.workers === 2 ? await startGradientWorker(tf.getBackend()) : undefined;
  clock.lap('workerStart');
  const tensorsBefore = tf.memory().numTensors;
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  let run: ChunkedRun;
  try {
    run = await trainInChunks(model, job, plan, helper, elapsed, emit);
  } finally {
    await helper?.terminate();
  }
  const tensors = { before: tensorsBefore, after: tf.memory().numTensors };
  const seconds = elapsed();
  clock.set('train', seconds);
  return { ...run, seconds, tensors };
}

/** The training record saved in the new model's meta.json. */
function trainingRecord(
  job: TrainJob,
  plan: JobPlan,
  run: TimedRun,
  phase: Phases,
  heldOut: { before: HeldOutFigures; after: HeldOutFigures },
  fineTunedFrom: string | null,
): Record<string, unknown> {
  const { curve, steps, targetChars, seconds } = run;
  const round3 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    ...(job.note ?? {}),
    steps,
    targetChars,
    seconds,
    charsPerSecond: targetChars / Math.max(seconds, 1e-9),
    finalLoss: curve.length ? curve.slice(-10).reduce((a, p) => a + p.loss, 0) / Math.min(10, curve.length) : null,
    stoppedBy: run.stoppedBy,
    batchSize: plan.batchSize,
    seqLength: plan.seqLength,
    learningRate: plan.peakRate,
    learningRateSchedule: 'warm-up, cosine decay',
    workers: plan.workers,
    seed: plan.seed,
    chunks: run.chunks,
    tensors: run.tensors,
    phaseSeconds: Object.fromEntries(Object.entries(phase).map(([k, v]) => [k, round3(v)])),
    trainingLines: job.trainingLines.length,
    baseCorpusLines: job.baseCorpusLines.length,
    heldOutBitsPerCharBefore: heldOut.before,
    heldOutBitsPerChar: heldOut.after,
    fineTunedFrom,
  };
}

/** Runs one job: load, score, train in chunks with progress, score again, save, report. */
export async function runJob(job: TrainJob, emit: (m: ChildMessage) => Promise<void>): Promise<void> {
  const clock = phaseClock();
  await initTrainingBackend();
  const model = await BabyLanguageModel.load(job.baseModelDir);
  clock.lap('load');
  const before = await figures(model, job);
  clock.lap('scoreBefore');
  const plan = planJob(job, model);
  const run = await trainTimed(model, job, plan, clock, emit);
  const after = await figures(model, job);
  clock.lap('scoreAfter');
  const heldOut = { before, after };
  const training = trainingRecord(job, plan, run, clock.phase, heldOut, model.meta?.version ?? null);
  await model.save(job.outDir, { version: job.version, training });
  await emit({
    type: 'saved',
    dir: job.outDir,
    heldOut,
    steps: run.steps,
    seconds: run.seconds,
    charsPerSecond: run.targetChars / Math.max(run.seconds, 1e-9),
    stoppedBy: run.stoppedBy,
    lossCurve: downsampleCurve(run.curve),
    samples: SAMPLE_SEEDS.map((_, i) => sampleOf(model, i)),
  });
  await emit({ type: 'done' });
}

/** The child's main: wires the IPC channel to runJob. */
export function serveTrainerChild(): void {
  const exitNow = (code: number) => process.exit(code);
  process.on('disconnect', () => exitNow(0));
  if (!process.connected) exitNow(0);
  lowerPriority();
  let started = false;
  const fail = (err: unknown) => {
    send({ type: 'error', message: errorMessage(err) }).then(
      () => exitNow(1),
      () => exitNow(1),
    );
  };
  process.on('message', (raw: unknown) => {
    let message: ReturnType<typeof parseParentMessage>;
    try {
      message = parseParentMessage(raw);
    } catch (err) {
      fail(err);
      return;
    }
    if (message.type === 'cancel') {
      exitNow(0);
      return;
    }
    if (started) {
      fail(new Error('a second start message'));
      return;
    }
    started = true;
    withTrainingText(message.job)
      .then((job) => runJob(job, send))
      .then(() => {
        process.disconnect();
        exitNow(0);
      }, fail);
  });
  send({ type: 'ready', pid: process.pid, envKeys: Object.keys(process.env).sort() }).catch(() => exitNow(0));
}

if (process.env[TRAINER_CHILD_FLAG] === '1' && typeof process.send === 'function') serveTrainerChild();
