/**
 * Faster replacements for the stock tfjs-backend-wasm 4.22 kernels that LSTM training spends its time in. Each
 * keeps the stock kernel's name and results; `test/kernels.test.ts` checks each against the stock kernel.
 *
 * - Slice / SplitV / Unpack: the stock kernels copy the whole input (`readSync`) for every slice; these copy only
 *   the slice, straight from the wasm heap.
 * - Concat: row runs copied inside the wasm heap (the stock kernel makes two typed-array views per run).
 * - Tanh: the stock kernel is a scalar loop ~10× slower than XNNPACK's Sigmoid; here tanh(x) = 2·σ(2x) − 1 with
 *   the stock (vectorised) Multiply, Sigmoid and Sub kernels.
 * - Transpose (2-D after dropping size-1 axes): 4×4 SIMD blocks (wasm-kernels.ts; a cache-blocked JS copy without
 *   WebAssembly SIMD) instead of the stock element loop.
 * - BatchMatMul with transposeA/transposeB: the stock kernel runs a scalar loop for those (~20× slower than
 *   XNNPACK); here the operand is transposed first, then the stock kernel multiplies with no transpose flag.
 * - GatherV2 along axis 0: row copies (the stock kernel took ~50 ms for 4096 rows of a [48, 512] table).
 * - Sum over leading axes (e.g. a bias gradient, axis 0 of [N, C]): the stock kernel transposes first; here rows
 *   are accumulated directly.
 *
 * Anything these do not handle (other dtypes, ranks or permutations) goes to the stock kernel.
 * `registerFastKernels()` needs the wasm backend initialised (`tf.ready()` after `setBackend('wasm')`). It also adds
 * the kernels of wasm-kernels.ts (fused LSTM forward/backward, a GEMM, UnsortedSegmentSum) when WebAssembly SIMD
 * is available; `unregisterFastKernels()` removes them again.
 */
import * as tf from '@tensorflow/tfjs';
import { backend_util, broadcast_util, slice_util, util } from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { offsetOf, type RawKernel as WasmRawKernel, type WasmBackend } from './wasm-backend.js';
import { FUSED_KERNELS, LSTM_BACKWARD, LSTM_FORWARD, MATMUL, fusedFunctions, transposeInto } from './wasm-kernels.js';

const BACKEND = 'wasm';

/** Kernels here take named inputs, except Concat (a list). */
type RawKernel = WasmRawKernel<Record<string, TensorInfo | undefined> | TensorInfo[]>;

const REPLACED = [
  'Slice',
  'SplitV',
  'Unpack',
  'Concat',
  'Tanh',
  'Transpose',
  'BatchMatMul',
  'Sum',
  'GatherV2',
] as const;
type Replaced = (typeof REPLACED)[number];

let stock: Map<Replaced, KernelConfig> | undefined;
const constants = new WeakMap<WasmBackend, { two: TensorInfo; one: TensorInfo }>();

function stockFunc(name: string): RawKernel {
  const config = stock?.get(name as Replaced) ?? tf.getKernel(name, BACKEND);
  if (!config) throw new Error(`kernels: no stock wasm kernel ${name}`);
  return config.kernelFunc as unknown as RawKernel;
}

function bytesPerElement(dtype: string): number {
  return dtype === 'bool' ? 1 : 4;
}

/** Copies the box [begin, begin + size) of x into a new tensor, one contiguous run of the innermost axes at a time. */
function sliceBox(backend: WasmBackend, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  const total = util.sizeFromShape(size);
  if (total === 0) return out;
  const bpe = bytesPerElement(x.dtype);
  const heap = backend.wasm.HEAPU8; // read after makeOutput: allocation may grow (and replace) the heap
  const src = offsetOf(backend, x);
  const dst = offsetOf(backend, out);
  const rank = x.shape.length;
  const strides = util.computeStrides(x.shape);
  // Merge the innermost axes that are copied whole into one run.
  let inner = rank - 1;
  let run = size[rank - 1] ?? 1;
  while (inner > 0 && size[inner] === x.shape[inner]) {
    inner--;
    run *= size[inner]!;
  }
  if (rank === 0) {
    heap.copyWithin(dst, src, src + bpe);
    return out;
  }
  // Axes 0..inner-1 are iterated; the run starts at axis `inner`.
  const runStart = (idx: number[]) => {
    let flat = 0;
    for (let a = 0; a < rank; a++) flat += (begin[a]! + (a < inner ? idx[a]! : 0)) * (a < rank - 1 ? strides[a]! : 1);
    return flat;
  };
  const runBytes = run * bpe;
  if (inner === 0) {
    const s = src + runStart([]) * bpe;
    heap.copyWithin(dst, s, s + runBytes);
    return out;
  }
  const idx = new Array<number>(inner).fill(0);
  let written = dst;
  for (;;) {
    const s = src + runStart(idx) * bpe;
    heap.copyWithin(written, s, s + runBytes);
    written += runBytes;
    let a = inner - 1;
    while (a >= 0) {
      idx[a]!++;
      if (idx[a]! < size[a]!) break;
      idx[a] = 0;
      a--;
    }
    if (a < 0) break;
  }
  return out;
}

