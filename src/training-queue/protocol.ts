/**
 * What travels through the BullMQ training queue between bot hosts and trainer hosts, as discriminated unions,
 * each checked on arrival (message-checks.ts: a missing, mistyped or unknown field, or a string or list over its
 * bound, is refused with a ProtocolError naming it):
 *
 *   job data     bot → trainer    { format, request }                        parseJobData
 *   progress     trainer → bots   started { lockToken } · progress { … }     parseJobProgress
 *   result       trainer → bots   the run's outcome, its loss chart as base64  parseJobResult
 *   cancel       bot → trainers   { jobId } on the cancel channel            parseCancelMessage
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
  ProtocolError,
  str,
  stringArray,
  type Check,
} from '../message-checks.js';
import type { ProgressFigures } from '../training/trainer-protocol.js';
import { STRENGTHS } from '../training/server-share.js';
import type { RetrainOutcome, RetrainRequest } from '../service/retrain.js';

export { ProtocolError };

export const QUEUE_NAME = 'babble-retrain';
/** BullMQ's key prefix for the queue (`babble:bull:…`). */
export const QUEUE_PREFIX = 'babble:bull';
/** Where `/retrain cancel` is published for the trainer hosts. */
export const CANCEL_CHANNEL = 'babble:retrain-cancel';
/** The loss chart's largest PNG, base64 (a 900×420 chart is about 40 KB). */
export const MAX_CHART_BASE64 = 2_000_000;

/** One job per server at a time, across every bot host: the job id is the scope's. */
export const jobIdFor = (scope: string) => `retrain-${scope}`;

export interface JobData {
  format: 'babble-retrain-job';
  request: RetrainRequest;
  /** Random, per start: tells the bot that added the job from one that found it already there. */
  ticket: string;
}

export type JobProgress =
  /** The trainer host took the job and the server's training lock (its token, to free it if the host dies). */
  { type: 'started'; lockToken: string } | { type: 'progress'; progress: ProgressFigures };

/** A RetrainOutcome with the loss chart as base64 (JSON has no bytes). */
export type JobResult =
  | { status: 'cancelled' }
  | { status: 'failed'; reason: string; errorId?: string }
  | (Omit<Extract<RetrainOutcome, { status: 'swapped' }>, 'chart'> & { chart: string })
  | (Omit<Extract<RetrainOutcome, { status: 'rejected' }>, 'chart'> & { chart: string });

export interface CancelMessage {
  type: 'cancel';
  jobId: string;
}

const short = stringArray({ items: 200, chars: 100_000 });
const scopeCheck: Check = (v, p) => {
  str(v, p);
  if (!/^(?:base|\d{1,20})$/.test(v as string)) fail(p, 'must be a server id or "base"');
};

const requestCheck = object({
  scope: scopeCheck,
  minutes: opt(positive),
  epochs: opt(positive),
  requestedBy: opt(nonEmptyStr),
  strength: opt(oneOf(...STRENGTHS)),
  temperature: opt(positive),
});

const progressFigures = object({
  step: count,
  totalSteps: count,
  epoch: nonNegative,
  loss: finite,
  etaSeconds: nonNegative,
  charsPerSecond: nonNegative,
  elapsedSeconds: nonNegative,
  sample: str,
});

const list =
  (item: Check, max: number): Check =>
  (v, p) => {
    if (!Array.isArray(v)) fail(p, 'must be an array');
    if (v.length > max) fail(p, `has more than ${max} entries`);
    v.forEach((x, i) => {
      item(x, `${p}[${i}]`);
    });
  };
const bool: Check = (v, p) => {
  if (typeof v !== 'boolean') fail(p, 'must be true or false');
};
const nullable =
  (check: Check): Check =>
  (v, p) => {
    if (v !== null) check(v, p);
  };

