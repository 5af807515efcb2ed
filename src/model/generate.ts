/**
 * Text generation with plain arrays (no tfjs), for Babble's two-layer models and imported stacks of 1–3 LSTM layers
 * of any widths (sigmoid or hard_sigmoid gates).
 *
 * Stateful (Babble's own models): every layer's h and c are carried from one character to the next. Zero state →
 * feed '\n' (the start-of-utterance context) → feed the last PRIME_CHARS characters of the normalised seed → then
 * repeatedly: logits → sample (unknown id masked) → feed the sampled character.
 * Window (imported Keras models, `mode: 'window'`): the seed is right-padded with spaces to the window; for every
 * character the state is zeroed and the last `window` characters are fed, then logits → sample (a ring buffer of
 * ids: nothing allocated per step). A window costs `window` steps per character.
 *
 * Speed: layer 1's input projection is precomputed per character (embedding · kernel1 + bias1, a [V, 4H] table),
 * so a step is one matrix-vector product per layer — h1 · R1, then [h_below', h_k] · [K_k; R_k] (each upper layer's
 * two kernels stacked, one product) — and h_top' · Dense (only when a character is to be sampled), plus the gate
 * maths of every layer.
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
import {
  PANEL_COLUMNS,
  cellJs,
  instantiateKernels,
  matvecJs,
  packPanels,
  roundUp,
  type KernelInstance,
} from './lstm-step-wasm.js';
import { normalize, type Vocabulary } from './vocab.js';
import { MAX_LSTM_LAYERS, toStack, type ModelWeights } from './stack.js';

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
  /**
   * 'stateful' (default; Babble's own models): the state carries from one character to the next. 'window' (a model
   * trained on windows, as the original Keras script): the seed is right-padded with spaces to `window` characters
   * and every character is predicted from the last `window` characters, run from a zero state.
   */
  mode?: 'stateful' | 'window';
  /** The window length for mode 'window' (the model's seq_length), 1 to MAX_WINDOW. */
  window?: number;
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
  /** 'auto' (default): WebAssembly SIMD when the runtime has it (and every layer's units is a multiple of 4),
   *  plain JS otherwise. 'wasm' throws when it cannot be used. */
  backend?: GeneratorBackend | 'auto';
}

/** The recurrent state of one generation: h and c of every layer, [layer 1 | layer 2 | …]. Belongs to one caller. */
export class GeneratorState {
  /** [h1 | h2 | …] */
  readonly h: Float32Array;
  /** [c1 | c2 | …] */
  readonly c: Float32Array;

  /** `units` of one layer (Babble's two equal layers) or the total over all layers (`layers` = 1). */
  constructor(units: number, layers = 2) {
    this.h = new Float32Array(layers * units);
    this.c = new Float32Array(layers * units);
  }

  /** Back to the zero state. */
  reset(): void {
    this.h.fill(0);
    this.c.fill(0);
  }
}

/** One layer above the first: its kernel stacked over its recurrent kernel, [in + units, 4 · units]. */
interface UpperLayer {
  units: number;
  stacked: Float32Array;
  bias: Float32Array;
}

/** The arrays both engines start from. */
interface Prepared {
  vocabSize: number;
  /** Units per layer. */
  units: number[];
  /** Offset of each layer's h and c in the state. */
  offsets: number[];
  /** Sum of units. */
  width: number;
  /** Per layer: the i, f, o gates use the hard sigmoid. */
  hard: boolean[];
  /** [V, 4·units₁]: embedding · kernel1 + bias1 per character. */
  table1: Float32Array;
  recurrent1: Float32Array;
  upper: UpperLayer[];
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
    this.#z = new Float32Array(4 * Math.max(...p.units));
  }

  feed(state: GeneratorState, id: number): void {
    const p = this.#p;
    const z = this.#z;
    const u0 = p.units[0]!;
    matvecJs(p.recurrent1, state.h, 0, u0, p.table1, id * 4 * u0, z, 4 * u0);
    cellJs(z, state.c, 0, state.h, 0, u0, p.hard[0]);
    for (let k = 1; k < p.units.length; k++) {
      const layer = p.upper[k - 1]!;
      const below = p.offsets[k - 1]!;
      matvecJs(layer.stacked, state.h, below, p.units[k - 1]! + layer.units, layer.bias, 0, z, 4 * layer.units);
      cellJs(z, state.c, p.offsets[k]!, state.h, p.offsets[k]!, layer.units, p.hard[k]);
    }
  }

  logits(state: GeneratorState, out: Float32Array): void {
    const p = this.#p;
    const last = p.units.length - 1;
    matvecJs(p.dense, state.h, p.offsets[last]!, p.units[last]!, p.denseBias, 0, out, p.vocabSize);
  }
}

