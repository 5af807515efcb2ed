/**
 * The architecture check and the conversion of a Keras model's layers into Babble's stack form.
 *
 * Accepted: [InputLayer] → Embedding → 1–3 × (LSTM [→ Dropout]) → Dense(softmax), any widths, vocabulary size and
 * window length. Refused, naming the layer: any other layer (GRU, Bidirectional, …), Embedding mask_zero, an LSTM
 * whose activation is not tanh, whose recurrent activation is neither sigmoid nor hard_sigmoid, without bias, going
 * backwards, stateful, returning its state, or returning sequences where the next layer is Dense; a Dense that is
 * not softmax over the Embedding's input_dim.
 *
 * hard_sigmoid is computed as the Keras that wrote the file computes it: Keras 2 (and TensorFlow.js)
 * clip(0.2·x + 0.5), Keras 3 relu6(x + 3) / 6 = clip(x/6 + 0.5). Babble's generator computes the Keras 2 form; a Keras 3 model's i, f
 * and o gate columns (kernel, recurrent kernel, bias) are scaled by 5/6 so that 0.2 · (5/6 · z) = z / 6.
 */
import { MAX_LSTM_LAYERS, type RecurrentActivation, type StackLayer, type StackWeights } from '../model/stack.js';
import { ImportError } from './errors.js';
import type { KerasLayer, KerasModelFile } from './formats.js';

export interface ConvertedModel {
  weights: StackWeights;
  /** The window length the model was built for (its input shape), when the file records it. */
  seqLength: number | undefined;
  /** The recurrent activation as the file names it. */
  recurrentActivation: string;
}

function describe(layer: KerasLayer): string {
  return `layer ${JSON.stringify(String(layer.config.name))} (${layer.className})`;
}

function refuse(layer: KerasLayer, what: string): never {
  throw new ImportError(
    'architecture',
    `${describe(layer)} ${what}; Babble imports Embedding → 1 to ${MAX_LSTM_LAYERS} LSTM (→ Dropout) → Dense softmax`,
  );
}

/** An activation given as a string, or as Keras 3's serialised {class_name: 'function', config: 'tanh'}. */
function activationName(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) {
    const c = (value as { config?: unknown }).config;
    if (typeof c === 'string') return c;
    if (typeof c === 'object' && c !== null && typeof (c as { name?: unknown }).name === 'string')
      return (c as { name: string }).name;
  }
  return JSON.stringify(value);
}

