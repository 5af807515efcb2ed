/**
 * Stateful text generation with plain arrays (no tfjs): the two LSTM layers' h and c are carried from one
 * character to the next, one character per step.
 *
 * A generation: zero state → feed '\n' (the start-of-utterance context) → feed the last PRIME_CHARS characters of
 * the normalised seed → then repeatedly: logits → sample (unknown id masked) → feed the sampled character.
 *
 * Speed: layer 1's input projection is precomputed per character (embedding · kernel1 + bias1, a [V, 4H] table),
 * so a step is three matrix-vector products — h1 · R1, [h1', h2] · [K2; R2] (the two layer-2 kernels stacked,
 * one product), and h2' · Dense (only when a character is to be sampled) — plus the gate maths of both layers.
 * Nothing is allocated per step. The kernels (lstm-step-wasm.ts) run either as a small WebAssembly SIMD module (default) or
 * as plain-JS twins that perform the same float32 operations in the same order, so both backends give
 * bit-identical logits and the same text. The gate maths use a float32 exp polynomial (error < 3e-7 against
 * Math.exp-based σ and tanh); probabilities match a tfjs-layers model with the same weights within ~1e-7.
 *
 * Length policy (the output never exceeds MAX_LENGTH = 2000 UTF-16 code units):
 * - A raw seed longer than RAW_SEED_LIMIT code units is first cut to its last RAW_SEED_LIMIT (bounds the cost of
 *   normalising, e.g. a 1 MB paste), then normalised with `normalize(seed, vocab)`.
 * - A normalised seed that fits (≤ MAX_LENGTH) is kept whole and the continuation is capped at
 *   MAX_LENGTH − seed length (so the seed wins over `length`, as in the service contract).
 * - A normalised seed longer than MAX_LENGTH cannot be kept whole anyway: it is cut to its last
 *   MAX_LENGTH − length code units (on a code-point boundary, leading spaces dropped) and `length` is generated.
 * - Only the last PRIME_CHARS characters of the kept seed are fed to the model (after the '\n').
 */
/** Discord's message limit: no generated text is ever longer. */
export const MAX_LENGTH = 2000;
import { SamplingScratch, createRng, randomSeed, sampleFromLogits } from './sampling.js';
import { PANEL_COLUMNS, cellJs, instantiateKernels, matvecJs, packPanels, roundUp, type KernelInstance } from './lstm-step-wasm.js';
import { normalize, type Vocabulary } from './vocab.js';
import type { BabyWeights } from './weights.js';

/** Characters of the seed fed to the model before generating (after the start-of-utterance newline). */
export const PRIME_CHARS = 200;
/** Raw seeds are cut to their last this-many UTF-16 code units before normalisation. */
export const RAW_SEED_LIMIT = 16 * MAX_LENGTH;
export const DEFAULT_TEMPERATURE = 0.5;
export const MAX_TEMPERATURE = 2;
export const DEFAULT_LENGTH = 60;

export interface GenerateOptions {
  /** 0 = always the likeliest character. Default 0.5; clamped to 0..2 (NaN is an error). */
  temperature?: number;
  /** Sample among the k likeliest characters only; 0 (default) = all. Clamped to 0..vocab size. */
  topK?: number;
  /** Characters to generate after the seed; default 60; clamped to 0..2000 and capped so the output fits. */
  length?: number;
  /** Seed of the random generator (an unsigned 32-bit integer); default random. Same seed → same text. */
  rng?: number;
  /** Stop at the first generated '\n' (not included). Default false: newlines are generated like any character. */
  stopAtEndOfUtterance?: boolean;
}

export interface GenerateResult {
  /** The (kept part of the) normalised seed followed by the continuation; ≤ MAX_LENGTH code units. */
  text: string;
  /** The normalised seed the text starts with (a suffix of it when the seed alone was too long). */
  seed: string;
  /** Characters generated after the seed (the stopping newline not counted). */
  generated: number;
  /** The rng seed used (the given one, or the random one drawn): passing it again reproduces the text. */
  rng: number;
}

export type GeneratorBackend = 'wasm' | 'js';

export interface GeneratorOptions {
  /** 'auto' (default): WebAssembly SIMD when the runtime has it (and units is a multiple of 4), plain JS
   *  otherwise. 'wasm' throws when it cannot be used. */
  backend?: GeneratorBackend | 'auto';
}

/** The recurrent state of one generation: h and c of both layers, [layer 1 | layer 2]. Belongs to one caller. */
export class GeneratorState {
  /** [h1 (units) | h2 (units)] */
  readonly h: Float32Array;
  /** [c1 (units) | c2 (units)] */
  readonly c: Float32Array;

