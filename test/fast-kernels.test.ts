import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {
  FAST_KERNEL_NAMES,
  fastKernelsRegistered,
  registerFastKernels,
  unregisterFastKernels,
} from '../src/training/fast-kernels.js';
import { mulberry32 } from '../src/model/weights.js';

const rand = mulberry32(2024);
function randomTensor(shape: number[], scale = 3, dtype: 'float32' | 'int32' = 'float32'): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (dtype === 'int32')
    return tf.tensor(
      Int32Array.from({ length: n }, () => Math.floor(rand() * 2000) - 1000),
      shape,
      'int32',
    );
  return tf.tensor(
    Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale),
    shape,
  );
}

/** Runs `op` with the fast kernels and with the stock ones; returns both results as arrays with their shapes. */
function both(op: () => tf.Tensor | tf.Tensor[]): {
  fast: { shape: number[]; values: number[] }[];
  stock: { shape: number[]; values: number[] }[];
} {
  const run = () => {
    const out = op();
    const list = Array.isArray(out) ? out : [out];
    const res = list.map((t) => ({ shape: t.shape, values: Array.from(t.dataSync()) }));
    tf.dispose(list);
    return res;
  };
  registerFastKernels();
  const fast = run();
  unregisterFastKernels();
  const stock = run();
  registerFastKernels();
  return { fast, stock };
}

function expectClose(op: () => tf.Tensor | tf.Tensor[], tolerance = 0): void {
  const { fast, stock } = both(op);
  expect(fast.length).toBe(stock.length);
  fast.forEach((f, k) => {
    const s = stock[k]!;
    expect(f.shape).toEqual(s.shape);
    if (tolerance === 0) {
      expect(f.values).toEqual(s.values);
    } else {
      let worst = 0;
      f.values.forEach((v, i) => {
        worst = Math.max(worst, Math.abs(v - s.values[i]!) / Math.max(1, Math.abs(s.values[i]!)));
      });
      expect(worst).toBeLessThanOrEqual(tolerance);
    }
  });
}

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});
afterAll(() => unregisterFastKernels());

