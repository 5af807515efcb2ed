/**
 * The trainer IPC protocol: every valid message passes, anything unknown or malformed is refused with a reason.
 */
import { describe, expect, it } from 'vitest';
import {
  ARRAY_LIMITS,
  downsampleCurve,
  MAX_CURVE_POINTS,
  parseChildMessage,
  parseParentMessage,
  ProtocolError,
  type ChildMessage,
  type ParentMessage,
  type TrainJob,
} from '../src/training/trainer-protocol.js';

const JOB: TrainJob = {
  baseModelDir: 'models/base',
  outDir: 'var/models/1/.tmp-x',
  version: '1-next',
  trainingLines: ['me want pizza'],
  baseCorpusLines: ['me love mama'],
  heldOut: { server: [], base: ['me see doggy'] },
  maxSeconds: 60,
  epochs: 2,
  maxSteps: 10,
  batchSize: 8,
  seqLength: 16,
  learningRate: 0.001,
  workers: 2,
  seed: 3,
  progressIntervalMs: 0,
  sampleEverySeconds: 5,
  note: { scope: '1', requestedBy: '42', dryRun: false, n: 3 },
};

const PROGRESS: ChildMessage = {
  type: 'progress',
  step: 3,
  totalSteps: 10,
  epoch: 0.3,
  loss: 1.2,
  etaSeconds: 4,
  charsPerSecond: 900,
  elapsedSeconds: 2,
  sample: 'me want',
};
const SAVED: ChildMessage = {
  type: 'saved',
  dir: '/tmp/x',
  heldOut: { before: { server: 2.5, base: 1.6 }, after: { server: null, base: 1.61 } },
  steps: 10,
  seconds: 3.5,
  charsPerSecond: 1000,
  stoppedBy: 'steps',
  lossCurve: [
    { step: 1, loss: 1.3 },
    { step: 2, loss: 1.2 },
  ],
  samples: ['me want cookie'],
};

describe('parseParentMessage', () => {
  it('accepts a start with a full job and a cancel, returning them unchanged', () => {
    const start: ParentMessage = { type: 'start', job: JOB };
    expect(parseParentMessage(start)).toEqual(start);
    expect(parseParentMessage({ type: 'cancel' })).toEqual({ type: 'cancel' });
    const minimal = {
      baseModelDir: 'a',
      outDir: 'b',
      version: 'c',
      trainingLines: [],
      baseCorpusLines: [],
      heldOut: { server: [], base: [] },
    };
    expect(parseParentMessage({ type: 'start', job: minimal })).toEqual({ type: 'start', job: minimal });
  });

  it('refuses unknown types, missing or mistyped fields, and extra fields', () => {
    const bad: unknown[] = [
      null,
      'start',
      [],
      { type: 'stop' },
      { type: 'start' },
      { type: 'cancel', now: true },
      { type: 'start', job: { ...JOB, workers: 3 } },
      { type: 'start', job: { ...JOB, trainingLines: ['ok', 7] } },
      { type: 'start', job: { ...JOB, maxSeconds: -1 } },
      { type: 'start', job: { ...JOB, epochs: Number.NaN } },
      { type: 'start', job: { ...JOB, batchSize: 1.5 } },
      { type: 'start', job: { ...JOB, seqLength: 1 } },
      { type: 'start', job: { ...JOB, outDir: '' } },
      { type: 'start', job: { ...JOB, heldOut: { server: [] } } },
      { type: 'start', job: { ...JOB, note: { x: { nested: 1 } } } },
      { type: 'start', job: { ...JOB, env: { DISCORD_TOKEN: 'x' } } },
    ];
    for (const value of bad) expect(() => parseParentMessage(value), JSON.stringify(value)).toThrow(ProtocolError);
  });

  it('names the field at fault', () => {
    expect(() => parseParentMessage({ type: 'start', job: { ...JOB, workers: 3 } })).toThrow(/job\.workers/);
    expect(() => parseParentMessage({ type: 'start', job: { ...JOB, extra: 1 } })).toThrow(
      /job\.extra is not a known field/,
    );
  });
});

