/**
 * The IPC protocol between the bot (parent) and a trainer child process (trainer-child.ts), as discriminated
 * unions. Every message is checked on arrival with `parseParentMessage` / `parseChildMessage`: an unknown type, a
 * missing or mistyped field, or an extra field is refused with a `ProtocolError` naming the problem. Plain
 * JSON-compatible values only (the IPC channel uses JSON serialisation).
 *
 * parent → child:  start { job } · cancel
 * child → parent:  ready { pid, envKeys } · progress { … } · saved { dir, heldOut, … } · done · error { message }
 */

import {
  count,
  fail,
  finite,
  isRecord,
  literal,
  nonEmptyStr,
  nonNegative,
  nullableFinite,
  object,
  oneOf,
  opt,
  positive,
  positiveInt,
  ProtocolError,
  str,
  stringArray,
  type Check,
} from '../message-checks.js';

export { ProtocolError };

/** Set by the parent in the trainer child's environment; without it, importing trainer-child.ts does nothing. */
export const TRAINER_CHILD_FLAG = 'BABBLE_TRAINER_CHILD';

/** What a trainer child is asked to do. Paths are absolute or relative to the child's cwd (the parent's). */
export interface TrainJob {
  /** The model folder to fine-tune from (the one being served); its vocabulary is kept. */
  baseModelDir: string;
  /** The folder to write the new model into (a registry temporary folder; must not hold a model yet). */
  outDir: string;
  /** meta.json version label of the new model. */
  version: string;
  /** The server's training lines (one utterance each). */
  trainingLines: string[];
  /** Base corpus lines mixed in so the model stays a baby. */
  baseCorpusLines: string[];
  /** Held-out text scored before and after training (the quality gate's figures). Either may be empty. */
  heldOut: { server: string[]; base: string[] };
  /** Wall-clock budget of the training itself (loading, scoring and saving come on top). */
  maxSeconds?: number;
  /** Passes over the mixed text. With maxSeconds too, whichever comes first. */
  epochs?: number;
  /** Hard cap on optimiser steps (tests, tiny runs). */
  maxSteps?: number;
  batchSize?: number;
  seqLength?: number;
  learningRate?: number;
  /** 1 or 2 gradient threads (train.ts TrainOptions.workers). */
  workers?: 1 | 2;
  seed?: number;
  /** How often the child reports progress; default 1000 ms. */
  progressIntervalMs?: number;
  /** How often a fresh sample babble is drawn (training runs in chunks of this length); default 20 s. */
  sampleEverySeconds?: number;
  /** Free-form figures recorded in meta.json's training record (who asked, scope…). */
  note?: Record<string, string | number | boolean>;
  /** Where the lines are when they come through a file (training-text-file.ts); the arrays are then empty. */
  textFile?: string;
}

/** What a training text file holds. */
export type TrainingText = Pick<TrainJob, 'trainingLines' | 'baseCorpusLines' | 'heldOut'>;

export interface HeldOutFigures {
  /** Bits per character on the server's held-out messages; null when none were held out. */
  server: number | null;
  /** Bits per character on the held-out base corpus; null when none was given. */
  base: number | null;
}

export interface ProgressFigures {
  step: number;
  totalSteps: number;
  /** Epochs done, fractional. */
  epoch: number;
  /** Mean training loss (nats per character) since the previous report. */
  loss: number;
  etaSeconds: number;
  charsPerSecond: number;
  elapsedSeconds: number;
  /** The latest sample babble (from the model as it was at the last chunk boundary). */
  sample: string;
}

export type ParentMessage = { type: 'start'; job: TrainJob } | { type: 'cancel' };

export type ChildMessage =
  | { type: 'ready'; pid: number; envKeys: string[] }
  | ({ type: 'progress' } & ProgressFigures)
  | {
      type: 'saved';
      dir: string;
      heldOut: { before: HeldOutFigures; after: HeldOutFigures };
      steps: number;
      seconds: number;
      charsPerSecond: number;
      stoppedBy: 'epochs' | 'time' | 'steps';
      /** The training loss, downsampled to at most MAX_CURVE_POINTS points. */
      lossCurve: { step: number; loss: number }[];
      samples: string[];
    }
  | { type: 'done' }
  | { type: 'error'; message: string };

export type SavedMessage = Extract<ChildMessage, { type: 'saved' }>;
export type ProgressMessage = Extract<ChildMessage, { type: 'progress' }>;

export const MAX_CURVE_POINTS = 500;
/**
 * The most entries and characters (all entries together) of each string array: text lines (training, base mix,
 * held out), and the short lists (environment variable names, samples).
 */
export const ARRAY_LIMITS = {
  lines: { items: 2_000_000, chars: 64_000_000 },
  short: { items: 1000, chars: 1_000_000 },
} as const;

