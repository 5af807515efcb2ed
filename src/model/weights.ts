/**
 * The model's parameters as plain arrays, in Keras layout. This record is the common language of the trainer,
 * the standard tfjs-layers model, the saved folder and the generator.
 *
 * Architecture: Embedding(V, 32) → LSTM(128, return sequences) → Dropout(0.2) → LSTM(128) → Dropout(0.2)
 * → Dense(V, softmax). LSTM gate order i, f, c, o (Keras); recurrent activation sigmoid; activation tanh.
 * Matrices are row-major: `kernel[in * 4H + g]`.
 */

export const EMBEDDING_DIM = 32;
export const LSTM_UNITS = 128;
export const DROPOUT_RATE = 0.2;

export interface LstmWeights {
  /** [inputDim, 4 * units] */
  kernel: Float32Array;
  /** [units, 4 * units] */
  recurrentKernel: Float32Array;
  /** [4 * units]; Keras initialises the forget-gate slice to 1 (unit_forget_bias). */
  bias: Float32Array;
}

export interface BabyWeights {
  vocabSize: number;
  embeddingDim: number;
  units: number;
  /** [vocabSize, embeddingDim] */
  embedding: Float32Array;
  lstm1: LstmWeights;
  lstm2: LstmWeights;
  /** kernel [units, vocabSize], bias [vocabSize] */
  dense: { kernel: Float32Array; bias: Float32Array };
}

/** The Keras weight names and shapes, in the order `model.getWeights()` returns them. */
export function weightSpecs(vocabSize: number, embeddingDim = EMBEDDING_DIM, units = LSTM_UNITS) {
  return [
    { name: 'embedding/embeddings', shape: [vocabSize, embeddingDim] },
    { name: 'lstm_1/kernel', shape: [embeddingDim, 4 * units] },
    { name: 'lstm_1/recurrent_kernel', shape: [units, 4 * units] },
    { name: 'lstm_1/bias', shape: [4 * units] },
    { name: 'lstm_2/kernel', shape: [units, 4 * units] },
    { name: 'lstm_2/recurrent_kernel', shape: [units, 4 * units] },
    { name: 'lstm_2/bias', shape: [4 * units] },
    { name: 'dense/kernel', shape: [units, vocabSize] },
    { name: 'dense/bias', shape: [vocabSize] },
  ] as const;
}

/** The arrays of a BabyWeights in `weightSpecs` order. */
export function flattenWeights(w: BabyWeights): Float32Array[] {
  return [
    w.embedding,
    w.lstm1.kernel,
    w.lstm1.recurrentKernel,
    w.lstm1.bias,
    w.lstm2.kernel,
    w.lstm2.recurrentKernel,
    w.lstm2.bias,
    w.dense.kernel,
    w.dense.bias,
  ];
}

export function unflattenWeights(
  arrays: Float32Array[],
  vocabSize: number,
  embeddingDim = EMBEDDING_DIM,
  units = LSTM_UNITS,
): BabyWeights {
  const specs = weightSpecs(vocabSize, embeddingDim, units);
  if (arrays.length !== specs.length) throw new Error(`weights: expected ${specs.length} arrays, got ${arrays.length}`);
  specs.forEach((spec, i) => {
    const n = spec.shape.reduce((a: number, b: number) => a * b, 1);
    if (arrays[i]!.length !== n)
      throw new Error(
        `weights: ${spec.name} has ${arrays[i]!.length} values, expected ${n} for shape [${spec.shape.join(', ')}]`,
      );
  });
  const a = arrays as [
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
  ];
  return {
    vocabSize,
    embeddingDim,
    units,
    embedding: a[0],
    lstm1: { kernel: a[1], recurrentKernel: a[2], bias: a[3] },
    lstm2: { kernel: a[4], recurrentKernel: a[5], bias: a[6] },
    dense: { kernel: a[7], bias: a[8] },
  };
}

/** A deterministic pseudo-random generator (mulberry32): same seed, same sequence. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fresh weights with Keras's default initialisers (glorot uniform kernels, orthogonal-ish recurrent, unit forget bias). */
export function initWeights(
  vocabSize: number,
  seed = 1,
  embeddingDim = EMBEDDING_DIM,
  units = LSTM_UNITS,
): BabyWeights {
  const rand = mulberry32(seed);
  const uniform = (n: number, limit: number) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (rand() * 2 - 1) * limit;
    return out;
  };
  const glorot = (fanIn: number, fanOut: number) => uniform(fanIn * fanOut, Math.sqrt(6 / (fanIn + fanOut)));
  const lstmBias = () => {
    const b = new Float32Array(4 * units);
    b.fill(1, units, 2 * units); // forget gate
    return b;
  };
  // Recurrent kernels: scaled uniform with the variance of an orthogonal matrix (1/units per entry).
  const recurrent = () => uniform(units * 4 * units, Math.sqrt(3 / units));
  return {
    vocabSize,
    embeddingDim,
    units,
    embedding: uniform(vocabSize * embeddingDim, 0.05),
    lstm1: { kernel: glorot(embeddingDim, 4 * units), recurrentKernel: recurrent(), bias: lstmBias() },
    lstm2: { kernel: glorot(units, 4 * units), recurrentKernel: recurrent(), bias: lstmBias() },
    dense: { kernel: glorot(units, vocabSize), bias: new Float32Array(vocabSize) },
  };
}
