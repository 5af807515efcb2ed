/**
 * A Keras-exact LSTM layer written with plain tfjs ops, with a hand-written backward pass (backpropagation through
 * time) instead of `tf.grad`: it runs on any backend, needs no transposed matMul (operands are transposed once,
 * explicitly) and no gradient kernels the wasm backend lacks.
 *
 * Layout is time-major: row `t * batch + b` of a [steps * batch, ·] matrix is time step t of sequence b. The input
 * projection of all time steps (x·W + b, one matMul) is made by the caller and passed in as `xw`; this module does
 * the recurrence z_t = xw_t + h_{t-1}·U with gates i, f, g(c), o in the Keras column order, recurrent activation
 * sigmoid, activation tanh: c_t = f*c_{t-1} + i*g, h_t = o*tanh(c_t).
 *
 * Two implementations behind one API: on the wasm backend with the fast kernels registered (fast-kernels.ts) and a
 * unit count that is a multiple of 8, the whole recurrence of a layer is one fused kernel call forward and one
 * backward (wasm-kernels.ts: per step one matMul and one WebAssembly SIMD cell function); anywhere else (cpu,
 * tfjs-node, stock wasm) the same maths runs as plain tfjs ops. Both give the same numbers to float32 rounding.
 *
 * Nothing here is wrapped in `tf.tidy`: call it inside one (the trainer wraps a whole step).
 */
import * as tf from '@tensorflow/tfjs';
import { GEMM_PANEL, LSTM_BACKWARD, LSTM_FORWARD, MATMUL } from './wasm-kernels.js';
import { fusedKernelsRegistered } from './fast-kernels.js';

/** What the backward pass needs from the forward pass. Opaque to callers. */
export type LstmTape = OpsTape | FusedTape;

interface TapeCommon {
  readonly steps: number;
  readonly batch: number;
  readonly units: number;
  /** [steps * batch, units] h_{t-1} for every t (h_0 first). */
  readonly hPrev: tf.Tensor2D;
}

/** The fused kernel's record: c_0..c_T, the gate activations and tanh(c_t) of every step. */
interface FusedTape extends TapeCommon {
  readonly kind: 'fused';
  readonly cs: tf.Tensor2D;
  readonly gates: tf.Tensor2D;
  readonly tcs: tf.Tensor2D;
  /** The layer input, when given: then the backward pass returns the input kernel and bias gradients. */
  readonly input?: tf.Tensor2D;
}

interface OpsTape extends TapeCommon {
  readonly kind: 'ops';
  /** Input width D when the layer input was given (then `blocks` is present). */
  readonly inputDim?: number;
  /** Per step t: [D + H + 1, batch] = [x_t, h_{t-1}, 1]ᵀ, so that [dW; dU; db] = Σ_t blocks[t]·dz_t. */
  readonly blocks?: tf.Tensor2D[];
  /** Per step t: [batch, 4H] d z_t / d(gate-input), so that dz_t = [dc, dc, dc, dh] * q_t. */
  readonly q: tf.Tensor2D[];
  /** Per step t: [batch, H] o_t * (1 - tanh(c_t)^2), so that dc_t += dh_t * k_t. */
  readonly k: tf.Tensor2D[];
  /** Per step t: [batch, H] forget gate f_t. */
  readonly f: tf.Tensor2D[];
}

export interface LstmForwardResult {
  /** [steps * batch, units] h_t for t = 1..steps, time-major. */
  outputs: tf.Tensor2D;
  /** Final state [batch, units]. */
  h: tf.Tensor2D;
  c: tf.Tensor2D;
  /** Present when `tape: true` was asked for. */
  tape?: LstmTape;
}

export interface LstmForwardOptions {
  /** Initial state [batch, units]; zeros when absent. */
  h0?: tf.Tensor2D;
  c0?: tf.Tensor2D;
  /** Keep what the backward pass needs. */
  tape?: boolean;
  /**
   * The layer input x [steps * batch, D] that `xw` was projected from (x·W + b). With it, the backward pass also
   * returns the gradients of W and b, accumulated step by step together with U's in one matMul per step
   * ([D + H + 1, batch]·[batch, 4H]), which is faster on wasm than three [·, steps * batch] products.
   */
  input?: tf.Tensor2D;
  /** 'auto' (default): the fused kernels when available (see fusedLstmAvailable); 'ops': plain tfjs ops. */
  impl?: 'auto' | 'ops';
}

/** Whether `lstmForward` with `impl: 'auto'` uses the fused kernels for this unit count on the current backend. */
export function fusedLstmAvailable(units: number): boolean {
  return units % GEMM_PANEL === 0 && units > 0 && tf.getBackend() === 'wasm' && fusedKernelsRegistered();
}

