import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/model/backend.js';
import { Generator, PRIME_CHARS, RAW_SEED_LIMIT, fitSeed, type GenerateOptions } from '../src/model/generate.js';
import { MAX_LENGTH } from '../src/service/types.js';
import { DEFAULT_VOCAB, EOU, UNK, Vocabulary, normalize } from '../src/model/vocab.js';
import { flattenWeights, initWeights, mulberry32, type BabyWeights } from '../src/model/weights.js';

/**
 * Real-size random weights, scaled up so the model's outputs are far from uniform (with these, the likeliest
 * character's probability is ~0.1–0.5 instead of ~0.03) and the LSTM states are not tiny.
 */
function testWeights(seed = 7, vocabSize = DEFAULT_VOCAB.size, embeddingDim?: number, units?: number): BabyWeights {
  const w = initWeights(vocabSize, seed, embeddingDim, units);
  const scale = (a: Float32Array, k: number) => {
    for (let i = 0; i < a.length; i++) a[i]! *= k;
  };
  scale(w.embedding, 20);
  for (const l of [w.lstm1, w.lstm2]) {
    scale(l.kernel, 2);
    scale(l.recurrentKernel, 2);
  }
  scale(w.dense.kernel, 4);
  return w;
}

const weights = testWeights();
const wasm = new Generator(weights, DEFAULT_VOCAB, { backend: 'wasm' });
const js = new Generator(weights, DEFAULT_VOCAB, { backend: 'js' });
const both = [wasm, js] as const;

function softmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  const e = Float64Array.from(logits, (v) => Math.exp(v - max));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

function randomText(rand: () => number, length: number): string {
  const ranges: [number, number][] = [
    [0x20, 0x7e],
    [0x00, 0x1f],
    [0x7f, 0x9f],
    [0xa0, 0x24f],
    [0x300, 0x36f],
    [0x400, 0x4ff],
    [0x4e00, 0x9fff],
    [0x200b, 0x200f],
    [0xd800, 0xdfff],
    [0xfe00, 0xfe0f],
    [0x1f300, 0x1faff],
    [0x10000, 0x10ffff],
  ];
  let s = '';
  for (let i = 0; i < length; i++) {
    const [lo, hi] = ranges[Math.floor(rand() * ranges.length)]!;
    s += String.fromCodePoint(lo + Math.floor(rand() * (hi - lo + 1)));
  }
  if (rand() < 0.2) s += ' <@123456> https://x.y/z <:e:123> \r\n\t' + s;
  return s;
}

