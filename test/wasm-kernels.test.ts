import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {
  fusedKernelsSupported,
  fusedModuleBytes,
  LSTM_BACKWARD,
  LSTM_FORWARD,
  MATMUL,
  type FusedFunctions,
} from '../src/training/wasm-kernels.js';
import {
  ADDED_KERNEL_NAMES,
  fusedKernelsRegistered,
  registerFastKernels,
  unregisterFastKernels,
} from '../src/training/fast-kernels.js';
import { lstmBackward, lstmForward } from '../src/training/lstm-gradients.js';
import { mulberry32 } from '../src/model/weights.js';

const rand = mulberry32(99);

interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Memory: new (descriptor: { initial: number }) => { readonly buffer: ArrayBuffer };
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
}
function randomTensor(shape: number[], scale = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale),
    shape,
  );
}

function maxRelDiff(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!) / Math.max(1, Math.abs(y[i]!)));
  return worst;
}

function numDataIds(): number {
  return (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
}

interface ForwardOut {
  outputs: tf.Tensor2D;
  hPrev: tf.Tensor2D;
  cs: tf.Tensor2D;
  gates: tf.Tensor2D;
  tcs: tf.Tensor2D;
}
function fusedForward(xw: tf.Tensor, u: tf.Tensor, steps: number, h0?: tf.Tensor, c0?: tf.Tensor): ForwardOut {
  const inputs: tf.NamedTensorMap = { xw, u };
  if (h0) inputs.h0 = h0;
  if (c0) inputs.c0 = c0;
  const [outputs, hPrev, cs, gates, tcs] = tf.engine().runKernel(LSTM_FORWARD, inputs, { steps }) as tf.Tensor2D[];
  return { outputs: outputs!, hPrev: hPrev!, cs: cs!, gates: gates!, tcs: tcs! };
}

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  registerFastKernels();
});
afterAll(() => unregisterFastKernels());

describe('cell-kernel module', () => {
  it('assembles a valid WebAssembly module, with and without fused multiply-add', () => {
    const api = (globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array): boolean } }).WebAssembly;
    expect(api.validate(fusedModuleBytes(false))).toBe(true);
    expect(fusedKernelsSupported()).toBe(true);
  });

  it.each([false, true])('gemm (fused multiply-add: %s) equals a float64 product, row and k tails included', (fma) => {
    const api = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
    const bytes = fusedModuleBytes(fma);
    if (fma && !api.validate(bytes)) return; // no relaxed SIMD here: the plain module is what runs
    const memory = new api.Memory({ initial: 4 });
    const fns = new api.Instance(new api.Module(bytes), { env: { memory } }).exports as unknown as FusedFunctions;
    const heap = new Float32Array(memory.buffer);
    const [M, K, N] = [7, 13, 16];
    const [A, B, BP, C, BIAS] = [0, 1024, 2048, 3072, 4096]; // float offsets
    for (let i = 0; i < M * K; i++) heap[A + i] = rand() * 2 - 1;
    for (let i = 0; i < K * N; i++) heap[B + i] = rand() * 2 - 1;
    for (let i = 0; i < N; i++) heap[BIAS + i] = rand() * 2 - 1;
    fns.pack_b(4 * B, N, K, N / 8, 4 * BP);
    fns.gemm(4 * A, K, 4 * BP, 4 * C, N, 4 * BIAS, 0, M, K, N / 8);
    for (let r = 0; r < M; r++) {
      for (let c = 0; c < N; c++) {
        let want = heap[BIAS + c]!;
        for (let k = 0; k < K; k++) want += heap[A + r * K + k]! * heap[B + k * N + c]!;
        expect(Math.abs(heap[C + r * N + c]! - want)).toBeLessThan(1e-5);
      }
    }
  });

  it('adds its kernels to wasm with the fast kernels and removes them with them', () => {
    unregisterFastKernels();
    expect(fusedKernelsRegistered()).toBe(false);
    for (const name of [LSTM_FORWARD, LSTM_BACKWARD, MATMUL]) expect(tf.getKernel(name, 'wasm')).toBeUndefined();
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeUndefined(); // absent from stock tfjs-backend-wasm 4.22
    registerFastKernels();
    expect(fusedKernelsRegistered()).toBe(true);
    for (const name of ADDED_KERNEL_NAMES) expect(tf.getKernel(name, 'wasm')).toBeDefined();
    expect(tf.getKernel(LSTM_FORWARD, 'cpu')).toBeUndefined();
  });
});