  constructor(units: number) {
    this.h = new Float32Array(2 * units);
    this.c = new Float32Array(2 * units);
  }

  /** Back to the zero state. */
  reset(): void {
    this.h.fill(0);
    this.c.fill(0);
  }
}

/** The arrays both engines start from. */
interface Prepared {
  vocabSize: number;
  units: number;
  /** 4 · units */
  gates: number;
  /** [V, 4H]: embedding · kernel1 + bias1 per character. */
  table1: Float32Array;
  recurrent1: Float32Array;
  /** [2H, 4H]: lstm2 kernel stacked over lstm2 recurrent kernel. */
  stacked2: Float32Array;
  bias2: Float32Array;
  dense: Float32Array;
  denseBias: Float32Array;
}

interface Engine {
  feed(state: GeneratorState, id: number): void;
  logits(state: GeneratorState, out: Float32Array): void;
}

/**
 * Plain-JS products. `z` is scratch used only inside one synchronous call (no state between calls), so one engine
 * may serve any number of generations.
 */
class JsEngine implements Engine {
  readonly #p: Prepared;
  readonly #z: Float32Array;

  constructor(p: Prepared) {
    this.#p = p;
    this.#z = new Float32Array(p.gates);
  }

  feed(state: GeneratorState, id: number): void {
    const p = this.#p;
    const z = this.#z;
    const H = p.units;
    matvecJs(p.recurrent1, state.h, 0, H, p.table1, id * p.gates, z, p.gates);
    cellJs(z, state.c, 0, state.h, 0, H);
    matvecJs(p.stacked2, state.h, 0, 2 * H, p.bias2, 0, z, p.gates);
    cellJs(z, state.c, H, state.h, H, H);
  }

  logits(state: GeneratorState, out: Float32Array): void {
    const p = this.#p;
    matvecJs(p.dense, state.h, p.units, p.units, p.denseBias, 0, out, p.vocabSize);
  }
}

/**
 * WebAssembly SIMD kernels over one private memory: packed weights (read-only after construction) and scratch
 * vectors x (a copy of the state's h), c (a copy of the state's c) and z, used only inside one synchronous call.
 */
class WasmEngine implements Engine {
  readonly #units: number;
  readonly #k: KernelInstance;
  readonly #gatesPadded: number;
  readonly #vocabPadded: number;
  readonly #a: Record<Region, number>;
  readonly #xView: Float32Array;
  readonly #cView: Float32Array;
  readonly #logitsView: Float32Array;

  private constructor(p: Prepared, k: KernelInstance, offsets: Record<Region, number>, gatesPadded: number, vocabPadded: number) {
    this.#units = p.units;
    this.#k = k;
    this.#gatesPadded = gatesPadded;
    this.#vocabPadded = vocabPadded;
    const f = k.f32;
    const H = p.units;
    packPanels(p.recurrent1, H, p.gates, f, offsets.r1);
    packPanels(p.stacked2, 2 * H, p.gates, f, offsets.w2);
    packPanels(p.dense, H, p.vocabSize, f, offsets.d);
    for (let v = 0; v < p.vocabSize; v++) {
      f.set(p.table1.subarray(v * p.gates, (v + 1) * p.gates), offsets.t1 + v * gatesPadded);
    }
    f.set(p.bias2, offsets.b2);
    f.set(p.denseBias, offsets.bd);
    const bytes = {} as Record<Region, number>;
    for (const r of REGIONS) bytes[r] = offsets[r] * 4;
    this.#a = bytes;
    this.#xView = f.subarray(offsets.x, offsets.x + 2 * H);
    this.#cView = f.subarray(offsets.c, offsets.c + 2 * H);
    this.#logitsView = f.subarray(offsets.z, offsets.z + p.vocabSize);
  }

  /** Null when the runtime has no WebAssembly SIMD, or units is not a multiple of 4 (the cell kernel's width). */
  static create(p: Prepared): WasmEngine | null {
    if (p.units % 4 !== 0) return null;
    const gatesPadded = roundUp(p.gates, PANEL_COLUMNS);
    const vocabPadded = roundUp(p.vocabSize, PANEL_COLUMNS);
    const H = p.units;
    let next = 0;
    const take = (floats: number) => {
      const at = next;
      next += roundUp(floats, 4); // every region 16-byte aligned
      return at;
    };
    const offsets: Record<Region, number> = {
      r1: take(H * gatesPadded),
      w2: take(2 * H * gatesPadded),
      d: take(H * vocabPadded),
      t1: take(p.vocabSize * gatesPadded),
      b2: take(gatesPadded),
      bd: take(vocabPadded),
      x: take(2 * H),
      c: take(2 * H),
      z: take(Math.max(gatesPadded, vocabPadded)),
    };
    const k = instantiateKernels(next * 4);
    return k ? new WasmEngine(p, k, offsets, gatesPadded, vocabPadded) : null;
  }

