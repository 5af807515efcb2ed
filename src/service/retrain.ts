/**
 * Retraining, start to swap: one training per scope (server, or "base") at a time, at most `concurrency` at once
 * (the rest wait in a FIFO queue whose position is reported), progress events throttled for the UI, cancel, the
 * quality gate, and the atomic swap (registry.ts) or keeping the model aside when the gate refuses it.
 *
 * A run: the scope's text (`trainingText`, normalised, one utterance a line) and the base corpus are each split
 * into training and held-out lines (splitHeldOut, by line hash); a trainer child (trainer.ts) fine-tunes the model
 * the scope serves now on the scope's training lines mixed with base corpus lines, and scores the held-out lines
 * before and after. The parent then loads the new folder (every hash verified) and applies the gate:
 *   - held-out bits per character on the scope's held-out lines and on the held-out base corpus must each be no
 *     worse than before plus `tolerance` (a figure with no held-out text is skipped, and says so);
 *   - samples must be mostly non-empty and mostly known words (base corpus words and the scope's own words).
 * Pass → registry.commit (new version, pointer flipped) and the model cache serves it at once. Fail → kept aside
 * with the reasons, never served. Crash, timeout, cancel → nothing changes; the temporary folder is removed.
 */
import { readFile } from 'node:fs/promises';
import { BabyLanguageModel } from '../model/baby.js';
import { corpusWords, splitHeldOut, wordsOf } from '../model/corpus.js';
import { DEFAULT_VOCAB, normalize } from '../model/vocab.js';
import type { Logger } from '../log.js';
import { failedWith, RETRAIN_FAILURE, TRAINER_FAILURE } from './failure.js';
import { CHART_COLORS, lossChartPng } from './loss-chart.js';
import { memoryLocks, type LockHandle, type TrainingLocks } from './lock.js';
import { createModeration, filterGate, shownSample, type Moderation } from './moderation.js';
import type { ModelCache } from './models.js';
import { createOutputFilter, type Screener } from './output-filter.js';
import type { TrainingBudget } from './training-budget.js';
import { BASE_SCOPE, isValidScope, RegistryError, type ModelRegistry } from './registry.js';
import { runTraining as defaultRunTraining, TrainingError, type RunTrainingOptions, type TrainingResult } from './trainer.js';
import type { HeldOutFigures, ProgressFigures, TrainJob } from './trainer-protocol.js';

export interface RetrainRequest {
  /** A server id, or "base" for the shared base model. */
  scope: string;
  /** Training time budget. Default `defaultMinutes`; capped at `maxMinutes`. */
  minutes?: number;
  /** Passes over the text; with minutes, whichever ends first. */
  epochs?: number;
  /** Who asked (recorded in the version's history). */
  requestedBy?: string;
}

export interface GateOptions {
  /** How much worse (bits per character) a held-out figure may get. Default 0.05. */
  tolerance?: number;
  /** Least share of known words among the samples' generated words. Default 0.6. */
  minWordShare?: number;
  /** Least share of samples with something generated. Default 0.75. */
  minNonEmpty?: number;
  /** Samples drawn for the check. Default 12. */
  samples?: number;
  /** Most share of the samples that may trip the word filter (TRAIN_GATE_MAX_FLAGGED). Default 0.1. */
  maxFlaggedRate?: number;
}

export interface GateCheck {
  before: number | null;
  after: number | null;
  /** False when worse than before + tolerance; true when better, equal, within tolerance, or not measured. */
  ok: boolean;
}

export interface GateResult {
  pass: boolean;
  /** Why it failed (empty when it passed), one sentence each. */
  reasons: string[];
  /** Held-out figures compared, and notes such as "no held-out server text". */
  server: GateCheck;
  base: GateCheck;
  samples: { wordShare: number; nonEmpty: number; ok: boolean; texts: string[] };
  notes: string[];
  tolerance: number;
}

/** What a run that trained and saved a model reports, swapped in or not. */
export interface TrainedRun {
  /** The label of the model that was serving when the run started ("base", "3"…). */
  previous: string;
  gate: GateResult;
  heldOut: { before: HeldOutFigures; after: HeldOutFigures };
  steps: number;
  seconds: number;
  /** The loss curve as a PNG. */
  chart: Buffer;
  lossCurve: { step: number; loss: number }[];
  trainingLines: number;
}

