import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { makeBatcher, type Batch } from '../src/training/batches.js';
import { registerFastKernels, unregisterFastKernels } from '../src/training/fast-kernels.js';
import { dropoutMask, lossAndGradients, PARAMS, toTensors, type Params } from '../src/training/gradients.js';
import { fusedLstmAvailable } from '../src/training/lstm-gradients.js';
import { Vocabulary } from '../src/model/vocab.js';
import { flattenWeights, initWeights, mulberry32 } from '../src/model/weights.js';

// A tiny vocabulary and model keep every run to a fraction of a second.
const VOCAB = new Vocabulary(['\u0000', '\n', ' ', 'a', 'b', 'd', 'g', 'o', 'y']);
const CORPUS = VOCAB.encode('goo goo ga ga\nbaby dada\n'.repeat(40));

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  registerFastKernels();
});
afterAll(() => unregisterFastKernels());

const rand = mulberry32(4711);

/** The same model in plain tfjs ops (one-hot embedding, sliced gates), differentiated by tf.grads. */
function referenceLoss(p: Params, batch: Batch, scheme: 'seq' | 'window', masks: tf.Tensor2D[]) {
  const { steps: T, batchSize: B } = batch;
  const V = p.wd.shape[1]!;
  const H = p.u1.shape[0]!;
  const lstm = (x: tf.Tensor2D, w: tf.Tensor, u: tf.Tensor, b: tf.Tensor) => {
    let h = tf.zeros([B, H]) as tf.Tensor2D;
    let c = tf.zeros([B, H]) as tf.Tensor2D;
    const hs: tf.Tensor2D[] = [];
    for (let t = 0; t < T; t++) {
      const z = tf.add(
        tf.add(tf.matMul(tf.slice(x, [t * B, 0], [B, -1]), w as tf.Tensor2D), tf.matMul(h, u as tf.Tensor2D)),
        b,
      );
      const gate = (k: number) => tf.slice(z, [0, k * H], [B, H]);
      c = tf.add(tf.mul(tf.sigmoid(gate(1)), c), tf.mul(tf.sigmoid(gate(0)), tf.tanh(gate(2))));
      h = tf.mul(tf.sigmoid(gate(3)), tf.tanh(c));
      hs.push(h);
    }
    return { outputs: tf.concat(hs, 0) as tf.Tensor2D, h };
  };
  return (
    e: tf.Tensor,
    w1: tf.Tensor,
    u1: tf.Tensor,
    b1: tf.Tensor,
    w2: tf.Tensor,
    u2: tf.Tensor,
    b2: tf.Tensor,
    wd: tf.Tensor,
    bd: tf.Tensor,
  ) => {
    const x1 = tf.matMul(tf.oneHot(tf.tensor1d(batch.inputs, 'int32'), V).toFloat(), e as tf.Tensor2D);
    const l1 = lstm(x1 as tf.Tensor2D, w1, u1, b1);
    const l2 = lstm(tf.mul(l1.outputs, masks[0]!), w2, u2, b2);
    const top = tf.mul(scheme === 'seq' ? l2.outputs : l2.h, masks[1]!);
    const logp = tf.logSoftmax(tf.add(tf.matMul(top, wd as tf.Tensor2D), bd));
    const targets = tf.oneHot(tf.tensor1d(batch.targets, 'int32'), V);
    return tf.div(tf.neg(tf.sum(tf.mul(targets, logp))), top.shape[0]) as tf.Scalar;
  };
}

/** 6 units: plain ops everywhere; 8 units on wasm (fast kernels registered): the fused kernels. */
const GRADIENT_CASES = [
  { name: 'cpu', backend: 'cpu', units: 6 },
  { name: 'wasm, plain ops', backend: 'wasm', units: 6 },
  { name: 'wasm, fused kernels', backend: 'wasm', units: 8 },
];

