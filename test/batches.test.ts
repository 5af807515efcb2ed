import { describe, expect, it } from 'vitest';
import { fitSeqLength, makeBatcher, permutation, splitBatch } from '../src/training/batches.js';
import { mulberry32 } from '../src/model/weights.js';

/** data[i] = i: every id tells where it came from. */
const positions = (n: number) => Int32Array.from({ length: n }, (_, i) => i);

describe('makeBatcher', () => {
  it('seq: time-major inputs of consecutive characters, each target the next character', () => {
    const data = positions(500);
    const batcher = makeBatcher(data, { scheme: 'seq', batchSize: 4, seqLength: 6, window: 15, seed: 3 });
    const batch = batcher.batch(0);
    expect(batch.inputs.length).toBe(24);
    expect(batch.targets.length).toBe(24);
    for (let b = 0; b < 4; b++) {
      for (let t = 0; t < 6; t++) {
        expect(batch.targets[t * 4 + b]).toBe(batch.inputs[t * 4 + b]! + 1);
        if (t > 0) expect(batch.inputs[t * 4 + b]).toBe(batch.inputs[(t - 1) * 4 + b]! + 1);
      }
    }
  });

  it('seq: one epoch shows every piece once, cut at one offset; the next epoch cuts elsewhere', () => {
    const data = positions(1000);
    const T = 8;
    const batcher = makeBatcher(data, { scheme: 'seq', batchSize: 16, seqLength: T, window: 15, seed: 9 });
    const pieces = Math.floor((1000 - T) / T);
    expect(batcher.stepsPerEpoch).toBe(Math.ceil(pieces / 16));
    const startsOf = (epoch: number) => {
      const starts = new Set<number>();
      for (let s = epoch * batcher.stepsPerEpoch; s < (epoch + 1) * batcher.stepsPerEpoch; s++) {
        const batch = batcher.batch(s);
        for (let b = 0; b < 16; b++) starts.add(batch.inputs[b]!);
      }
      return [...starts].sort((a, b) => a - b);
    };
    const offsets = new Set<number>();
    for (let epoch = 0; epoch < 4; epoch++) {
      const starts = startsOf(epoch);
      expect(starts.length).toBe(pieces);
      const offset = starts[0]!;
      expect(offset).toBeLessThan(T);
      starts.forEach((s, k) => {
        expect(s).toBe(offset + k * T);
      });
      offsets.add(offset);
    }
    expect(offsets.size).toBeGreaterThan(1);
  });

  it('window: each sample is `window` characters and the one after them, every position once per epoch', () => {
    const data = positions(100);
    const W = 5;
    const batcher = makeBatcher(data, { scheme: 'window', batchSize: 8, seqLength: 32, window: W, seed: 1 });
    expect(batcher.stepsPerEpoch).toBe(Math.ceil(95 / 8));
    expect(batcher.targetsPerBatch).toBe(8);
    const targets = new Set<number>();
    for (let s = 0; s < batcher.stepsPerEpoch; s++) {
      const batch = batcher.batch(s);
      expect(batch.inputs.length).toBe(W * 8);
      expect(batch.targets.length).toBe(8);
      for (let b = 0; b < 8; b++) {
        for (let t = 0; t < W; t++) expect(batch.inputs[t * 8 + b]).toBe(batch.targets[b]! - W + t);
        targets.add(batch.targets[b]!);
      }
    }
    expect([...targets].sort((a, b) => a - b)).toEqual(Array.from({ length: 95 }, (_, i) => i + W));
  });

  it('is reproducible for a seed and differs between seeds', () => {
    const data = positions(2000);
    const make = (seed: number) => makeBatcher(data, { scheme: 'seq', batchSize: 8, seqLength: 10, window: 15, seed });
    const a = make(5);
    const b = make(5);
    const c = make(6);
    for (const step of [0, 3, 30, 31]) expect(a.batch(step)).toEqual(b.batch(step));
    expect(a.batch(0).inputs).not.toEqual(c.batch(0).inputs);
    // random access gives the same batch as sequential access
    expect(make(5).batch(31)).toEqual(a.batch(31));
  });

  it('fills a batch larger than the text by repeating pieces', () => {
    const batcher = makeBatcher(positions(40), { scheme: 'seq', batchSize: 16, seqLength: 8, window: 15, seed: 2 });
    expect(batcher.stepsPerEpoch).toBe(1);
    const batch = batcher.batch(0);
    const counts = new Map<number, number>();
    for (let b = 0; b < 16; b++) counts.set(batch.inputs[b]!, (counts.get(batch.inputs[b]!) ?? 0) + 1);
    expect(counts.size).toBe(4); // floor((40 - 8) / 8) pieces
    expect([...counts.values()]).toEqual([4, 4, 4, 4]);
    for (let b = 0; b < 16; b++) expect(batch.targets[7 * 16 + b]).toBeLessThan(40);
  });

  it('rejects texts too short for the sequence length, and bad sizes', () => {
    expect(() =>
      makeBatcher(positions(10), { scheme: 'seq', batchSize: 2, seqLength: 8, window: 15, seed: 1 }),
    ).toThrow(RangeError);
    expect(() =>
      makeBatcher(positions(15), { scheme: 'window', batchSize: 2, seqLength: 8, window: 15, seed: 1 }),
    ).toThrow(RangeError);
    expect(() =>
      makeBatcher(positions(100), { scheme: 'seq', batchSize: 0, seqLength: 8, window: 15, seed: 1 }),
    ).toThrow(RangeError);
    expect(() =>
      makeBatcher(positions(100), { scheme: 'seq', batchSize: 2, seqLength: 1.5, window: 15, seed: 1 }),
    ).toThrow(RangeError);
  });
});