/** Byte addresses of one layer's regions in the wasm memory. */
interface WasmLayer {
  /** Packed weights: recurrent1 for layer 1, stacked [kernel; recurrent] above. */
  w: number;
  /** Bias (layer 1: the table row is the bias). */
  b: number;
  units: number;
  /** Rows of w: units₁ for layer 1, units below + units above. */
  rows: number;
  /** 4 · units rounded up to PANEL_COLUMNS. */
  gatesPadded: number;
  /** Byte address in x and c of this layer's h and c, and of the input rows of its matvec. */
  state: number;
  input: number;
  hard: boolean;
}

/**
 * WebAssembly SIMD kernels over one private memory: packed weights (read-only after construction) and scratch
 * vectors x (a copy of the state's h), c (a copy of the state's c) and z, used only inside one synchronous call.
 */
class WasmEngine implements Engine {
  readonly #k: KernelInstance;
  readonly #layers: WasmLayer[];
  readonly #t1: number;
  readonly #d: number;
  readonly #bd: number;
  readonly #x: number;
  readonly #c: number;
  readonly #z: number;
  readonly #lastUnits: number;
  readonly #vocabPadded: number;
  readonly #xView: Float32Array;
  readonly #cView: Float32Array;
  readonly #logitsView: Float32Array;

  private constructor(p: Prepared, k: KernelInstance) {
    this.#k = k;
    const f = k.f32;
    let next = 0;
    const take = (floats: number) => {
      const at = next;
      next += roundUp(floats, 4); // every region 16-byte aligned
      return at;
    };
    const gp = p.units.map((u) => roundUp(4 * u, PANEL_COLUMNS));
    const vocabPadded = roundUp(p.vocabSize, PANEL_COLUMNS);
    const x = take(p.width);
    const c = take(p.width);
    const z = take(Math.max(...gp, vocabPadded));
    const t1 = take(p.vocabSize * gp[0]!);
    for (let v = 0; v < p.vocabSize; v++) {
      f.set(p.table1.subarray(v * 4 * p.units[0]!, (v + 1) * 4 * p.units[0]!), t1 + v * gp[0]!);
    }
    const layers: WasmLayer[] = p.units.map((units, i) => {
      const rows = i === 0 ? units : p.units[i - 1]! + units;
      const w = take(rows * gp[i]!);
      packPanels(i === 0 ? p.recurrent1 : p.upper[i - 1]!.stacked, rows, 4 * units, f, w);
      let b = 0;
      if (i > 0) {
        b = take(gp[i]!);
        f.set(p.upper[i - 1]!.bias, b);
      }
      const input = i === 0 ? p.offsets[0]! : p.offsets[i - 1]!;
      return {
        w: w * 4,
        b: b * 4,
        units,
        rows,
        gatesPadded: gp[i]!,
        state: p.offsets[i]! * 4,
        input: input * 4,
        hard: p.hard[i]!,
      };
    });
    const last = p.units.length - 1;
    const d = take(p.units[last]! * vocabPadded);
    packPanels(p.dense, p.units[last]!, p.vocabSize, f, d);
    const bd = take(vocabPadded);
    f.set(p.denseBias, bd);
    if (next * 4 > f.byteLength) throw new Error('generator: wasm memory too small');
    this.#layers = layers;
    this.#t1 = t1 * 4;
    this.#d = d * 4;
    this.#bd = bd * 4;
    this.#x = x * 4;
    this.#c = c * 4;
    this.#z = z * 4;
    this.#lastUnits = p.units[last]!;
    this.#vocabPadded = vocabPadded;
    this.#xView = f.subarray(x, x + p.width);
    this.#cView = f.subarray(c, c + p.width);
    this.#logitsView = f.subarray(z, z + p.vocabSize);
  }

