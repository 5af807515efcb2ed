/**
 * The general form of the model: Embedding(V, E) → LSTM × 1–3 (any units each) → Dense(V, softmax). Babble's own
 * models are the two-layer case (`BabyWeights`); an imported Keras model may have other unit counts, one or three
 * layers, and the Keras 2 `hard_sigmoid` recurrent activation. Generation and the model folder take this form;
 * training takes only what `toBabyWeights` accepts.
 *
 * Weight names are those of the saved tfjs topology: `embedding/embeddings`, `lstm_<k>/{kernel,recurrent_kernel,bias}`
 * for k = 1…n, `dense/{kernel,bias}` — for two layers exactly `weightSpecs`.
 */
import type { BabyWeights, LstmWeights } from './weights.js';

/** 'hard_sigmoid' is clip(0.2·x + 0.5, 0, 1): Keras 2's and TensorFlow.js's definition. */
export type RecurrentActivation = 'sigmoid' | 'hard_sigmoid';

export const MAX_LSTM_LAYERS = 3;

export interface StackLayer extends LstmWeights {
  units: number;
  recurrentActivation: RecurrentActivation;
}

export interface StackWeights {
  vocabSize: number;
  embeddingDim: number;
  /** [vocabSize, embeddingDim] */
  embedding: Float32Array;
  /** Bottom to top; layer k's kernel is [input width, 4 · units]. */
  layers: StackLayer[];
  /** kernel [last units, vocabSize], bias [vocabSize] */
  dense: { kernel: Float32Array; bias: Float32Array };
}

export type ModelWeights = BabyWeights | StackWeights;

export interface StackShape {
  vocabSize: number;
  embeddingDim: number;
  units: readonly number[];
}

export function isStack(w: ModelWeights): w is StackWeights {
  return Array.isArray((w as StackWeights).layers);
}

/** The general form of any weights (the same arrays, not copies). */
export function toStack(w: ModelWeights): StackWeights {
  if (isStack(w)) return w;
  const layer = (l: LstmWeights): StackLayer => ({ ...l, units: w.units, recurrentActivation: 'sigmoid' });
  return {
    vocabSize: w.vocabSize,
    embeddingDim: w.embeddingDim,
    embedding: w.embedding,
    layers: [layer(w.lstm1), layer(w.lstm2)],
    dense: w.dense,
  };
}

/** Why Babble's trainer cannot take these weights, or undefined when it can. */
export function untrainableReason(w: ModelWeights): string | undefined {
  if (!isStack(w)) return undefined;
  const units = w.layers.map((l) => l.units);
  if (w.layers.length !== 2) return `it has ${w.layers.length} LSTM layer(s); Babble trains two`;
  if (units[0] !== units[1]) return `its LSTM layers have ${units.join(' and ')} units; Babble trains two equal layers`;
  if (w.layers.some((l) => l.recurrentActivation !== 'sigmoid'))
    return 'it uses hard_sigmoid; Babble trains with sigmoid';
  return undefined;
}

/** How an untrainable model's error begins: the rest is our own words (no path, no value), fit to show an admin. */
export const UNTRAINABLE = 'this model cannot be trained by Babble: ';

/** The two-layer form the trainer takes (the same arrays). Throws, saying why, for any other stack. */
export function toBabyWeights(w: ModelWeights): BabyWeights {
  if (!isStack(w)) return w;
  const reason = untrainableReason(w);
  if (reason) throw new Error(`${UNTRAINABLE}${reason}`);
  const [a, b] = w.layers as [StackLayer, StackLayer];
  const strip = (l: StackLayer): LstmWeights => ({
    kernel: l.kernel,
    recurrentKernel: l.recurrentKernel,
    bias: l.bias,
  });
  return {
    vocabSize: w.vocabSize,
    embeddingDim: w.embeddingDim,
    units: a.units,
    embedding: w.embedding,
    lstm1: strip(a),
    lstm2: strip(b),
    dense: w.dense,
  };
}

export function stackShape(w: StackWeights): StackShape {
  return { vocabSize: w.vocabSize, embeddingDim: w.embeddingDim, units: w.layers.map((l) => l.units) };
}

/** Weight names and shapes in saved order. */
export function stackSpecs(shape: StackShape): { name: string; shape: number[] }[] {
  const { vocabSize: V, embeddingDim: E, units } = shape;
  const specs = [{ name: 'embedding/embeddings', shape: [V, E] }];
  let input = E;
  units.forEach((u, k) => {
    specs.push(
      { name: `lstm_${k + 1}/kernel`, shape: [input, 4 * u] },
      { name: `lstm_${k + 1}/recurrent_kernel`, shape: [u, 4 * u] },
      { name: `lstm_${k + 1}/bias`, shape: [4 * u] },
    );
    input = u;
  });
  specs.push({ name: 'dense/kernel', shape: [input, V] }, { name: 'dense/bias', shape: [V] });
  return specs;
}

/** The arrays in `stackSpecs` order. */
export function flattenStack(w: StackWeights): Float32Array[] {
  return [w.embedding, ...w.layers.flatMap((l) => [l.kernel, l.recurrentKernel, l.bias]), w.dense.kernel, w.dense.bias];
}

/** Arrays in `stackSpecs` order back into a stack (lengths checked). */
export function unflattenStack(
  arrays: Float32Array[],
  shape: StackShape,
  activations: readonly RecurrentActivation[],
): StackWeights {
  const specs = stackSpecs(shape);
  if (arrays.length !== specs.length) throw new Error(`weights: expected ${specs.length} arrays, got ${arrays.length}`);
  specs.forEach((spec, i) => {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    if (arrays[i]!.length !== n)
      throw new Error(
        `weights: ${spec.name} has ${arrays[i]!.length} values, expected ${n} for shape [${spec.shape.join(', ')}]`,
      );
  });
  const layers = shape.units.map(
    (units, k): StackLayer => ({
      units,
      recurrentActivation: activations[k] ?? 'sigmoid',
      kernel: arrays[1 + 3 * k]!,
      recurrentKernel: arrays[2 + 3 * k]!,
      bias: arrays[3 + 3 * k]!,
    }),
  );
  const n = arrays.length;
  return {
    vocabSize: shape.vocabSize,
    embeddingDim: shape.embeddingDim,
    embedding: arrays[0]!,
    layers,
    dense: { kernel: arrays[n - 2]!, bias: arrays[n - 1]! },
  };
}

/** Number of float parameters. */
export function parameterCount(w: ModelWeights): number {
  return flattenStack(toStack(w)).reduce((n, a) => n + a.length, 0);
}