describe('permutation', () => {
  it('is a permutation of 0..n-1', () => {
    const p = permutation(50, mulberry32(4));
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect([...p]).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});

describe('splitBatch', () => {
  it('splits the sequences of a seq batch into consecutive parts, time-major, sizes within one', () => {
    const batch = makeBatcher(positions(1000), {
      scheme: 'seq',
      batchSize: 7,
      seqLength: 4,
      window: 15,
      seed: 1,
    }).batch(0);
    const parts = splitBatch(batch, 2);
    expect(parts.map((p) => p.batchSize)).toEqual([4, 3]);
    let first = 0;
    for (const part of parts) {
      expect(part.steps).toBe(4);
      for (let t = 0; t < 4; t++) {
        for (let b = 0; b < part.batchSize; b++) {
          expect(part.inputs[t * part.batchSize + b]).toBe(batch.inputs[t * 7 + first + b]);
          expect(part.targets[t * part.batchSize + b]).toBe(batch.targets[t * 7 + first + b]);
        }
      }
      first += part.batchSize;
    }
  });

  it('splits the one-per-sequence targets of a window batch', () => {
    const batch = makeBatcher(positions(200), {
      scheme: 'window',
      batchSize: 6,
      seqLength: 4,
      window: 5,
      seed: 1,
    }).batch(2);
    const [a, b] = splitBatch(batch, 2);
    expect([...a!.targets, ...b!.targets]).toEqual([...batch.targets]);
    expect(a!.inputs[4 * 3 + 2]).toBe(batch.inputs[4 * 6 + 2]);
    expect(b!.inputs[4 * 3 + 2]).toBe(batch.inputs[4 * 6 + 5]);
    expect(() => splitBatch(batch, 7)).toThrow(RangeError);
  });
});

describe('fitSeqLength', () => {
  it('keeps the length asked for (32 by default) and shrinks it to half a short text, never below 2', () => {
    expect(fitSeqLength(10_000)).toBe(32);
    expect(fitSeqLength(10_000, 64)).toBe(64);
    expect(fitSeqLength(20, 32)).toBe(10);
    expect(fitSeqLength(3)).toBe(2);
  });
});