  /** The floats the memory needs (the same sums the constructor takes). */
  static #floats(p: Prepared): number {
    const r = (n: number) => roundUp(n, 4);
    const gp = p.units.map((u) => roundUp(4 * u, PANEL_COLUMNS));
    const vocabPadded = roundUp(p.vocabSize, PANEL_COLUMNS);
    let n = 2 * r(p.width) + r(Math.max(...gp, vocabPadded)) + r(p.vocabSize * gp[0]!);
    p.units.forEach((u, i) => {
      n += r((i === 0 ? u : p.units[i - 1]! + u) * gp[i]!);
      if (i > 0) n += r(gp[i]!);
    });
    return n + r(p.units[p.units.length - 1]! * vocabPadded) + r(vocabPadded);
  }

  /** Null without WebAssembly SIMD, or when a layer's units is not a multiple of 4 (the cell kernel's width). */
  static create(p: Prepared): WasmEngine | null {
    if (p.units.some((u) => u % 4 !== 0)) return null;
    const k = instantiateKernels(WasmEngine.#floats(p) * 4);
    return k ? new WasmEngine(p, k) : null;
  }

  feed(state: GeneratorState, id: number): void {
    const k = this.#k;
    this.#xView.set(state.h);
    this.#cView.set(state.c);
    const layers = this.#layers;
    for (let i = 0; i < layers.length; i++) {
      const l = layers[i]!;
      const bias = i === 0 ? this.#t1 + id * l.gatesPadded * 4 : l.b;
      k.matvec(l.w, this.#x + l.input, bias, this.#z, l.rows, l.gatesPadded);
      if (l.hard) k.cellHard(this.#z, this.#c + l.state, this.#x + l.state, l.units);
      else k.cell(this.#z, this.#c + l.state, this.#x + l.state, l.units);
    }
    state.h.set(this.#xView);
    state.c.set(this.#cView);
  }

  logits(state: GeneratorState, out: Float32Array): void {
    this.#xView.set(state.h);
    const top = this.#layers[this.#layers.length - 1]!;
    this.#k.matvec(this.#d, this.#x + top.state, this.#bd, this.#z, this.#lastUnits, this.#vocabPadded);
    out.set(this.#logitsView);
  }
}

function prepare(weights: ModelWeights, vocab: Vocabulary): Prepared {
  const w = toStack(weights);
  const V = w.vocabSize;
  const E = w.embeddingDim;
  const L = w.layers.length;
  const units = w.layers.map((l) => l.units);
  if (
    !Number.isInteger(V) ||
    !Number.isInteger(E) ||
    V < 2 ||
    E < 1 ||
    L < 1 ||
    L > MAX_LSTM_LAYERS ||
    !units.every((u) => Number.isInteger(u) && u >= 1)
  ) {
    throw new RangeError(`generator: bad dimensions vocabSize ${V}, embeddingDim ${E}, units [${units.join(', ')}]`);
  }
  if (V !== vocab.size)
    throw new Error(`generator: the weights are for ${V} characters, the vocabulary has ${vocab.size}`);
  const check = (name: string, a: Float32Array, n: number) => {
    if (!(a instanceof Float32Array) || a.length !== n)
      throw new Error(`generator: ${name} must be a Float32Array of ${n} values (got ${a?.length})`);
  };
  // Babble's two-layer weights are named lstm1/lstm2 in messages, as in BabyWeights.
  check('embedding', w.embedding, V * E);
  let input = E;
  w.layers.forEach((l, k) => {
    const G = 4 * l.units;
    check(`lstm${k + 1}.kernel`, l.kernel, input * G);
    check(`lstm${k + 1}.recurrentKernel`, l.recurrentKernel, l.units * G);
    check(`lstm${k + 1}.bias`, l.bias, G);
    if (l.recurrentActivation !== 'sigmoid' && l.recurrentActivation !== 'hard_sigmoid') {
      throw new Error(`generator: lstm${k + 1} has recurrent activation ${String(l.recurrentActivation)}`);
    }
    input = l.units;
  });
  check('dense.kernel', w.dense.kernel, input * V);
  check('dense.bias', w.dense.bias, V);

  const first = w.layers[0]!;
  const G1 = 4 * first.units;
  const table1 = new Float32Array(V * G1);
  const row = new Float32Array(G1);
  for (let v = 0; v < V; v++) {
    matvecJs(first.kernel, w.embedding, v * E, E, first.bias, 0, row, G1);
    table1.set(row, v * G1);
  }
  const upper = w.layers.slice(1).map((l, k): UpperLayer => {
    const below = units[k]!;
    const G = 4 * l.units;
    const stacked = new Float32Array((below + l.units) * G);
    stacked.set(l.kernel, 0);
    stacked.set(l.recurrentKernel, below * G);
    return { units: l.units, stacked, bias: Float32Array.from(l.bias) };
  });
  const offsets: number[] = [];
  let width = 0;
  for (const u of units) {
    offsets.push(width);
    width += u;
  }
  return {
    vocabSize: V,
    units,
    offsets,
    width,
    hard: w.layers.map((l) => l.recurrentActivation === 'hard_sigmoid'),
    table1,
    recurrent1: Float32Array.from(first.recurrentKernel),
    upper,
    dense: Float32Array.from(w.dense.kernel),
    denseBias: Float32Array.from(w.dense.bias),
  };
}

function finiteNumber(value: unknown, what: string): number {
  if (typeof value !== 'number' || Number.isNaN(value))
    throw new RangeError(`generate: ${what} must be a number (got ${String(value)})`);
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
  if (normalised.length <= MAX_LENGTH)
    return { seed: normalised, room: Math.min(want, MAX_LENGTH - normalised.length) };
  const kept = lastUnits(normalised, MAX_LENGTH - want).trimStart();
  return { seed: kept, room: want };
}

export class Generator {
  readonly vocab: Vocabulary;
  /** Which matrix-vector products this generator runs. */
  readonly backend: GeneratorBackend;
  readonly #engine: Engine;
  /** Sum of the layers' units (the state's width). */
  readonly #width: number;
  readonly #exclude: readonly number[];
  /** UTF-16 length of each vocabulary character. */
  readonly #charUnits: Uint8Array;

  constructor(weights: ModelWeights, vocab: Vocabulary, options: GeneratorOptions = {}) {
    const prepared = prepare(weights, vocab);
    const wanted = options.backend ?? 'auto';
    if (wanted !== 'auto' && wanted !== 'wasm' && wanted !== 'js')
      throw new RangeError(`generator: unknown backend ${String(wanted)}`);
    const wasm = wanted === 'js' ? null : WasmEngine.create(prepared);
    if (wanted === 'wasm' && !wasm)
      throw new Error('generator: the wasm backend needs WebAssembly SIMD and units a multiple of 4');
    this.#engine = wasm ?? new JsEngine(prepared);
    this.backend = wasm ? 'wasm' : 'js';
    this.vocab = vocab;
    this.#width = prepared.width;
    this.#exclude = vocab.hasUnknown ? [vocab.unkId] : [];
    this.#charUnits = Uint8Array.from(vocab.chars, (c) => c.length);
  }

  /** A zero state (nothing fed yet). */
  newState(): GeneratorState {
    return new GeneratorState(this.#width, 1);
  }

  /** Advances `state` by one character id (every layer). */
  feed(state: GeneratorState, id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocab.size)
      throw new RangeError(`generator: id ${id} out of range 0..${this.vocab.size - 1}`);
    if (state.h.length !== this.#width || state.c.length !== this.#width) {
      throw new Error('generator: the state was made for other weights');
    }
    this.#engine.feed(state, id);
  }

  /** The next-character logits (pre-softmax) for `state`, written into `out` (a new array when omitted). */
  logits(state: GeneratorState, out: Float32Array = new Float32Array(this.vocab.size)): Float32Array {
    if (out.length !== this.vocab.size)
      throw new RangeError(`generator: logits buffer must hold ${this.vocab.size} values`);
    if (state.h.length !== this.#width) throw new Error('generator: the state was made for other weights');
    this.#engine.logits(state, out);
    return out;
  }

  /** The normalised seed followed by up to `length` generated characters; never throws for any seed text. */
  generate(seed: string, options: GenerateOptions = {}): GenerateResult {
    const temperature = clamp(
      finiteNumber(options.temperature ?? DEFAULT_TEMPERATURE, 'temperature'),
      0,
      MAX_TEMPERATURE,
    );
    const topK = clamp(Math.floor(finiteNumber(options.topK ?? 0, 'topK')), 0, this.vocab.size);
    const rngSeed = options.rng === undefined ? randomSeed() : finiteNumber(options.rng, 'rng');
    if (!Number.isFinite(rngSeed)) throw new RangeError(`generate: rng must be finite (got ${rngSeed})`);
    const rngUsed = rngSeed >>> 0;
    const window = windowLength(options);
    const fitted = fitSeed(seed, options.length ?? DEFAULT_LENGTH, this.vocab);
    // Window mode: the seed right-padded with spaces to the window (as Python's str.ljust counts: code points).
    const kept = window > 0 ? fitted.seed + ' '.repeat(Math.max(0, window - [...fitted.seed].length)) : fitted.seed;
    const room = Math.max(0, Math.min(fitted.room, MAX_LENGTH - kept.length));
    if (room === 0) return { text: kept, seed: kept, generated: 0, rng: rngUsed };

    // Everything below is allocated once per call; the loop allocates nothing.
    const vocab = this.vocab;
    const state = this.newState();
    const logits = new Float32Array(vocab.size);
    const scratch = new SamplingScratch(vocab.size);
    const ids = new Int32Array(room);
    const sampling = { temperature, topK, rng: createRng(rngUsed), exclude: this.#exclude };
    const stop = (options.stopAtEndOfUtterance ?? false) && vocab.eouId >= 0;
    const charUnits = this.#charUnits;
    const next =
      window > 0
        ? this.#windowSteps(vocab.encode(kept), window, state, logits)
        : this.#statefulSteps(vocab.encode(lastUnits(kept, PRIME_CHARS)), state, logits);

    let units = kept.length;
    let n = 0;
    while (n < room) {
      next.predict();
      const id = sampleFromLogits(logits, sampling, scratch);
      if (stop && id === vocab.eouId) break;
      const w = charUnits[id]!;
      if (units + w > MAX_LENGTH) break;
      ids[n++] = id;
      units += w;
      if (n < room) next.append(id);
    }
    let text = kept;
    for (let t = 0; t < n; t++) text += vocab.chars[ids[t]!]!;
    return { text, seed: kept, generated: n, rng: rngUsed };
  }

  /** Stateful: zero state → '\n' (when the vocabulary has it) → the seed; then one step per character. */
  #statefulSteps(prime: Int32Array, state: GeneratorState, logits: Float32Array): Steps {
    const engine = this.#engine;
    if (this.vocab.eouId >= 0) engine.feed(state, this.vocab.eouId);
    for (let t = 0; t < prime.length; t++) engine.feed(state, prime[t]!);
    return { predict: () => engine.logits(state, logits), append: (id) => engine.feed(state, id) };
  }

  /** Window: the last `window` ids from a zero state for every character (a ring buffer, no allocation per step). */
  #windowSteps(seedIds: Int32Array, window: number, state: GeneratorState, logits: Float32Array): Steps {
    const engine = this.#engine;
    const ring = new Int32Array(window);
    const start = Math.max(0, seedIds.length - window);
    let filled = seedIds.length - start;
    ring.set(seedIds.subarray(start));
    let head = 0; // index of the oldest id once the ring is full
    return {
      predict: () => {
        state.reset();
        for (let t = 0; t < filled; t++) engine.feed(state, ring[(head + t) % window]!);
        engine.logits(state, logits);
      },
      append: (id) => {
        if (filled < window) {
          ring[filled++] = id;
        } else {
          ring[head] = id;
          head = (head + 1) % window;
        }
      },
    };
  }
}

interface Steps {
  /** Writes the next-character logits. */
  predict(): void;
  /** Takes the sampled character in. */
  append(id: number): void;
}

/** Longest window accepted (a model's seq_length). */
export const MAX_WINDOW = 1000;

/** 0 for stateful generation, else the window length (checked). */
function windowLength(options: GenerateOptions): number {
  const mode = options.mode ?? 'stateful';
  if (mode === 'stateful') return 0;
  if (mode !== 'window') throw new RangeError(`generate: mode must be 'stateful' or 'window' (got ${String(mode)})`);
  const w = options.window;
  if (typeof w !== 'number' || !Number.isInteger(w) || w < 1 || w > MAX_WINDOW) {
    throw new RangeError(`generate: window mode needs a window length from 1 to ${MAX_WINDOW} (got ${String(w)})`);
  }
  return w;
}