describe('BabbleMatMul', () => {
  it.each([
    [4, 8, 8],
    [7, 13, 16],
    [1, 1, 8],
    [33, 130, 24],
    [128, 128, 512],
  ])('equals stock tf.matMul (+ bias) for [%i, %i]·[%i]', (m, k, n) => {
    const a = randomTensor([m, k]);
    const b = randomTensor([k, n]);
    const bias = randomTensor([n]);
    const fast = tf.engine().runKernel(MATMUL, { a, b }, {}) as tf.Tensor;
    const fastBias = tf.engine().runKernel(MATMUL, { a, b, bias }, {}) as tf.Tensor;
    unregisterFastKernels();
    const stock = tf.matMul(a, b);
    const stockBias = tf.add(stock, bias);
    registerFastKernels();
    expect(maxRelDiff(fast, stock)).toBeLessThan(2e-6 * Math.max(1, Math.sqrt(k)));
    expect(maxRelDiff(fastBias, stockBias)).toBeLessThan(2e-6 * Math.max(1, Math.sqrt(k)));
    tf.dispose([a, b, bias, fast, fastBias, stock, stockBias]);
  });

  it('rejects a column count that is not a multiple of 8', () => {
    const a = randomTensor([3, 4]);
    const b = randomTensor([4, 6]);
    expect(() => tf.engine().runKernel(MATMUL, { a, b }, {})).toThrow(/multiple of 8/);
    tf.dispose([a, b]);
  });
});

describe('UnsortedSegmentSum on wasm', () => {
  it.each([
    [[12, 8], 'float32'],
    [[10, 3], 'float32'],
    [[9, 2, 4], 'float32'],
    [[7, 5], 'int32'],
  ] as const)('equals the cpu kernel for x %j (%s)', async (shape, dtype) => {
    const n = shape[0];
    const values = Array.from(
      { length: shape.reduce((a, b) => a * b, 1) },
      () => Math.round((rand() * 2 - 1) * 100) / 10,
    );
    const ids = Array.from({ length: n }, () => Math.floor(rand() * 5));
    const run = () =>
      tf.tidy(() =>
        Array.from(
          tf.unsortedSegmentSum(tf.tensor(values, [...shape], dtype), tf.tensor1d(ids, 'int32'), 5).dataSync(),
        ),
      );
    const mine = run();
    await tf.setBackend('cpu');
    const reference = run();
    await tf.setBackend('wasm');
    expect(mine.length).toBe(5 * (values.length / n));
    mine.forEach((v, i) => {
      expect(v).toBeCloseTo(reference[i]!, 4);
    });
    expect(mine.some((v) => v !== 0)).toBe(true);
  });
});