const heldOut = object({ server: nullableFinite, base: nullableFinite });
const gateCheck = object({ before: nullableFinite, after: nullableFinite, ok: bool });
const wordCount = object({ word: str, count });
const gate = object({
  pass: bool,
  reasons: short,
  server: gateCheck,
  base: gateCheck,
  samples: object({
    wordShare: finite,
    nonEmpty: finite,
    shortShare: finite,
    parrotShare: finite,
    ok: bool,
    texts: short,
  }),
  notes: short,
  tolerance: finite,
  baseTolerance: finite,
  filter: opt(object({ flagged: count, rate: finite, maxRate: finite, ok: bool })),
});
const uptake = object({
  newWords: list(wordCount, 10_000),
  samples: count,
  newWordShare: finite,
  perSeed: list(object({ seed: str, samples: count, withNewWord: count, share: finite }), 100),
  used: list(wordCount, 10_000),
  knownWordShare: finite,
  openings: list(object({ opening: str, serverLines: count, samples: count, exact: finite, firstWord: finite }), 100),
  temperature: finite,
  examples: short,
});
const trainedFields = {
  previous: str,
  gate,
  heldOut: object({ before: heldOut, after: heldOut }),
  steps: count,
  seconds: nonNegative,
  chart: (v: unknown, p: string) => {
    str(v, p);
    if ((v as string).length > MAX_CHART_BASE64) fail(p, `is longer than ${MAX_CHART_BASE64} characters`);
  },
  lossCurve: list(object({ step: count, loss: finite }), 500),
  trainingLines: count,
  strength: nullable(oneOf(...STRENGTHS)),
  serverShare: nullableFinite,
  uptake: nullable(uptake),
  erasedDuringTraining: opt(literal('retrained')),
};

const RESULT_CHECKS: Record<JobResult['status'], Check> = {
  cancelled: object({ status: literal('cancelled') }),
  failed: object({ status: literal('failed'), reason: nonEmptyStr, errorId: opt(nonEmptyStr) }),
  swapped: object({ status: literal('swapped'), version: count, ...trainedFields }),
  rejected: object({ status: literal('rejected'), keptAs: str, ...trainedFields }),
};

function byKind<T>(checks: Record<string, Check>, key: string, value: unknown, who: string): T {
  if (!isRecord(value)) throw new ProtocolError(`${who} must be an object`);
  const kind = value[key];
  if (typeof kind !== 'string' || !Object.hasOwn(checks, kind))
    throw new ProtocolError(`${who} has unknown ${key} ${JSON.stringify(kind)}`);
  checks[kind]!(value, `${who} ${kind}`);
  return value as T;
}

export function parseJobData(value: unknown): JobData {
  object({ format: literal('babble-retrain-job'), request: requestCheck, ticket: nonEmptyStr })(value, 'job data');
  return value as JobData;
}

export function parseJobProgress(value: unknown): JobProgress {
  return byKind<JobProgress>(
    {
      started: object({ type: literal('started'), lockToken: nonEmptyStr }),
      progress: object({ type: literal('progress'), progress: progressFigures }),
    },
    'type',
    value,
    'job progress',
  );
}

export function parseJobResult(value: unknown): JobResult {
  return byKind<JobResult>(RESULT_CHECKS, 'status', value, 'job result');
}

export function parseCancelMessage(value: unknown): CancelMessage {
  object({ type: literal('cancel'), jobId: nonEmptyStr })(value, 'cancel message');
  return value as CancelMessage;
}

/** The outcome as it travels (the chart as base64). */
export function toJobResult(outcome: RetrainOutcome): JobResult {
  if (outcome.status !== 'swapped' && outcome.status !== 'rejected') return outcome;
  return { ...outcome, chart: outcome.chart.toString('base64') };
}

/** The outcome a bot shows, from a checked job result. */
export function fromJobResult(result: JobResult): RetrainOutcome {
  if (result.status !== 'swapped' && result.status !== 'rejected') return result;
  return { ...result, chart: Buffer.from(result.chart, 'base64') };
}
