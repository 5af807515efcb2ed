/**
 * The standard tfjs-layers form of the model, and the mapping between it and `BabyWeights`.
 *
 * Embedding(V, 32) → LSTM(128, return sequences) → Dropout(0.2) → LSTM(128) → Dropout(0.2) → Dense(V, softmax),
 * with layer names 'embedding', 'lstm_1', 'lstm_2', 'dense' so the weight names are those of `weightSpecs`.
 * An imported model's folder uses the same form with 1–3 LSTM layers (`lstm_1`…`lstm_n`, each followed by a
 * dropout) of their own widths, and tfjs's hardSigmoid where the model has hard_sigmoid (stack.ts).
 * Input shape [batch, time] with both free: any sequence length.
 *
 * Choices made on purpose and kept in the saved topology:
 * - `recurrentActivation: 'sigmoid'` (tfjs-layers defaults to hardSigmoid; Keras 3 and PyTorch use sigmoid).
 * - Initialisers are those `initWeights` draws from: glorot-uniform kernels, unit forget bias, and for the recurrent
 *   kernels a uniform with the variance of an orthogonal matrix (VarianceScaling fan-in uniform) instead of Keras's
 *   Orthogonal, whose QR decomposition costs tens of seconds per build on the cpu backend.
 */
import * as tf from '@tensorflow/tfjs';
import {
  DROPOUT_RATE,
  EMBEDDING_DIM,
  LSTM_UNITS,
  flattenWeights,
  unflattenWeights,
  weightSpecs,
  type BabyWeights,
} from './weights.js';
import { MAX_LSTM_LAYERS, type RecurrentActivation } from './stack.js';

export interface LayersModelOptions {
  embeddingDim?: number;
  /** One number: two LSTM layers of that many units (Babble's model); a list: one layer per entry (1–3). */
  units?: number | readonly number[];
  /** Per layer, or one for all; default sigmoid. 'hard_sigmoid' is tfjs's hardSigmoid (0.2·x + 0.5, clipped). */
  recurrentActivation?: RecurrentActivation | readonly RecurrentActivation[];
}

/** Layer names of the standard model, in order (the dropouts have no weights). */
export const LAYER_NAMES = ['embedding', 'lstm_1', 'dropout_1', 'lstm_2', 'dropout_2', 'dense'] as const;

function positiveInteger(value: number, what: string, min = 1): void {
  if (!Number.isInteger(value) || value < min)
    throw new RangeError(`layers model: ${what} must be an integer ≥ ${min} (got ${value})`);
}

/** Builds the standard (untrained) layers model. Call `setModelWeights` to give it trained weights. */
export function buildLayersModel(vocabSize: number, opts: LayersModelOptions = {}): tf.Sequential {
  const embeddingDim = opts.embeddingDim ?? EMBEDDING_DIM;
  const one = typeof opts.units === 'number' ? opts.units : LSTM_UNITS;
  const unitList = typeof opts.units === 'object' ? [...opts.units] : [one, one];
  positiveInteger(vocabSize, 'vocabSize', 2);
  positiveInteger(embeddingDim, 'embeddingDim');
  unitList.forEach((u) => {
    positiveInteger(u, 'units');
  });
  if (unitList.length < 1 || unitList.length > MAX_LSTM_LAYERS) {
    throw new RangeError(`layers model: 1 to ${MAX_LSTM_LAYERS} LSTM layers (got ${unitList.length})`);
  }
  const activation = (k: number): RecurrentActivation => {
    const a = opts.recurrentActivation;
    return (typeof a === 'string' ? a : a?.[k]) ?? 'sigmoid';
  };
  const lstm = (name: string, units: number, returnSequences: boolean, recurrent: RecurrentActivation) =>
    tf.layers.lstm({
      name,
      units,
      returnSequences,
      activation: 'tanh',
      recurrentActivation: recurrent === 'hard_sigmoid' ? 'hardSigmoid' : 'sigmoid',
      kernelInitializer: 'glorotUniform',
      recurrentInitializer: tf.initializers.varianceScaling({ scale: 1, mode: 'fanIn', distribution: 'uniform' }),
      unitForgetBias: true,
    });
  const model = tf.sequential({ name: 'babble' });
  // Built inside tidy: tfjs-layers 4.22's unitForgetBias initialiser leaves 4 intermediate tensors per LSTM
  // undisposed. Variables are not disposed by tidy, so the model's weights survive.
  tf.tidy(() => {
    model.add(
      tf.layers.embedding({ name: 'embedding', inputDim: vocabSize, outputDim: embeddingDim, inputShape: [null] }),
    );
    unitList.forEach((units, k) => {
      model.add(lstm(`lstm_${k + 1}`, units, k < unitList.length - 1, activation(k)));
      model.add(tf.layers.dropout({ name: `dropout_${k + 1}`, rate: DROPOUT_RATE }));
    });
    model.add(
      tf.layers.dense({ name: 'dense', units: vocabSize, activation: 'softmax', kernelInitializer: 'glorotUniform' }),
    );
  });
  return model;
}

