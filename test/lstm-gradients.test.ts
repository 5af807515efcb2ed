import { afterAll, describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { LSTM_BACKWARD, LSTM_FORWARD } from '../src/training/wasm-kernels.js';
import {
  fusedLstmAvailable,
  inputProjection,
  lstmBackward,
  lstmForward,
  matMulBias,
} from '../src/training/lstm-gradients.js';
import { registerFastKernels, unregisterFastKernels } from '../src/training/fast-kernels.js';
import { mulberry32 } from '../src/model/weights.js';

function randomArray(n: number, rand: () => number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
  return a;
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

/** A plain LSTM in tfjs ops (Keras maths), differentiated by tf.grad: the reference for the hand-written backward. */
function referenceLstm(xw: tf.Tensor2D, u: tf.Tensor2D, steps: number, h0: tf.Tensor2D, c0: tf.Tensor2D) {
  const batch = xw.shape[0] / steps;
  const units = u.shape[0];
  let h = h0;
  let c = c0;
  const hs: tf.Tensor2D[] = [];
  for (let t = 0; t < steps; t++) {
    const z = tf.add(tf.slice(xw, [t * batch, 0], [batch, 4 * units]), tf.matMul(h, u));
    const gate = (k: number) => tf.slice(z, [0, k * units], [batch, units]);
    const i = tf.sigmoid(gate(0));
    const f = tf.sigmoid(gate(1));
    const g = tf.tanh(gate(2));
    const o = tf.sigmoid(gate(3));
    c = tf.add(tf.mul(f, c), tf.mul(i, g));
    h = tf.mul(o, tf.tanh(c));
    hs.push(h);
  }
  return { outputs: tf.concat(hs, 0) as tf.Tensor2D, h, c };
}

/** `units` 8 on wasm with the fast kernels takes the fused kernels (wasm-kernels.ts); every other case plain ops. */
const BACKENDS: { name: string; backend: string; fast: boolean; units: number; fused: boolean }[] = [
  { name: 'cpu', backend: 'cpu', fast: false, units: 6, fused: false },
  { name: 'wasm (stock kernels)', backend: 'wasm', fast: false, units: 8, fused: false },
  { name: 'wasm (fast kernels, 6 units: plain ops)', backend: 'wasm', fast: true, units: 6, fused: false },
  { name: 'wasm (fast kernels, 8 units: fused)', backend: 'wasm', fast: true, units: 8, fused: true },
];

afterAll(() => unregisterFastKernels());

describe.each(BACKENDS)('lstm on $name', ({ backend, fast, units, fused }) => {
  const setup = async () => {
    await tf.setBackend(backend);
    await tf.ready();
    if (fast) registerFastKernels();
    else unregisterFastKernels();
  };

  it('forward equals tfjs-layers LSTM (sigmoid recurrent activation) with the same Keras weights', async () => {
    await setup();
    const [B, T, D, H] = [3, 5, 4, units];
    const rand = mulberry32(7);
    const kernel = tf.tensor2d(randomArray(D * 4 * H, rand, 0.6), [D, 4 * H]);
    const recurrent = tf.tensor2d(randomArray(H * 4 * H, rand, 0.6), [H, 4 * H]);
    const bias = tf.tensor1d(randomArray(4 * H, rand, 0.5));
    const xBatchMajor = tf.tensor3d(randomArray(B * T * D, rand, 1.5), [B, T, D]);
    const layer = tf.layers.lstm({ units: H, recurrentActivation: 'sigmoid', returnSequences: true });
    const expected = layer.apply(xBatchMajor) as tf.Tensor3D;
    layer.setWeights([kernel, recurrent, bias]);
    const want = layer.apply(xBatchMajor) as tf.Tensor3D;
    const got = tf.tidy(() => {
      const xTimeMajor = tf.reshape(tf.transpose(xBatchMajor, [1, 0, 2]), [T * B, D]) as tf.Tensor2D;
      const { outputs } = lstmForward(inputProjection(xTimeMajor, kernel, bias), recurrent, T);
      return tf.transpose(tf.reshape(outputs, [T, B, H]), [1, 0, 2]);
    });
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
    // the comparison is not vacuous: the layer's own random weights give other numbers
    expect(maxAbsDiff(got, expected)).toBeGreaterThan(1e-2);
    tf.dispose([kernel, recurrent, bias, xBatchMajor, expected, want, got]);
    layer.dispose();
  });

  it('hand-written backward equals tf.grad of a plain ops LSTM, initial state included', async () => {
    await setup();
    const [B, T, H] = [2, 4, units];
    const rand = mulberry32(11);
    const xw = tf.tensor2d(randomArray(T * B * 4 * H, rand, 1.2), [T * B, 4 * H]);
    const u = tf.tensor2d(randomArray(H * 4 * H, rand, 0.8), [H, 4 * H]);
    const h0 = tf.tensor2d(randomArray(B * H, rand, 0.5), [B, H]);
    const c0 = tf.tensor2d(randomArray(B * H, rand, 0.5), [B, H]);
    // loss = sum(outputs * r1) + sum(h_T * r2) + sum(c_T * r3): its gradients w.r.t. the results are r1, r2, r3
    const r1 = tf.tensor2d(randomArray(T * B * H, rand), [T * B, H]);
    const r2 = tf.tensor2d(randomArray(B * H, rand), [B, H]);
    const r3 = tf.tensor2d(randomArray(B * H, rand), [B, H]);
    const refGrads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => {
      const r = referenceLstm(a as tf.Tensor2D, b as tf.Tensor2D, T, c as tf.Tensor2D, d as tf.Tensor2D);
      return tf.addN([tf.sum(tf.mul(r.outputs, r1)), tf.sum(tf.mul(r.h, r2)), tf.sum(tf.mul(r.c, r3))]) as tf.Scalar;
    })([xw, u, h0, c0]);
    const mine = tf.tidy(() => {
      const fwd = lstmForward(xw, u, T, { h0, c0, tape: true });
      const ref = referenceLstm(xw, u, T, h0, c0);
      const forwardError = tf.max(tf.abs(tf.sub(fwd.outputs, ref.outputs)));
      const g = lstmBackward(fwd.tape!, u, r1, r2, r3);
      return [g.dxw, g.dRecurrentKernel, g.dh0, g.dc0, forwardError];
    });
    expect(mine[4]!.dataSync()[0]).toBeLessThan(1e-5);
    for (let k = 0; k < 4; k++) {
      const scale = tf.tidy(() => tf.max(tf.abs(refGrads[k]!)).dataSync()[0]!);
      expect(scale).toBeGreaterThan(1e-3);
      expect(maxAbsDiff(mine[k]!, refGrads[k]!)).toBeLessThan(1e-4 * Math.max(1, scale));
    }
    tf.dispose([xw, u, h0, c0, r1, r2, r3, ...refGrads, ...mine]);
  });

  it('backward with zero initial state and only a final-state gradient matches tf.grad', async () => {
    await setup();
    const [B, T, H] = [3, 3, units];
    const rand = mulberry32(5);
    const xw = tf.tensor2d(randomArray(T * B * 4 * H, rand, 1.5), [T * B, 4 * H]);
    const u = tf.tensor2d(randomArray(H * 4 * H, rand, 0.9), [H, 4 * H]);
    const r2 = tf.tensor2d(randomArray(B * H, rand), [B, H]);
    const zeros = tf.zeros([B, H]) as tf.Tensor2D;
    const refGrads = tf.grads(
      (a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(referenceLstm(a as tf.Tensor2D, b as tf.Tensor2D, T, zeros, zeros).h, r2)) as tf.Scalar,
    )([xw, u]);
    const mine = tf.tidy(() => {
      const g = lstmBackward(lstmForward(xw, u, T, { tape: true }).tape!, u, undefined, r2);
      return [g.dxw, g.dRecurrentKernel];
    });
    for (let k = 0; k < 2; k++) expect(maxAbsDiff(mine[k]!, refGrads[k]!)).toBeLessThan(1e-4);
    tf.dispose([xw, u, r2, zeros, ...refGrads, ...mine]);
  });

  it('given the layer input, backward also returns the input kernel and bias gradients of tf.grad', async () => {
    await setup();
    const [B, T, D, H] = [3, 4, 5, units];
    const rand = mulberry32(13);
    const x = tf.tensor2d(randomArray(T * B * D, rand, 1.5), [T * B, D]);
    const w = tf.tensor2d(randomArray(D * 4 * H, rand, 0.7), [D, 4 * H]);
    const u = tf.tensor2d(randomArray(H * 4 * H, rand, 0.7), [H, 4 * H]);
    const b = tf.tensor1d(randomArray(4 * H, rand, 0.5));
    const r1 = tf.tensor2d(randomArray(T * B * H, rand), [T * B, H]);
    const zeros = tf.zeros([B, H]) as tf.Tensor2D;
    const refGrads = tf.grads((xx: tf.Tensor, ww: tf.Tensor, uu: tf.Tensor, bb: tf.Tensor) => {
      const xw = tf.add(tf.matMul(xx, ww), bb) as tf.Tensor2D;
      return tf.sum(tf.mul(referenceLstm(xw, uu as tf.Tensor2D, T, zeros, zeros).outputs, r1)) as tf.Scalar;
    })([x, w, u, b]);
    const mine = tf.tidy(() => {
      const fwd = lstmForward(inputProjection(x, w, b), u, T, { tape: true, input: x });
      const g = lstmBackward(fwd.tape!, u, r1);
      return [tf.matMul(g.dxw, tf.transpose(w)), g.dKernel!, g.dRecurrentKernel, g.dBias!];
    });
    for (let k = 0; k < 4; k++) {
      const scale = tf.tidy(() => tf.max(tf.abs(refGrads[k]!)).dataSync()[0]!);
      expect(scale).toBeGreaterThan(1e-3);
      expect(maxAbsDiff(mine[k]!, refGrads[k]!)).toBeLessThan(1e-4 * Math.max(1, scale));
    }
    tf.dispose([x, w, u, b, r1, zeros, ...refGrads, ...mine]);
  });

  it('leaves no tensors behind inside tf.tidy', async () => {
    await setup();
    const [B, T, H] = [2, 3, units];
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const xw = tf.ones([T * B, 4 * H]) as tf.Tensor2D;
      const u = tf.ones([H, 4 * H]) as tf.Tensor2D;
      const fwd = lstmForward(xw, u, T, { tape: true });
      lstmBackward(fwd.tape!, u, tf.onesLike(fwd.outputs));
    });
    expect(tf.memory().numTensors).toBe(before);
  });
  it('hand-written backward matches central finite differences (input kernel and bias included)', async () => {
    await setup();
    const [B, T, D, H] = [3, 4, 5, units];
    const rand = mulberry32(29);
    const arrays = {
      x: randomArray(T * B * D, rand, 1.2),
      w: randomArray(D * 4 * H, rand, 0.6),
      u: randomArray(H * 4 * H, rand, 0.6),
      b: randomArray(4 * H, rand, 0.5),
      h0: randomArray(B * H, rand, 0.5),
      c0: randomArray(B * H, rand, 0.5),
    };
    const shapes: Record<string, number[]> = {
      x: [T * B, D],
      w: [D, 4 * H],
      u: [H, 4 * H],
      b: [4 * H],
      h0: [B, H],
      c0: [B, H],
    };
    type Name = keyof typeof arrays;
    const r1 = randomArray(T * B * H, rand);
    const r2 = randomArray(B * H, rand);
    const tensors = () =>
      Object.fromEntries(Object.entries(arrays).map(([k, v]) => [k, tf.tensor(v, shapes[k]!) as tf.Tensor])) as Record<
        Name,
        tf.Tensor2D
      >;
    /** loss = Σ outputs·r1 + Σ c_T·r2, summed in float64 */
    const loss = () =>
      tf.tidy(() => {
        const t = tensors();
        const f = lstmForward(inputProjection(t.x, t.w, t.b as unknown as tf.Tensor1D), t.u, T, { h0: t.h0, c0: t.c0 });
        const [out, c] = [f.outputs.dataSync(), f.c.dataSync()];
        let sum = 0;
        for (let i = 0; i < out.length; i++) sum += out[i]! * r1[i]!;
        for (let i = 0; i < c.length; i++) sum += c[i]! * r2[i]!;
        return sum;
      });
    const analytic = tf.tidy(() => {
      const t = tensors();
      const f = lstmForward(inputProjection(t.x, t.w, t.b as unknown as tf.Tensor1D), t.u, T, {
        h0: t.h0,
        c0: t.c0,
        tape: true,
        input: t.x,
      });
      const g = lstmBackward(f.tape!, t.u, tf.tensor2d(r1, [T * B, H]), undefined, tf.tensor2d(r2, [B, H]));
      return {
        w: g.dKernel!.dataSync().slice(),
        u: g.dRecurrentKernel.dataSync().slice(),
        b: g.dBias!.dataSync().slice(),
        h0: g.dh0.dataSync().slice(),
        c0: g.dc0.dataSync().slice(),
      };
    });
    const eps = 1e-2;
    for (const name of ['w', 'u', 'b', 'h0', 'c0'] as const) {
      for (let trial = 0; trial < 4; trial++) {
        const i = Math.floor(rand() * arrays[name].length);
        const saved = arrays[name][i]!;
        arrays[name][i] = saved + eps;
        const up = loss();
        arrays[name][i] = saved - eps;
        const down = loss();
        arrays[name][i] = saved;
        const numeric = (up - down) / (2 * eps);
        expect(Math.abs(analytic[name][i]! - numeric), `${name}[${i}]`).toBeLessThan(2e-3 + 1e-2 * Math.abs(numeric));
      }
    }
  });

  it('takes the fused kernels exactly where they apply, and impl "ops" always takes plain ops', async () => {
    await setup();
    expect(fusedLstmAvailable(units)).toBe(fused);
    const [B, T] = [2, 3];
    const xw = tf.ones([T * B, 4 * units]) as tf.Tensor2D;
    const u = tf.ones([units, 4 * units]) as tf.Tensor2D;
    const kernelsOf = async (impl: 'auto' | 'ops') =>
      (
        await tf.profile(() => {
          tf.dispose(
            Object.values(lstmForward(xw, u, T, { impl })).filter((t): t is tf.Tensor => t instanceof tf.Tensor),
          );
        })
      ).kernels.map((k) => k.name);
    expect((await kernelsOf('auto')).includes('BabbleLstmForward')).toBe(fused);
    expect((await kernelsOf('ops')).includes('BabbleLstmForward')).toBe(false);
    tf.dispose([xw, u]);
  });

  it('matMulBias equals tf.matMul plus the bias', async () => {
    await setup();
    const rand = mulberry32(17);
    const a = tf.tensor2d(randomArray(7 * 5, rand), [7, 5]);
    const b = tf.tensor2d(randomArray(5 * 4 * units, rand), [5, 4 * units]);
    const odd = tf.tensor2d(randomArray(5 * 3, rand), [5, 3]);
    const bias = tf.tensor1d(randomArray(4 * units, rand));
    const got = tf.tidy(() => [matMulBias(a, b, bias), matMulBias(a, b), matMulBias(a, odd)]);
    const want = tf.tidy(() => [tf.add(tf.matMul(a, b), bias), tf.matMul(a, b), tf.matMul(a, odd)]);
    got.forEach((g, k) => {
      expect(maxAbsDiff(g, want[k]!)).toBeLessThan(1e-5);
    });
    tf.dispose([a, b, odd, bias, ...got, ...want]);
  });
});

