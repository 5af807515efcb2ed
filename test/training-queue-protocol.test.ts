/**
 * The training queue's messages are checked on arrival: a job, a progress report, a result or a cancel request
 * with an unknown kind, a missing, mistyped or extra field, or a string over its bound is refused, naming it.
 */
import { describe, expect, it } from 'vitest';
import {
  fromJobResult,
  MAX_CHART_BASE64,
  parseCancelMessage,
  parseJobData,
  parseJobProgress,
  parseJobResult,
  ProtocolError,
  toJobResult,
} from '../src/training-queue/protocol.js';
import { swapped } from './helpers/queue-stub.js';

const job = { format: 'babble-retrain-job', request: { scope: '123', minutes: 2, strength: 'gentle' }, ticket: 't' };

describe('job data', () => {
  it('accepts a request for a server or the base model', () => {
    expect(parseJobData(job)).toEqual(job);
    expect(parseJobData({ ...job, request: { scope: 'base' } }).request.scope).toBe('base');
  });
  it('refuses a bad scope, an unknown strength, an extra field and a missing ticket, naming each', () => {
    expect(() => parseJobData({ ...job, request: { scope: '../etc' } })).toThrow(
      /job data.request.scope must be a server id/,
    );
    expect(() => parseJobData({ ...job, request: { scope: '1', strength: 'max' } })).toThrow(/strength must be one of/);
    expect(() => parseJobData({ ...job, extra: 1 })).toThrow(/job data.extra is not a known field/);
    expect(() => parseJobData({ format: job.format, request: job.request })).toThrow(/ticket is missing/);
    expect(() => parseJobData({ ...job, request: { scope: '1', minutes: -1 } })).toThrow(ProtocolError);
  });
});

describe('progress and results', () => {
  it('refuses an unknown kind and a mistyped figure', () => {
    expect(() => parseJobProgress({ type: 'hello' })).toThrow(/unknown type "hello"/);
    expect(() => parseJobProgress({ type: 'started', lockToken: '' })).toThrow(/lockToken must not be empty/);
    expect(() => parseJobProgress({ type: 'progress', progress: { step: 'x' } })).toThrow(/progress.step/);
    expect(() => parseJobResult({ status: 'won' })).toThrow(/unknown status "won"/);
    expect(() => parseJobResult({ status: 'failed', reason: 'x', stack: 'at …' })).toThrow(
      /stack is not a known field/,
    );
    expect(parseJobResult({ status: 'cancelled' })).toEqual({ status: 'cancelled' });
  });
  it('bounds the chart, and carries its bytes through base64 both ways', () => {
    const failed = toJobResult({ status: 'failed', reason: 'nope', errorId: 'e1' });
    expect(fromJobResult(parseJobResult(failed))).toEqual({ status: 'failed', reason: 'nope', errorId: 'e1' });
    const sent = toJobResult(swapped(3));
    expect(fromJobResult(parseJobResult(JSON.parse(JSON.stringify(sent))))).toEqual(swapped(3));
    const tooBig = { ...sent, chart: 'A'.repeat(MAX_CHART_BASE64 + 1) };
    expect(() => parseJobResult(tooBig)).toThrow(/chart is longer than/);
  });
  it('reads a cancel request only as { type: cancel, jobId }', () => {
    expect(parseCancelMessage({ type: 'cancel', jobId: 'retrain-1' })).toEqual({ type: 'cancel', jobId: 'retrain-1' });
    expect(() => parseCancelMessage({ type: 'cancel' })).toThrow(/jobId is missing/);
  });
});
