import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerFastKernels, unregisterFastKernels } from '../src/model/kernels.js';
import { makeBatcher, type Batch } from '../src/model/batches.js';
import { crossEntropyBits, dropoutMask, lossAndGradients, PARAMS, toTensors, train, type Params, type TrainOptions } from '../src/model/train.js';
import { Vocabulary } from '../src/model/vocab.js';
import { flattenWeights, initWeights, mulberry32 } from '../src/model/weights.js';

// A tiny vocabulary and model keep every run to a fraction of a second.
const VOCAB = new Vocabulary(['\u0000', '\n', ' ', 'a', 'b', 'd', 'g', 'o', 'y']);
const CORPUS = VOCAB.encode('goo goo ga ga\nbaby dada\n'.repeat(40));
const small = (seed = 1) => initWeights(VOCAB.size, seed, 8, 16);
const base: TrainOptions = { data: CORPUS, vocabSize: VOCAB.size, batchSize: 16, seqLength: 12, learningRate: 3e-2 };
/** A run that learns the corpus well within a second. */
const learn = (steps = 100) => train({ ...base, init: initWeights(VOCAB.size, 3, 8, 32), seed: 3, maxSteps: steps });

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  registerFastKernels();
});
afterAll(() => unregisterFastKernels());

describe('train', () => {
  it('brings the loss down on a tiny repetitive corpus', async () => {
    const result = await learn();
    const first = result.lossCurve[0]!.loss;
    expect(first).toBeGreaterThan(0.8 * Math.log(VOCAB.size));
    expect(result.finalLoss).toBeLessThan(0.6 * first);
    expect(result.steps).toBe(100);
    expect(result.stoppedBy).toBe('steps');
    expect(result.targetChars).toBe(100 * 16 * 12);
    expect(result.lossCurve.map((p) => p.step)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('returns Keras-layout plain Float32Arrays that differ from the initial weights', async () => {
    const init = small();
    const { weights } = await train({ ...base, init, maxSteps: 3 });
    expect(weights.vocabSize).toBe(VOCAB.size);
    expect(weights.units).toBe(16);
    expect(weights.embeddingDim).toBe(8);
    const before = flattenWeights(init);
    flattenWeights(weights).forEach((a, i) => {
      expect(a).toBeInstanceOf(Float32Array);
      expect(a.length).toBe(before[i]!.length);
      expect(a).not.toEqual(before[i]);
    });
  });

  it('is reproducible with the same seed on the same backend, and differs with another seed', async () => {
    const run = (seed: number) => train({ ...base, maxSteps: 4, seed, init: small(seed) });
    const [a, b, c] = [await run(3), await run(3), await run(4)];
    expect(a.lossCurve).toEqual(b.lossCurve);
    expect(flattenWeights(a.weights)).toEqual(flattenWeights(b.weights));
    expect(a.lossCurve).not.toEqual(c.lossCurve);
  });

  it('frees every tensor it made', async () => {
    const before = tf.memory().numTensors;
    await train({ ...base, init: small(), maxSteps: 2 });
    await train({ ...base, init: small(), maxSteps: 2, scheme: 'window', window: 6 });
    await crossEntropyBits(small(), CORPUS.subarray(0, 200));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('stops after the current step when the signal aborts, and does not start when already aborted', async () => {
    const controller = new AbortController();
    const result = await train({
      ...base, init: small(), maxSteps: 1000, progressIntervalMs: 0,
      onProgress: (p) => { if (p.step >= 2) controller.abort(); },
      signal: controller.signal,
    });
    expect(result.stoppedBy).toBe('aborted');
    expect(result.steps).toBe(2);
    const none = await train({ ...base, init: small(), maxSteps: 5, signal: AbortSignal.abort() });
    expect(none.steps).toBe(0);
    expect(none.stoppedBy).toBe('aborted');
    expect(flattenWeights(none.weights)).toEqual(flattenWeights(small()));
  });

  it('fine-tunes from the given weights: the first loss is the loss of those weights', async () => {
    const trained = await learn();
    const fromInit = await train({ ...base, init: trained.weights, maxSteps: 1, dropout: 0 });
    const fromScratch = await train({ ...base, init: small(), maxSteps: 1, dropout: 0 });
    const heldOutNats = (await crossEntropyBits(trained.weights, CORPUS, { seqLength: 12, batchSize: 16 })) * Math.LN2;
    expect(fromInit.lossCurve[0]!.loss).toBeLessThan(0.5 * fromScratch.lossCurve[0]!.loss);
    expect(Math.abs(fromInit.lossCurve[0]!.loss - heldOutNats)).toBeLessThan(0.25 * heldOutNats + 0.05);
  });

  it('runs the window scheme: one target per window', async () => {
    const result = await train({ ...base, init: small(), scheme: 'window', window: 6, maxSteps: 30 });
    expect(result.steps).toBe(30);
    expect(result.targetChars).toBe(30 * 16);
    expect(result.finalLoss).toBeLessThan(result.lossCurve[0]!.loss);
  });

  it('stops by epochs, by time, and reports progress with consistent figures', async () => {
    const reports: { step: number; totalSteps: number; epoch: number; etaSeconds: number }[] = [];
    const byEpochs = await train({ ...base, init: small(), epochs: 1, progressIntervalMs: 0, onProgress: (p) => { reports.push(p); } });
    const stepsPerEpoch = Math.ceil(Math.floor((CORPUS.length - 12) / 12) / 16);
    expect(byEpochs.stoppedBy).toBe('epochs');
    expect(byEpochs.steps).toBe(stepsPerEpoch);
    expect(reports.at(-1)!.step).toBe(stepsPerEpoch);
    expect(reports.at(-1)!.epoch).toBeCloseTo(1);
    expect(reports.every((r) => r.totalSteps === stepsPerEpoch)).toBe(true);
    expect(reports.at(-1)!.etaSeconds).toBe(0);
    const byTime = await train({ ...base, init: small(), maxSeconds: 1e-6, maxSteps: 100 });
    expect(byTime.stoppedBy).toBe('time');
    expect(byTime.steps).toBe(1);
  });

  it('rejects ids outside the vocabulary and init weights of another vocabulary size', async () => {
    await expect(train({ ...base, data: Int32Array.from([...CORPUS.subarray(0, 100), VOCAB.size]), maxSteps: 1 })).rejects.toThrow(RangeError);
    await expect(train({ ...base, init: initWeights(VOCAB.size + 1, 1, 8, 16), maxSteps: 1 })).rejects.toThrow(/vocabSize/);
  });

  it('trains on the cpu backend too', async () => {
    await tf.setBackend('cpu');
    try {
      const result = await train({ ...base, init: small(), maxSteps: 30 });
      expect(result.finalLoss).toBeLessThan(0.9 * result.lossCurve[0]!.loss);
    } finally {
      await tf.setBackend('wasm');
    }
  });
});

describe('train with workers: 2', () => {
  it('averages the two halves: the same losses as one thread without dropout, reproducible, tensors freed', async () => {
    const before = tf.memory().numTensors;
    const opts = { ...base, init: small(), maxSteps: 3, dropout: 0 };
    const one = await train(opts);
    const two = await train({ ...opts, workers: 2 });
    expect(two.workers).toBe(2);
    expect(two.steps).toBe(3);
    two.lossCurve.forEach((p, i) => expect(p.loss).toBeCloseTo(one.lossCurve[i]!.loss, 3));
    const again = await train({ ...base, init: small(), maxSteps: 3, workers: 2 });
    const again2 = await train({ ...base, init: small(), maxSteps: 3, workers: 2 });
    expect(again.lossCurve).toEqual(again2.lossCurve);
    expect(flattenWeights(again.weights)).toEqual(flattenWeights(again2.weights));
    expect(again.lossCurve).not.toEqual(two.lossCurve); // dropout is on again
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('crossEntropyBits', () => {
  it('is lower after training, and does not depend on the chunk length (state is carried)', async () => {
    const init = initWeights(VOCAB.size, 3, 8, 32);
    const trained = await learn();
    const before = await crossEntropyBits(init, CORPUS, { batchSize: 2 });
    const after5 = await crossEntropyBits(trained.weights, CORPUS, { batchSize: 2, seqLength: 5 });
    const after64 = await crossEntropyBits(trained.weights, CORPUS, { batchSize: 2, seqLength: 64 });
    expect(before).toBeGreaterThan(0.8 * Math.log2(VOCAB.size));
    expect(after5).toBeLessThan(0.6 * before);
    expect(Math.abs(after5 - after64)).toBeLessThan(1e-4);
  });
});

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
      const z = tf.add(tf.add(tf.matMul(tf.slice(x, [t * B, 0], [B, -1]), w as tf.Tensor2D), tf.matMul(h, u as tf.Tensor2D)), b);
      const gate = (k: number) => tf.slice(z, [0, k * H], [B, H]);
      c = tf.add(tf.mul(tf.sigmoid(gate(1)), c), tf.mul(tf.sigmoid(gate(0)), tf.tanh(gate(2))));
      h = tf.mul(tf.sigmoid(gate(3)), tf.tanh(c));
      hs.push(h);
    }
    return { outputs: tf.concat(hs, 0) as tf.Tensor2D, h };
  };
  return (e: tf.Tensor, w1: tf.Tensor, u1: tf.Tensor, b1: tf.Tensor, w2: tf.Tensor, u2: tf.Tensor, b2: tf.Tensor, wd: tf.Tensor, bd: tf.Tensor) => {
    const x1 = tf.matMul(tf.oneHot(tf.tensor1d(batch.inputs, 'int32'), V).toFloat(), e as tf.Tensor2D);
    const l1 = lstm(x1 as tf.Tensor2D, w1, u1, b1);
    const l2 = lstm(tf.mul(l1.outputs, masks[0]!), w2, u2, b2);
    const top = tf.mul(scheme === 'seq' ? l2.outputs : l2.h, masks[1]!);
    const logp = tf.logSoftmax(tf.add(tf.matMul(top, wd as tf.Tensor2D), bd));
    const targets = tf.oneHot(tf.tensor1d(batch.targets, 'int32'), V);
    return tf.div(tf.neg(tf.sum(tf.mul(targets, logp))), top.shape[0]) as tf.Scalar;
  };
}

describe.each(['cpu', 'wasm'])('lossAndGradients on %s', (backend) => {
  it.each(['seq', 'window'] as const)('equals tf.grads of a plain ops model with the same dropout masks (%s)', async (scheme) => {
    await tf.setBackend(backend);
    const weights = initWeights(VOCAB.size, 5, 4, 6);
    const batcher = makeBatcher(CORPUS, { scheme, batchSize: 3, seqLength: 5, window: 5, seed: 2 });
    const batch = batcher.batch(1);
    const p = toTensors(weights);
    const H = weights.units;
    const rows = scheme === 'seq' ? 15 : 3;
    const masks = [dropoutMask(15, H, 0.3, mulberry32(8)), dropoutMask(rows, H, 0.3, mulberry32(9))];
    let calls = 0;
    const rands = [mulberry32(8), mulberry32(9)];
    const rand = () => rands[calls++ < Math.ceil((15 * H) / 2) ? 0 : 1]!(); // mask1 draws first, then mask2
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
  });
});