describe('Generator', () => {
  it('uses WebAssembly SIMD by default on this runtime', () => {
    expect(new Generator(weights, DEFAULT_VOCAB).backend).toBe('wasm');
  });

  it('produces varied text with the test weights (so the other tests are not trivially true)', () => {
    const { text, seed } = wasm.generate('hello ', { rng: 1, temperature: 0.5, length: 200 });
    expect(new Set(text.slice(seed.length)).size).toBeGreaterThan(10);
    const greedy = wasm.generate('hello ', { temperature: 0, length: 200 }).text;
    expect(new Set(greedy.slice(6)).size).toBeGreaterThan(3);
  });

  it('is deterministic at temperature 0, whatever the rng', () => {
    for (const g of both) {
      const a = g.generate('me want milk', { temperature: 0, rng: 1 });
      const b = g.generate('me want milk', { temperature: 0, rng: 999 });
      const c = g.generate('me want milk', { temperature: 0 });
      expect(b.text).toBe(a.text);
      expect(c.text).toBe(a.text);
    }
  });

  it('gives the same text for the same rng and (usually) different text for different rngs', () => {
    for (const g of both) {
      const texts = [1, 2, 3, 4, 5].map((rng) => g.generate('baby ', { temperature: 0.8, rng }).text);
      expect([1, 2, 3, 4, 5].map((rng) => g.generate('baby ', { temperature: 0.8, rng }).text)).toEqual(texts);
      expect(new Set(texts).size).toBeGreaterThan(3);
    }
  });

  it('reports the rng it drew when none was given, and that rng reproduces the text', () => {
    const first = wasm.generate('dada ', { temperature: 1 });
    expect(wasm.generate('dada ', { temperature: 1, rng: first.rng }).text).toBe(first.text);
  });

  it('gives the same text on the wasm and JS backends (temperatures 0, 0.5 and 1.5, several rngs, topK)', () => {
    for (const temperature of [0, 0.5, 1.5]) {
      for (const rng of [1, 2, 3]) {
        for (const topK of [0, 5]) {
          const opts: GenerateOptions = { temperature, rng, topK, length: 120 };
          expect(js.generate('hi mama ', opts).text).toBe(wasm.generate('hi mama ', opts).text);
        }
      }
    }
  });

  it('steps to bit-identical logits and state on the wasm and JS backends', () => {
    const sw = wasm.newState();
    const sj = js.newState();
    const rand = mulberry32(5);
    for (let t = 0; t < 60; t++) {
      const id = 1 + Math.floor(rand() * (DEFAULT_VOCAB.size - 1));
      wasm.feed(sw, id);
      js.feed(sj, id);
      const lw = wasm.logits(sw);
      const lj = js.logits(sj);
      expect(lw.every((v, i) => Object.is(v, lj[i]))).toBe(true);
      expect(sw.h.every((v, i) => Object.is(v, sj.h[i]))).toBe(true);
      expect(sw.c.every((v, i) => Object.is(v, sj.c[i]))).toBe(true);
    }
  });

  it('primes with the start-of-utterance newline, then the normalised seed, from the zero state', () => {
    for (const g of both) {
      const seed = 'Mé WANT 🍪 cookie';
      const state = g.newState();
      g.feed(state, DEFAULT_VOCAB.eouId);
      for (const id of DEFAULT_VOCAB.encode(normalize(seed))) g.feed(state, id);
      const first =
        DEFAULT_VOCAB.chars[g.logits(state).reduce((best, v, i, a) => (i !== 0 && v > a[best]! ? i : best), 1)];
      const { text, seed: normalised } = g.generate(seed, { temperature: 0, length: 1 });
      expect(normalised).toBe('me want cookie');
      expect(text).toBe(normalised + first);
    }
  });

  it('feeds only the last PRIME_CHARS characters of a long seed', () => {
    const rand = mulberry32(9);
    let tail = '';
    while (tail.length < PRIME_CHARS)
      tail +=
        rand() < 0.2 && tail.length > 0 && !tail.endsWith(' ')
          ? ' '
          : String.fromCharCode(97 + Math.floor(rand() * 26));
    expect(normalize(tail)).toBe(tail); // single spaces, no leading one: normalising leaves it as is
    const long = 'the start of something long. '.repeat(20) + tail;
    const a = wasm.generate(long, { temperature: 0.7, rng: 3 });
    const b = wasm.generate(tail, { temperature: 0.7, rng: 3 });
    expect(a.text.slice(a.seed.length)).toBe(b.text.slice(b.seed.length));
  });

  it('starts with the normalised seed and generates exactly `length` characters', () => {
    for (const seed of ['', 'hello', '  HÉLLO  wörld ', '<@12345> hi', '🍪🍪🍪', '\u0000\u0001abc', 'a\nb']) {
      for (const length of [0, 1, 17, 60]) {
        const r = wasm.generate(seed, { length, temperature: 1, rng: 4 });
        expect(r.seed).toBe(normalize(seed));
        expect(r.text.startsWith(r.seed)).toBe(true);
        expect(r.generated).toBe(length);
        expect(r.text.length).toBe(r.seed.length + length);
      }
    }
    expect(wasm.generate('abc', { rng: 1 }).generated).toBe(60); // default length
  });

  it('never generates the unknown symbol, even when the model prefers it above all', () => {
    const w = testWeights(8);
    w.dense.bias[DEFAULT_VOCAB.unkId] = 1000;
    for (const backend of ['wasm', 'js'] as const) {
      const g = new Generator(w, DEFAULT_VOCAB, { backend });
      const state = g.newState();
      g.feed(state, DEFAULT_VOCAB.eouId);
      const logits = g.logits(state);
      expect(logits.indexOf(Math.max(...logits))).toBe(DEFAULT_VOCAB.unkId);
      for (const temperature of [0, 0.5, 2]) {
        const r = g.generate('abc', { temperature, rng: 5, length: 300 });
        expect(r.text.includes(UNK)).toBe(false);
        expect(r.generated).toBe(300);
      }
    }
  });

  it('stops at the end of an utterance when asked, leaving the newline out', () => {
    const w = testWeights(9);
    w.dense.bias[DEFAULT_VOCAB.eouId] = 3; // utterances end often
    const g = new Generator(w, DEFAULT_VOCAB);
    let stopsSeen = 0;
    for (let rng = 0; rng < 40; rng++) {
      const full = g.generate('ba', { temperature: 1, rng, length: 100 });
      const stopped = g.generate('ba', { temperature: 1, rng, length: 100, stopAtEndOfUtterance: true });
      const continuation = full.text.slice(full.seed.length);
      const cut = continuation.indexOf(EOU);
      expect(stopped.text).toBe(full.seed + (cut < 0 ? continuation : continuation.slice(0, cut)));
      expect(stopped.text.includes(EOU)).toBe(false);
      expect(stopped.generated).toBe(stopped.text.length - stopped.seed.length);
      if (cut >= 0) stopsSeen++;
    }
    expect(stopsSeen).toBeGreaterThan(10); // newlines were generated and kept without the option
  });

  it('keeps every output within 2000 characters and the seed whole when it fits', () => {
    const seed1990 = 'abc '.repeat(497) + 'ab';
    const r1 = wasm.generate(seed1990, { length: 60, rng: 1 });
    expect(r1.seed).toBe(seed1990);
    expect(r1.generated).toBe(10);
    expect(r1.text.length).toBe(MAX_LENGTH);
    const r2 = wasm.generate('hi', { length: 100_000, rng: 1 });
    expect(r2.text.length).toBe(MAX_LENGTH);
    expect(r2.generated).toBe(MAX_LENGTH - 2);
  });

  it('cuts a normalised seed longer than 2000 characters to its end, leaving room for `length`', () => {
    const long = Array.from({ length: 1000 }, (_, i) => `w${i}`).join(' '); // ~4,900 characters
    const r = wasm.generate(long, { length: 60, rng: 2 });
    expect(normalize(long).endsWith(r.seed)).toBe(true);
    expect(r.seed.length).toBeLessThanOrEqual(MAX_LENGTH - 60);
    expect(r.seed.length).toBeGreaterThan(MAX_LENGTH - 60 - 5);
    expect(r.seed.startsWith(' ')).toBe(false);
    expect(r.generated).toBe(60);
    expect(r.text.length).toBeLessThanOrEqual(MAX_LENGTH);
    expect(fitSeed(long, 0, DEFAULT_VOCAB).seed).toBe(normalize(long).slice(-MAX_LENGTH).trimStart());
  });

  it('clamps temperature, topK and length, and rejects NaN', () => {
    const at = (o: GenerateOptions) => wasm.generate('mama', { rng: 3, length: 80, ...o }).text;
    expect(at({ temperature: 7 })).toBe(at({ temperature: 2 }));
    expect(at({ temperature: -1 })).toBe(at({ temperature: 0 }));
    expect(at({ temperature: 1, topK: 1000 })).toBe(at({ temperature: 1, topK: 0 }));
    expect(at({ temperature: 1, topK: 1 })).toBe(at({ temperature: 0 }));
    expect(wasm.generate('mama', { length: -5 }).text).toBe('mama');
    expect(wasm.generate('mama', { length: 2.9, rng: 1 }).generated).toBe(2);
    expect(() => wasm.generate('mama', { temperature: Number.NaN })).toThrow(RangeError);
    expect(() => wasm.generate('mama', { length: Number.NaN })).toThrow(RangeError);
    expect(() => wasm.generate('mama', { rng: Infinity })).toThrow(RangeError);
  });

  it('never throws and stays within 2000 characters for 500 random Unicode seeds (astral, control, 10k-character)', () => {
    const rand = mulberry32(123);
    for (let t = 0; t < 500; t++) {
      const size = t % 25 === 0 ? 10_000 : Math.floor(rand() * 300);
      const seed = randomText(rand, size);
      const length = t % 20 === 0 ? 1500 + Math.floor(rand() * 1000) : Math.floor(rand() * 120);
      const opts: GenerateOptions = {
        length,
        temperature: rand() * 2,
        topK: Math.floor(rand() * 10),
        rng: t,
        stopAtEndOfUtterance: rand() < 0.5,
      };
      const r = wasm.generate(seed, opts);
      expect(r.text.length).toBeLessThanOrEqual(MAX_LENGTH);
      expect(r.text.startsWith(r.seed)).toBe(true);
      expect(normalize(seed).endsWith(r.seed)).toBe(true);
      expect(r.text.includes(UNK)).toBe(false);
      expect(r.generated).toBeLessThanOrEqual(length);
      expect(r.text.length).toBe(r.seed.length + r.generated);
    }
  });

  it('cuts a raw seed beyond RAW_SEED_LIMIT before normalising it', () => {
    const huge = 'ab '.repeat(RAW_SEED_LIMIT); // three times the limit
    const r = wasm.generate(huge, { length: 10, rng: 1 });
    expect(r.text.length).toBeLessThanOrEqual(MAX_LENGTH);
    expect(normalize(huge).endsWith(r.seed)).toBe(true);
    expect(r.generated).toBe(10);
  });

  it('counts UTF-16 code units against the 2000 limit when the vocabulary has astral characters', () => {
    const vocab = new Vocabulary([UNK, EOU, ' ', 'a', '😀']);
    const w = initWeights(vocab.size, 3, 4, 8);
    w.dense.bias[4] = 50; // the emoji (two code units) nearly always
    const g = new Generator(w, vocab);
    expect(g.backend).toBe('wasm');
    const r = g.generate('a😀a', { length: 5000, temperature: 0.5, rng: 2 });
    expect(r.text.length).toBeLessThanOrEqual(MAX_LENGTH);
    expect(r.text.length).toBeGreaterThan(MAX_LENGTH - 2);
    expect(r.text.startsWith('a😀a')).toBe(true);
  });

  it('falls back to JS when units is not a multiple of 4, and refuses an explicit wasm backend then', () => {
    const w = testWeights(4, DEFAULT_VOCAB.size, 5, 6);
    const g = new Generator(w, DEFAULT_VOCAB);
    expect(g.backend).toBe('js');
    expect(g.generate('abc', { rng: 1, length: 30 }).generated).toBe(30);
    expect(() => new Generator(w, DEFAULT_VOCAB, { backend: 'wasm' })).toThrow(/multiple of 4/);
  });

  it('rejects weights that do not match the vocabulary or their own shapes, and out-of-range ids', () => {
    expect(() => new Generator(initWeights(10), DEFAULT_VOCAB)).toThrow(/vocabulary/);
    const bad = testWeights();
    bad.lstm2.bias = new Float32Array(3);
    expect(() => new Generator(bad, DEFAULT_VOCAB)).toThrow(/lstm2.bias/);
    const state = wasm.newState();
    expect(() => wasm.feed(state, DEFAULT_VOCAB.size)).toThrow(RangeError);
    expect(() => wasm.feed(state, -1)).toThrow(RangeError);
    expect(() =>
      wasm.feed(new Generator(testWeights(4, DEFAULT_VOCAB.size, 5, 8), DEFAULT_VOCAB).newState(), 1),
    ).toThrow(/other weights/);
  });

  it('is not changed by later changes to the weights it was built from', () => {
    const w = testWeights(12);
    const g = new Generator(w, DEFAULT_VOCAB);
    const before = g.generate('abc', { rng: 1, temperature: 0.5 }).text;
    w.dense.bias.fill(100);
    w.lstm1.recurrentKernel.fill(0);
    expect(g.generate('abc', { rng: 1, temperature: 0.5 }).text).toBe(before);
  });
});