function sameShape(a: readonly (number | null)[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Copies `weights` into the model's variables (matched by weight name, shapes checked). */
export function setModelWeights(model: tf.LayersModel, weights: BabyWeights): void {
  const specs = weightSpecs(weights.vocabSize, weights.embeddingDim, weights.units);
  const arrays = flattenWeights(weights);
  const byName = new Map<string, { shape: readonly number[]; values: Float32Array }>();
  specs.forEach((spec, i) => {
    const values = arrays[i]!;
    const n = spec.shape.reduce((a: number, b: number) => a * b, 1);
    if (values.length !== n)
      throw new Error(
        `setModelWeights: ${spec.name} has ${values.length} values, expected ${n} for shape [${spec.shape.join(', ')}]`,
      );
    byName.set(spec.name, { shape: spec.shape, values });
  });
  const modelWeights = model.weights;
  if (modelWeights.length !== specs.length) {
    throw new Error(`setModelWeights: the model has ${modelWeights.length} weights, BabyWeights has ${specs.length}`);
  }
  for (const w of modelWeights) {
    const entry = byName.get(w.originalName);
    if (!entry)
      throw new Error(`setModelWeights: the model's weight ${w.originalName} has no counterpart in BabyWeights`);
    if (!sameShape(w.shape, entry.shape)) {
      throw new Error(
        `setModelWeights: ${w.originalName} is [${w.shape.join(', ')}] in the model but [${entry.shape.join(', ')}] in BabyWeights`,
      );
    }
  }
  const tensors = modelWeights.map((w) => {
    const entry = byName.get(w.originalName)!;
    return tf.tensor(entry.values, [...entry.shape], 'float32');
  });
  try {
    model.setWeights(tensors);
  } finally {
    tf.dispose(tensors);
  }
}

/** Copies the model's variables out as BabyWeights (fresh arrays: changing them does not change the model). */
export function getModelWeights(model: tf.LayersModel, vocabSize: number): BabyWeights {
  const byName = new Map(model.weights.map((w) => [w.originalName, w]));
  const embedding = byName.get('embedding/embeddings');
  const recurrent = byName.get('lstm_1/recurrent_kernel');
  if (!embedding || !recurrent)
    throw new Error('getModelWeights: the model has no embedding/embeddings or lstm_1/recurrent_kernel weight');
  const embeddingDim = embedding.shape[1];
  const units = recurrent.shape[0];
  if (typeof embeddingDim !== 'number' || typeof units !== 'number')
    throw new Error('getModelWeights: weight shapes are not fully defined');
  const specs = weightSpecs(vocabSize, embeddingDim, units);
  if (model.weights.length !== specs.length) {
    throw new Error(`getModelWeights: the model has ${model.weights.length} weights, expected ${specs.length}`);
  }
  const arrays = specs.map((spec) => {
    const w = byName.get(spec.name);
    if (!w) throw new Error(`getModelWeights: the model has no weight ${spec.name}`);
    if (!sameShape(w.shape, spec.shape)) {
      throw new Error(
        `getModelWeights: ${spec.name} is [${w.shape.join(', ')}], expected [${spec.shape.join(', ')}] for vocabSize ${vocabSize}`,
      );
    }
    // read() returns the variable itself (not to be disposed); dataSync may hand back the backend's own buffer.
    return new Float32Array(w.read().dataSync() as Float32Array);
  });
  return unflattenWeights(arrays, vocabSize, embeddingDim, units);
}