describe('fast wasm kernels', () => {
  it('register, replace the named kernels, and unregister back to the stock ones', () => {
    unregisterFastKernels();
    const stockSlice = tf.getKernel('Slice', 'wasm')!.kernelFunc;
    expect(registerFastKernels()).toBe(true);
    expect(fastKernelsRegistered()).toBe(true);
    for (const name of FAST_KERNEL_NAMES) expect(tf.getKernel(name, 'wasm')).toBeDefined();
    expect(tf.getKernel('Slice', 'wasm')!.kernelFunc).not.toBe(stockSlice);
    expect(registerFastKernels()).toBe(true); // idempotent
    unregisterFastKernels();
    expect(fastKernelsRegistered()).toBe(false);
    expect(tf.getKernel('Slice', 'wasm')!.kernelFunc).toBe(stockSlice);
  });

  it('Slice equals the stock kernel (ranks 1–4, rows, columns, -1 sizes, int32)', () => {
    const x1 = randomTensor([17]);
    const x2 = randomTensor([9, 12]);
    const x3 = randomTensor([4, 5, 6]);
    const x4 = randomTensor([3, 4, 5, 6]);
    const xi = randomTensor([6, 7], 3, 'int32');
    expectClose(() => tf.slice(x1, [3], [9]));
    expectClose(() => tf.slice(x2, [2, 0], [4, 12]));
    expectClose(() => tf.slice(x2, [0, 5], [9, 4]));
    expectClose(() => tf.slice(x2, [3, 2], [-1, -1]));
    expectClose(() => tf.slice(x3, [1, 2, 0], [2, 3, 6]));
    expectClose(() => tf.slice(x3, [0, 1, 2], [4, 3, 3]));
    expectClose(() => tf.slice(x4, [1, 0, 2, 1], [2, 4, 2, 4]));
    expectClose(() => tf.slice(xi, [1, 2], [4, 3]));
    expectClose(() => tf.slice(x2, [0, 0], [0, 3]));
    tf.dispose([x1, x2, x3, x4, xi]);
  });

  it('SplitV and Unpack equal the stock kernels', () => {
    const x = randomTensor([8, 12]);
    const y = randomTensor([3, 4, 5]);
    expectClose(() => tf.split(x, 4, 0));
    expectClose(() => tf.split(x, 4, 1));
    expectClose(() => tf.split(x, [2, 7, 3], 1));
    expectClose(() => tf.split(y, [1, -1], 2));
    expectClose(() => tf.unstack(y, 0));
    expectClose(() => tf.unstack(y, 1));
    expectClose(() => tf.unstack(y, 2));
    tf.dispose([x, y]);
  });

  it('Concat equals the stock kernel (axes 0, 1, last; int32; empty parts)', () => {
    const a = randomTensor([4, 3]);
    const b = randomTensor([4, 5]);
    const c = randomTensor([2, 3]);
    const x = randomTensor([2, 3, 4]);
    const y = randomTensor([2, 1, 4]);
    const i1 = randomTensor([3, 2], 3, 'int32');
    const i2 = randomTensor([3, 1], 3, 'int32');
    const empty = tf.zeros([4, 0]);
    expectClose(() => tf.concat([a, b, a], 1));
    expectClose(() => tf.concat([a, c], 0));
    expectClose(() => tf.concat([x, y, x], 1));
    expectClose(() => tf.concat([x, x], 2));
    expectClose(() => tf.concat([i1, i2], 1));
    expectClose(() => tf.concat([a, empty, b], 1));
    tf.dispose([a, b, c, x, y, i1, i2, empty]);
  });

  it('Tanh equals the stock kernel within 1e-6, large and tiny inputs included', () => {
    const x = randomTensor([64, 33], 6);
    const edges = tf.tensor1d([0, 1e-8, -1e-8, 1e-3, -20, 20, 88, -88, 1000, -1000]);
    expectClose(() => tf.tanh(x), 1e-6);
    expectClose(() => tf.tanh(edges), 1e-6);
    tf.dispose([x, edges]);
  });

  it('Transpose equals the stock kernel (2-D, size-1 axes, other permutations)', () => {
    const big = randomTensor([64, 100]); // 4×4 SIMD blocks in bands of 16 columns, and a narrower last band
    const a = randomTensor([37, 53]); // SIMD blocks plus edges done in JS
    const b = randomTensor([1, 20, 33]);
    const c = randomTensor([4, 5, 6]);
    const d = randomTensor([16, 1, 9], 3, 'int32');
    expectClose(() => tf.transpose(big));
    expectClose(() => tf.transpose(a));
    expectClose(() => tf.transpose(b, [0, 2, 1]));
    expectClose(() => tf.transpose(c, [2, 0, 1]));
    expectClose(() => tf.transpose(d, [2, 1, 0]));
    tf.dispose([big, a, b, c, d]);
  });

  it('BatchMatMul with transpose flags equals the stock kernel', () => {
    const a = randomTensor([19, 23], 1);
    const b = randomTensor([23, 11], 1);
    const at = randomTensor([23, 19], 1);
    const bt = randomTensor([11, 23], 1);
    const a3 = randomTensor([1, 19, 23], 1);
    const batched = randomTensor([2, 5, 7], 1);
    const batchedB = randomTensor([2, 6, 7], 1);
    expectClose(() => tf.matMul(a, bt, false, true), 1e-5);
    expectClose(() => tf.matMul(at, b, true, false), 1e-5);
    expectClose(() => tf.matMul(at, bt, true, true), 1e-5);
    expectClose(() => tf.matMul(a3, bt, false, true), 1e-5);
    expectClose(() => tf.matMul(a, b), 1e-5);
    expectClose(() => tf.matMul(batched, batchedB, false, true), 1e-5);
    tf.dispose([a, b, at, bt, a3, batched, batchedB]);
  });

  it('Sum over leading axes equals the stock kernel; other reductions too', () => {
    const x = randomTensor([300, 17]);
    const y = randomTensor([6, 5, 4]);
    expectClose(() => tf.sum(x, 0), 1e-5);
    expectClose(() => tf.sum(x, 0, true), 1e-5);
    expectClose(() => tf.sum(y, [0, 1]), 1e-5);
    expectClose(() => tf.sum(y, [1, 0], true), 1e-5);
    expectClose(() => tf.sum(x, 1), 1e-5);
    expectClose(() => tf.sum(y), 1e-5);
    tf.dispose([x, y]);
  });

  it('GatherV2 along axis 0 equals the stock kernel and rejects out-of-range indices', () => {
    const table = randomTensor([7, 5]);
    const cube = randomTensor([6, 3, 2], 3, 'int32');
    const idx = tf.tensor1d([3, 0, 6, 6, 2], 'int32');
    const idx2 = tf.tensor2d(
      [
        [1, 5],
        [0, 0],
      ],
      [2, 2],
      'int32',
    );
    expectClose(() => tf.gather(table, idx));
    expectClose(() => tf.gather(cube, idx2));
    expectClose(() => tf.gather(table, tf.tensor1d([1, 4], 'int32'), 1));
    registerFastKernels();
    const bad = tf.tensor1d([2, 7], 'int32');
    expect(() => tf.gather(table, bad)).toThrow(/not in \[0, 6\]/);
    tf.dispose([table, cube, idx, idx2, bad]);
  });

  it('leave the tensor count and backend memory as the stock kernels do', () => {
    registerFastKernels();
    const x = randomTensor([32, 64]);
    tf.tanh(x).dispose(); // the Tanh kernel keeps two backend scalars for the backend's lifetime
    const before = tf.memory().numTensors;
    const dataIds = (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
    tf.tidy(() => {
      tf.tanh(x);
      tf.split(x, 4, 1);
      tf.matMul(x, x, true, false);
      tf.sum(x, 0);
      tf.transpose(x);
      tf.gather(x, tf.tensor1d([1, 2], 'int32'));
      tf.concat([x, x], 1);
    });
    expect(tf.memory().numTensors).toBe(before);
    expect((tf.backend() as unknown as { numDataIds(): number }).numDataIds()).toBe(dataIds);
    x.dispose();
  });
});