const fastSlice: RawKernel = (args) => {
  const x = (args.inputs as Record<string, TensorInfo>).x!;
  if (x.dtype === 'string') return stockFunc('Slice')(args);
  const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
  const [begin_, size_] = slice_util.parseSliceParams(x as unknown as tf.Tensor, begin, size) as [number[], number[]];
  return sliceBox(args.backend, x, begin_, size_);
};

const fastSplitV: RawKernel = (args) => {
  const x = (args.inputs as Record<string, TensorInfo>).x!;
  if (x.dtype === 'string') return stockFunc('SplitV')(args);
  const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
  const ax = util.parseAxisParam(axis, x.shape)[0]!;
  const sizes = backend_util.prepareSplitSize(x as unknown as tf.Tensor, numOrSizeSplits, ax);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = [...x.shape];
    size[ax] = s;
    const piece = sliceBox(args.backend, x, begin, size);
    begin[ax]! += s;
    return piece;
  });
};

const fastUnpack: RawKernel = (args) => {
  const value = (args.inputs as Record<string, TensorInfo>).value!;
  if (value.dtype === 'string') return stockFunc('Unpack')(args);
  let { axis } = args.attrs as unknown as { axis: number };
  if (axis < 0) axis += value.shape.length;
  const outShape = value.shape.filter((_, a) => a !== axis);
  const begin = new Array<number>(value.shape.length).fill(0);
  const size = [...value.shape];
  size[axis] = 1;
  const outs: TensorInfo[] = [];
  for (let i = 0; i < value.shape[axis]!; i++) {
    begin[axis] = i;
    const piece = sliceBox(args.backend, value, begin, size);
    outs.push({ dataId: piece.dataId, dtype: piece.dtype, shape: outShape });
  }
  return outs;
};

function scalars(backend: WasmBackend): { two: TensorInfo; one: TensorInfo } {
  let c = constants.get(backend);
  if (!c) {
    c = {
      two: backend.makeOutput([], 'float32', null, Float32Array.of(2)),
      one: backend.makeOutput([], 'float32', null, Float32Array.of(1)),
    };
    constants.set(backend, c);
  }
  return c;
}

const fastTanh: RawKernel = (args) => {
  const x = (args.inputs as Record<string, TensorInfo>).x!;
  if (x.dtype !== 'float32') return stockFunc('Tanh')(args);
  const { backend } = args;
  const { two, one } = scalars(backend);
  const mul = stockFunc('Multiply');
  const x2 = mul({ inputs: { a: x, b: two }, backend }) as TensorInfo;
  const s = stockFunc('Sigmoid')({ inputs: { x: x2 }, backend }) as TensorInfo;
  backend.disposeData(x2.dataId);
  const s2 = mul({ inputs: { a: s, b: two }, backend }) as TensorInfo;
  backend.disposeData(s.dataId);
  const out = stockFunc('Sub')({ inputs: { a: s2, b: one }, backend }) as TensorInfo;
  backend.disposeData(s2.dataId);
  return { dataId: out.dataId, dtype: out.dtype, shape: x.shape };
};

/** [rows, cols] → [cols, rows], float32 or int32: 4×4 SIMD blocks (wasm-kernels.ts), else blocked JS. */
function transpose2d(backend: WasmBackend, x: TensorInfo, rows: number, cols: number, outShape: number[]): TensorInfo {
  const out = backend.makeOutput(outShape, x.dtype);
  if (transposeInto(backend, offsetOf(backend, x), offsetOf(backend, out), rows, cols)) return out;
  const heap = backend.wasm.HEAPF32; // 4-byte elements; read after makeOutput
  const src = offsetOf(backend, x) >>> 2;
  const dst = offsetOf(backend, out) >>> 2;
  const BLOCK = 16;
  for (let c0 = 0; c0 < cols; c0 += BLOCK) {
    const c1 = Math.min(cols, c0 + BLOCK);
    for (let r0 = 0; r0 < rows; r0 += BLOCK) {
      const r1 = Math.min(rows, r0 + BLOCK);
      for (let c = c0; c < c1; c++) {
        let d = dst + c * rows + r0;
        let s = src + r0 * cols + c;
        for (let r = r0; r < r1; r++) {
          heap[d++] = heap[s]!;
          s += cols;
        }
      }
    }
  }
  return out;
}

