/**
 * Retraining, start to swap (the orchestration): one training per scope (server, or "base") at a time, at most
 * `concurrency` at once (the rest wait in a FIFO queue whose position is reported), progress events throttled for
 * the UI, cancel, the quality gate (training/quality-gate.ts), and the atomic swap (registry.ts) or keeping the
 * model aside when the gate refuses it.
 *
 * A run: the scope's text (`trainingText`, normalised, one utterance a line) and the base corpus are each split
 * into training and held-out lines (training/retrain-text.ts); a trainer child (training/trainer.ts) fine-tunes the model
 * the scope serves now on the scope's training lines mixed with base corpus lines, the server's text being the share
 * of the characters its strength sets (training/server-share.ts), and scores the held-out lines before and after. The parent
 * then loads the new folder once (every hash verified) and applies the gate:
 *   - held-out bits per character on the scope's held-out lines must be no worse than before plus `tolerance`, and
 *     on the held-out base corpus no worse than before plus `tolerance` × the strength's factor (a figure with no
 *     held-out text is skipped, and says so);
 *   - samples must still be baby talk (training/baby-likeness.ts: known words, non-empty, short, not parroting the server).
 * It then measures the new model's uptake of the server's new words (model/uptake.ts) for the result message.
 * Pass → registry.commit (new version, pointer flipped) and the model cache serves it at once. Fail → kept aside
 * with the reasons, never served. Crash, timeout, cancel → nothing changes; the temporary folder is removed.
 */
import { BabyLanguageModel } from '../model/baby.js';
import { UNTRAINABLE } from '../model/stack.js';
import { readModelVocabulary } from '../model/store.js';
import type { Vocabulary } from '../model/vocab.js';
import { measureUptake, type UptakeReport } from '../model/uptake.js';
import type { Logger } from '../log.js';
import { evaluateGate, knownWords, round6, type GateOptions, type GateResult } from '../training/quality-gate.js';
import { prepareBaseCorpus, retrainText } from '../training/retrain-text.js';
import { CHART_COLORS, lossChartPng } from './loss-chart.js';
import { memoryLocks, type LockHandle, type TrainingLocks } from './lock.js';
import { ERASED_DURING_TRAINING, erasureCheck } from './erasure-check.js';
import { failedWith, RETRAIN_FAILURE, TRAINER_FAILURE } from './failure.js';
import type { ModelCache } from './model-cache.js';
import { createModeration, filterGate, shownSample, type Moderation } from './moderation.js';
import { createOutputFilter, type Screener } from './output-filter.js';
import type { TrainingBudget } from './training-budget.js';
import { BASE_SCOPE, isValidScope, PointerMovedError, RegistryError, type ModelRegistry } from './registry.js';
import {
  runTraining as defaultRunTraining,
  TrainingError,
  type RunTrainingOptions,
  type TrainingResult,
} from '../training/trainer.js';
import type { HeldOutFigures, ProgressFigures, TrainJob } from '../training/trainer-protocol.js';
import { drawGateSamples } from '../training/baby-likeness.js';
import { DEFAULT_STRENGTH, STRENGTH_SPECS, type Strength } from '../training/server-share.js';

export interface RetrainRequest {
  /** A server id, or "base" for the shared base model. */
  scope: string;
  /** Training time budget. Default `defaultMinutes`; capped at `maxMinutes`. */
  minutes?: number;
  /** Passes over the text; with minutes, whichever ends first. */
  epochs?: number;
  /** Who asked (recorded in the version's history). */
  requestedBy?: string;
  /** How much of the training text is the server's (server-share.ts). Default DEFAULT_STRENGTH. */
  strength?: Strength;
  /** The server's temperature: the uptake samples are drawn at it. Default 0.5. */
  temperature?: number;
}

export type { GateCheck, GateOptions, GateResult } from '../training/quality-gate.js';
export { loadBaseCorpus } from '../training/retrain-text.js';

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
  /** The strength and the server's share of the training characters (null for the shared base model). */
  strength: Strength | null;
  serverShare: number | null;
  /** The new model's use of the server's new words (null for the shared base model). */
  uptake: UptakeReport | null;
  /** 'retrained': data was erased during the first training, and this run trained again without it. */
  erasedDuringTraining?: 'retrained';
}

