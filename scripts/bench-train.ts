/**
 * Training throughput benchmark: target characters per second for batch 128 × seq 32 on a 60k-character
 * random-ish text (seeded pseudo-words over the default vocabulary) or on `--corpus FILE`, median of the steps after
 * 2 warm-ups.
 *
 *   npx tsx scripts/bench-train.ts [--backend wasm|cpu] [--kernels fast|stock] [--steps 12] [--repeat 1]
 *                                  [--impl babble|layers] [--scheme seq|window] [--batch 128] [--seq 32]
 *                                  [--workers 1|2] [--corpus FILE] [--torch]
 *
 * `--workers` defaults to train()'s default (2 on a machine with 2 cores: the production path).
 * `--impl layers` measures the stock tfjs-layers model (one-hot → Dense(32, no bias) standing in for the Embedding,
 * whose gradient the stock wasm backend lacks) with `trainOnBatch`, for comparison.
 * `--torch` also runs the PyTorch reference (/usr/bin/python3 bench/torch_reference.py, same batch and
 * sequence length, 15 timed steps, on --corpus or data/corpus.txt) right before and right after, and prints the
 * ratio to each.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerFastKernels, unregisterFastKernels } from '../src/training/fast-kernels.js';
import { makeBatcher } from '../src/training/batches.js';
import { train } from '../src/training/train.js';
import { DEFAULT_VOCAB, normalize } from '../src/model/vocab.js';
import { EMBEDDING_DIM, LSTM_UNITS, mulberry32 } from '../src/model/weights.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    kernels: { type: 'string', default: 'fast' },
    steps: { type: 'string', default: '12' },
    repeat: { type: 'string', default: '1' },
    impl: { type: 'string', default: 'babble' },
    scheme: { type: 'string', default: 'seq' },
    batch: { type: 'string', default: '128' },
    seq: { type: 'string', default: '32' },
    workers: { type: 'string' },
    corpus: { type: 'string' },
    torch: { type: 'boolean', default: false },
  },
});

const TORCH_SCRIPT = fileURLToPath(new URL('../bench/torch_reference.py', import.meta.url));

/** PyTorch's seq-scheme target chars/s from the reference script (its last stdout line is JSON). */
function torchRate(corpus: string, batch: number, seq: number): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile(
      '/usr/bin/python3',
      [TORCH_SCRIPT, '--corpus', corpus, '--batch', String(batch), '--seq', String(seq), '--steps', '15'],
      { timeout: 600_000 },
      (err, stdout) => {
        if (err) return reject(err);
        const last = stdout.trim().split('\n').at(-1) ?? '';
        resolve(Number((JSON.parse(last) as { seq_train_target_chars_per_s: number }).seq_train_target_chars_per_s));
      },
    );
  });
}

