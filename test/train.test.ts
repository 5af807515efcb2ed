import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { fusedKernelsRegistered, registerFastKernels, unregisterFastKernels } from '../src/training/fast-kernels.js';
import { makeBatcher } from '../src/training/batches.js';
import { buildLayersModel, setModelWeights } from '../src/model/layers.js';
import { fusedLstmAvailable, lstmForward } from '../src/training/lstm-gradients.js';
import { loadLayersModelFromDir, saveModel } from '../src/model/store.js';
import { startGradientWorker } from '../src/training/gradient-worker.js';
import { lossAndGradients, toTensors } from '../src/training/gradients.js';
import {
  adamState,
  adamUpdate,
  crossEntropyBits,
  defaultWorkers,
  train,
  type TrainOptions,
} from '../src/training/train.js';
import { Vocabulary } from '../src/model/vocab.js';
import { flattenWeights, initWeights, mulberry32, type BabyWeights } from '../src/model/weights.js';

// A tiny vocabulary and model keep every run to a fraction of a second.
const VOCAB = new Vocabulary(['\u0000', '\n', ' ', 'a', 'b', 'd', 'g', 'o', 'y']);
const CORPUS = VOCAB.encode('goo goo ga ga\nbaby dada\n'.repeat(40));
const small = (seed = 1) => initWeights(VOCAB.size, seed, 8, 16);
const base: TrainOptions = {
  data: CORPUS,
  vocabSize: VOCAB.size,
  batchSize: 16,
  seqLength: 12,
  learningRate: 3e-2,
  workers: 1,
};
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
      ...base,
      init: small(),
      maxSteps: 1000,
      progressIntervalMs: 0,
      onProgress: (p) => {
        if (p.step >= 2) controller.abort();
      },
      signal: controller.signal,
    });
    expect(result.stoppedBy).toBe('aborted');
    expect(result.steps).toBe(2);
    const none = await train({ ...base, init: small(), maxSteps: 5, signal: AbortSignal.abort() });
    expect(none.steps).toBe(0);
    expect(none.stoppedBy).toBe('aborted');
    expect(flattenWeights(none.weights)).toEqual(flattenWeights(small()));
  });

  it('fine-tunes from the given weights: the first loss is the loss of those weights on the first batch', async () => {
    const trained = await learn();
    const fromInit = await train({ ...base, init: trained.weights, maxSteps: 1, dropout: 0 });
    const fromScratch = await train({ ...base, init: small(), maxSteps: 1, dropout: 0 });
    const batch = makeBatcher(CORPUS, { scheme: 'seq', batchSize: 16, seqLength: 12, window: 15, seed: 1 }).batch(0);
    const direct = tf.tidy(
      () => lossAndGradients(toTensors(trained.weights), batch, 'seq', 0, mulberry32(1)).loss.dataSync()[0]!,
    );
    expect(fromInit.lossCurve[0]!.loss).toBeCloseTo(direct, 5);
    expect(fromInit.lossCurve[0]!.loss).toBeLessThan(0.6 * fromScratch.lossCurve[0]!.loss);
    const heldOutNats = (await crossEntropyBits(trained.weights, CORPUS, { seqLength: 12, batchSize: 16 })) * Math.LN2;
    expect(heldOutNats).toBeLessThan(0.6 * fromScratch.lossCurve[0]!.loss);
  });

  it("takes each step's learning rate from a function, and continues from a given Adam state instead of a fresh one", async () => {
    const steps: number[] = [];
    const still = await train({ ...base, init: small(), maxSteps: 3, learningRate: (step) => (steps.push(step), 0) });
    expect(steps).toEqual([0, 1, 2]);
    expect(flattenWeights(still.weights)).toEqual(flattenWeights(small()));
    const first = await train({ ...base, init: small(), maxSteps: 2, seed: 5 });
    expect(first.adam.t).toBe(2);
    const fresh = await train({ ...base, init: first.weights, maxSteps: 1, seed: 6 });
    const carried = await train({ ...base, init: first.weights, maxSteps: 1, seed: 6, adam: first.adam });
    expect(carried.adam.t).toBe(3);
    expect(fresh.adam.t).toBe(1);
    expect(flattenWeights(carried.weights)).not.toEqual(flattenWeights(fresh.weights));
    await expect(
      train({ ...base, init: small(), maxSteps: 1, adam: adamState([new Float32Array(3)]) }),
    ).rejects.toThrow(/Adam state does not fit/);
  });

  it('runs the window scheme: one target per window', async () => {
    const result = await train({ ...base, init: small(), scheme: 'window', window: 6, maxSteps: 30 });
    expect(result.steps).toBe(30);
    expect(result.targetChars).toBe(30 * 16);
    expect(result.finalLoss).toBeLessThan(result.lossCurve[0]!.loss);
  });

  it('stops by epochs, by time, and reports progress with consistent figures', async () => {
    const reports: { step: number; totalSteps: number; epoch: number; etaSeconds: number }[] = [];
    const byEpochs = await train({
      ...base,
      init: small(),
      epochs: 1,
      progressIntervalMs: 0,
      onProgress: (p) => {
        reports.push(p);
      },
    });
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
    await expect(
      train({ ...base, data: Int32Array.from([...CORPUS.subarray(0, 100), VOCAB.size]), maxSteps: 1 }),
    ).rejects.toThrow(RangeError);
    await expect(train({ ...base, init: initWeights(VOCAB.size + 1, 1, 8, 16), maxSteps: 1 })).rejects.toThrow(
      /vocabSize/,
    );
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
    two.lossCurve.forEach((p, i) => {
      expect(p.loss).toBeCloseTo(one.lossCurve[i]!.loss, 3);
    });
    const again = await train({ ...base, init: small(), maxSteps: 3, workers: 2 });
    const again2 = await train({ ...base, init: small(), maxSteps: 3, workers: 2 });
    expect(again.lossCurve).toEqual(again2.lossCurve);
    expect(flattenWeights(again.weights)).toEqual(flattenWeights(again2.weights));
    expect(again.lossCurve).not.toEqual(two.lossCurve); // dropout is on again
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('train with a gradient worker of the caller', () => {
  it('uses it for workers: 2 and leaves it running for the next call', async () => {
    const worker = await startGradientWorker(tf.getBackend());
    try {
      const opts = { ...base, init: small(), maxSteps: 2, dropout: 0 };
      const own = await train({ ...opts, workers: 2 });
      const first = await train({ ...opts, workers: undefined, gradientWorker: worker });
      const second = await train({ ...opts, gradientWorker: worker, workers: 2 });
      expect(first.workers).toBe(2);
      expect(first.lossCurve).toEqual(own.lossCurve);
      expect(second.lossCurve).toEqual(own.lossCurve);
    } finally {
      await worker.terminate();
    }
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

describe('adamUpdate', () => {
  it('takes the bias-corrected Adam step (first step: lr·sign(g)) and clips to the global norm', () => {
    const p = [Float32Array.of(1, -2), Float32Array.of(0.5)];
    const g = [Float32Array.of(3, -4), Float32Array.of(0)];
    const state = adamState(p);
    const norm = adamUpdate(p, g, state, 0.1, 0);
    expect(norm).toBeCloseTo(5, 6);
    expect(state.t).toBe(1);
    expect(p[0]![0]).toBeCloseTo(1 - 0.1, 5); // m̂ / √v̂ = g / |g| on the first step
    expect(p[0]![1]).toBeCloseTo(-2 + 0.1, 5);
    expect(p[1]![0]).toBe(0.5);
    // clipping scales the gradient but not the first step's direction; the moments see the clipped gradient
    const q = [Float32Array.of(0, 0)];
    const clipped = adamState(q);
    adamUpdate(q, [Float32Array.of(30, 40)], clipped, 0.1, 5);
    expect(clipped.m[0]![0]).toBeCloseTo(0.1 * 3, 4);
    expect(clipped.m[0]![1]).toBeCloseTo(0.1 * 4, 4);
  });
});

describe('defaultWorkers', () => {
  it('is 2 on wasm and cpu for a batch of at least 2 sequences on a multi-core machine, else 1', () => {
    const cores = availableParallelism();
    expect(defaultWorkers(128, 'wasm')).toBe(cores >= 2 ? 2 : 1);
    expect(defaultWorkers(128, 'cpu')).toBe(cores >= 2 ? 2 : 1);
    expect(defaultWorkers(1, 'wasm')).toBe(1);
    expect(defaultWorkers(128, 'tensorflow')).toBe(1);
  });
});

/** A corpus of seeded random baby words, for held-out comparisons. */
function babyText(words: number, seed: number): string {
  const r = mulberry32(seed);
  const vocabulary = ['goo goo', 'ga ga', 'baby', 'dada'];
  let text = '';
  for (let w = 0; w < words; w++) text += vocabulary[Math.floor(r() * vocabulary.length)]! + (r() < 0.2 ? '\n' : ' ');
  return text;
}

/** [B, T] float ids of a time-major window batch, for the layers model. */
function batchMajor(inputs: Int32Array, steps: number, batchSize: number): tf.Tensor2D {
  const out = new Float32Array(steps * batchSize);
  for (let t = 0; t < steps; t++) for (let b = 0; b < batchSize; b++) out[b * steps + t] = inputs[t * batchSize + b]!;
  return tf.tensor2d(out, [batchSize, steps]);
}

/** Mean cross-entropy (nats) of the next character after every `window`-character window, by the layers model. */
function layersWindowLoss(model: tf.LayersModel, data: Int32Array, window: number): number {
  return tf.tidy(() => {
    const n = data.length - window;
    const x = new Float32Array(n * window);
    const y = new Int32Array(n);
    for (let s = 0; s < n; s++) {
      for (let t = 0; t < window; t++) x[s * window + t] = data[s + t]!;
      y[s] = data[s + window]!;
    }
    const probs = model.predict(tf.tensor2d(x, [n, window])) as tf.Tensor2D;
    const picked = tf.sum(tf.mul(tf.oneHot(tf.tensor1d(y, 'int32'), probs.shape[1]), probs), 1);
    return -tf.mean(tf.log(picked)).dataSync()[0]!;
  });
}

describe('the fast trainer and the standard tfjs-layers model', () => {
  it('trained weights, saved and loaded as the standard layers model, give the fast forward pass its predictions', async () => {
    await tf.setBackend('wasm');
    expect(fusedKernelsRegistered()).toBe(true);
    const init = initWeights(VOCAB.size, 8, 8, 16);
    const { weights } = await train({ ...base, init, maxSteps: 5 });
    expect(fusedLstmAvailable(weights.units)).toBe(true); // trained and checked on the fast path
    const dir = await mkdtemp(join(tmpdir(), 'babble-train-'));
    try {
      await saveModel(dir, weights, VOCAB, {
        version: 'test',
        corpus: { sha256: '0'.repeat(64), chars: CORPUS.length },
        training: {},
      });
      const model = await loadLayersModelFromDir(dir);
      const [B, T] = [6, 10];
      const inputs = new Int32Array(T * B).map((_, i) => CORPUS[(i * 7) % CORPUS.length]!); // time-major
      const fromLayers = tf.tidy(() => (model.predict(batchMajor(inputs, T, B)) as tf.Tensor).dataSync().slice());
      const fast = (w: BabyWeights) =>
        tf.tidy(() => {
          const p = toTensors(w);
          const xw1 = tf.gather(
            tf.add(tf.matMul(p.embedding, p.w1), p.b1),
            tf.tensor1d(inputs, 'int32'),
          ) as tf.Tensor2D;
          const l1 = lstmForward(xw1, p.u1 as tf.Tensor2D, T);
          const l2 = lstmForward(tf.add(tf.matMul(l1.outputs, p.w2), p.b2) as tf.Tensor2D, p.u2 as tf.Tensor2D, T);
          return tf
            .softmax(tf.add(tf.matMul(l2.h, p.wd), p.bd))
            .dataSync()
            .slice();
        });
      const mine = fast(weights);
      const before = fast(init);
      let worst = 0;
      let moved = 0;
      mine.forEach((v, i) => {
        worst = Math.max(worst, Math.abs(v - fromLayers[i]!));
        moved = Math.max(moved, Math.abs(v - before[i]!));
      });
      expect(worst).toBeLessThan(1e-5);
      expect(moved).toBeGreaterThan(1e-3); // five steps changed the predictions: the comparison is not vacuous
      model.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  /** Trains `steps` steps of the window scheme on the same batches with the fast trainer (wasm) and with stock
   * tfjs-layers `trainOnBatch` (cpu); returns both held-out losses and the initial one, by the same evaluation code. */
  async function bothHeldOut(stock: tf.Sequential, init: BabyWeights, steps: number, dropout: number) {
    const trainData = VOCAB.encode(babyText(300, 1));
    const heldOut = VOCAB.encode(babyText(60, 2));
    const [window, batchSize, lr, seed] = [6, 16, 3e-2, 3];
    await tf.setBackend('wasm');
    const fast = await train({
      data: trainData,
      vocabSize: VOCAB.size,
      init,
      scheme: 'window',
      window,
      batchSize,
      maxSteps: steps,
      learningRate: lr,
      clipNorm: 0,
      dropout,
      seed,
      workers: 1,
    });
    await tf.setBackend('cpu');
    try {
      setModelWeights(stock, init);
      stock.compile({ optimizer: tf.train.adam(lr), loss: 'categoricalCrossentropy' });
      const batcher = makeBatcher(trainData, { scheme: 'window', batchSize, seqLength: 32, window, seed });
      for (let s = 0; s < steps; s++) {
        const batch = batcher.batch(s);
        const [x, y] = tf.tidy(() => [
          batchMajor(batch.inputs, window, batchSize),
          tf.oneHot(tf.tensor1d(batch.targets, 'int32'), VOCAB.size).toFloat(),
        ]);
        await stock.trainOnBatch(x!, y!);
        tf.dispose([x!, y!]);
      }
      const stockLoss = layersWindowLoss(stock, heldOut, window);
      setModelWeights(stock, fast.weights);
      const fastLoss = layersWindowLoss(stock, heldOut, window);
      setModelWeights(stock, init);
      const initialLoss = layersWindowLoss(stock, heldOut, window);
      return { stockLoss, fastLoss, initialLoss };
    } finally {
      stock.dispose();
      await tf.setBackend('wasm');
    }
  }

  it('without dropout, follows stock tfjs-layers training (cpu, trainOnBatch, Adam) on the same batches to the same held-out loss', async () => {
    const [V, D, H] = [VOCAB.size, 8, 8];
    // the standard layers with rate-0 dropouts: same names, so setModelWeights maps the same weights
    const stock = tf.sequential();
    stock.add(tf.layers.embedding({ name: 'embedding', inputDim: V, outputDim: D, inputShape: [null] }));
    stock.add(tf.layers.lstm({ name: 'lstm_1', units: H, returnSequences: true, recurrentActivation: 'sigmoid' }));
    stock.add(tf.layers.lstm({ name: 'lstm_2', units: H, recurrentActivation: 'sigmoid' }));
    stock.add(tf.layers.dense({ name: 'dense', units: V, activation: 'softmax' }));
    const { stockLoss, fastLoss, initialLoss } = await bothHeldOut(stock, initWeights(V, 10, D, H), 80, 0);
    expect(stockLoss).toBeLessThan(0.7 * initialLoss); // it learned beyond character frequencies
    expect(Math.abs(fastLoss - stockLoss)).toBeLessThan(0.05 * stockLoss + 0.02);
  });

  it('with the standard model and its 0.2 dropouts, reaches the held-out loss of stock training after the same steps', async () => {
    const init = initWeights(VOCAB.size, 12, 8, 8);
    // tfjs-layers draws its dropout masks unseeded (tfjs-core seeds each draw with Math.random()): a seeded
    // Math.random makes the stock run, and so this bound, the same on every run, with fresh masks at every step.
    const draw = mulberry32(2024);
    const random = vi.spyOn(Math, 'random').mockImplementation(draw);
    let losses: Awaited<ReturnType<typeof bothHeldOut>>;
    try {
      losses = await bothHeldOut(buildLayersModel(VOCAB.size, { embeddingDim: 8, units: 8 }), init, 120, 0.2);
      expect(random).toHaveBeenCalled(); // the stock masks did come from the seeded generator
    } finally {
      random.mockRestore();
    }
    const { stockLoss, fastLoss, initialLoss } = losses;
    expect(stockLoss).toBeLessThan(0.6 * initialLoss);
    // Other dropout masks than ours (the same numbers of dropped units, other units): the two differ here.
    expect(fastLoss).toBeLessThan(1.25 * stockLoss + 0.05);
    console.info(
      `held-out loss after 120 steps with dropout: ours ${fastLoss.toFixed(4)}, stock ${stockLoss.toFixed(4)}, initial ${initialLoss.toFixed(4)}`,
    );
  });
});
