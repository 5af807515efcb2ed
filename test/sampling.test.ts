import { describe, expect, it } from 'vitest';
import { SamplingScratch, argmax, createRng, sampleFromLogits } from '../src/model/sampling.js';

function randomLogits(rng: () => number, n: number, scale = 4): Float32Array {
  return Float32Array.from({ length: n }, () => (rng() * 2 - 1) * scale);
}

/** Ids of the k largest values (values assumed distinct). */
function topIds(logits: Float32Array, k: number): Set<number> {
  return new Set([...logits.keys()].sort((a, b) => logits[b]! - logits[a]!).slice(0, k));
}

function softmax(logits: number[], temperature: number): number[] {
  const max = Math.max(...logits);
  const e = logits.map((l) => Math.exp((l - max) / temperature));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

describe('createRng', () => {
  it('gives the same sequence for the same seed and a different one for another seed', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const sa = Array.from({ length: 20 }, () => a());
    expect(Array.from({ length: 20 }, () => b())).toEqual(sa);
    expect(Array.from({ length: 20 }, () => c())).not.toEqual(sa);
    expect(sa.every((v) => v >= 0 && v < 1)).toBe(true);
  });

  it('rejects a seed that is not a finite number', () => {
    expect(() => createRng(Number.NaN)).toThrow(RangeError);
    expect(() => createRng(Infinity)).toThrow(RangeError);
  });
});

describe('sampleFromLogits at temperature 0', () => {
  it('returns the argmax without calling the rng', () => {
    const rng = createRng(1);
    for (let t = 0; t < 200; t++) {
      const logits = randomLogits(rng, 49);
      let best = 0;
      for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
      const never = () => {
        throw new Error('rng called');
      };
      expect(sampleFromLogits(logits, { temperature: 0, rng: never })).toBe(best);
    }
  });

  it('breaks ties towards the lowest id', () => {
    const logits = Float32Array.from([0, 3, 1, 3, 3]);
    expect(sampleFromLogits(logits, { temperature: 0, rng: Math.random })).toBe(1);
    expect(sampleFromLogits(logits, { temperature: 0, rng: Math.random, exclude: [1] })).toBe(3);
  });

  it('skips excluded ids even when they hold the largest logit', () => {
    const logits = Float32Array.from([100, 2, 5, 1]);
    expect(sampleFromLogits(logits, { temperature: 0, rng: Math.random, exclude: [0] })).toBe(2);
    expect(argmax(logits, [0, 2])).toBe(1);
  });
});

describe('sampleFromLogits at temperature > 0', () => {
  it('with topK 1 always equals the argmax', () => {
    const rng = createRng(2);
    for (let t = 0; t < 300; t++) {
      const logits = randomLogits(rng, 49);
      const temperature = 0.05 + rng() * 1.95;
      expect(sampleFromLogits(logits, { temperature, topK: 1, rng, exclude: [0] })).toBe(argmax(logits, [0]));
    }
  });

  it('with topK k only returns ids among the k largest logits', () => {
    const rng = createRng(3);
    const scratch = new SamplingScratch(49);
    for (const k of [2, 3, 5, 10, 48]) {
      const seen = new Set<number>();
      for (let t = 0; t < 100; t++) {
        const logits = randomLogits(rng, 49, 1); // flat logits: every id would be drawn without top-k
        const allowed = topIds(logits, k);
        for (let d = 0; d < 20; d++) {
          const id = sampleFromLogits(logits, { temperature: 2, topK: k, rng }, scratch);
          expect(allowed.has(id)).toBe(true);
          seen.add([...allowed].sort((a, b) => logits[b]! - logits[a]!).indexOf(id));
        }
      }
      // All k ranks do get drawn (top-k does not collapse to fewer candidates).
      expect(seen.size).toBe(k);
    }
  });

  it('with topK k and an excluded id takes the k largest of the allowed ids', () => {
    const logits = Float32Array.from([10, 9, 8, 7, 6]);
    const rng = createRng(4);
    const drawn = new Set<number>();
    for (let d = 0; d < 500; d++) drawn.add(sampleFromLogits(logits, { temperature: 5, topK: 2, rng, exclude: [0] }));
    expect([...drawn].sort()).toEqual([1, 2]);
  });

  it('never returns an excluded id, even one with an overwhelming logit', () => {
    const rng = createRng(5);
    const logits = Float32Array.from([50, 0, 0.1, -0.3, 0.2]);
    for (let d = 0; d < 5000; d++) {
      expect(sampleFromLogits(logits, { temperature: 2, rng, exclude: [0] })).not.toBe(0);
    }
  });

  it('draws ids with the frequencies of softmax(logits / temperature)', () => {
    const logits = [1.5, 0.2, -0.7, 0.9, 0];
    const rng = createRng(6);
    const scratch = new SamplingScratch(logits.length);
    for (const temperature of [0.5, 1, 2]) {
      const counts = new Array<number>(logits.length).fill(0);
      const draws = 40_000;
      for (let d = 0; d < draws; d++)
        counts[sampleFromLogits(Float32Array.from(logits), { temperature, rng }, scratch)]!++;
      const expected = softmax(logits, temperature);
      counts.forEach((c, i) => {
        expect(Math.abs(c / draws - expected[i]!)).toBeLessThan(0.01);
      });
    }
  });

  it('is numerically stable for huge logits and tiny temperatures', () => {
    const rng = createRng(7);
    const logits = Float32Array.from([1e30, 1e30 - 1e24, -1e30, 3e38]);
    const counts = [0, 0, 0, 0];
    for (let d = 0; d < 1000; d++) counts[sampleFromLogits(logits, { temperature: 1e-6, rng })]!++;
    expect(counts).toEqual([0, 0, 0, 1000]);
    const close = Float32Array.from([1000, 1000, -1000]);
    const c2 = [0, 0, 0];
    for (let d = 0; d < 4000; d++) c2[sampleFromLogits(close, { temperature: 0.01, rng })]!++;
    expect(c2[2]).toBe(0);
    expect(Math.abs(c2[0]! / 4000 - 0.5)).toBeLessThan(0.05);
  });

  it('never returns ids whose logit is NaN or -Infinity', () => {
    const rng = createRng(8);
    const logits = Float32Array.from([Number.NaN, 0, -Infinity, 0.5, Number.NaN]);
    for (let d = 0; d < 2000; d++) expect([1, 3]).toContain(sampleFromLogits(logits, { temperature: 2, rng }));
  });

  it('gives the same draws with the same rng seed, with or without a caller-held scratch', () => {
    const logits = randomLogits(createRng(9), 49);
    const a = createRng(10);
    const b = createRng(10);
    const scratch = new SamplingScratch(49);
    for (let d = 0; d < 200; d++) {
      expect(sampleFromLogits(logits, { temperature: 0.8, topK: 7, rng: a }, scratch)).toBe(
        sampleFromLogits(logits, { temperature: 0.8, topK: 7, rng: b }),
      );
    }
  });

  it('rejects a bad temperature, a too-small scratch, and excluding every id', () => {
    const logits = Float32Array.from([1, 2]);
    expect(() => sampleFromLogits(logits, { temperature: -0.1, rng: Math.random })).toThrow(RangeError);
    expect(() => sampleFromLogits(logits, { temperature: Number.NaN, rng: Math.random })).toThrow(RangeError);
    expect(() => sampleFromLogits(logits, { temperature: 1, rng: Math.random }, new SamplingScratch(1))).toThrow(
      RangeError,
    );
    expect(() => sampleFromLogits(logits, { temperature: 0, rng: Math.random, exclude: [0, 1] })).toThrow(RangeError);
  });
});