  feed(state: GeneratorState, id: number): void {
    const H = this.#units;
    const gp = this.#gatesPadded;
    const a = this.#a;
    const k = this.#k;
    this.#xView.set(state.h);
    this.#cView.set(state.c);
    k.matvec(a.r1, a.x, a.t1 + id * gp * 4, a.z, H, gp);
    k.cell(a.z, a.c, a.x, H);
    k.matvec(a.w2, a.x, a.b2, a.z, 2 * H, gp);
    k.cell(a.z, a.c + H * 4, a.x + H * 4, H);
    state.h.set(this.#xView);
    state.c.set(this.#cView);
  }

  logits(state: GeneratorState, out: Float32Array): void {
    const a = this.#a;
    this.#xView.set(state.h);
    this.#k.matvec(a.d, a.x + this.#units * 4, a.bd, a.z, this.#units, this.#vocabPadded);
    out.set(this.#logitsView);
  }
}

const REGIONS = ['r1', 'w2', 'd', 't1', 'b2', 'bd', 'x', 'c', 'z'] as const;
type Region = (typeof REGIONS)[number];

function prepare(w: BabyWeights, vocab: Vocabulary): Prepared {
  const V = w.vocabSize;
  const E = w.embeddingDim;
  const H = w.units;
  const G = 4 * H;
  if (!Number.isInteger(V) || !Number.isInteger(E) || !Number.isInteger(H) || V < 2 || E < 1 || H < 1) {
    throw new RangeError(`generator: bad dimensions vocabSize ${V}, embeddingDim ${E}, units ${H}`);
  }
  if (V !== vocab.size) throw new Error(`generator: the weights are for ${V} characters, the vocabulary has ${vocab.size}`);
  const check = (name: string, a: Float32Array, n: number) => {
    if (!(a instanceof Float32Array) || a.length !== n) throw new Error(`generator: ${name} must be a Float32Array of ${n} values (got ${a?.length})`);
  };
  check('embedding', w.embedding, V * E);
  check('lstm1.kernel', w.lstm1.kernel, E * G);
  check('lstm1.recurrentKernel', w.lstm1.recurrentKernel, H * G);
  check('lstm1.bias', w.lstm1.bias, G);
  check('lstm2.kernel', w.lstm2.kernel, H * G);
  check('lstm2.recurrentKernel', w.lstm2.recurrentKernel, H * G);
  check('lstm2.bias', w.lstm2.bias, G);
  check('dense.kernel', w.dense.kernel, H * V);
  check('dense.bias', w.dense.bias, V);

  const table1 = new Float32Array(V * G);
  const row = new Float32Array(G);
  for (let v = 0; v < V; v++) {
    matvecJs(w.lstm1.kernel, w.embedding, v * E, E, w.lstm1.bias, 0, row, G);
    table1.set(row, v * G);
  }
  const stacked2 = new Float32Array(2 * H * G);
  stacked2.set(w.lstm2.kernel, 0);
  stacked2.set(w.lstm2.recurrentKernel, H * G);
  return {
    vocabSize: V, units: H, gates: G, table1,
    recurrent1: Float32Array.from(w.lstm1.recurrentKernel),
    stacked2,
    bias2: Float32Array.from(w.lstm2.bias),
    dense: Float32Array.from(w.dense.kernel),
    denseBias: Float32Array.from(w.dense.bias),
  };
}

function finiteNumber(value: unknown, what: string): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw new RangeError(`generate: ${what} must be a number (got ${String(value)})`);
  return value;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/** The last `n` UTF-16 code units of `s`, not starting in the middle of a surrogate pair. */
function lastUnits(s: string, n: number): string {
  let start = s.length - Math.max(0, n);
  if (start <= 0) return s;
  const code = s.charCodeAt(start);
  if (code >= 0xdc00 && code <= 0xdfff) start++;
  return s.slice(start);
}

/**
 * The normalised seed an output starts with and the number of characters that may follow it, for a request of
 * `length` characters (see the length policy at the top of this file).
 */
export function fitSeed(seed: string, length: number, vocab: Vocabulary): { seed: string; room: number } {
  if (typeof seed !== 'string') throw new TypeError('generate: the seed must be a string');
  const want = clamp(Math.floor(finiteNumber(length, 'length')), 0, MAX_LENGTH);
  const normalised = normalize(seed.length > RAW_SEED_LIMIT ? lastUnits(seed, RAW_SEED_LIMIT) : seed, vocab);
  if (normalised.length <= MAX_LENGTH) return { seed: normalised, room: Math.min(want, MAX_LENGTH - normalised.length) };
  const kept = lastUnits(normalised, MAX_LENGTH - want).trimStart();
  return { seed: kept, room: want };
}

export class Generator {
  readonly vocab: Vocabulary;
  /** Which matrix-vector products this generator runs. */
  readonly backend: GeneratorBackend;
  readonly #engine: Engine;
  readonly #units: number;
  readonly #exclude: readonly number[];
  /** UTF-16 length of each vocabulary character. */
  readonly #charUnits: Uint8Array;

  constructor(weights: BabyWeights, vocab: Vocabulary, options: GeneratorOptions = {}) {
    const prepared = prepare(weights, vocab);
    const wanted = options.backend ?? 'auto';
    if (wanted !== 'auto' && wanted !== 'wasm' && wanted !== 'js') throw new RangeError(`generator: unknown backend ${String(wanted)}`);
    const wasm = wanted === 'js' ? null : WasmEngine.create(prepared);
    if (wanted === 'wasm' && !wasm) throw new Error('generator: the wasm backend needs WebAssembly SIMD and units a multiple of 4');
    this.#engine = wasm ?? new JsEngine(prepared);
    this.backend = wasm ? 'wasm' : 'js';
    this.vocab = vocab;
    this.#units = prepared.units;
    this.#exclude = [vocab.unkId];
    this.#charUnits = Uint8Array.from(vocab.chars, (c) => c.length);
  }

  /** A zero state (nothing fed yet). */
  newState(): GeneratorState {
    return new GeneratorState(this.#units);
  }

  /** Advances `state` by one character id (both layers). */
  feed(state: GeneratorState, id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocab.size) throw new RangeError(`generator: id ${id} out of range 0..${this.vocab.size - 1}`);
    if (state.h.length !== 2 * this.#units || state.c.length !== 2 * this.#units) throw new Error('generator: the state was made for other weights');
    this.#engine.feed(state, id);
  }

  /** The next-character logits (pre-softmax) for `state`, written into `out` (a new array when omitted). */
  logits(state: GeneratorState, out: Float32Array = new Float32Array(this.vocab.size)): Float32Array {
    if (out.length !== this.vocab.size) throw new RangeError(`generator: logits buffer must hold ${this.vocab.size} values`);
    if (state.h.length !== 2 * this.#units) throw new Error('generator: the state was made for other weights');
    this.#engine.logits(state, out);
    return out;
  }

  /** The normalised seed followed by up to `length` generated characters; never throws for any seed text. */
  generate(seed: string, options: GenerateOptions = {}): GenerateResult {
    const temperature = clamp(finiteNumber(options.temperature ?? DEFAULT_TEMPERATURE, 'temperature'), 0, MAX_TEMPERATURE);
    const topK = clamp(Math.floor(finiteNumber(options.topK ?? 0, 'topK')), 0, this.vocab.size);
    const rngSeed = options.rng === undefined ? randomSeed() : finiteNumber(options.rng, 'rng');
    if (!Number.isFinite(rngSeed)) throw new RangeError(`generate: rng must be finite (got ${rngSeed})`);
    const rngUsed = rngSeed >>> 0;
    const stop = options.stopAtEndOfUtterance ?? false;
    const { seed: kept, room } = fitSeed(seed, options.length ?? DEFAULT_LENGTH, this.vocab);
    if (room === 0) return { text: kept, seed: kept, generated: 0, rng: rngUsed };

    // Everything below is allocated once per call; the loop allocates nothing.
    const engine = this.#engine;
    const vocab = this.vocab;
    const state = this.newState();
    const logits = new Float32Array(vocab.size);
    const scratch = new SamplingScratch(vocab.size);
    const ids = new Int32Array(room);
    const sampling = { temperature, topK, rng: createRng(rngUsed), exclude: this.#exclude };
    const charUnits = this.#charUnits;

    engine.feed(state, vocab.eouId);
    const prime = vocab.encode(lastUnits(kept, PRIME_CHARS));
    for (let t = 0; t < prime.length; t++) engine.feed(state, prime[t]!);

    let units = kept.length;
    let n = 0;
    while (n < room) {
      engine.logits(state, logits);
      const id = sampleFromLogits(logits, sampling, scratch);
      if (stop && id === vocab.eouId) break;
      const w = charUnits[id]!;
      if (units + w > MAX_LENGTH) break;
      ids[n++] = id;
      units += w;
      if (n < room) engine.feed(state, id);
    }
    let text = kept;
    for (let t = 0; t < n; t++) text += vocab.chars[ids[t]!]!;
    return { text, seed: kept, generated: n, rng: rngUsed };
  }
}