export type RetrainOutcome =
  | ({ status: 'swapped' /** The new version, serving now. */; version: number } & TrainedRun)
  | ({ status: 'rejected' /** Where the refused model was kept (never served). */; keptAs: string } & TrainedRun)
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
  /** Least base corpus characters mixed in (the server's text is repeated to its share). Default: the whole base training split once. */
  minBaseChars?: number;
  /** Uptake samples per seed for the result message (uptake.ts). Default 20. */
  uptakeSamples?: number;
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
  /**
   * Passes over the text when a request gives no epochs (TRAIN_DEFAULT_EPOCHS), so that a fast machine does not
   * spend the whole time budget learning a small server's lines by heart. Default: none (minutes alone).
   */
  defaultEpochs?: number;
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
  /**
   * The server's data generation (collection/data-generation.ts), read before the text and again before a swap:
   * if it changed, the model may hold erased text, and the run trains again once without it, or refuses.
   */
  dataGeneration?: (scope: string) => Promise<string>;
}

/** The model a run fine-tunes (the scope's current version, else the base) and its label ("3", "base 2", "base"). */
async function startingPoint(
  registry: ModelRegistry,
  scope: string,
  baseModelDir: string,
): Promise<{ fromDir: string; previous: string; version: number }> {
  const serving = await registry.resolve(scope);
  const base = scope === BASE_SCOPE ? null : await registry.resolve(BASE_SCOPE);
  const fromDir = serving?.dir ?? base?.dir ?? baseModelDir;
  const previous = serving
    ? scope === BASE_SCOPE
      ? `base ${serving.version}`
      : String(serving.version)
    : base
      ? `base ${base.version}`
      : 'base';
  return { fromDir, previous, version: serving?.version ?? 0 };
}

/** The trainer child's settings of a TrainJob, from the manager's training settings. */
function childSettings(t: TrainingSettings): Partial<TrainJob> {
  return {
    ...(t.maxSteps !== undefined ? { maxSteps: t.maxSteps } : {}),
    ...(t.batchSize !== undefined ? { batchSize: t.batchSize } : {}),
    ...(t.seqLength !== undefined ? { seqLength: t.seqLength } : {}),
    ...(t.learningRate !== undefined ? { learningRate: t.learningRate } : {}),
    workers: t.workers ?? 2,
    progressIntervalMs: t.childProgressMs ?? 1000,
    ...(t.sampleEverySeconds !== undefined ? { sampleEverySeconds: t.sampleEverySeconds } : {}),
  };
}

/** The loss curve as a PNG, with the held-out base corpus loss before and after as reference lines. */
function runChart(
  lossCurve: { step: number; loss: number }[],
  heldOut: { before: HeldOutFigures; after: HeldOutFigures },
): Buffer {
  const nats = (bits: number | null) => (bits === null ? null : bits * Math.LN2);
  const refs = [
    { value: nats(heldOut.before.base), color: CHART_COLORS.before },
    { value: nats(heldOut.after.base), color: CHART_COLORS.after },
  ].filter((r): r is { value: number; color: typeof CHART_COLORS.before } => r.value !== null);
  return lossChartPng(lossCurve, { references: refs });
}

/** A run as the retrain managers keep it: its state, listeners and outcome (also used by training-queue/queued-retrain.ts). */
export class Job implements RetrainJob {
  state: 'queued' | 'running' | 'finished' = 'queued';
  position: number | undefined;
  latest: ProgressFigures | undefined;
  readonly controller = new AbortController();
  readonly listeners = new Set<(e: RetrainEvent) => void>();
  readonly result: Promise<RetrainOutcome>;
  settle!: (o: RetrainOutcome) => void;
  lastProgressEmit = -Infinity;
  /** Set when a run trained again because data was erased meanwhile (erasure-check.ts): once only. */
  retrainedForErasure = false;