export type RetrainOutcome =
  | ({ status: 'swapped'; /** The new version, serving now. */ version: number } & TrainedRun)
  | ({ status: 'rejected'; /** Where the refused model was kept (never served). */ keptAs: string } & TrainedRun)
  | { status: 'cancelled' }
  | {
      status: 'failed';
      /** A fixed text, safe to show (never an error message). */
      reason: string;
      /** The id of the log line with the details. */
      errorId?: string;
    };

export type RetrainEvent =
  | { type: 'queued'; position: number }
  | { type: 'started' }
  | { type: 'progress'; progress: ProgressFigures }
  | { type: 'finished'; outcome: RetrainOutcome };

export interface RetrainJob {
  readonly scope: string;
  readonly request: RetrainRequest;
  /** Queued (waiting for a free trainer), running, or finished. */
  readonly state: 'queued' | 'running' | 'finished';
  /** 1-based place in the queue while queued. */
  readonly position: number | undefined;
  /** The latest progress (not throttled). */
  readonly latest: ProgressFigures | undefined;
  /** Events from now on; returns an unsubscribe function. */
  subscribe(listener: (event: RetrainEvent) => void): () => void;
  cancel(): void;
  /** Settles with the outcome; never rejects. */
  readonly result: Promise<RetrainOutcome>;
}

export type StartResult = { status: 'started' | 'queued'; job: RetrainJob } | { status: 'busy'; job: RetrainJob };

export interface RetrainManager {
  /** Starts (or queues) a run; a scope with a run queued or running gets `busy` and that run. */
  start(request: RetrainRequest): StartResult;
  get(scope: string): RetrainJob | undefined;
  /** Cancels the scope's run; false when there is none. */
  cancel(scope: string): boolean;
  /** Scopes waiting, first first. */
  queued(): string[];
  /** Scopes training now. */
  running(): string[];
  /** Refuses new runs, cancels every queued and running one, and waits until they have ended (bot shutdown). */
  close(): Promise<void>;
}

export interface TrainingSettings {
  batchSize?: number;
  seqLength?: number;
  learningRate?: number;
  workers?: 1 | 2;
  /** Hard cap on steps (tests and tiny runs). */
  maxSteps?: number;
  maxHeapMb?: number;
  /** Added to the training budget for the child's wall-clock limit (loading, scoring, saving). Default 120 s. */
  slackSeconds?: number;
  sampleEverySeconds?: number;
  /** How often the child reports (the UI throttle is separate). Default 1000 ms. */
  childProgressMs?: number;
  graceMs?: number;
  /** Base corpus characters mixed in per character of server text (the corpus repeats if needed). Default 1. */
  baseMixRatio?: number;
  /** Least base corpus characters mixed in. Default: the whole base training split once. */
  minBaseChars?: number;
  seed?: number;
}

export interface RetrainManagerOptions {
  registry: ModelRegistry;
  models: ModelCache;
  /** The server's collected and taught text (issue 4's collection service); raw, one message per entry. */
  trainingText: (scope: string) => Promise<string[]>;
  /** The base corpus lines (loadBaseCorpus). */
  baseCorpus: readonly string[];
  /** The shipped base model folder (MODEL_DIR). */
  baseModelDir: string;
  /** Trainings at once (TRAIN_CONCURRENCY). Default 1. */
  concurrency?: number;
  /** Progress events at most this often. Default 5000 ms. */
  progressIntervalMs?: number;
  /** Default training minutes. Default 5. */
  defaultMinutes?: number;
  /** Most training minutes (TRAIN_MAX_MINUTES). Default 30. */
  maxMinutes?: number;
  /** Least usable lines of server text to train on. Default 20. */
  minLines?: number;
  gate?: GateOptions;
  training?: TrainingSettings;
  /** The trainer (default trainer.ts runTraining). */
  runTraining?: (job: TrainJob, options: RunTrainingOptions) => Promise<TrainingResult>;
  log?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Each run's trainer time is charged to its server (training-budget.ts; the command checks it). */
  budget?: Pick<TrainingBudget, 'charge'>;
  /** The word filter for samples shown and the gate (moderation.ts). Default: the built-in list only. */
  moderation?: Pick<Moderation, 'screenerFor'>;
  /**
   * The per-server training lock (lock.ts). Default: in this process only. With shards on Redis, `redisLocks`:
   * a scope another process is training finishes here as `failed` with a reason that says so.
   */
  locks?: TrainingLocks;
}