describe('BabbleLstmForward / BabbleLstmBackward', () => {
  // B = 5: row blocks of 4 plus a tail row in the GEMM; H = 8: the smallest unit count the kernels take.
  const [T, B, H] = [4, 5, 8];

  it.each([true, false])('forward equals the plain-ops LSTM (initial state given: %s)', (withState) => {
    const xw = randomTensor([T * B, 4 * H], 1.5);
    const u = randomTensor([H, 4 * H], 0.7);
    const h0 = withState ? randomTensor([B, H], 0.8) : undefined;
    const c0 = withState ? randomTensor([B, H], 0.8) : undefined;
    const fused = fusedForward(xw, u, T, h0, c0);
    const ops = lstmForward(xw as tf.Tensor2D, u as tf.Tensor2D, T, {
      impl: 'ops',
      ...(h0 && { h0: h0 as tf.Tensor2D, c0: c0 as tf.Tensor2D }),
    });
    expect(maxRelDiff(fused.outputs, ops.outputs)).toBeLessThan(2e-6);
    expect(maxRelDiff(tf.slice(fused.cs, [T * B, 0], [B, H]), ops.c)).toBeLessThan(2e-6);
    const hPrevWant = tf.concat([h0 ?? tf.zeros([B, H]), tf.slice(ops.outputs, [0, 0], [(T - 1) * B, H])], 0);
    expect(maxRelDiff(fused.hPrev, hPrevWant)).toBeLessThan(2e-6);
    // the outputs really depend on the inputs: another U gives other numbers
    const other = fusedForward(xw, tf.mul(u, 0.5), T, h0, c0);
    expect(maxRelDiff(other.outputs, ops.outputs)).toBeGreaterThan(1e-2);
    tf.dispose([
      xw,
      u,
      ...(h0 ? [h0, c0!] : []),
      hPrevWant,
      ...Object.values(fused),
      ...Object.values(other),
      ops.outputs,
      ops.h,
      ops.c,
    ]);
  });

  it('backward equals the plain-ops backward for every combination of output and final-state gradients', () => {
    const xw = randomTensor([T * B, 4 * H], 1.5);
    const u = randomTensor([H, 4 * H], 0.7);
    const h0 = randomTensor([B, H], 0.8);
    const c0 = randomTensor([B, H], 0.8);
    const dOut = randomTensor([T * B, H]);
    const dh = randomTensor([B, H]);
    const dc = randomTensor([B, H]);
    const fused = fusedForward(xw, u, T, h0, c0);
    const ops = lstmForward(xw as tf.Tensor2D, u as tf.Tensor2D, T, {
      impl: 'ops',
      tape: true,
      h0: h0 as tf.Tensor2D,
      c0: c0 as tf.Tensor2D,
    });
    for (const [withOut, withH, withC] of [
      [true, true, true],
      [true, false, false],
      [false, true, false],
      [false, false, true],
    ] as const) {
      const inputs: tf.NamedTensorMap = { uT: tf.transpose(u), gates: fused.gates, cs: fused.cs, tcs: fused.tcs };
      if (withOut) inputs.dOutputs = dOut;
      if (withH) inputs.dh = dh;
      if (withC) inputs.dc = dc;
      const [dz, dBias, dh0, dc0] = tf.engine().runKernel(LSTM_BACKWARD, inputs, { steps: T }) as tf.Tensor[];
      const want = lstmBackward(
        ops.tape!,
        u as tf.Tensor2D,
        withOut ? (dOut as tf.Tensor2D) : undefined,
        withH ? (dh as tf.Tensor2D) : undefined,
        withC ? (dc as tf.Tensor2D) : undefined,
      );
      const label = `dOutputs ${withOut}, dh ${withH}, dc ${withC}`;
      expect(maxRelDiff(dz!, want.dxw), label).toBeLessThan(1e-5);
      expect(maxRelDiff(dh0!, want.dh0), label).toBeLessThan(1e-5);
      expect(maxRelDiff(dc0!, want.dc0), label).toBeLessThan(1e-5);
      const sum = tf.sum(want.dxw, 0);
      expect(maxRelDiff(dBias!, sum), label).toBeLessThan(1e-5);
      tf.dispose([inputs.uT!, dz!, dBias!, dh0!, dc0!, sum, want.dxw, want.dRecurrentKernel, want.dh0, want.dc0]);
    }
    tf.dispose([xw, u, h0, c0, dOut, dh, dc, ...Object.values(fused), ops.outputs, ops.h, ops.c]);
  });

  it('backward matches central finite differences of the fused forward (loss = Σ outputs·r₁ + Σ h_T·r₂ + Σ c_T·r₃)', () => {
    const xw = randomTensor([T * B, 4 * H], 1.5);
    const u = randomTensor([H, 4 * H], 0.7);
    const h0 = randomTensor([B, H], 0.8);
    const c0 = randomTensor([B, H], 0.8);
    const r1 = randomTensor([T * B, H]);
    const r2 = randomTensor([B, H]);
    const r3 = randomTensor([B, H]);
    const [r1v, r2v, r3v] = [r1.dataSync(), r2.dataSync(), r3.dataSync()];
    const arrays = {
      xw: xw.dataSync().slice(),
      u: u.dataSync().slice(),
      h0: h0.dataSync().slice(),
      c0: c0.dataSync().slice(),
    };
    const shapes = { xw: xw.shape, u: u.shape, h0: h0.shape, c0: c0.shape };
    type Name = keyof typeof arrays;
    /** The loss in float64 from the float32 forward results. */
    const loss = (): number =>
      tf.tidy(() => {
        const t = (n: Name) => tf.tensor(arrays[n], shapes[n]);
        const f = fusedForward(t('xw'), t('u'), T, t('h0'), t('c0'));
        const out = f.outputs.dataSync();
        const hT = f.outputs.dataSync().subarray((T - 1) * B * H);
        const cT = f.cs.dataSync().subarray(T * B * H);
        let sum = 0;
        for (let i = 0; i < out.length; i++) sum += out[i]! * r1v[i]!;
        for (let i = 0; i < hT.length; i++) sum += hT[i]! * r2v[i]! + cT[i]! * r3v[i]!;
        return sum;
      });
    const analytic = tf.tidy(() => {
      const f = fusedForward(xw, u, T, h0, c0);
      const [dz, , dh0, dc0] = tf
        .engine()
        .runKernel(
          LSTM_BACKWARD,
          { uT: tf.transpose(u), gates: f.gates, cs: f.cs, tcs: f.tcs, dOutputs: r1, dh: r2, dc: r3 },
          { steps: T },
        ) as tf.Tensor[];
      const du = tf.transpose(tf.matMul(tf.transpose(dz!), f.hPrev)); // dU = hPrevᵀ·dz
      return {
        xw: dz!.dataSync().slice(),
        u: du.dataSync().slice(),
        h0: dh0!.dataSync().slice(),
        c0: dc0!.dataSync().slice(),
      };
    });
    const eps = 1e-2;
    for (const name of ['xw', 'u', 'h0', 'c0'] as const) {
      for (let trial = 0; trial < 6; trial++) {
        const i = Math.floor(rand() * arrays[name].length);
        const saved = arrays[name][i]!;
        arrays[name][i] = saved + eps;
        const up = loss();
        arrays[name][i] = saved - eps;
        const down = loss();
        arrays[name][i] = saved;
        const numeric = (up - down) / (2 * eps);
        const got = analytic[name][i]!;
        expect(Math.abs(got - numeric), `${name}[${i}]: analytic ${got}, numeric ${numeric}`).toBeLessThan(
          2e-3 + 1e-2 * Math.abs(numeric),
        );
      }
    }
    tf.dispose([xw, u, h0, c0, r1, r2, r3]);
  });

  it('frees every scratch buffer: backend data ids grow only by the outputs', () => {
    const xw = randomTensor([T * B, 4 * H]);
    const u = randomTensor([H, 4 * H]);
    const before = numDataIds();
    tf.tidy(() => {
      const f = fusedForward(xw, u, T);
      tf.engine().runKernel(
        LSTM_BACKWARD,
        { uT: tf.transpose(u), gates: f.gates, cs: f.cs, tcs: f.tcs, dOutputs: tf.onesLike(f.outputs) },
        { steps: T },
      );
      tf.engine().runKernel(MATMUL, { a: xw, b: tf.transpose(u) }, {});
    });
    expect(numDataIds()).toBe(before);
    tf.dispose([xw, u]);
  });

  it('rejects inputs of the wrong shape', () => {
    const xw = randomTensor([T * B, 4 * H]);
    const u = randomTensor([H, 4 * H]);
    const h0 = randomTensor([B + 1, H]);
    const uT = tf.transpose(u);
    expect(() => tf.engine().runKernel(LSTM_FORWARD, { xw, u: uT }, { steps: T })).toThrow();
    expect(() => tf.engine().runKernel(LSTM_FORWARD, { xw, u }, { steps: 3 })).toThrow();
    expect(() => tf.engine().runKernel(LSTM_FORWARD, { xw, u, h0 }, { steps: T })).toThrow(/h0/);
    tf.dispose([xw, u, uT, h0]);
  });
});