const fastTranspose: RawKernel = (args) => {
  const x = (args.inputs as Record<string, TensorInfo>).x!;
  const { perm } = args.attrs as unknown as { perm: number[] };
  if (x.dtype !== 'float32' && x.dtype !== 'int32') return stockFunc('Transpose')(args);
  const outShape = perm.map((p) => x.shape[p]!);
  // Drop size-1 axes: what is left must be a 2-D swap.
  const kept = perm.filter((p) => x.shape[p] !== 1);
  const keptSorted = [...kept].sort((a, b) => a - b);
  if (kept.length === 2 && kept[0]! > kept[1]!) {
    return transpose2d(args.backend, x, x.shape[keptSorted[0]!]!, x.shape[keptSorted[1]!]!, outShape);
  }
  return stockFunc('Transpose')(args);
};

function transposedCopy(backend: WasmBackend, t: TensorInfo): TensorInfo {
  const rank = t.shape.length;
  const rows = t.shape[rank - 2]!;
  const cols = t.shape[rank - 1]!;
  return transpose2d(backend, t, rows, cols, [cols, rows]);
}

const fastBatchMatMul: RawKernel = (args) => {
  const { a, b } = args.inputs as Record<string, TensorInfo>;
  const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
  const batchOf = (t: TensorInfo) => util.sizeFromShape(t.shape.slice(0, -2));
  if (
    (!transposeA && !transposeB) ||
    a!.dtype !== 'float32' ||
    b!.dtype !== 'float32' ||
    batchOf(a!) !== 1 ||
    batchOf(b!) !== 1
  ) {
    return stockFunc('BatchMatMul')(args);
  }
  const { backend } = args;
  // Fresh tensors (new ids) for the transposed operands: the stock operator cache is keyed on B's id.
  const a2 = transposeA ? transposedCopy(backend, a!) : a!;
  const b2 = transposeB ? transposedCopy(backend, b!) : b!;
  const out = stockFunc('BatchMatMul')({
    inputs: { a: a2, b: b2 },
    backend,
    attrs: { transposeA: false, transposeB: false },
  }) as TensorInfo;
  if (a2 !== a) backend.disposeData(a2.dataId);
  if (b2 !== b) backend.disposeData(b2.dataId);
  const outShape = [
    ...broadcast_util.assertAndGetBroadcastShape(a!.shape.slice(0, -2), b!.shape.slice(0, -2)),
    a2.shape[a2.shape.length - 2]!,
    b2.shape[b2.shape.length - 1]!,
  ];
  return { dataId: out.dataId, dtype: out.dtype, shape: outShape };
};

const fastSum: RawKernel = (args) => {
  const x = (args.inputs as Record<string, TensorInfo>).x!;
  const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
  if (x.dtype !== 'float32') return stockFunc('Sum')(args);
  const axes = util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
  const leading = axes.every((ax, i) => ax === i) && axes.length > 0 && axes.length < x.shape.length;
  if (!leading) return stockFunc('Sum')(args);
  const rows = util.sizeFromShape(x.shape.slice(0, axes.length));
  const cols = util.sizeFromShape(x.shape.slice(axes.length));
  const reducedShape = x.shape.slice(axes.length);
  const outShape = keepDims ? backend_util.expandShapeToKeepDim(reducedShape, axes) : reducedShape;
  const { backend } = args;
  const out = backend.makeOutput(outShape, 'float32');
  const heap = backend.wasm.HEAPF32;
  const src = offsetOf(backend, x) >>> 2;
  const dst = offsetOf(backend, out) >>> 2;
  const acc = new Float32Array(cols);
  for (let r = 0; r < rows; r++) {
    const base = src + r * cols;
    for (let c = 0; c < cols; c++) acc[c]! += heap[base + c]!;
  }
  heap.set(acc, dst);
  return out;
};

const fastGatherV2: RawKernel = (args) => {
  const { x, indices } = args.inputs as Record<string, TensorInfo>;
  const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims: number };
  const ax = util.parseAxisParam(axis, x!.shape)[0]!;
  if (
    ax !== 0 ||
    (batchDims ?? 0) !== 0 ||
    x!.dtype === 'string' ||
    indices!.dtype !== 'int32' ||
    x!.shape.length < 1
  ) {
    return stockFunc('GatherV2')(args);
  }
  const { backend } = args;
  const rows = x!.shape[0]!;
  const rowSize = util.sizeFromShape(x!.shape.slice(1));
  const n = util.sizeFromShape(indices!.shape);
  const out = backend.makeOutput([...indices!.shape, ...x!.shape.slice(1)], x!.dtype);
  const heap = backend.wasm.HEAPU8; // read after makeOutput
  const bpe = bytesPerElement(x!.dtype);
  const idx = new Int32Array(heap.buffer, offsetOf(backend, indices!), n);
  const src = offsetOf(backend, x!);
  const rowBytes = rowSize * bpe;
  let dst = offsetOf(backend, out);
  for (let i = 0; i < n; i++) {
    const r = idx[i]!;
    if (r < 0 || r >= rows) {
      backend.disposeData(out.dataId);
      throw new Error(`GatherV2: the index value ${r} is not in [0, ${rows - 1}]`);
    }
    heap.copyWithin(dst, src + r * rowBytes, src + (r + 1) * rowBytes);
    dst += rowBytes;
  }
  return out;
};

