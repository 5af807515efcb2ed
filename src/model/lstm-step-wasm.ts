/**
 * The generator's two kernels — a matrix-vector product and the LSTM gate maths — twice: as a small WebAssembly
 * SIMD module assembled by the tiny encoder below (primitives in wasm-encoding.ts; no toolchain; ~900 bytes, built and compiled on first use), and
 * as plain-JS twins that perform exactly the same float32 operations in the same order (every JS step rounded with
 * Math.fround), so the two give bit-identical results. Only NaN payloads could differ.
 *
 * Why that holds: wasm f32/f32x4 arithmetic is IEEE round-to-nearest with no fused multiply-add, and a float64
 * +, −, ×, ÷ of two float32 values rounded once to float32 equals the float32 operation (53 ≥ 2·24 + 2).
 *
 * matvec(w, x, b, y, rows, cols) — byte addresses into the instance's memory:
 *     y[j] = b[j] + Σ_{i < rows} x[i] · W[i, j]    for j < cols (a multiple of 32), summed in row order
 *   W is stored in panels (`packPanels`): per block of 32 columns, the rows one after the other, so the matrix is
 *   streamed once front to back; a block's 32 sums stay in eight f32x4 registers:
 *     (loop $blocks  a0..a7 = load(b + jb + 16k)
 *       (loop $rows  xv = v128.load32_splat(x + 4i);  ak = f32x4.add(ak, f32x4.mul(xv, load(w + 16k)));  w += 128)
 *       store(y + jb + 16k, ak);  jb += 128)
 *
 * cell(z, c, h, units) — one LSTM layer's gates, units a multiple of 4; z = pre-activations [i | f | g | o]:
 *     i = σ(z_i), f = σ(z_f), g = tanh(z_g), o = σ(z_o);  c = f·c + i·g;  h = o · tanh(c)
 *   with σ(x) = 1 / (1 + exp(−x)), tanh(x) = 1 − 2 / (1 + exp(2x)), and exp the Cephes expf polynomial:
 *     x = min(max(x, −87), 88);  n = round-half-even(x·log2 e) (via ± 1.5·2²³);  r = x − n·C1 − n·C2;
 *     p = ((((P0 r + P1) r + P2) r + P3) r + P4) r + P5;  exp = ((p·r² + r) + 1) · 2ⁿ (2ⁿ built from exponent bits)
 *   Error against Math.exp/tanh: ~1e-7 relative for exp, < 2e-7 absolute for σ and tanh.
 *
 * cell_hard(z, c, h, units) — the same with the hard sigmoid of Keras 2 and TensorFlow.js for the i, f, o gates:
 *     σ(x) = min(max(0.2·x + 0.5, 0), 1)   (g and the output still tanh)
 */
import { section, sleb, uleb, WASM_HEADER, wasmName } from './wasm-encoding.js';
import { C1, C2, EXP_HI, EXP_LO, EXP_POLY, LOG2E, ROUND_MAGIC } from './exp-constants.js';

/** Columns per panel (eight f32x4 accumulators). Column counts given to `matvec` must be multiples of this. */
export const PANEL_COLUMNS = 32;

/** Rounds `n` up to a multiple of `m`. */
export function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

// ---------------------------------------------------------------------------------------------------------------
// Constants shared by the wasm module and the JS twins (float32 values).

const fr = Math.fround;
const [P0, P1, P2, P3, P4, P5] = EXP_POLY as [number, number, number, number, number, number];
/** POW2[n + 127] = 2^n for n in −126..127 (exact in float64 and float32). */
const POW2 = Float64Array.from({ length: 255 }, (_, k) => 2 ** (k - 127));

// ---------------------------------------------------------------------------------------------------------------
// JS twins.

/** exp(x) in float32, exactly as the wasm kernel computes it. */
export function exp32(x: number): number {
  let v = fr(x);
  if (v < EXP_LO) v = EXP_LO;
  if (v > EXP_HI) v = EXP_HI;
  const n = fr(fr(fr(v * LOG2E) + ROUND_MAGIC) - ROUND_MAGIC);
  let r = fr(v - fr(n * C1));
  r = fr(r - fr(n * C2));
  let y = fr(fr(P0 * r) + P1);
  y = fr(fr(y * r) + P2);
  y = fr(fr(y * r) + P3);
  y = fr(fr(y * r) + P4);
  y = fr(fr(y * r) + P5);
  y = fr(fr(fr(y * fr(r * r)) + r) + 1);
  return fr(y * POW2[n + 127]!);
}