/** data/corpus.txt as normalised lines. */
export async function loadBaseCorpus(path = 'data/corpus.txt'): Promise<string[]> {
  return normalizeLines((await readFile(path, 'utf8')).split('\n'));
}

/** Messages → normalised utterances (one per line; multi-line messages split; empty ones dropped). */
export function normalizeLines(messages: readonly string[]): string[] {
  const out: string[] = [];
  for (const m of messages) {
    for (const line of normalize(m, DEFAULT_VOCAB, { keepNewlines: true }).split('\n')) if (line.length > 0) out.push(line);
  }
  return out;
}

/** Seeds for the gate's samples. */
export const GATE_SEEDS = ['', 'me ', 'me want ', 'hi ', 'where ', 'no '] as const;

/** Draws the gate's samples from a model: the generated part of each (seed removed), trimmed. */
export function drawSamples(model: BabyLanguageModel, count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const seed = GATE_SEEDS[i % GATE_SEEDS.length]!;
    const r = model.generateDetailed(seed, { temperature: 0.5, length: 60, rng: 1000 + i, stopAtEndOfUtterance: true });
    out.push(r.text.slice(r.seed.length).trim());
  }
  return out;
}

function checkFigure(before: number | null, after: number | null, tolerance: number): GateCheck {
  if (before === null || after === null) return { before, after, ok: true };
  return { before, after, ok: after <= before + tolerance };
}

/** The quality gate on figures and samples (pure). */
export function evaluateGate(input: {
  before: HeldOutFigures;
  after: HeldOutFigures;
  samples: readonly string[];
  knownWords: ReadonlySet<string>;
  options?: GateOptions;
}): GateResult {
  const tolerance = input.options?.tolerance ?? 0.05;
  const minWordShare = input.options?.minWordShare ?? 0.6;
  const minNonEmpty = input.options?.minNonEmpty ?? 0.75;
  const reasons: string[] = [];
  const notes: string[] = [];
  const server = checkFigure(input.before.server, input.after.server, tolerance);
  const base = checkFigure(input.before.base, input.after.base, tolerance);
  const f = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));
  if (input.after.server === null || input.before.server === null) notes.push('no held-out server text to compare on');
  else if (!server.ok) reasons.push(`worse on the server's held-out messages: ${f(server.after)} bits/char, was ${f(server.before)} (tolerance ${tolerance})`);
  if (input.after.base === null || input.before.base === null) notes.push('no held-out base corpus to compare on');
  else if (!base.ok) reasons.push(`worse on the held-out baby corpus: ${f(base.after)} bits/char, was ${f(base.before)} (tolerance ${tolerance})`);
  let words = 0;
  let known = 0;
  let nonEmptyCount = 0;
  for (const s of input.samples) {
    if (s.trim().length > 0) nonEmptyCount++;
    for (const w of wordsOf(s)) {
      words++;
      if (input.knownWords.has(w)) known++;
    }
  }
  const nonEmpty = input.samples.length ? nonEmptyCount / input.samples.length : 0;
  const wordShare = words ? known / words : 0;
  const samplesOk = nonEmpty >= minNonEmpty && wordShare >= minWordShare;
  if (nonEmpty < minNonEmpty) reasons.push(`its samples are mostly empty (${Math.round(nonEmpty * 100)}% have text, need ${Math.round(minNonEmpty * 100)}%)`);
  if (wordShare < minWordShare) reasons.push(`its samples are mostly made-up words (${Math.round(wordShare * 100)}% known words, need ${Math.round(minWordShare * 100)}%)`);
  return {
    pass: reasons.length === 0,
    reasons,
    server,
    base,
    samples: { wordShare, nonEmpty, ok: samplesOk, texts: [...input.samples] },
    notes,
    tolerance,
  };
}

/**
 * Base corpus lines to mix in: about `ratio` × the server's characters and at least `minChars` (whole copies of
 * the corpus repeated when that is more than the corpus, then an evenly spread part of it); deterministic.
 */
export function pickBaseLines(base: readonly string[], serverChars: number, ratio: number, minChars: number, seed: number): string[] {
  const want = Math.max(minChars, serverChars * ratio);
  const total = base.reduce((n, l) => n + l.length + 1, 0);
  if (total === 0) return [];
  const out: string[] = [];
  let left = want;
  while (left >= total) {
    out.push(...base);
    left -= total;
  }
  // Every k-th line from an offset keeps the rest spread over the whole corpus.
  const share = left / total;
  let acc = (seed % 997) / 997;
  for (const line of base) {
    acc += share;
    if (acc >= 1) {
      acc -= 1;
      out.push(line);
    }
  }
  return out;
}