  constructor(
    readonly scope: string,
    readonly request: RetrainRequest,
    private readonly onCancel: (job: Job) => void,
  ) {
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
  const baseCorpus = prepareBaseCorpus(options.baseCorpus);

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
    if (!handle)
      return {
        status: 'failed',
        reason: 'this server is already training (in another shard of the bot); try again when that has finished',
      };
    const lock = handle;
    try {
      const outcome = await executeLocked(job, AbortSignal.any([job.controller.signal, lock.lost]));
      if (lock.lost.aborted && !job.controller.signal.aborted && outcome.status === 'cancelled') {
        return {
          status: 'failed',
          reason: 'the training lock was lost (it expired or was taken), so the run was stopped without a swap',
        };
      }
      return outcome;
    } finally {
      await lock
        .release()
        .catch((err: unknown) =>
          log?.warn({ err, scope: job.scope }, 'retrain: could not release the training lock (it expires by itself)'),
        );
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
    let generation: string | undefined;
    try {
      generation = await options.dataGeneration?.(scope); // before the text: an erase after it changes this
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
    const start = await startingPoint(options.registry, scope, options.baseModelDir);
    const { fromDir, previous, version: startedOn } = start;
    let vocab: Vocabulary;
    try {
      // The server text is prepared over the vocabulary of the model to be fine-tuned (an imported model keeps its
      // own alphabet, uppercase included).
      vocab = await readModelVocabulary(fromDir);
    } catch (err) {
      return failedWith(log, { scope }, err, RETRAIN_FAILURE.load);
    }
    const seed = t.seed ?? 1;
    const strength: Strength | null = scope === BASE_SCOPE ? null : (request.strength ?? DEFAULT_STRENGTH);
    const { lines, server, baseLines, mix } = retrainText(raw, baseCorpus, {
      vocab,
      share: strength === null ? null : STRENGTH_SPECS[strength].share,
      ...(t.minBaseChars !== undefined ? { minChars: t.minBaseChars } : {}),
      seed,
    });
    if (scope !== BASE_SCOPE && lines.length < minLines) {
      return {
        status: 'failed',
        reason: `not enough text to learn from yet: ${lines.length} usable line${lines.length === 1 ? '' : 's'}, at least ${minLines} needed`,
      };
    }

    const minutes = Math.min(
      request.minutes ?? (request.epochs !== undefined ? maxMinutes : defaultMinutes),
      maxMinutes,
    );
    // Epochs bound the run too: the request's, else the default (so minutes alone don't make a fast machine learn a
    // small server's lines by heart: measured with bench server_voice).
    const epochs = request.epochs ?? options.defaultEpochs;
    const maxSeconds = minutes * 60;
    let tmp: string;
    try {
      tmp = await options.registry.tempDir(scope);
    } catch (err) {
      // e.g. the model store can't be reached: its RegistryError is a fixed text for admins (object-registry.ts).
      return failedWith(log, { scope }, err, err instanceof RegistryError ? err.message : RETRAIN_FAILURE.unexpected);
    }
    const trainJob: TrainJob = {
      baseModelDir: fromDir,
      outDir: tmp,
      version: `${scope}-next`,
      trainingLines: mix?.server ?? server.train,
      baseCorpusLines: baseLines,
      heldOut: { server: server.heldOut, base: baseCorpus.split.heldOut },
      maxSeconds,
      ...(epochs !== undefined ? { epochs } : {}),
      ...childSettings(t),
      seed,
      note: {
        scope,
        ...(request.requestedBy ? { requestedBy: request.requestedBy } : {}),
        fineTunedFromLabel: previous,
        ...(strength !== null && mix
          ? { strength, serverShare: mix.share, serverRepeats: Math.round(mix.serverRepeats * 100) / 100 }
          : {}),
      },
    };

    let result: TrainingResult;
    const trainStart = Date.now();
    try {
      log?.info({ scope, minutes, epochs, strength, lines: lines.length }, 'retrain started');
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
      const untrainable = err instanceof TrainingError && err.kind === 'failed' && err.message.includes(UNTRAINABLE);
      const reason = untrainable
        ? err.message.slice(err.message.indexOf(UNTRAINABLE)).split('\n')[0]! // our own words (stack.ts)
        : err instanceof TrainingError
          ? TRAINER_FAILURE[err.kind]
          : RETRAIN_FAILURE.unexpected;
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
    const baseLineSet = new Set(options.baseCorpus);
    const gateTolerance = options.gate?.baseTolerance ?? options.gate?.tolerance ?? 0.05;
    const gate = filterGate(
      evaluateGate({
        before: saved.heldOut.before,
        after: saved.heldOut.after,
        samples: await drawGateSamples(candidate, options.gate?.samples ?? 36),
        knownWords: knownWords(baseCorpus.words, lines),
        serverLines: new Set(lines.filter((l) => !baseLineSet.has(l))),
        options: {
          ...options.gate,
          baseTolerance: round6(gateTolerance * (strength === null ? 1 : STRENGTH_SPECS[strength].baseToleranceFactor)),
        },
      }),
      screen,
      options.gate?.maxFlaggedRate,
    );
    const measured =
      strength === null
        ? null
        : await measureUptake(
            async (seed, o) => {
              await new Promise<void>((resolve) => setImmediate(resolve)); // one sample at a time: the bot keeps babbling
              return candidate.generate(seed, { ...o, stopAtEndOfUtterance: true });
            },
            { serverLines: lines, baseLines: options.baseCorpus },
            { temperature: request.temperature ?? 0.5, samplesPerSeed: t.uptakeSamples ?? 20 },
          );
    // The new words are shown to the admin: they pass the word filter like every sample.
    const uptake = measured && { ...measured, used: measured.used.filter((w) => screen(w.word) === undefined) };
    const chart = runChart(saved.lossCurve, saved.heldOut);
    const common: TrainedRun = {
      previous,
      gate,
      heldOut: saved.heldOut,
      steps: saved.steps,
      seconds: saved.seconds,
      chart,
      lossCurve: saved.lossCurve,
      trainingLines: server.train.length,
      strength,
      serverShare: mix?.share ?? null,
      uptake,
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
      strength,
      serverShare: mix?.share ?? null,
      uptake: uptake && {
        newWordShare: uptake.newWordShare,
        used: uptake.used.slice(0, 5),
        samples: uptake.samples,
        temperature: uptake.temperature,
      },
    };
    if (signal.aborted) {
      await options.registry.discard(tmp).catch(() => undefined);
      return { status: 'cancelled' };
    }
    const erasure = await erasureCheck(scope, generation, job.retrainedForErasure, options.dataGeneration, log);
    if (erasure !== 'fresh') {
      await options.registry.discard(tmp).catch(() => undefined);
      if (erasure === 'refuse') return { status: 'failed', reason: ERASED_DURING_TRAINING };
      job.retrainedForErasure = true;
      const again = await executeLocked(job, signal);
      const trained = again.status === 'swapped' || again.status === 'rejected';
      return trained ? { ...again, erasedDuringTraining: 'retrained' } : again;
    }
    if (!gate.pass) return keepAside(scope, tmp, details, common);
    return swapIn(scope, tmp, candidate, details, common, startedOn);
  }

  /** The gate refused the model: it is kept aside with the reasons, never served. */
  async function keepAside(
    scope: string,
    tmp: string,
    details: Record<string, unknown>,
    run: TrainedRun,
  ): Promise<RetrainOutcome> {
    const keptAs = await options.registry.keepAside(scope, tmp, { ...details, reasons: run.gate.reasons });
    log?.info({ scope, reasons: run.gate.reasons }, 'retrain: the new model was kept aside');
    return { status: 'rejected', keptAs, ...run };
  }

  /** The gate passed: the candidate becomes the scope's next version and serves at once. */
  async function swapIn(
    scope: string,
    tmp: string,
    candidate: BabyLanguageModel,
    details: Record<string, unknown>,
    run: TrainedRun,
    startedOn: number,
  ): Promise<RetrainOutcome> {
    try {
      // The candidate was loaded (every hash checked) once already: the registry commits it without loading it again.
      // Refused if the server was rolled back meanwhile: the admin's rollback is not silently overridden.
      const committed = await options.registry.commit(scope, tmp, details, {
        model: candidate,
        expectCurrent: startedOn,
      });
      options.models.install(scope, committed.version, committed.model);
      log?.info({ scope, version: committed.version }, 'retrain: new version serving');
      return { status: 'swapped', version: committed.version, ...run };
    } catch (err) {
      await options.registry.discard(tmp).catch(() => undefined);
      const reason = err instanceof PointerMovedError ? RETRAIN_FAILURE.moved : RETRAIN_FAILURE.swap;
      return failedWith(log, { scope }, err, reason);
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