const lineArray = stringArray(ARRAY_LIMITS.lines);
const shortArray = stringArray(ARRAY_LIMITS.short);

const noteCheck: Check = (v, p) => {
  if (!isRecord(v)) fail(p, 'must be an object');
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string' && typeof x !== 'boolean' && !(typeof x === 'number' && Number.isFinite(x)))
      fail(`${p}.${k}`, 'must be a string, finite number or boolean');
  }
};

const jobCheck = object({
  baseModelDir: nonEmptyStr,
  outDir: nonEmptyStr,
  version: nonEmptyStr,
  trainingLines: lineArray,
  baseCorpusLines: lineArray,
  heldOut: object({ server: lineArray, base: lineArray }),
  maxSeconds: opt(positive),
  epochs: opt(positive),
  maxSteps: opt(positiveInt),
  batchSize: opt(positiveInt),
  seqLength: opt((v, p) => {
    positiveInt(v, p);
    if ((v as number) < 2) fail(p, 'must be ≥ 2');
  }),
  learningRate: opt(positive),
  workers: opt(oneOf(1, 2)),
  seed: opt(count),
  progressIntervalMs: opt(nonNegative),
  sampleEverySeconds: opt(positive),
  note: opt(noteCheck),
  textFile: opt(nonEmptyStr),
});

const trainingTextCheck = object({
  trainingLines: lineArray,
  baseCorpusLines: lineArray,
  heldOut: object({ server: lineArray, base: lineArray }),
});

const heldOutCheck = object({ server: nullableFinite, base: nullableFinite });

const PARENT_CHECKS: Record<ParentMessage['type'], Check> = {
  start: object({ type: literal('start'), job: jobCheck }),
  cancel: object({ type: literal('cancel') }),
};

const CHILD_CHECKS: Record<ChildMessage['type'], Check> = {
  ready: object({ type: literal('ready'), pid: positiveInt, envKeys: shortArray }),
  progress: object({
    type: literal('progress'),
    step: count,
    totalSteps: count,
    epoch: nonNegative,
    loss: finite,
    etaSeconds: nonNegative,
    charsPerSecond: nonNegative,
    elapsedSeconds: nonNegative,
    sample: str,
  }),
  saved: object({
    type: literal('saved'),
    dir: nonEmptyStr,
    heldOut: object({ before: heldOutCheck, after: heldOutCheck }),
    steps: count,
    seconds: nonNegative,
    charsPerSecond: nonNegative,
    stoppedBy: oneOf('epochs', 'time', 'steps'),
    lossCurve: (v, p) => {
      if (!Array.isArray(v)) fail(p, 'must be an array');
      if (v.length > MAX_CURVE_POINTS) fail(p, `has more than ${MAX_CURVE_POINTS} points`);
      v.forEach((point, i) => {
        object({ step: count, loss: finite })(point, `${p}[${i}]`);
      });
    },
    samples: shortArray,
  }),
  done: object({ type: literal('done') }),
  error: object({ type: literal('error'), message: str }),
};

function parseWith<T extends { type: string }>(checks: Record<string, Check>, value: unknown, who: string): T {
  if (!isRecord(value)) throw new ProtocolError(`${who} message must be an object`);
  const type = value.type;
  if (typeof type !== 'string' || !Object.hasOwn(checks, type)) {
    throw new ProtocolError(`${who} message has unknown type ${JSON.stringify(type)}`);
  }
  checks[type]!(value, `${who} ${type}`);
  return value as T;
}

/** A message from the parent, checked; throws ProtocolError when it is not a valid ParentMessage. */
export function parseParentMessage(value: unknown): ParentMessage {
  return parseWith<ParentMessage>(PARENT_CHECKS, value, 'parent');
}

/** A training text file's content, checked; throws ProtocolError when it is not a valid TrainingText. */
export function parseTrainingText(value: unknown): TrainingText {
  trainingTextCheck(value, 'training text');
  return value as TrainingText;
}

/** A message from the child, checked; throws ProtocolError when it is not a valid ChildMessage. */
export function parseChildMessage(value: unknown): ChildMessage {
  return parseWith<ChildMessage>(CHILD_CHECKS, value, 'child');
}

/** At most `max` points of a curve, evenly spaced, the last point always kept. */
export function downsampleCurve(
  curve: readonly { step: number; loss: number }[],
  max = MAX_CURVE_POINTS,
): { step: number; loss: number }[] {
  if (curve.length <= max) return curve.map((p) => ({ step: p.step, loss: p.loss }));
  const out: { step: number; loss: number }[] = [];
  for (let i = 0; i < max; i++) {
    const p = curve[Math.round((i * (curve.length - 1)) / (max - 1))]!;
    out.push({ step: p.step, loss: p.loss });
  }
  return out;
}