describe('Generator against a tfjs-layers model with the same weights', () => {
  let model: tf.Sequential;

  beforeAll(async () => {
    await initBackend('cpu');
    const V = weights.vocabSize;
    // Zero initialisers: setWeights replaces them, and the default Orthogonal one takes tens of seconds on cpu.
    const lstm = (returnSequences: boolean) =>
      tf.layers.lstm({
        units: weights.units,
        returnSequences,
        activation: 'tanh',
        recurrentActivation: 'sigmoid',
        kernelInitializer: 'zeros',
        recurrentInitializer: 'zeros',
      });
    model = tf.sequential();
    model.add(tf.layers.embedding({ inputDim: V, outputDim: weights.embeddingDim, inputShape: [null] }));
    model.add(lstm(true));
    model.add(tf.layers.dropout({ rate: 0.2 }));
    model.add(lstm(false));
    model.add(tf.layers.dropout({ rate: 0.2 }));
    model.add(tf.layers.dense({ units: V, activation: 'softmax' }));
    const shapes = model.getWeights().map((t) => t.shape);
    const tensors = flattenWeights(weights).map((a, i) => tf.tensor(a, shapes[i]!, 'float32'));
    model.setWeights(tensors);
    tf.dispose(tensors);
  });

  afterAll(() => {
    model.dispose();
  });

  it('gives the same next-character probabilities at every prefix length (within 1e-4)', () => {
    const ids = [DEFAULT_VOCAB.eouId, ...DEFAULT_VOCAB.encode('me want cookie now! 123 (ok)')];
    for (const g of both) {
      const state = g.newState();
      let worst = 0;
      for (let n = 1; n <= ids.length; n++) {
        g.feed(state, ids[n - 1]!);
        const mine = softmax(g.logits(state));
        const theirs = tf.tidy(() =>
          (model.predict(tf.tensor2d([ids.slice(0, n)], [1, n], 'float32')) as tf.Tensor).dataSync(),
        );
        for (let v = 0; v < mine.length; v++) worst = Math.max(worst, Math.abs(mine[v]! - theirs[v]!));
      }
      expect(worst).toBeLessThan(1e-4);
    }
  });

  it('leaves tf.memory().numTensors unchanged over 1,000 generations', () => {
    const before = tf.memory().numTensors;
    for (let t = 0; t < 1000; t++) wasm.generate('hello ', { rng: t, length: 10 });
    for (let t = 0; t < 100; t++) js.generate('hello ', { rng: t, length: 10 });
    expect(tf.memory().numTensors).toBe(before);
  });
});