describe.each(GRADIENT_CASES)('lossAndGradients on $name', ({ backend, units }) => {
  it.each(['seq', 'window'] as const)(
    'equals tf.grads of a plain ops model with the same dropout masks (%s)',
    async (scheme) => {
      await tf.setBackend(backend);
      const weights = initWeights(VOCAB.size, 5, 4, units);
      const batcher = makeBatcher(CORPUS, { scheme, batchSize: 3, seqLength: 5, window: 5, seed: 2 });
      const batch = batcher.batch(1);
      const p = toTensors(weights);
      const H = weights.units;
      const rows = scheme === 'seq' ? 15 : 3;
      const masks = [dropoutMask(15, H, 0.3, mulberry32(8)), dropoutMask(rows, H, 0.3, mulberry32(9))];
      let calls = 0;
      const rands = [mulberry32(8), mulberry32(9)];
      const rand = () => rands[calls++ < 1 ? 0 : 1]!(); // mask1 draws (once) first, then mask2
      const mine = tf.tidy(() => {
        const out = lossAndGradients(p, batch, scheme, 0.3, rand);
        return [out.loss, ...PARAMS.map((n) => out.grads[n])];
      });
      const ref = tf.tidy(() => {
        const f = referenceLoss(p, batch, scheme, masks);
        const { value, grads } = tf.valueAndGrads(f)(PARAMS.map((n) => p[n]));
        return [value, ...grads];
      });
      expect(mine[0]!.dataSync()[0]).toBeCloseTo(ref[0]!.dataSync()[0]!, 5);
      for (let k = 1; k < mine.length; k++) {
        const scale = tf.tidy(() => tf.max(tf.abs(ref[k]!)).dataSync()[0]!);
        const err = tf.tidy(() => tf.max(tf.abs(tf.sub(mine[k]!, ref[k]!))).dataSync()[0]!);
        expect(scale, PARAMS[k - 1]).toBeGreaterThan(1e-6);
        expect(err, PARAMS[k - 1]).toBeLessThan(1e-4 * Math.max(scale, 1e-2));
      }
      tf.dispose([...mine, ...ref, ...masks, ...Object.values(p)]);
      await tf.setBackend('wasm');
    },
  );
});

describe.each(GRADIENT_CASES)('lossAndGradients on $name, by finite differences', ({ name, backend, units }) => {
  it.each(['seq', 'window'] as const)(
    'matches central differences of its own loss on random coordinates of every parameter (%s)',
    async (scheme) => {
      await tf.setBackend(backend);
      expect(fusedLstmAvailable(units)).toBe(name.includes('fused'));
      const weights = initWeights(VOCAB.size, 6, 4, units);
      const batch = makeBatcher(CORPUS, { scheme, batchSize: 3, seqLength: 5, window: 5, seed: 4 }).batch(2);
      const arrays = flattenWeights(weights).map((a) => new Float64Array(a)); // PARAMS order
      const shapes = PARAMS.map((n) => toTensors(weights)[n]).map((t) => {
        const shape = t.shape;
        t.dispose();
        return shape;
      });
      const params = () =>
        Object.fromEntries(PARAMS.map((n, k) => [n, tf.tensor(Float32Array.from(arrays[k]!), shapes[k]!)])) as Params;
      // the same dropout masks at every evaluation: a fresh generator from the same seed
      const evaluate = () =>
        tf.tidy(() => {
          const out = lossAndGradients(params(), batch, scheme, 0.25, mulberry32(31));
          return { loss: out.loss.dataSync()[0]!, grads: PARAMS.map((n) => out.grads[n].dataSync().slice()) };
        });
      const { grads } = evaluate();
      const eps = 1e-2;
      let checked = 0;
      for (let k = 0; k < PARAMS.length; k++) {
        for (let trial = 0; trial < 3; trial++) {
          const i = Math.floor(rand() * arrays[k]!.length);
          const saved = arrays[k]![i]!;
          arrays[k]![i] = saved + eps;
          const up = evaluate().loss;
          arrays[k]![i] = saved - eps;
          const down = evaluate().loss;
          arrays[k]![i] = saved;
          const numeric = (up - down) / (2 * eps);
          const analytic = grads[k]![i]!;
          expect(
            Math.abs(analytic - numeric),
            `${PARAMS[k]}[${i}]: analytic ${analytic}, numeric ${numeric}`,
          ).toBeLessThan(1e-3 + 2e-2 * Math.abs(numeric));
          checked += Math.abs(numeric) > 1e-4 ? 1 : 0;
        }
      }
      expect(checked).toBeGreaterThan(PARAMS.length); // most probes saw a real slope
      await tf.setBackend('wasm');
    },
  );
});
