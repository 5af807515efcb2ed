/**
 * Loss and gradients of one batch by the hand-written backward pass (lstm-gradients.ts for the LSTM layers), on
 * whatever tfjs backend is active: used by the training loop (train.ts) and by the gradient worker thread
 * (gradient-worker.ts), so that neither imports the other.
 */
import * as tf from '@tensorflow/tfjs';
import type { Batch, Scheme } from './batches.js';
import { lstmBackward, lstmForward, matMulBias } from './lstm-gradients.js';
import type { BabyWeights } from '../model/weights.js';

/** The trainable tensors, by short name (Keras layout: w = kernel, u = recurrent kernel, b = bias, d = dense). */
export const PARAMS = ['embedding', 'w1', 'u1', 'b1', 'w2', 'u2', 'b2', 'wd', 'bd'] as const;
export type ParamName = (typeof PARAMS)[number];
export type Params = Record<ParamName, tf.Tensor>;

export interface Shapes {
  vocabSize: number;
  embeddingDim: number;
  units: number;
}

export function paramShapes({ vocabSize: V, embeddingDim: D, units: H }: Shapes): Record<ParamName, number[]> {
  return {
    embedding: [V, D],
    w1: [D, 4 * H],
    u1: [H, 4 * H],
    b1: [4 * H],
    w2: [H, 4 * H],
    u2: [H, 4 * H],
    b2: [4 * H],
    wd: [H, V],
    bd: [V],
  };
}

export function weightArrays(w: BabyWeights): Record<ParamName, Float32Array> {
  return {
    embedding: w.embedding,
    w1: w.lstm1.kernel,
    u1: w.lstm1.recurrentKernel,
    b1: w.lstm1.bias,
    w2: w.lstm2.kernel,
    u2: w.lstm2.recurrentKernel,
    b2: w.lstm2.bias,
    wd: w.dense.kernel,
    bd: w.dense.bias,
  };
}

/** Tensors of the weights (caller disposes). Checks every array's size. */
export function toTensors(w: BabyWeights): Params {
  const shapes = paramShapes(w);
  const arrays = weightArrays(w);
  const out = {} as Params;
  for (const name of PARAMS) {
    const n = shapes[name].reduce((a, b) => a * b, 1);
    if (arrays[name].length !== n) {
      tf.dispose(Object.values(out));
      throw new Error(`train: weights ${name} has ${arrays[name].length} values, expected ${n}`);
    }
    out[name] = tf.tensor(arrays[name], shapes[name], 'float32');
  }
  return out;
}

/** Copies of the arrays (PARAMS order) as BabyWeights. */
export function toWeights(arrays: Float32Array[], s: Shapes): BabyWeights {
  const a = (name: ParamName) => new Float32Array(arrays[PARAMS.indexOf(name)]!);
  return {
    vocabSize: s.vocabSize,
    embeddingDim: s.embeddingDim,
    units: s.units,
    embedding: a('embedding'),
    lstm1: { kernel: a('w1'), recurrentKernel: a('u1'), bias: a('b1') },
    lstm2: { kernel: a('w2'), recurrentKernel: a('u2'), bias: a('b2') },
    dense: { kernel: a('wd'), bias: a('bd') },
  };
}

/**
 * Inverted dropout mask: 0 with probability `rate`, else 1 / (1 - rate). 16 random bits per entry from a mulberry32
 * stream (inlined) seeded by one draw of `rand`.
 */
export function dropoutMask(rows: number, cols: number, rate: number, rand: () => number): tf.Tensor2D {
  const n = rows * cols;
  const values = new Float32Array(n);
  const keep = 1 / (1 - rate);
  const threshold = Math.round(rate * 65536);
  let a = (rand() * 4294967296) >>> 0;
  for (let i = 0; i < n; i += 2) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const r = (t ^ (t >>> 14)) >>> 0;
    values[i] = (r & 0xffff) < threshold ? 0 : keep;
    if (i + 1 < n) values[i + 1] = r >>> 16 < threshold ? 0 : keep;
  }
  return tf.tensor2d(values, [rows, cols]);
}

export type StepOutput = {
  loss: tf.Scalar;
  grads: Params;
};

/**
 * Mean cross-entropy loss of one batch and its gradients for every parameter, by the hand-written backward pass
 * (call inside tf.tidy). `dropout` 0 disables the masks; `rand` draws them.
 */