function randomText(n: number, seed: number): string {
  const rand = mulberry32(seed);
  const letters = 'etaoinshrdlucmfwypvbgkjqxz';
  const words: string[] = [];
  for (let w = 0; w < 400; w++) {
    let s = '';
    const len = 1 + Math.floor(rand() * 7);
    for (let i = 0; i < len; i++) s += letters[Math.floor(rand() ** 2 * letters.length)]!;
    words.push(s);
  }
  let text = '';
  while (text.length < n) {
    text += words[Math.floor(rand() ** 1.5 * words.length)]!;
    const r = rand();
    text += r < 0.08 ? '\n' : r < 0.12 ? ', ' : r < 0.15 ? '! ' : ' ';
  }
  return text.slice(0, n);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

await tf.setBackend(values.backend!);
await tf.ready();
if (values.backend === 'wasm' && values.kernels === 'fast') {
  if (!registerFastKernels()) throw new Error('could not register the fast kernels');
} else {
  unregisterFastKernels();
}
const data = DEFAULT_VOCAB.encode(
  values.corpus
    ? normalize(readFileSync(values.corpus, 'utf8'), DEFAULT_VOCAB, { keepNewlines: true })
    : randomText(60_000, 42),
);
const steps = Number(values.steps);
const B = Number(values.batch);
const T = Number(values.seq);
const scheme = values.scheme === 'window' ? 'window' : 'seq';
const targetsPerStep = scheme === 'seq' ? B * T : B;

let usedWorkers = 1;

async function benchBabble(): Promise<number[]> {
  const times: number[] = [];
  let last = performance.now();
  const result = await train({
    data,
    vocabSize: DEFAULT_VOCAB.size,
    maxSteps: steps,
    batchSize: B,
    seqLength: T,
    window: T,
    scheme,
    seed: 1,
    ...(values.workers !== undefined && { workers: values.workers === '2' ? 2 : 1 }),
    progressIntervalMs: 0,
    onProgress: () => {
      const now = performance.now();
      times.push(now - last);
      last = now;
    },
  });
  usedWorkers = result.workers;
  return times.slice(0, steps); // the final report repeats the last step
}

async function benchLayers(): Promise<number[]> {
  const V = DEFAULT_VOCAB.size;
  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [T, V], units: EMBEDDING_DIM, useBias: false }));
  model.add(tf.layers.lstm({ units: LSTM_UNITS, returnSequences: true, recurrentActivation: 'sigmoid' }));
  model.add(tf.layers.dropout({ rate: 0.2 }));
  model.add(tf.layers.lstm({ units: LSTM_UNITS, returnSequences: scheme === 'seq', recurrentActivation: 'sigmoid' }));
  model.add(tf.layers.dropout({ rate: 0.2 }));
  model.add(tf.layers.dense({ units: V, activation: 'softmax' }));
  model.compile({ optimizer: tf.train.adam(2e-3), loss: 'categoricalCrossentropy' });
  const batcher = makeBatcher(data, { scheme, batchSize: B, seqLength: T, window: T, seed: 1 });
  const times: number[] = [];
  for (let s = 0; s < steps; s++) {
    const batch = batcher.batch(s);
    const [x, y] = tf.tidy(() => {
      const ids = tf.transpose(tf.tensor2d(batch.inputs, [T, B], 'int32')); // [B, T]
      const x = tf.oneHot(ids, V).toFloat();
      const y =
        scheme === 'seq'
          ? tf.oneHot(tf.transpose(tf.tensor2d(batch.targets, [T, B], 'int32')), V).toFloat()
          : tf.oneHot(tf.tensor1d(batch.targets, 'int32'), V).toFloat();
      return [x, y];
    });
    const t0 = performance.now();
    await model.trainOnBatch(x, y);
    times.push(performance.now() - t0);
    tf.dispose([x, y]);
  }
  model.dispose();
  return times;
}

const torchCorpus = values.corpus ?? fileURLToPath(new URL('../data/corpus.txt', import.meta.url));
const torchBefore = values.torch ? await torchRate(torchCorpus, B, T) : undefined;
const rates: number[] = [];
for (let r = 0; r < Number(values.repeat); r++) {
  const times = values.impl === 'layers' ? await benchLayers() : await benchBabble();
  const measured = times.slice(2);
  const ms = median(measured);
  rates.push((targetsPerStep / ms) * 1000);
  console.log(
    JSON.stringify({
      impl: values.impl,
      workers: values.impl === 'babble' ? usedWorkers : 1,
      backend: values.backend,
      kernels: values.backend === 'wasm' ? values.kernels : '-',
      scheme,
      batch: B,
      seq: T,
      medianStepMs: Math.round(ms * 10) / 10,
      charsPerSecond: Math.round((targetsPerStep / ms) * 1000),
      steps: measured.length,
      minMaxMs: [Math.round(Math.min(...measured)), Math.round(Math.max(...measured))],
    }),
  );
}
if (torchBefore !== undefined) {
  const torchAfter = await torchRate(torchCorpus, B, T);
  const ours = median(rates);
  console.log(
    JSON.stringify({
      torchCharsPerSecond: { before: torchBefore, after: torchAfter },
      oursCharsPerSecond: Math.round(ours),
      ratio: {
        toBefore: Math.round((ours / torchBefore) * 100) / 100,
        toAfter: Math.round((ours / torchAfter) * 100) / 100,
      },
    }),
  );
}