describe('BABBLE_WASM_FMA', () => {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  interface Probe {
    fma: boolean;
    probe: number[];
    maxRelDiffFromStock: number;
  }
  /** test/fixtures/fma-probe.ts in its own process (the setting is read once, when the module is compiled). */
  async function probe(env: Record<string, string>): Promise<Probe> {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'test/fixtures/fma-probe.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as Probe;
  }
  // relaxed_madd fuses where the CPU has FMA (x86 FMA3, every arm64); elsewhere it may round in between
  const cpuFuses =
    process.arch === 'arm64' ||
    (existsSync('/proc/cpuinfo') && /^flags\s*:.*\bfma\b/m.test(readFileSync('/proc/cpuinfo', 'utf8')));

  it('on (the default), BabbleMatMul multiplies with fused multiply-adds; at 0, with a multiply then an add; both equal the stock ops', async () => {
    const on = await probe({});
    const off = await probe({ BABBLE_WASM_FMA: '0' });
    expect(on.fma).toBe(true);
    expect(off.fma).toBe(false);
    // (1 + 2⁻¹²)² − (1 + 2⁻¹¹) = 2⁻²⁴ exactly; rounding the product first gives 0
    if (cpuFuses) expect(on.probe).toEqual(Array(8).fill(2 ** -24));
    expect(off.probe).toEqual(Array(8).fill(0));
    for (const run of [on, off]) {
      expect(run.maxRelDiffFromStock).toBeGreaterThan(0); // not the stock kernel itself
      expect(run.maxRelDiffFromStock).toBeLessThan(2e-5);
    }
  }, 120_000);
});