export function lossAndGradients(
  p: Params,
  batch: Batch,
  scheme: Scheme,
  dropout: number,
  rand: () => number,
): StepOutput {
  const { steps: T, batchSize: B } = batch;
  const N = T * B;
  const [V, H] = [p.wd.shape[1]!, p.u1.shape[0]!];
  const ids = tf.tensor1d(batch.inputs, 'int32');
  const embedding = p.embedding as tf.Tensor2D;
  const w1 = p.w1 as tf.Tensor2D;
  const w2 = p.w2 as tf.Tensor2D;
  const wd = p.wd as tf.Tensor2D;

  // Layer 1: xw = E[ids]·W1 + b1 = (E·W1 + b1)[ids]
  const table = matMulBias(embedding, w1, p.b1 as tf.Tensor1D); // [V, 4H]
  const xw1 = tf.gather(table, ids) as tf.Tensor2D;
  // dTable = Σ rows of dZ1 by id: a scatter-add where the backend has one, else onehotᵀ·dZ1 accumulated per step.
  const scatter = tf.getKernel('UnsortedSegmentSum', tf.getBackend()) !== undefined;
  const oneHotInputs = scatter ? undefined : (tf.oneHot(ids, V).toFloat() as tf.Tensor2D);
  const l1 = lstmForward(xw1, p.u1 as tf.Tensor2D, T, { tape: true, ...(oneHotInputs && { input: oneHotInputs }) });
  const mask1 = dropout > 0 ? dropoutMask(N, H, dropout, rand) : undefined;
  const x2 = mask1 ? (tf.mul(l1.outputs, mask1) as tf.Tensor2D) : l1.outputs;
  const xw2 = matMulBias(x2, w2, p.b2 as tf.Tensor1D);
  const l2 = lstmForward(xw2, p.u2 as tf.Tensor2D, T, { tape: true, input: x2 });
  const top = scheme === 'seq' ? l2.outputs : l2.h; // [M, H]
  const M = top.shape[0];
  const mask2 = dropout > 0 ? dropoutMask(M, H, dropout, rand) : undefined;
  const hd = mask2 ? (tf.mul(top, mask2) as tf.Tensor2D) : top;
  const logits = tf.add(tf.matMul(hd, wd), p.bd) as tf.Tensor2D;
  const logp = tf.logSoftmax(logits);
  const targets = tf.oneHot(tf.tensor1d(batch.targets, 'int32'), V);
  const loss = tf.div(tf.neg(tf.sum(tf.mul(targets, logp))), M) as tf.Scalar;

  // Backward
  const dLogits = tf.div(tf.sub(tf.exp(logp), targets), M) as tf.Tensor2D;
  const dwd = tf.transpose(matMulBias(tf.transpose(dLogits) as tf.Tensor2D, hd)); // (dLogitsᵀ·hd)ᵀ: V need not be a multiple of 8
  const dbd = tf.sum(dLogits, 0);
  const dhd = matMulBias(dLogits, tf.transpose(wd) as tf.Tensor2D);
  const dTop = mask2 ? (tf.mul(dhd, mask2) as tf.Tensor2D) : dhd;
  const g2 =
    scheme === 'seq'
      ? lstmBackward(l2.tape!, p.u2 as tf.Tensor2D, dTop)
      : lstmBackward(l2.tape!, p.u2 as tf.Tensor2D, undefined, dTop);
  const dw2 = g2.dKernel!;
  const db2 = g2.dBias!;
  const dx2 = matMulBias(g2.dxw, tf.transpose(w2) as tf.Tensor2D);
  const dOut1 = mask1 ? (tf.mul(dx2, mask1) as tf.Tensor2D) : dx2;
  let dTable: tf.Tensor2D; // [V, 4H]; d(xw1) = onehot·dTable
  let db1: tf.Tensor;
  let du1: tf.Tensor2D;
  if (scatter) {
    const g1 = lstmBackward(l1.tape!, p.u1 as tf.Tensor2D, dOut1);
    dTable = tf.unsortedSegmentSum(g1.dxw, ids, V);
    db1 = tf.sum(dTable, 0);
    du1 = g1.dRecurrentKernel;
  } else {
    const g1 = lstmBackward(l1.tape!, p.u1 as tf.Tensor2D, dOut1, undefined, undefined, { dxw: false });
    dTable = g1.dKernel!;
    db1 = g1.dBias!;
    du1 = g1.dRecurrentKernel;
  }
  const dEmbedding = matMulBias(dTable, tf.transpose(w1) as tf.Tensor2D);
  const dw1 = matMulBias(tf.transpose(embedding) as tf.Tensor2D, dTable);
  return {
    loss,
    grads: {
      embedding: dEmbedding,
      w1: dw1,
      u1: du1,
      b1: db1,
      w2: dw2,
      u2: g2.dRecurrentKernel,
      b2: db2,
      wd: dwd,
      bd: dbd,
    },
  };
}

/**
 * Loss and gradients of one batch for parameters given as plain arrays (PARAMS order, `shapes`), as plain arrays:
 * the tensors live only inside this call. Used by the main thread and by the worker (gradient-worker.ts).
 */
export function gradientArrays(
  params: readonly Float32Array[],
  shapes: readonly number[][],
  batch: Batch,
  scheme: Scheme,
  dropout: number,
  rand: () => number,
): { loss: number; grads: Float32Array[] } {
  const out = tf.tidy(() => {
    const p = Object.fromEntries(PARAMS.map((n, i) => [n, tf.tensor(params[i]!, shapes[i]!, 'float32')])) as Params;
    const { loss, grads } = lossAndGradients(p, batch, scheme, dropout, rand);
    return { loss, grads: PARAMS.map((n) => grads[n]) };
  });
  try {
    // dataSync copies out of the backend (wasm, cpu) or hands back an array the tensor no longer needs once disposed
    const grads = out.grads.map((g) => {
      const values = g.dataSync();
      return values instanceof Float32Array ? values : Float32Array.from(values);
    });
    return { loss: out.loss.dataSync()[0]!, grads };
  } finally {
    tf.dispose([out.loss, ...out.grads]);
  }
}