function positiveInt(layer: KerasLayer, key: string): number {
  const v = layer.config[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    refuse(layer, `has ${key} ${JSON.stringify(v)}, expected a positive integer`);
  return v;
}

function flag(layer: KerasLayer, key: string, want: boolean): void {
  const v = layer.config[key];
  if (v === undefined || v === null) return;
  if (v !== want) refuse(layer, `has ${key} ${JSON.stringify(v)}, which the generator does not compute`);
}

/** The time dimension of a [batch, time] input shape, when it is a number. */
function timeOf(shape: unknown): number | undefined {
  return Array.isArray(shape) && shape.length === 2 && Number.isInteger(shape[1]) && (shape[1] as number) > 0
    ? (shape[1] as number)
    : undefined;
}

function seqLengthOf(input: KerasLayer | undefined, embedding: KerasLayer): number | undefined {
  const build = embedding.config.build_config as { input_shape?: unknown } | undefined;
  return (
    timeOf(input?.config.batch_shape) ??
    timeOf(input?.config.batch_input_shape) ??
    timeOf(embedding.config.batch_input_shape) ??
    timeOf(embedding.config.batch_shape) ??
    timeOf(build?.input_shape) ??
    (Number.isInteger(embedding.config.input_length) ? (embedding.config.input_length as number) : undefined)
  );
}

/** Checks the layer list and reads every weight variable. */
export function convertKerasModel(model: KerasModelFile): ConvertedModel {
  const all = model.layers;
  const input = all[0]?.className === 'InputLayer' ? all[0] : undefined;
  const layers = input ? all.slice(1) : all;
  for (const l of layers) {
    if (!['Embedding', 'LSTM', 'Dropout', 'Dense'].includes(l.className)) refuse(l, 'is not supported');
  }
  const embedding = layers[0];
  if (!embedding || embedding.className !== 'Embedding') {
    throw new ImportError(
      'architecture',
      `the model starts with ${embedding ? describe(embedding) : 'no layer'}, expected an Embedding`,
    );
  }
  const dense = layers[layers.length - 1]!;
  if (dense.className !== 'Dense') refuse(dense, 'ends the model, expected a Dense softmax');
  const middle = layers.slice(1, -1);
  const lstms = middle.filter((l) => l.className === 'LSTM');
  if (lstms.length < 1 || lstms.length > MAX_LSTM_LAYERS) {
    throw new ImportError(
      'architecture',
      `the model has ${lstms.length} LSTM layers; Babble imports 1 to ${MAX_LSTM_LAYERS}`,
    );
  }
  if (middle[0]?.className !== 'LSTM') refuse(middle[0]!, 'follows the Embedding, expected an LSTM');
  middle.forEach((l, i) => {
    if (l.className === 'Dropout' && middle[i - 1]?.className !== 'LSTM') refuse(l, 'does not follow an LSTM');
  });

  if (embedding.config.mask_zero === true) refuse(embedding, 'has mask_zero true (masking is not supported)');
  const vocabSize = positiveInt(embedding, 'input_dim');
  const embeddingDim = positiveInt(embedding, 'output_dim');
  const keras3 = model.format === 'keras3' || (model.kerasVersion ?? '').startsWith('3');

  let recurrentName = 'sigmoid';
  const specs = lstms.map((l, k) => {
    const units = positiveInt(l, 'units');
    const act = activationName(l.config.activation ?? 'tanh');
    if (act !== 'tanh') refuse(l, `has activation ${JSON.stringify(act)}; the generator computes tanh`);
    const rec = activationName(l.config.recurrent_activation ?? 'sigmoid');
    if (rec !== 'sigmoid' && rec !== 'hard_sigmoid')
      refuse(l, `has recurrent_activation ${JSON.stringify(rec)}; the generator computes sigmoid and hard_sigmoid`);
    if (rec === 'hard_sigmoid') recurrentName = 'hard_sigmoid';
    flag(l, 'use_bias', true);
    flag(l, 'go_backwards', false);
    flag(l, 'stateful', false);
    flag(l, 'return_state', false);
    const last = k === lstms.length - 1;
    if ((l.config.return_sequences === true) === last) {
      refuse(
        l,
        `has return_sequences ${String(l.config.return_sequences)}; ` +
          `${last ? 'the last LSTM must not' : 'an LSTM under another must'} return sequences`,
      );
    }
    return { layer: l, units, recurrent: rec as RecurrentActivation };
  });
  const denseUnits = positiveInt(dense, 'units');
  const denseAct = activationName(dense.config.activation ?? 'linear');
  if (denseAct !== 'softmax') refuse(dense, `has activation ${JSON.stringify(denseAct)}, expected softmax`);
  flag(dense, 'use_bias', true);
  if (denseUnits !== vocabSize)
    refuse(dense, `has ${denseUnits} units but the Embedding takes ${vocabSize} characters`);

  const read = (layer: KerasLayer, index: number, shape: number[]): Float32Array => {
    const { where, value } = model.variable(layer, index);
    if (!value) throw new ImportError('variable', `${describe(layer)}: variable ${where} is missing`);
    if (value.shape.join(',') !== shape.join(',')) {
      throw new ImportError(
        'variable',
        `${describe(layer)}: variable ${where} has shape [${value.shape.join(', ')}], expected [${shape.join(', ')}]`,
      );
    }
    for (let i = 0; i < value.values.length; i++) {
      if (!Number.isFinite(value.values[i]!))
        throw new ImportError('variable', `${describe(layer)}: variable ${where} holds ${value.values[i]} at ${i}`);
    }
    return value.values;
  };

  let inputWidth = embeddingDim;
  const stackLayers = specs.map(({ layer, units, recurrent }): StackLayer => {
    const G = 4 * units;
    const out: StackLayer = {
      units,
      recurrentActivation: recurrent,
      kernel: read(layer, 0, [inputWidth, G]),
      recurrentKernel: read(layer, 1, [units, G]),
      bias: read(layer, 2, [G]),
    };
    if (recurrent === 'hard_sigmoid' && keras3) scaleGates(out, 5 / 6);
    inputWidth = units;
    return out;
  });
  return {
    weights: {
      vocabSize,
      embeddingDim,
      embedding: read(embedding, 0, [vocabSize, embeddingDim]),
      layers: stackLayers,
      dense: { kernel: read(dense, 0, [inputWidth, vocabSize]), bias: read(dense, 1, [vocabSize]) },
    },
    seqLength: seqLengthOf(input, embedding),
    recurrentActivation: recurrentName,
  };
}

/** Multiplies the i, f and o gate columns (not g) of a layer's kernel, recurrent kernel and bias by `factor`. */
function scaleGates(l: StackLayer, factor: number): void {
  const u = l.units;
  const G = 4 * u;
  const scale = (a: Float32Array) => {
    for (let j = 0; j < a.length; j++) {
      const gate = Math.floor((j % G) / u); // 0 i, 1 f, 2 g, 3 o
      if (gate !== 2) a[j] = a[j]! * factor;
    }
  };
  scale(l.kernel);
  scale(l.recurrentKernel);
  scale(l.bias);
}