const fastConcat: RawKernel = (args) => {
  const inputs = args.inputs as TensorInfo[];
  const { axis } = args.attrs as unknown as { axis: number | number[] };
  const first = inputs[0];
  if (!first || inputs.some((t) => t.dtype === 'string' || t.dtype !== first.dtype) || inputs.length === 1)
    return stockFunc('Concat')(args);
  const ax = util.parseAxisParam(axis, first.shape)[0]!;
  backend_util.assertParamsConsistent(
    inputs.map((t) => t.shape),
    ax,
  );
  const outShape = backend_util.computeOutShape(
    inputs.map((t) => t.shape),
    ax,
  );
  const { backend } = args;
  const out = backend.makeOutput(outShape, first.dtype);
  const heap = backend.wasm.HEAPU8; // read after makeOutput
  const bpe = bytesPerElement(first.dtype);
  const outer = util.sizeFromShape(first.shape.slice(0, ax));
  const runs = inputs.map((t) => util.sizeFromShape(t.shape.slice(ax)) * bpe);
  const srcs = inputs.map((t) => offsetOf(backend, t));
  let dst = offsetOf(backend, out);
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < inputs.length; k++) {
      const run = runs[k]!;
      if (run === 0) continue;
      const s = srcs[k]! + o * run;
      heap.copyWithin(dst, s, s + run);
      dst += run;
    }
  }
  return out;
};

const FAST: Record<Replaced, RawKernel> = {
  Concat: fastConcat,
  GatherV2: fastGatherV2,
  Slice: fastSlice,
  SplitV: fastSplitV,
  Unpack: fastUnpack,
  Tanh: fastTanh,
  Transpose: fastTranspose,
  BatchMatMul: fastBatchMatMul,
  Sum: fastSum,
};

/** Names of the kernels `registerFastKernels` replaces. */
export const FAST_KERNEL_NAMES: readonly string[] = REPLACED;

/** Whether the fast kernels are registered now. */
export function fastKernelsRegistered(): boolean {
  return stock !== undefined;
}

/**
 * Names of the kernels added (not replaced) for the wasm backend when it supports WebAssembly SIMD: the fused LSTM
 * kernels of wasm-kernels.ts and `UnsortedSegmentSum` (absent from stock tfjs-backend-wasm 4.22).
 */
export const ADDED_KERNEL_NAMES: readonly string[] = FUSED_KERNELS.map((k) => k.name);

let added: string[] = [];

/** Whether the fused LSTM kernels (wasm-kernels.ts) are registered for wasm now: the trainer's fast path. */
export function fusedKernelsRegistered(): boolean {
  return stock !== undefined && [LSTM_FORWARD, LSTM_BACKWARD, MATMUL].every((name) => added.includes(name));
}

/**
 * Registers the replacements for the wasm backend (idempotent), and the fused kernels when WebAssembly SIMD is
 * available. Returns false, changing nothing, when the wasm backend is not registered or its stock kernels are
 * missing.
 */
export function registerFastKernels(): boolean {
  if (stock) return true;
  const backend = tf.engine().registry[BACKEND];
  if (!backend) return false; // not initialised (yet)
  const saved = new Map<Replaced, KernelConfig>();
  for (const name of REPLACED) {
    const config = tf.getKernel(name, BACKEND);
    if (!config) return false;
    saved.set(name, config);
  }
  stock = saved;
  for (const name of REPLACED) {
    tf.unregisterKernel(name, BACKEND);
    tf.registerKernel({ kernelName: name, backendName: BACKEND, kernelFunc: FAST[name] as unknown as KernelFunc });
  }
  added = [];
  if (fusedFunctions(backend as unknown as WasmBackend)) {
    for (const { name, kernelFunc } of FUSED_KERNELS) {
      if (tf.getKernel(name, BACKEND)) continue; // e.g. a later tfjs with its own UnsortedSegmentSum
      tf.registerKernel({ kernelName: name, backendName: BACKEND, kernelFunc });
      added.push(name);
    }
  }
  return true;
}

/** Puts the stock kernels back and removes the added ones (idempotent). */
export function unregisterFastKernels(): void {
  if (!stock) return;
  for (const name of REPLACED) {
    tf.unregisterKernel(name, BACKEND);
    tf.registerKernel(stock.get(name)!);
  }
  for (const name of added) tf.unregisterKernel(name, BACKEND);
  added = [];
  stock = undefined;
}