describe('the fused kernels at production shape (128 units, batch 64, 32 steps)', () => {
  it('forward and gradients equal a plain ops LSTM on the stock kernels, differentiated by tf.grad', async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    registerFastKernels();
    const [B, T, H] = [64, 32, 128];
    expect(fusedLstmAvailable(H)).toBe(true);
    const rand = mulberry32(128);
    // pre-activations of a trained layer's size: mostly in the sigmoid's and tanh's curved range, some saturated
    const xw = tf.tensor2d(randomArray(T * B * 4 * H, rand, 2), [T * B, 4 * H]);
    const u = tf.tensor2d(randomArray(H * 4 * H, rand, 0.15), [H, 4 * H]);
    const h0 = tf.tensor2d(randomArray(B * H, rand, 0.5), [B, H]);
    const c0 = tf.tensor2d(randomArray(B * H, rand, 0.5), [B, H]);
    const r1 = tf.tensor2d(randomArray(T * B * H, rand), [T * B, H]);
    const r2 = tf.tensor2d(randomArray(B * H, rand), [B, H]);
    const r3 = tf.tensor2d(randomArray(B * H, rand), [B, H]);
    const kernels = vi.spyOn(tf.engine(), 'runKernel');
    const mine = tf.tidy(() => {
      const fwd = lstmForward(xw, u, T, { h0, c0, tape: true });
      const g = lstmBackward(fwd.tape!, u, r1, r2, r3);
      return [fwd.outputs, fwd.c, g.dxw, g.dRecurrentKernel, g.dh0, g.dc0];
    });
    const ran = new Set(kernels.mock.calls.map((call) => call[0]));
    kernels.mockRestore();
    expect([...ran]).toEqual(expect.arrayContaining([LSTM_FORWARD, LSTM_BACKWARD])); // the fused kernels did the work
    unregisterFastKernels(); // the reference runs on tfjs's own wasm kernels only
    try {
      const loss = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => {
        const r = referenceLstm(a as tf.Tensor2D, b as tf.Tensor2D, T, c as tf.Tensor2D, d as tf.Tensor2D);
        return tf.addN([tf.sum(tf.mul(r.outputs, r1)), tf.sum(tf.mul(r.h, r2)), tf.sum(tf.mul(r.c, r3))]) as tf.Scalar;
      };
      const ref = tf.tidy(() => {
        const r = referenceLstm(xw, u, T, h0, c0);
        return [r.outputs, r.c];
      });
      const refGrads = tf.grads(loss)([xw, u, h0, c0]);
      const names = ['outputs', 'c_T', 'd xw', 'd recurrent kernel', 'd h0', 'd c0'];
      [...ref, ...refGrads].forEach((want, k) => {
        const scale = tf.tidy(() => tf.max(tf.abs(want)).dataSync()[0]!);
        expect(scale, names[k]).toBeGreaterThan(1e-2); // not a comparison of zeros
        expect(maxAbsDiff(mine[k]!, want), names[k]).toBeLessThan((k < 2 ? 1e-5 : 1e-4) * Math.max(1, scale));
      });
      tf.dispose([...ref, ...refGrads]);
    } finally {
      registerFastKernels();
      tf.dispose([xw, u, h0, c0, r1, r2, r3, ...mine]);
    }
  });
});
