/**
 * The check a TensorFlow.js backend passes before the bot trusts it: one LSTM step (the model's cell: Keras
 * gate order i, f, c, o, sigmoid recurrent activation) on small fixed numbers, computed with the backend's
 * matMul, add, slice, sigmoid, tanh and mul, compared with the same step in plain JavaScript (float64).
 * A few small kernels: 7–50 ms the first time on wasm (measured on a loaded machine), under 1 ms after that.
 */
import type * as TF from '@tensorflow/tfjs';
import { errorMessage } from '../error-message.js';

const BATCH = 2;
const INPUT = 3;
const UNITS = 4;
/** float32 kernels against float64 arithmetic: the step's outputs are below 1, so 1e-4 leaves ample room. */
const TOLERANCE = 1e-4;

/** Fixed, varied numbers in (-scale, scale): no randomness, so every run checks the same step. */
function fixed(count: number, seed: number, scale: number): number[] {
  return Array.from({ length: count }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * scale);
}

export interface Step {
  x: number[];
  h: number[];
  c: number[];
  kernel: number[];
  recurrent: number[];
  bias: number[];
}

/** The fixed inputs and weights of the step (Keras layout: kernel input × 4·units, gates i, f, c, o). */
export function stepInputs(): Step {
  return {
    x: fixed(BATCH * INPUT, 1, 2),
    h: fixed(BATCH * UNITS, 2, 0.9),
    c: fixed(BATCH * UNITS, 3, 1.5),
    kernel: fixed(INPUT * 4 * UNITS, 4, 1.2),
    recurrent: fixed(UNITS * 4 * UNITS, 5, 1),
    bias: fixed(4 * UNITS, 6, 0.5),
  };
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** The step in plain JavaScript: [h', c'], each batch × units, row-major. */
export function expectedStep(s: Step = stepInputs()): { h: number[]; c: number[] } {
  const h: number[] = [];
  const c: number[] = [];
  for (let b = 0; b < BATCH; b++) {
    const z = s.bias.slice();
    for (let j = 0; j < 4 * UNITS; j++) {
      for (let k = 0; k < INPUT; k++) z[j]! += s.x[b * INPUT + k]! * s.kernel[k * 4 * UNITS + j]!;
      for (let k = 0; k < UNITS; k++) z[j]! += s.h[b * UNITS + k]! * s.recurrent[k * 4 * UNITS + j]!;
    }
    for (let u = 0; u < UNITS; u++) {
      const i = sigmoid(z[u]!);
      const f = sigmoid(z[UNITS + u]!);
      const g = Math.tanh(z[2 * UNITS + u]!);
      const o = sigmoid(z[3 * UNITS + u]!);
      const cell = f * s.c[b * UNITS + u]! + i * g;
      c.push(cell);
      h.push(o * Math.tanh(cell));
    }
  }
  return { h, c };
}

/** The same step on the backend tf is set to. */
export function backendStep(tf: typeof TF, s: Step = stepInputs()): { h: number[]; c: number[] } {
  const [h, c] = tf.tidy(() => {
    const x = tf.tensor2d(s.x, [BATCH, INPUT]);
    const h0 = tf.tensor2d(s.h, [BATCH, UNITS]);
    const c0 = tf.tensor2d(s.c, [BATCH, UNITS]);
    const fromInput = tf.matMul(x, tf.tensor2d(s.kernel, [INPUT, 4 * UNITS]));
    const fromState = tf.matMul(h0, tf.tensor2d(s.recurrent, [UNITS, 4 * UNITS]));
    const z = tf.add(tf.add(fromInput, fromState), tf.tensor1d(s.bias));
    const gate = (n: number) => tf.slice(z, [0, n * UNITS], [BATCH, UNITS]);
    const cell = tf.add(tf.mul(tf.sigmoid(gate(1)), c0), tf.mul(tf.sigmoid(gate(0)), tf.tanh(gate(2))));
    return [tf.mul(tf.sigmoid(gate(3)), tf.tanh(cell)), cell];
  });
  try {
    return { h: Array.from(h!.dataSync()), c: Array.from(c!.dataSync()) };
  } finally {
    h!.dispose();
    c!.dispose();
  }
}

/**
 * Runs the step on tf's current backend; undefined when it matches plain JavaScript, else what differed
 * (or what the backend threw).
 */
export function lstmSmokeCheck(tf: typeof TF): string | undefined {
  const want = expectedStep();
  let got: { h: number[]; c: number[] };
  try {
    got = backendStep(tf);
  } catch (err) {
    return `the LSTM step threw: ${errorMessage(err).split('\n')[0]}`;
  }
  for (const part of ['h', 'c'] as const) {
    if (got[part].length !== want[part].length) {
      return `LSTM step ${part} has ${got[part].length} numbers, expected ${want[part].length}`;
    }
    for (let i = 0; i < want[part].length; i++) {
      const g = got[part][i]!;
      const w = want[part][i]!;
      if (!(Math.abs(g - w) <= TOLERANCE)) return `LSTM step ${part}[${i}] = ${g}, expected ${w.toFixed(6)}`;
    }
  }
  return undefined;
}