describe('parseChildMessage', () => {
  it('accepts every child message type', () => {
    const messages: ChildMessage[] = [
      { type: 'ready', pid: 123, envKeys: ['HOME', 'PATH'] },
      PROGRESS,
      SAVED,
      { type: 'done' },
      { type: 'error', message: 'boom' },
    ];
    for (const m of messages) expect(parseChildMessage(m)).toEqual(m);
  });

  it('refuses malformed child messages', () => {
    const bad: unknown[] = [
      { type: 'ready', pid: 0, envKeys: [] },
      { type: 'ready', pid: 1 },
      { ...PROGRESS, loss: Number.POSITIVE_INFINITY },
      { ...PROGRESS, step: -1 },
      { ...PROGRESS, sample: 5 },
      { ...SAVED, stoppedBy: 'aborted' },
      { ...SAVED, heldOut: { before: { server: 'x', base: 1 }, after: { server: null, base: null } } },
      { ...SAVED, lossCurve: Array.from({ length: MAX_CURVE_POINTS + 1 }, (_, i) => ({ step: i, loss: 1 })) },
      { ...SAVED, lossCurve: [{ step: 1 }] },
      { type: 'error' },
      { type: 'error', message: 'x'.repeat(100_001) },
      { type: 'done', extra: true },
      { type: 'saved' },
      { type: 'hello' },
    ];
    for (const value of bad)
      expect(() => parseChildMessage(value), JSON.stringify(value).slice(0, 80)).toThrow(ProtocolError);
  });
});

describe('string arrays are bounded', () => {
  const start = (job: Partial<TrainJob>) => ({ type: 'start', job: { ...JOB, ...job } });
  const many = (n: number, text = 'a') => Array.from({ length: n }, () => text);

  it('refuses a text array with too many entries, too many characters in all, or one overlong line', () => {
    const { items, chars } = ARRAY_LIMITS.lines;
    expect(() => parseParentMessage(start({ trainingLines: many(items + 1) }))).toThrow(
      /trainingLines has more than 2000000 entries/,
    );
    const big = 'x'.repeat(100_000);
    expect(() => parseParentMessage(start({ baseCorpusLines: many(chars / big.length + 1, big) }))).toThrow(
      /baseCorpusLines has more than 64000000 characters/,
    );
    expect(() => parseParentMessage(start({ heldOut: { server: ['x'.repeat(100_001)], base: [] } }))).toThrow(
      /heldOut\.server\[0\] is longer/,
    );
    expect(() => parseParentMessage(start({ trainingLines: many(items) }))).not.toThrow();
  });

  it("refuses a child's environment names or samples past their bounds", () => {
    const { items } = ARRAY_LIMITS.short;
    expect(() => parseChildMessage({ type: 'ready', pid: 1, envKeys: many(items + 1, 'PATH') })).toThrow(
      /envKeys has more than 1000 entries/,
    );
    expect(() => parseChildMessage({ ...SAVED, samples: many(items + 1) })).toThrow(
      /samples has more than 1000 entries/,
    );
    expect(() => parseChildMessage({ ...SAVED, samples: many(11, 'x'.repeat(100_000)) })).toThrow(
      /samples has more than 1000000 characters/,
    );
  });
});

describe('downsampleCurve', () => {
  it('keeps short curves whole and long ones to at most the limit, first and last point kept', () => {
    const short = [
      { step: 1, loss: 2 },
      { step: 2, loss: 1 },
    ];
    expect(downsampleCurve(short)).toEqual(short);
    const long = Array.from({ length: 2000 }, (_, i) => ({ step: i + 1, loss: 1 / (i + 1) }));
    const out = downsampleCurve(long, 100);
    expect(out).toHaveLength(100);
    expect(out[0]).toEqual(long[0]);
    expect(out.at(-1)).toEqual(long.at(-1));
    for (let i = 1; i < out.length; i++) expect(out[i]!.step).toBeGreaterThan(out[i - 1]!.step);
  });
});
