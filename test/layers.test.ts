import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '../src/model/backend.js';
import { buildLayersModel, getModelWeights, setModelWeights } from '../src/model/layers.js';
import { EOU, UNK } from '../src/model/vocab.js';
import { flattenWeights, initWeights, weightSpecs, type BabyWeights } from '../src/model/weights.js';

const V = 6;
const E = 3;
const H = 4;

beforeAll(async () => {
  await initBackend('cpu');
});

function predict(model: tf.LayersModel, ids: number[][]): Float32Array {
  return tf
    .tidy(() => {
      const x = tf.tensor2d(ids, [ids.length, ids[0]!.length], 'int32');
      return (model.predict(x) as tf.Tensor).dataSync() as Float32Array;
    })
    .slice();
}

/** Plain-JS forward pass with Keras LSTM semantics: gates i, f, c, o; sigmoid recurrent activation; tanh. */
function referenceForward(w: BabyWeights, ids: number[]): Float64Array {
  const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
  const lstm = (xs: Float64Array[], k: Float32Array, u: Float32Array, b: Float32Array, inDim: number) => {
    const h = new Float64Array(w.units);
    const c = new Float64Array(w.units);
    const out: Float64Array[] = [];
    const G = 4 * w.units;
    for (const x of xs) {
      const z = Float64Array.from(b);
      for (let j = 0; j < G; j++) {
        for (let i = 0; i < inDim; i++) z[j]! += x[i]! * k[i * G + j]!;
        for (let i = 0; i < w.units; i++) z[j]! += h[i]! * u[i * G + j]!;
      }
      for (let n = 0; n < w.units; n++) {
        const ig = sigmoid(z[n]!);
        const fg = sigmoid(z[w.units + n]!);
        const gg = Math.tanh(z[2 * w.units + n]!);
        const og = sigmoid(z[3 * w.units + n]!);
        c[n] = fg * c[n]! + ig * gg;
        h[n] = og * Math.tanh(c[n]!);
      }
      out.push(Float64Array.from(h));
    }
    return out;
  };
  const xs = ids.map((id) => Float64Array.from(w.embedding.subarray(id * w.embeddingDim, (id + 1) * w.embeddingDim)));
  const h1 = lstm(xs, w.lstm1.kernel, w.lstm1.recurrentKernel, w.lstm1.bias, w.embeddingDim);
  const h2 = lstm(h1, w.lstm2.kernel, w.lstm2.recurrentKernel, w.lstm2.bias, w.units);
  const last = h2[h2.length - 1]!;
  const logits = new Float64Array(w.vocabSize);
  for (let v = 0; v < w.vocabSize; v++) {
    let s = w.dense.bias[v]!;
    for (let i = 0; i < w.units; i++) s += last[i]! * w.dense.kernel[i * w.vocabSize + v]!;
    logits[v] = s;
  }
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

describe('buildLayersModel', () => {
  it('is Embedding → LSTM(seq) → Dropout → LSTM → Dropout → Dense(softmax) with the Keras weight names', () => {
    const vocab = [UNK, EOU, 'a', 'b', 'c', 'd', 'e'].length;
    const model = buildLayersModel(vocab);
    try {
      expect(model.layers.map((l) => l.getClassName())).toEqual([
        'Embedding',
        'LSTM',
        'Dropout',
        'LSTM',
        'Dropout',
        'Dense',
      ]);
      expect(model.layers.map((l) => l.name)).toEqual([
        'embedding',
        'lstm_1',
        'dropout_1',
        'lstm_2',
        'dropout_2',
        'dense',
      ]);
      const cfg = model.layers.map((l) => l.getConfig());
      expect(cfg[0]).toMatchObject({ inputDim: vocab, outputDim: 32 });
      expect(cfg[1]).toMatchObject({
        units: 128,
        returnSequences: true,
        activation: 'tanh',
        recurrentActivation: 'sigmoid',
      });
      expect(cfg[2]).toMatchObject({ rate: 0.2 });
      expect(cfg[3]).toMatchObject({
        units: 128,
        returnSequences: false,
        activation: 'tanh',
        recurrentActivation: 'sigmoid',
      });
      expect(cfg[4]).toMatchObject({ rate: 0.2 });
      expect(cfg[5]).toMatchObject({ units: vocab, activation: 'softmax' });
      expect(model.inputs[0]!.shape).toEqual([null, null]);
      expect(model.outputs[0]!.shape).toEqual([null, vocab]);
      const specs = weightSpecs(vocab);
      expect(model.weights.map((w) => [w.originalName, w.shape])).toEqual(specs.map((s) => [s.name, [...s.shape]]));
      expect(model.countParams()).toBe(flattenWeights(initWeights(vocab)).reduce((n, a) => n + a.length, 0));
    } finally {
      model.dispose();
    }
  });

  it('keeps recurrent_activation sigmoid in the serialised topology', () => {
    const model = buildLayersModel(V, { embeddingDim: E, units: H });
    try {
      const json = JSON.stringify(model.toJSON(null, false));
      expect(json.match(/"recurrent_activation":"sigmoid"/g)).toHaveLength(2);
      expect(json).not.toContain('hard_sigmoid');
    } finally {
      model.dispose();
    }
  });

  it('accepts any sequence length and batch size, giving [batch, vocab]', () => {
    const model = buildLayersModel(V, { embeddingDim: E, units: H });
    try {
      for (const [batch, len] of [
        [1, 1],
        [2, 7],
        [3, 20],
      ] as const) {
        const out = tf.tidy(() => (model.predict(tf.zeros([batch, len], 'int32')) as tf.Tensor).shape);
        expect(out).toEqual([batch, V]);
      }
    } finally {
      model.dispose();
    }
  });

  it('refuses a vocabulary smaller than 2 and non-integer sizes', () => {
    expect(() => buildLayersModel(1)).toThrow(/vocabSize/);
    expect(() => buildLayersModel(V, { units: 2.5 })).toThrow(/units/);
  });
});

describe('setModelWeights / getModelWeights', () => {
  it('round-trips BabyWeights exactly', () => {
    const w = initWeights(V, 7, E, H);
    const model = buildLayersModel(V, { embeddingDim: E, units: H });
    try {
      setModelWeights(model, w);
      expect(getModelWeights(model, V)).toEqual(w);
    } finally {
      model.dispose();
    }
  });

  it('returns copies: changing them does not change the model', () => {
    const w = initWeights(V, 7, E, H);
    const model = buildLayersModel(V, { embeddingDim: E, units: H });
    try {
      setModelWeights(model, w);
      const out = getModelWeights(model, V);
      out.dense.bias.fill(123);
      out.lstm1.kernel.fill(123);
      expect(getModelWeights(model, V)).toEqual(w);
    } finally {
      model.dispose();
    }
  });

  it('predicts what a plain Keras-semantics LSTM computes from the same weights (gate order i,f,c,o; sigmoid)', () => {
    const w = initWeights(V, 3, E, H);
    // Make the biases non-trivial so a gate-order mix-up cannot hide behind zeros.
    w.lstm1.bias.forEach((_, i) => {
      w.lstm1.bias[i] = Math.sin(i) * 0.5;
    });
    w.lstm2.bias.forEach((_, i) => {
      w.lstm2.bias[i] = Math.cos(i) * 0.5;
    });
    w.dense.bias.forEach((_, i) => {
      w.dense.bias[i] = i * 0.1;
    });
    const model = buildLayersModel(V, { embeddingDim: E, units: H });
    try {
      setModelWeights(model, w);
      const ids = [2, 5, 1, 3, 3, 0, 4];
      const got = predict(model, [ids]);
      const want = referenceForward(w, ids);
      for (let v = 0; v < V; v++) expect(got[v]!).toBeCloseTo(want[v]!, 5);
    } finally {
      model.dispose();
    }
  });

  it('gives finite probabilities summing to 1, the same on every call (dropout off at inference)', () => {
    const model = buildLayersModel(V, { embeddingDim: E, units: H });
    try {
      setModelWeights(model, initWeights(V, 11, E, H));
      const p = predict(model, [
        [1, 2, 3],
        [4, 5, 0],
      ]);
      for (let b = 0; b < 2; b++) {
        const row = p.subarray(b * V, (b + 1) * V);
        expect(row.every((x) => Number.isFinite(x) && x >= 0)).toBe(true);
        expect(row.reduce((a, x) => a + x, 0)).toBeCloseTo(1, 5);
      }
      expect(
        predict(model, [
          [1, 2, 3],
          [4, 5, 0],
        ]),
      ).toEqual(p);
    } finally {
      model.dispose();
    }
  });

  it('refuses weights for another vocabulary size', () => {
    const model = buildLayersModel(V, { embeddingDim: E, units: H });
    try {
      expect(() => setModelWeights(model, initWeights(V + 1, 1, E, H))).toThrow(/embedding\/embeddings/);
      expect(() => getModelWeights(model, V + 1)).toThrow(/vocabSize 7/);
    } finally {
      model.dispose();
    }
  });

  it('leaves no tensors behind (build, set, get, dispose)', () => {
    const start = tf.memory().numTensors;
    const model = buildLayersModel(V, { embeddingDim: E, units: H });
    try {
      expect(tf.memory().numTensors).toBe(start + model.weights.length);
      const before = tf.memory().numTensors;
      setModelWeights(model, initWeights(V, 5, E, H));
      getModelWeights(model, V);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(start);
  });
});

describe('on the wasm backend', () => {
  it('builds the full-size model and predicts what the cpu backend predicts', async () => {
    const vocab = 40;
    const w = initWeights(vocab, 9);
    const ids = [[1, 5, 9, 12, 30, 2]];
    const onCpu = buildLayersModel(vocab);
    let cpu: Float32Array;
    try {
      setModelWeights(onCpu, w);
      cpu = predict(onCpu, ids);
    } finally {
      onCpu.dispose();
    }
    await import('@tensorflow/tfjs-backend-wasm');
    expect(await tf.setBackend('wasm')).toBe(true);
    try {
      const model = buildLayersModel(vocab);
      try {
        setModelWeights(model, w);
        const wasm = predict(model, ids);
        expect(getModelWeights(model, vocab)).toEqual(w);
        expect(wasm.reduce((a, x) => a + x, 0)).toBeCloseTo(1, 5);
        for (let v = 0; v < vocab; v++) expect(wasm[v]!).toBeCloseTo(cpu[v]!, 5);
      } finally {
        model.dispose();
      }
    } finally {
      await tf.setBackend('cpu');
    }
  });
});