/**
 * a·b (+ bias) for 2-D float32 tensors: the fused module's GEMM (wasm-kernels.ts, BabbleMatMul) on wasm with the fast
 * kernels when b's column count is a multiple of 8, else tf.matMul (+ tf.add).
 */
export function matMulBias(a: tf.Tensor2D, b: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor2D {
  const n = b.shape[1];
  if (n % GEMM_PANEL === 0 && n > 0 && tf.getBackend() === 'wasm' && fusedKernelsRegistered()) {
    const inputs: tf.NamedTensorMap = { a, b };
    if (bias) inputs.bias = bias;
    return tf.engine().runKernel(MATMUL, inputs, {}) as tf.Tensor2D;
  }
  const product = tf.matMul(a, b) as tf.Tensor2D;
  if (!bias) return product;
  const sum = tf.add(product, bias) as tf.Tensor2D;
  product.dispose();
  return sum;
}

export interface LstmGradients {
  /** [steps * batch, 4H] gradient of the loss with respect to `xw` (= to the gate pre-activations z). */
  dxw: tf.Tensor2D;
  /** [H, 4H] gradient with respect to the recurrent kernel. */
  dRecurrentKernel: tf.Tensor2D;
  /** [D, 4H] and [4H] gradients of the input kernel and bias: only when the forward pass was given `input`. */
  dKernel?: tf.Tensor2D;
  dBias?: tf.Tensor1D;
  /** Gradients with respect to the initial state. */
  dh0: tf.Tensor2D;
  dc0: tf.Tensor2D;
}

function checkShapes(xw: tf.Tensor2D, recurrentKernel: tf.Tensor2D, steps: number): { batch: number; units: number } {
  const [rows, cols] = xw.shape;
  const [units, four] = recurrentKernel.shape;
  if (four !== 4 * units)
    throw new Error(`lstm: recurrent kernel must be [H, 4H], got [${recurrentKernel.shape.join(', ')}]`);
  if (cols !== 4 * units) throw new Error(`lstm: xw must have 4H = ${4 * units} columns, got ${cols}`);
  if (!Number.isInteger(steps) || steps < 1 || rows % steps !== 0)
    throw new Error(`lstm: ${rows} rows of xw do not split into ${steps} time steps`);
  return { batch: rows / steps, units };
}

/** x·W + b for all time steps at once ([rows, in] → [rows, 4H]). */
export function inputProjection(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  return matMulBias(x, kernel, bias);
}

/** Runs the recurrence over `steps` time steps of the time-major input projection `xw` [steps * batch, 4H]. */
export function lstmForward(
  xw: tf.Tensor2D,
  recurrentKernel: tf.Tensor2D,
  steps: number,
  options: LstmForwardOptions = {},
): LstmForwardResult {
  const { batch, units } = checkShapes(xw, recurrentKernel, steps);
  if (options.input && options.input.shape[0] !== steps * batch)
    throw new Error(`lstm: input has ${options.input.shape[0]} rows, expected ${steps * batch}`);
  if (options.impl !== 'ops' && fusedLstmAvailable(units))
    return fusedForward(xw, recurrentKernel, steps, batch, units, options);
  const xs = (steps === 1 ? [xw] : tf.split(xw, steps, 0)) as tf.Tensor2D[];
  const zeros = (): tf.Tensor2D => tf.zeros([batch, units]);
  let h: tf.Tensor2D | undefined = options.h0;
  let c: tf.Tensor2D | undefined = options.c0;
  const keep = options.tape === true;
  const hs: tf.Tensor2D[] = [];
  const cPrevs: tf.Tensor2D[] = [];
  const is: tf.Tensor2D[] = [];
  const fs: tf.Tensor2D[] = [];
  const gs: tf.Tensor2D[] = [];
  const os: tf.Tensor2D[] = [];
  const tcs: tf.Tensor2D[] = [];
  for (let t = 0; t < steps; t++) {
    const x = xs[t]!;
    const z = h ? tf.add(x, tf.matMul(h, recurrentKernel)) : x;
    const [zi, zf, zg, zo] = tf.split(z, 4, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
    const i = tf.sigmoid(zi);
    const f = tf.sigmoid(zf);
    const g = tf.tanh(zg);
    const o = tf.sigmoid(zo);
    const cNew: tf.Tensor2D = c ? tf.add(tf.mul(f, c), tf.mul(i, g)) : tf.mul(i, g);
    const tc = tf.tanh(cNew);
    const hNew: tf.Tensor2D = tf.mul(o, tc);
    if (keep) {
      cPrevs.push(c ?? zeros());
      is.push(i);
      fs.push(f);
      gs.push(g);
      os.push(o);
      tcs.push(tc);
    }
    hs.push(hNew);
    h = hNew;
    c = cNew;
  }
  const outputs = (steps === 1 ? hs[0]! : tf.concat(hs, 0)) as tf.Tensor2D;
  const result: LstmForwardResult = { outputs, h: h!, c: c! };
  if (keep) {
    const cat = (list: tf.Tensor2D[]) => (list.length === 1 ? list[0]! : tf.concat(list, 0)) as tf.Tensor2D;
    const I = cat(is);
    const F = cat(fs);
    const G = cat(gs);
    const O = cat(os);
    const TC = cat(tcs);
    const C = cat(cPrevs);
    const sigmoidSlope = (s: tf.Tensor2D) => tf.sub(s, tf.square(s));
    const tanhSlope = (t: tf.Tensor2D) => tf.sub(1, tf.square(t));
    // dz_i = dc*g*i', dz_f = dc*c_{t-1}*f', dz_g = dc*i*g', dz_o = dh*tanh(c)*o'
    const Q = tf.concat(
      [tf.mul(G, sigmoidSlope(I)), tf.mul(C, sigmoidSlope(F)), tf.mul(I, tanhSlope(G)), tf.mul(TC, sigmoidSlope(O))],
      1,
    ) as tf.Tensor2D;
    const K = tf.mul(O, tanhSlope(TC)) as tf.Tensor2D;
    const split = (m: tf.Tensor2D) => (steps === 1 ? [m] : tf.split(m, steps, 0)) as tf.Tensor2D[];
    const hPrev = (
      steps === 1 ? (options.h0 ?? zeros()) : tf.concat([options.h0 ?? zeros(), ...hs.slice(0, -1)], 0)
    ) as tf.Tensor2D;
    let blocks: tf.Tensor2D[] | undefined;
    const input = options.input;
    if (input) {
      if (input.shape[0] !== steps * batch)
        throw new Error(`lstm: input has ${input.shape[0]} rows, expected ${steps * batch}`);
      const xh1T = tf.transpose(tf.concat([input, hPrev, tf.ones([steps * batch, 1])], 1)) as tf.Tensor2D; // [D+H+1, N]
      blocks = (steps === 1 ? [xh1T] : tf.split(xh1T, steps, 1)) as tf.Tensor2D[];
    }
    result.tape = {
      kind: 'ops',
      steps,
      batch,
      units,
      hPrev,
      q: split(Q),
      k: split(K),
      f: fs,
      ...(input && { inputDim: input.shape[1], blocks }),
    };
  }
  return result;
}

function fusedForward(
  xw: tf.Tensor2D,
  u: tf.Tensor2D,
  steps: number,
  batch: number,
  units: number,
  options: LstmForwardOptions,
): LstmForwardResult {
  const inputs: tf.NamedTensorMap = { xw, u };
  if (options.h0) inputs.h0 = options.h0;
  if (options.c0) inputs.c0 = options.c0;
  const [outputs, hPrev, cs, gates, tcs] = tf.engine().runKernel(LSTM_FORWARD, inputs, { steps }) as tf.Tensor2D[] as [
    tf.Tensor2D,
    tf.Tensor2D,
    tf.Tensor2D,
    tf.Tensor2D,
    tf.Tensor2D,
  ];
  const h = tf.slice(outputs, [(steps - 1) * batch, 0], [batch, units]);
  const c = tf.slice(cs, [steps * batch, 0], [batch, units]);
  if (options.tape !== true) {
    tf.dispose([hPrev, cs, gates, tcs]);
    return { outputs, h, c };
  }
  return {
    outputs,
    h,
    c,
    tape: { kind: 'fused', steps, batch, units, hPrev, cs, gates, tcs, ...(options.input && { input: options.input }) },
  };
}

function fusedBackward(
  tape: FusedTape,
  u: tf.Tensor2D,
  dOutputs: tf.Tensor2D | undefined,
  dhFinal: tf.Tensor2D | undefined,
  dcFinal: tf.Tensor2D | undefined,
  wantDxw: boolean,
): LstmGradients | Omit<LstmGradients, 'dxw'> {
  const inputs: tf.NamedTensorMap = { uT: tf.transpose(u), gates: tape.gates, cs: tape.cs, tcs: tape.tcs };
  if (dOutputs) inputs.dOutputs = dOutputs;
  if (dhFinal) inputs.dh = dhFinal;
  if (dcFinal) inputs.dc = dcFinal;
  const [dz, dBias, dh0, dc0] = tf.engine().runKernel(LSTM_BACKWARD, inputs, { steps: tape.steps }) as tf.Tensor[] as [
    tf.Tensor2D,
    tf.Tensor1D,
    tf.Tensor2D,
    tf.Tensor2D,
  ];
  // Weight gradients as dzᵀ·X ([4H, N]·[N, ·], then a small transpose): on wasm faster than Xᵀ·dz.
  const dzT = tf.transpose(dz) as tf.Tensor2D;
  const dRecurrentKernel = tf.transpose(matMulBias(dzT, tape.hPrev)) as tf.Tensor2D;
  const state = { dh0, dc0 };
  const inputGrads = tape.input ? { dKernel: tf.transpose(matMulBias(dzT, tape.input)) as tf.Tensor2D, dBias } : {};
  return wantDxw
    ? { dxw: dz, dRecurrentKernel, ...inputGrads, ...state }
    : { dRecurrentKernel, ...inputGrads, ...state };
}

/**
 * Backpropagation through time. `dOutputs` [steps * batch, H] is the gradient with respect to `outputs` (absent:
 * zero, e.g. when only the final state is used); `dh` / `dc` are gradients with respect to the final state.
 */
export function lstmBackward(
  tape: LstmTape,
  recurrentKernel: tf.Tensor2D,
  dOutputs?: tf.Tensor2D,
  dhFinal?: tf.Tensor2D,
  dcFinal?: tf.Tensor2D,
): LstmGradients;
export function lstmBackward(
  tape: LstmTape,
  recurrentKernel: tf.Tensor2D,
  dOutputs: tf.Tensor2D | undefined,
  dhFinal: tf.Tensor2D | undefined,
  dcFinal: tf.Tensor2D | undefined,
  options: { dxw: false },
): Omit<LstmGradients, 'dxw'>;
export function lstmBackward(
  tape: LstmTape,
  recurrentKernel: tf.Tensor2D,
  dOutputs?: tf.Tensor2D,
  dhFinal?: tf.Tensor2D,
  dcFinal?: tf.Tensor2D,
  options: { dxw?: boolean } = {},
): LstmGradients | Omit<LstmGradients, 'dxw'> {
  const { steps, batch, units } = tape;
  if (dOutputs && (dOutputs.shape[0] !== steps * batch || dOutputs.shape[1] !== units)) {
    throw new Error(`lstm: dOutputs must be [${steps * batch}, ${units}], got [${dOutputs.shape.join(', ')}]`);
  }
  if (tape.kind === 'fused')
    return fusedBackward(tape, recurrentKernel, dOutputs, dhFinal, dcFinal, options.dxw !== false);
  const dOut = dOutputs ? ((steps === 1 ? [dOutputs] : tf.split(dOutputs, steps, 0)) as tf.Tensor2D[]) : undefined;
  const recurrentT = tf.transpose(recurrentKernel) as tf.Tensor2D; // [4H, H], once: no transposed matMul per step
  let dhRec: tf.Tensor2D | undefined = dhFinal;
  let dcNext: tf.Tensor2D | undefined = dcFinal;
  const dzs: tf.Tensor2D[] = new Array(steps);
  const blockGrads: tf.Tensor2D[] = [];
  for (let t = steps - 1; t >= 0; t--) {
    const dOutT = dOut?.[t];
    const dh: tf.Tensor2D = dOutT && dhRec ? tf.add(dOutT, dhRec) : (dOutT ?? dhRec ?? tf.zeros([batch, units]));
    const dcOwn = tf.mul(dh, tape.k[t]!) as tf.Tensor2D;
    const dc: tf.Tensor2D = dcNext ? tf.add(dcOwn, dcNext) : dcOwn;
    const dz = tf.mul(tf.concat([dc, dc, dc, dh], 1), tape.q[t]!) as tf.Tensor2D;
    dzs[t] = dz;
    if (tape.blocks) blockGrads.push(tf.matMul(tape.blocks[t]!, dz));
    dhRec = tf.matMul(dz, recurrentT) as tf.Tensor2D;
    dcNext = tf.mul(dc, tape.f[t]!) as tf.Tensor2D;
  }
  const wantDxw = options.dxw !== false;
  const dxw = wantDxw || !tape.blocks ? ((steps === 1 ? dzs[0]! : tf.concat(dzs, 0)) as tf.Tensor2D) : undefined;
  const state = { dh0: dhRec!, dc0: dcNext! };
  let grads: Pick<LstmGradients, 'dRecurrentKernel' | 'dKernel' | 'dBias'>;
  if (tape.blocks) {
    const sum = (blockGrads.length === 1 ? blockGrads[0]! : tf.addN(blockGrads)) as tf.Tensor2D; // [D+H+1, 4H]
    const [dKernel, dRecurrentKernel, dBias] = tf.split(sum, [tape.inputDim!, units, 1], 0) as [
      tf.Tensor2D,
      tf.Tensor2D,
      tf.Tensor2D,
    ];
    grads = { dKernel, dRecurrentKernel, dBias: tf.reshape(dBias, [4 * units]) };
  } else {
    grads = { dRecurrentKernel: tf.matMul(tf.transpose(tape.hPrev), dxw!) as tf.Tensor2D };
  }
  return wantDxw ? { dxw: dxw!, ...grads, ...state } : { ...grads, ...state };
}