class Job implements RetrainJob {
  state: 'queued' | 'running' | 'finished' = 'queued';
  position: number | undefined;
  latest: ProgressFigures | undefined;
  readonly controller = new AbortController();
  readonly listeners = new Set<(e: RetrainEvent) => void>();
  readonly result: Promise<RetrainOutcome>;
  settle!: (o: RetrainOutcome) => void;
  lastProgressEmit = -Infinity;

  constructor(readonly scope: string, readonly request: RetrainRequest, private readonly onCancel: (job: Job) => void) {
    this.result = new Promise((resolve) => {
      this.settle = resolve;
    });
  }

  subscribe(listener: (e: RetrainEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: RetrainEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(event);
      } catch {
        // a listener's failure is its own business
      }
    }
  }

  cancel(): void {
    if (this.state === 'finished') return;
    this.controller.abort();
    this.onCancel(this);
  }
}

export function createRetrainManager(options: RetrainManagerOptions): RetrainManager {
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 1));
  const interval = options.progressIntervalMs ?? 5000;
  const maxMinutes = options.maxMinutes ?? 30;
  const defaultMinutes = Math.min(options.defaultMinutes ?? 5, maxMinutes);
  const minLines = options.minLines ?? 20;
  const t = options.training ?? {};
  const train = options.runTraining ?? defaultRunTraining;
  const log = options.log;
  const locks = options.locks ?? memoryLocks();
  const moderation = options.moderation ?? createModeration({ filter: createOutputFilter() });
  const jobs = new Map<string, Job>();
  const waiting: Job[] = [];
  const active = new Set<Job>();
  const baseSplit = splitHeldOut(options.baseCorpus, 0.1);
  const baseWords = corpusWords(options.baseCorpus);
  const baseTrainChars = baseSplit.train.reduce((n, l) => n + l.length + 1, 0);

  function finish(job: Job, outcome: RetrainOutcome): void {
    if (job.state === 'finished') return;
    job.state = 'finished';
    job.position = undefined;
    if (jobs.get(job.scope) === job) jobs.delete(job.scope);
    job.emit({ type: 'finished', outcome });
    job.settle(outcome);
  }

  function announcePositions(): void {
    waiting.forEach((job, i) => {
      if (job.position !== i + 1) {
        job.position = i + 1;
        job.emit({ type: 'queued', position: i + 1 });
      }
    });
  }

  function pump(): void {
    while (active.size < concurrency && waiting.length > 0) {
      const job = waiting.shift()!;
      active.add(job);
      job.state = 'running';
      job.position = undefined;
      job.emit({ type: 'started' });
      void execute(job)
        .catch((err: unknown): RetrainOutcome => failedWith(log, { scope: job.scope }, err, RETRAIN_FAILURE.unexpected))
        .then((outcome) => {
          active.delete(job);
          finish(job, outcome);
          pump();
        });
    }
    announcePositions();
  }

  function onCancel(job: Job): void {
    const i = waiting.indexOf(job);
    if (i >= 0) {
      waiting.splice(i, 1);
      finish(job, { status: 'cancelled' });
      announcePositions();
    }
    // a running job stops through its AbortSignal
  }

  async function execute(job: Job): Promise<RetrainOutcome> {
    let handle: LockHandle | null;
    try {
      handle = await locks.acquire(job.scope);
    } catch (err) {
      return failedWith(log, { scope: job.scope }, err, RETRAIN_FAILURE.lock);
    }
    if (!handle) return { status: 'failed', reason: 'this server is already training (in another shard of the bot); try again when that has finished' };
    const lock = handle;
    try {
      const outcome = await executeLocked(job, AbortSignal.any([job.controller.signal, lock.lost]));
      if (lock.lost.aborted && !job.controller.signal.aborted && outcome.status === 'cancelled') {
        return { status: 'failed', reason: 'the training lock was lost (it expired or was taken), so the run was stopped without a swap' };
      }
      return outcome;
    } finally {
      await lock.release().catch((err: unknown) => log?.warn({ err, scope: job.scope }, 'retrain: could not release the training lock (it expires by itself)'));
    }
  }

  /** Charges the trainer time since `start` to the scope's budget; a store failure is logged, never fatal. */
  async function chargeBudget(scope: string, start: number): Promise<void> {
    await options.budget
      ?.charge(scope, start, Date.now())
      .catch((err: unknown) => log?.warn({ err, scope }, 'retrain: could not record the training time'));
  }

  async function executeLocked(job: Job, signal: AbortSignal): Promise<RetrainOutcome> {
    const { scope, request } = job;
    let raw: string[];
    try {
      raw = await options.trainingText(scope);
    } catch (err) {
      return failedWith(log, { scope }, err, RETRAIN_FAILURE.readText);
    }
    if (signal.aborted) return { status: 'cancelled' };
    // Samples shown (progress, result) and the gate pass the server's word filter.
    let screen: Screener;
    try {
      screen = await moderation.screenerFor(scope);
    } catch (err) {
      return failedWith(log, { scope }, err, RETRAIN_FAILURE.wordFilter);
    }
    const lines = normalizeLines(raw);
    if (scope !== BASE_SCOPE && lines.length < minLines) {
      return { status: 'failed', reason: `not enough text to learn from yet: ${lines.length} usable line${lines.length === 1 ? '' : 's'}, at least ${minLines} needed` };
    }
    const server = splitHeldOut(lines, 0.1);
    const serverChars = server.train.reduce((n, l) => n + l.length + 1, 0);
    const seed = t.seed ?? 1;
    const baseLines = scope === BASE_SCOPE
      ? baseSplit.train
      : pickBaseLines(baseSplit.train, serverChars, t.baseMixRatio ?? 1, t.minBaseChars ?? baseTrainChars, seed);

    const serving = await options.registry.resolve(scope);
    const base = scope === BASE_SCOPE ? null : await options.registry.resolve(BASE_SCOPE);
    const fromDir = serving?.dir ?? base?.dir ?? options.baseModelDir;
    const previous = serving ? (scope === BASE_SCOPE ? `base ${serving.version}` : String(serving.version)) : base ? `base ${base.version}` : 'base';

    const minutes = Math.min(request.minutes ?? (request.epochs !== undefined ? maxMinutes : defaultMinutes), maxMinutes);
    const maxSeconds = minutes * 60;
    const tmp = await options.registry.tempDir(scope);
    const trainJob: TrainJob = {
      baseModelDir: fromDir,
      outDir: tmp,
      version: `${scope}-next`,
      trainingLines: server.train,
      baseCorpusLines: baseLines,
      heldOut: { server: server.heldOut, base: baseSplit.heldOut },
      maxSeconds,
      ...(request.epochs !== undefined ? { epochs: request.epochs } : {}),
      ...(t.maxSteps !== undefined ? { maxSteps: t.maxSteps } : {}),
      ...(t.batchSize !== undefined ? { batchSize: t.batchSize } : {}),
      ...(t.seqLength !== undefined ? { seqLength: t.seqLength } : {}),
      ...(t.learningRate !== undefined ? { learningRate: t.learningRate } : {}),
      workers: t.workers ?? 2,
      seed,
      progressIntervalMs: t.childProgressMs ?? 1000,
      ...(t.sampleEverySeconds !== undefined ? { sampleEverySeconds: t.sampleEverySeconds } : {}),
      note: { scope, ...(request.requestedBy ? { requestedBy: request.requestedBy } : {}), fineTunedFromLabel: previous },
    };

    let result: TrainingResult;
    const trainStart = Date.now();
    try {
      log?.info({ scope, minutes, epochs: request.epochs, lines: lines.length }, 'retrain started');
      result = await train(trainJob, {
        signal,
        timeoutMs: (maxSeconds + (t.slackSeconds ?? 120)) * 1000,
        ...(t.maxHeapMb !== undefined ? { maxHeapMb: t.maxHeapMb } : {}),
        ...(t.graceMs !== undefined ? { graceMs: t.graceMs } : {}),
        onReady: ({ pid, envKeys }) => log?.info({ scope, pid, envKeys }, 'trainer child ready'),
        onProgress: (figures) => {
          const p = { ...figures, sample: shownSample(figures.sample, screen) };
          job.latest = p;
          const now = Date.now();
          if (now - job.lastProgressEmit >= interval) {
            job.lastProgressEmit = now;
            job.emit({ type: 'progress', progress: p });
          }
        },
      });
    } catch (err) {
      await chargeBudget(scope, trainStart);
      await options.registry.discard(tmp).catch(() => undefined);
      if (err instanceof TrainingError && err.kind === 'cancelled') return { status: 'cancelled' };
      // The trainer's own words (its stderr, paths) go to the log only.
      const reason = err instanceof TrainingError ? TRAINER_FAILURE[err.kind] : RETRAIN_FAILURE.unexpected;
      return failedWith(log, { scope }, err, reason);
    }
    await chargeBudget(scope, trainStart);
    if (signal.aborted) {
      await options.registry.discard(tmp).catch(() => undefined);
      return { status: 'cancelled' };
    }

    const saved = result.saved;
    let candidate: BabyLanguageModel;
    try {
      candidate = await BabyLanguageModel.load(tmp);
    } catch (err) {
      await options.registry.discard(tmp).catch(() => undefined);
      return failedWith(log, { scope }, err, RETRAIN_FAILURE.load);
    }
    const known = new Set(baseWords);
    for (const w of corpusWords(lines)) known.add(w);
    const gate = filterGate(evaluateGate({
      before: saved.heldOut.before,
      after: saved.heldOut.after,
      samples: drawSamples(candidate, options.gate?.samples ?? 12),
      knownWords: known,
      ...(options.gate ? { options: options.gate } : {}),
    }), screen, options.gate?.maxFlaggedRate);
    const nats = (bits: number | null) => (bits === null ? null : bits * Math.LN2);
    const refs = [
      { value: nats(saved.heldOut.before.base), color: CHART_COLORS.before },
      { value: nats(saved.heldOut.after.base), color: CHART_COLORS.after },
    ].filter((r): r is { value: number; color: typeof CHART_COLORS.before } => r.value !== null);
    const chart = lossChartPng(saved.lossCurve, { references: refs });
    const common: TrainedRun = {
      previous,
      gate,
      heldOut: saved.heldOut,
      steps: saved.steps,
      seconds: saved.seconds,
      chart,
      lossCurve: saved.lossCurve,
      trainingLines: server.train.length,
    };
    const details = {
      requestedBy: request.requestedBy ?? null,
      request: { minutes, epochs: request.epochs ?? null },
      previous,
      gate: { ...gate, samples: { ...gate.samples } },
      heldOut: saved.heldOut,
      steps: saved.steps,
      seconds: saved.seconds,
      trainingLines: server.train.length,
      baseLines: baseLines.length,
    };
    if (signal.aborted) {
      await options.registry.discard(tmp).catch(() => undefined);
      return { status: 'cancelled' };
    }
    if (!gate.pass) {
      const keptAs = await options.registry.keepAside(scope, tmp, { ...details, reasons: gate.reasons });
      log?.info({ scope, reasons: gate.reasons }, 'retrain: the new model was kept aside');
      return { status: 'rejected', keptAs, ...common };
    }
    try {
      const committed = await options.registry.commit(scope, tmp, details);
      options.models.install(scope, committed.version, committed.model);
      log?.info({ scope, version: committed.version }, 'retrain: new version serving');
      return { status: 'swapped', version: committed.version, ...common };
    } catch (err) {
      await options.registry.discard(tmp).catch(() => undefined);
      return failedWith(log, { scope }, err, RETRAIN_FAILURE.swap);
    }
  }

  let closed = false;
  return {
    start(request) {
      if (closed) throw new RegistryError('the bot is shutting down: no new training now');
      if (!isValidScope(request.scope)) throw new RegistryError(`not a server id: ${JSON.stringify(request.scope)}`);
      const existing = jobs.get(request.scope);
      if (existing) return { status: 'busy', job: existing };
      const job = new Job(request.scope, { ...request }, onCancel);
      jobs.set(request.scope, job);
      waiting.push(job);
      pump();
      return { status: job.state === 'running' ? 'started' : 'queued', job };
    },
    get: (scope) => jobs.get(scope),
    cancel(scope) {
      const job = jobs.get(scope);
      if (!job) return false;
      job.cancel();
      return true;
    },
    queued: () => waiting.map((j) => j.scope),
    running: () => [...active].map((j) => j.scope),
    async close() {
      closed = true;
      const all = [...jobs.values()];
      for (const job of all) job.cancel();
      await Promise.all(all.map((j) => j.result));
    },
  };
}