/** 1 / (1 + exp(−x)) in float32, as the wasm kernel. */
export function sigmoid32(x: number): number {
  return fr(1 / fr(1 + exp32(-x)));
}

const HARD_SLOPE = fr(0.2);

/** min(max(0.2·x + 0.5, 0), 1) in float32, as the wasm kernel (Keras 2's and TensorFlow.js's hard sigmoid). */
export function hardSigmoid32(x: number): number {
  const v = fr(fr(fr(x) * HARD_SLOPE) + 0.5);
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** 1 − 2 / (1 + exp(2x)) in float32, as the wasm kernel. */
export function tanh32(x: number): number {
  const v = fr(x);
  return fr(1 - fr(2 / fr(1 + exp32(v + v))));
}

/**
 * y[0..cols) = b[bOff..bOff+cols) + Σ_{i<rows} x[xOff + i] · w[i·cols + j] (row-major w), with the float32
 * roundings and summation order of the wasm matvec.
 */
export function matvecJs(
  w: Float32Array,
  x: Float32Array,
  xOff: number,
  rows: number,
  b: Float32Array,
  bOff: number,
  y: Float32Array,
  cols: number,
): void {
  for (let j = 0; j < cols; j++) y[j] = b[bOff + j]!;
  let i = 0;
  // Two rows per pass (half the loads and stores of y); the store into the Float32Array is the second rounding.
  for (; i + 1 < rows; i += 2) {
    const x0 = x[xOff + i]!;
    const x1 = x[xOff + i + 1]!;
    const b0 = i * cols;
    const b1 = b0 + cols;
    for (let j = 0; j < cols; j++) y[j] = fr(y[j]! + fr(x0 * w[b0 + j]!)) + fr(x1 * w[b1 + j]!);
  }
  for (; i < rows; i++) {
    const xi = x[xOff + i]!;
    const base = i * cols;
    for (let j = 0; j < cols; j++) y[j] = y[j]! + fr(xi * w[base + j]!);
  }
}

/**
 * One LSTM layer's gate maths (z = [i | f | g | o] pre-activations, from z[0]), as the wasm cell kernel; with
 * `hard`, the i, f, o gates use the hard sigmoid (as cell_hard).
 */
export function cellJs(
  z: Float32Array,
  c: Float32Array,
  cOff: number,
  h: Float32Array,
  hOff: number,
  units: number,
  hard = false,
): void {
  const u2 = 2 * units;
  const u3 = 3 * units;
  const gate = hard ? hardSigmoid32 : sigmoid32;
  for (let u = 0; u < units; u++) {
    const ig = gate(z[u]!);
    const fg = gate(z[units + u]!);
    const g = tanh32(z[u2 + u]!);
    const og = gate(z[u3 + u]!);
    const cn = fr(fr(fg * c[cOff + u]!) + fr(ig * g));
    c[cOff + u] = cn;
    h[hOff + u] = og * tanh32(cn);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The encoder.

const I32 = 0x7f;
const V128 = 0x7b;
const FUNC_TYPE = 0x60;
const CALL = 0x10;
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const LOCAL_TEE = 0x22;
const I32_CONST = 0x41;
const I32_ADD = 0x6a;
const I32_SUB = 0x6b;
const I32_LT_U = 0x49;
const I32_SHL = 0x74;
const LOOP = 0x03;
const BLOCKTYPE_EMPTY = 0x40;
const BR_IF = 0x0d;
const END = 0x0b;
const simd = (op: number) => [0xfd, ...uleb(op)];
/** Memory access with alignment hint 2^align and a constant offset. */
const v128Load = (offset: number) => [...simd(0x00), 4, ...uleb(offset)];
const v128Store = (offset: number) => [...simd(0x0b), 4, ...uleb(offset)];
const v128Load32Splat = (offset: number) => [...simd(0x09), 2, ...uleb(offset)];
const F32X4_NEG = simd(0xe1);
const F32X4_ADD = simd(0xe4);
const F32X4_SUB = simd(0xe5);
const F32X4_MUL = simd(0xe6);
const F32X4_DIV = simd(0xe7);
const F32X4_MIN = simd(0xe8);
const F32X4_MAX = simd(0xe9);
const I32X4_SHL = simd(0xab);
const I32X4_ADD = simd(0xae);
const I32X4_TRUNC_SAT_F32X4_S = simd(0xf8);
/** v128.const with four copies of a float32. */
function f32x4Const(value: number): number[] {
  const lane = [...new Uint8Array(Float32Array.of(value).buffer)];
  return [...simd(0x0c), ...lane, ...lane, ...lane, ...lane];
}
function i32x4Const(value: number): number[] {
  const lane = [...new Uint8Array(Int32Array.of(value).buffer)];
  return [...simd(0x0c), ...lane, ...lane, ...lane, ...lane];
}
const get = (l: number) => [LOCAL_GET, ...uleb(l)];
const set = (l: number) => [LOCAL_SET, ...uleb(l)];
const tee = (l: number) => [LOCAL_TEE, ...uleb(l)];
const i32c = (v: number) => [I32_CONST, ...sleb(v)];
const locals = (...groups: [count: number, type: number][]) => [
  ...uleb(groups.length),
  ...groups.flatMap(([n, t]) => [...uleb(n), t]),
];

// Function indices.
const FN_MATVEC = 0;
const FN_EXP = 1;
const FN_SIGMOID = 2;
const FN_TANH = 3;
const FN_CELL = 4;
const FN_HARD_SIGMOID = 5;
const FN_CELL_HARD = 6;

function matvecBody(): number[] {
  // Params 0..5: w, x, b, y, rows, cols. Locals: 6 end, 7 jb, 8 i, 9 p, 10..17 a0..a7, 18 xv.
  const [W, X, B, Y, ROWS, COLS, ENDL, JB, I, P] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const A = (k: number) => 10 + k;
  const XV = 18;
  const k8 = [0, 1, 2, 3, 4, 5, 6, 7];
  return [
    ...locals([4, I32], [9, V128]),
    ...get(COLS),
    ...i32c(2),
    I32_SHL,
    ...set(ENDL),
    LOOP,
    BLOCKTYPE_EMPTY,
    ...get(B),
    ...get(JB),
    I32_ADD,
    ...set(P),
    ...k8.flatMap((k) => [...get(P), ...v128Load(16 * k), ...set(A(k))]),
    ...get(X),
    ...set(P),
    ...get(ROWS),
    ...set(I),
    LOOP,
    BLOCKTYPE_EMPTY,
    ...get(P),
    ...v128Load32Splat(0),
    ...set(XV),
    ...k8.flatMap((k) => [
      ...get(A(k)),
      ...get(XV),
      ...get(W),
      ...v128Load(16 * k),
      ...F32X4_MUL,
      ...F32X4_ADD,
      ...set(A(k)),
    ]),
    ...get(W),
    ...i32c(4 * PANEL_COLUMNS),
    I32_ADD,
    ...set(W),
    ...get(P),
    ...i32c(4),
    I32_ADD,
    ...set(P),
    ...get(I),
    ...i32c(1),
    I32_SUB,
    ...tee(I),
    BR_IF,
    0,
    END,
    ...get(Y),
    ...get(JB),
    I32_ADD,
    ...set(P),
    ...k8.flatMap((k) => [...get(P), ...get(A(k)), ...v128Store(16 * k)]),
    ...get(JB),
    ...i32c(4 * PANEL_COLUMNS),
    I32_ADD,
    ...tee(JB),
    ...get(ENDL),
    I32_LT_U,
    BR_IF,
    0,
    END,
    END,
  ];
}

function expBody(): number[] {
  // Param 0: x (v128). Locals: 1 n, 2 r, 3 y.
  const [X, N, R, Y] = [0, 1, 2, 3];
  const mulAdd = (p: number) => [...get(Y), ...get(R), ...F32X4_MUL, ...f32x4Const(p), ...F32X4_ADD, ...set(Y)];
  return [
    ...locals([3, V128]),
    ...get(X),
    ...f32x4Const(EXP_LO),
    ...F32X4_MAX,
    ...f32x4Const(EXP_HI),
    ...F32X4_MIN,
    ...set(X),
    ...get(X),
    ...f32x4Const(LOG2E),
    ...F32X4_MUL,
    ...f32x4Const(ROUND_MAGIC),
    ...F32X4_ADD,
    ...f32x4Const(ROUND_MAGIC),
    ...F32X4_SUB,
    ...set(N),
    ...get(X),
    ...get(N),
    ...f32x4Const(C1),
    ...F32X4_MUL,
    ...F32X4_SUB,
    ...set(R),
    ...get(R),
    ...get(N),
    ...f32x4Const(C2),
    ...F32X4_MUL,
    ...F32X4_SUB,
    ...set(R),
    ...f32x4Const(P0),
    ...get(R),
    ...F32X4_MUL,
    ...f32x4Const(P1),
    ...F32X4_ADD,
    ...set(Y),
    ...mulAdd(P2),
    ...mulAdd(P3),
    ...mulAdd(P4),
    ...mulAdd(P5),
    ...get(Y),
    ...get(R),
    ...get(R),
    ...F32X4_MUL,
    ...F32X4_MUL,
    ...get(R),
    ...F32X4_ADD,
    ...f32x4Const(1),
    ...F32X4_ADD,
    ...get(N),
    ...I32X4_TRUNC_SAT_F32X4_S,
    ...i32x4Const(127),
    ...I32X4_ADD,
    ...i32c(23),
    ...I32X4_SHL,
    ...F32X4_MUL,
    END,
  ];
}

function sigmoidBody(): number[] {
  return [
    ...locals(),
    ...f32x4Const(1),
    ...f32x4Const(1),
    ...get(0),
    ...F32X4_NEG,
    CALL,
    ...uleb(FN_EXP),
    ...F32X4_ADD,
    ...F32X4_DIV,
    END,
  ];
}

function tanhBody(): number[] {
  return [
    ...locals(),
    ...f32x4Const(1),
    ...f32x4Const(2),
    ...f32x4Const(1),
    ...get(0),
    ...get(0),
    ...F32X4_ADD,
    CALL,
    ...uleb(FN_EXP),
    ...F32X4_ADD,
    ...F32X4_DIV,
    ...F32X4_SUB,
    END,
  ];
}

function hardSigmoidBody(): number[] {
  return [
    ...locals(),
    ...get(0),
    ...f32x4Const(HARD_SLOPE),
    ...F32X4_MUL,
    ...f32x4Const(0.5),
    ...F32X4_ADD,
    ...f32x4Const(0),
    ...F32X4_MAX,
    ...f32x4Const(1),
    ...F32X4_MIN,
    END,
  ];
}

/** The cell kernel with `gateFn` (sigmoid or hard sigmoid) for the i, f, o gates. */
function cellBody(gateFn: number): number[] {
  // Params 0..3: z, c, h, units. Locals: 4 stride (bytes per gate), 5 u (byte offset), 6 p, 7 ig, 8 fg, 9 gg, 10 og, 11 cn.
  const [Z, C, H, UNITS, STRIDE, U, P, IG, FG, GG, OG, CN] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const gate = (k: number, fn: number, into: number) => [
    ...get(P),
    ...Array.from({ length: k }, () => [...get(STRIDE), I32_ADD]).flat(),
    ...v128Load(0),
    CALL,
    ...uleb(fn),
    ...set(into),
  ];
  return [
    ...locals([3, I32], [5, V128]),
    ...get(UNITS),
    ...i32c(2),
    I32_SHL,
    ...set(STRIDE),
    LOOP,
    BLOCKTYPE_EMPTY,
    ...get(Z),
    ...get(U),
    I32_ADD,
    ...set(P),
    ...gate(0, gateFn, IG),
    ...gate(1, gateFn, FG),
    ...gate(2, FN_TANH, GG),
    ...gate(3, gateFn, OG),
    ...get(FG),
    ...get(C),
    ...get(U),
    I32_ADD,
    ...v128Load(0),
    ...F32X4_MUL,
    ...get(IG),
    ...get(GG),
    ...F32X4_MUL,
    ...F32X4_ADD,
    ...set(CN),
    ...get(C),
    ...get(U),
    I32_ADD,
    ...get(CN),
    ...v128Store(0),
    ...get(H),
    ...get(U),
    I32_ADD,
    ...get(OG),
    ...get(CN),
    CALL,
    ...uleb(FN_TANH),
    ...F32X4_MUL,
    ...v128Store(0),
    ...get(U),
    ...i32c(16),
    I32_ADD,
    ...tee(U),
    ...get(STRIDE),
    I32_LT_U,
    BR_IF,
    0,
    END,
    END,
  ];
}

/** The bytes of the kernel module: imports `env.memory`, exports `matvec`, `cell` and `cell_hard`. */
export function kernelModuleBytes(): Uint8Array {
  const types = [
    [FUNC_TYPE, ...uleb(6), I32, I32, I32, I32, I32, I32, ...uleb(0)], // 0: matvec
    [FUNC_TYPE, ...uleb(1), V128, ...uleb(1), V128], // 1: v128 → v128
    [FUNC_TYPE, ...uleb(4), I32, I32, I32, I32, ...uleb(0)], // 2: cell
  ];
  const funcTypes = [0, 1, 1, 1, 2, 1, 2]; // matvec, exp, sigmoid, tanh, cell, hard sigmoid, cell_hard
  const bodies = [
    matvecBody(),
    expBody(),
    sigmoidBody(),
    tanhBody(),
    cellBody(FN_SIGMOID),
    hardSigmoidBody(),
    cellBody(FN_HARD_SIGMOID),
  ];
  const bytes = [
    ...WASM_HEADER,
    ...section(1, [...uleb(types.length), ...types.flat()]),
    ...section(2, [...uleb(1), ...wasmName('env'), ...wasmName('memory'), 0x02, 0x00, ...uleb(1)]),
    ...section(3, [...uleb(funcTypes.length), ...funcTypes.flatMap((t) => uleb(t))]),
    ...section(7, [
      ...uleb(3),
      ...wasmName('matvec'),
      0x00,
      ...uleb(FN_MATVEC),
      ...wasmName('cell'),
      0x00,
      ...uleb(FN_CELL),
      ...wasmName('cell_hard'),
      0x00,
      ...uleb(FN_CELL_HARD),
    ]),
    ...section(10, [...uleb(bodies.length), ...bodies.flatMap((b) => [...uleb(b.length), ...b])]),
  ];
  return Uint8Array.from(bytes);
}

/** The parts of the WebAssembly JS API used here (the project's lib settings declare no WebAssembly values). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Memory: new (descriptor: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer };
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
}

function wasmApi(): WasmApi | undefined {
  return (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
}

let compiled: object | null | undefined;

/** The compiled module, or null when this runtime has no WebAssembly SIMD (compiled once per process). */
function kernelModule(): object | null {
  if (compiled === undefined) {
    compiled = null;
    try {
      const api = wasmApi();
      const bytes = kernelModuleBytes();
      if (api && api.validate(bytes)) compiled = new api.Module(bytes);
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

export function wasmSimdAvailable(): boolean {
  return kernelModule() !== null;
}

/**
 * Copies row-major `src` [rows, cols] into `dst` (from float index `dstOffset`) in panel layout: for each block of
 * PANEL_COLUMNS columns, rows × PANEL_COLUMNS values. Columns past `cols` (up to the next multiple) are zero.
 * Writes rows × roundUp(cols, PANEL_COLUMNS) values.
 */
export function packPanels(src: Float32Array, rows: number, cols: number, dst: Float32Array, dstOffset = 0): void {
  const blocks = roundUp(cols, PANEL_COLUMNS) / PANEL_COLUMNS;
  let o = dstOffset;
  for (let blk = 0; blk < blocks; blk++) {
    const j0 = blk * PANEL_COLUMNS;
    for (let i = 0; i < rows; i++) {
      const row = i * cols;
      for (let jj = 0; jj < PANEL_COLUMNS; jj++) {
        const j = j0 + jj;
        dst[o++] = j < cols ? src[row + j]! : 0;
      }
    }
  }
}

/** One instance with its own memory; the addresses its functions take are byte offsets into that memory. */
export interface KernelInstance {
  /** A view of the whole memory (the memory never grows, so the view stays valid). */
  readonly f32: Float32Array;
  /** y = b + x · W (panel layout); addresses 16-byte aligned (x: 4-byte), cols a multiple of 32, rows ≥ 1. */
  readonly matvec: (w: number, x: number, b: number, y: number, rows: number, cols: number) => void;
  /** LSTM gates for one layer: reads z [4·units], updates c and h [units]; 16-byte aligned, units a multiple of 4, ≥ 4. */
  readonly cell: (z: number, c: number, h: number, units: number) => void;
  /** The same with the hard sigmoid for the i, f, o gates. */
  readonly cellHard: (z: number, c: number, h: number, units: number) => void;
}

/** Instantiates the module with a fresh memory of at least `bytes` bytes, or returns null without SIMD. */
export function instantiateKernels(bytes: number): KernelInstance | null {
  const module = kernelModule();
  const api = wasmApi();
  if (!module || !api) return null;
  const pages = Math.max(1, Math.ceil(bytes / 65536));
  const memory = new api.Memory({ initial: pages, maximum: pages });
  const instance = new api.Instance(module, { env: { memory } });
  return {
    f32: new Float32Array(memory.buffer),
    matvec: instance.exports.matvec as KernelInstance['matvec'],
    cell: instance.exports.cell as KernelInstance['cell'],
    cellHard: instance.exports.cell_hard as KernelInstance['cellHard'],
  };
}
