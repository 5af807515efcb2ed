/**
 * Data-parallel training: a worker_thread that computes the loss and gradients of its share of each batch with
 * the same hand-written backward pass as the main thread (train.ts), on its own tfjs backend (one more core).
 *
 * The main thread starts it with `startGradientWorker()`; the code at the bottom runs only inside that worker.
 * Protocol: each `step` message carries the current weights and the worker's part of the batch; the reply
 * carries the loss and the gradients as plain arrays (transferred, not copied). The worker keeps no state
 * between steps (the main thread owns the optimiser).
 */
import { createRequire } from 'node:module';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import type { Batch, Scheme } from './batches.js';
import { mulberry32 } from '../model/weights.js';
import { gradientArrays } from './gradients.js';
import { errorMessage } from '../error-message.js';

const WORKER_FLAG = 'babbleGradientWorker';

export interface GradientRequest {
  type: 'step';
  id: number;
  /** Weights in PARAMS order (gradients.ts) with their shapes. */
  params: Float32Array[];
  shapes: number[][];
  batch: Batch;
  scheme: Scheme;
  dropout: number;
  /** Seed of the dropout masks for this step. */
  maskSeed: number;
}

export interface GradientReply {
  type: 'result';
  id: number;
  loss: number;
  grads: Float32Array[];
}

type WorkerMessage =
  | GradientReply
  | { type: 'ready'; backend: string }
  | { type: 'error'; id: number; message: string };

export interface GradientWorker {
  /** The backend the worker runs on. */
  readonly backend: string;
  compute(request: Omit<GradientRequest, 'type' | 'id'>): Promise<GradientReply>;
  terminate(): Promise<void>;
}

/** Starts a worker on `backend` ('wasm' registers the fast kernels there too) and waits until it is ready. */
export async function startGradientWorker(backend: string): Promise<GradientWorker> {
  const isTs = import.meta.url.endsWith('.ts');
  const url = new URL(isTs ? './gradient-worker.ts' : './gradient-worker.js', import.meta.url);
  const data = { [WORKER_FLAG]: true, backend };
  // From TypeScript sources (tsx, vitest) the worker registers tsx's loader in its own thread first: on Node 20
  // neither inherited nor explicit `--import tsx` applies to a worker's entry module.
  const worker = isTs
    ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`, {
        eval: true,
        workerData: data,
      })
    : new Worker(url, { workerData: data });
  const pending = new Map<number, { resolve: (r: GradientReply) => void; reject: (e: Error) => void }>();
  let failure: Error | undefined;
  const failAll = (err: Error) => {
    failure ??= err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  const ready = new Promise<string>((resolve, reject) => {
    worker.on('message', (msg: WorkerMessage) => {
      if (msg.type === 'ready') {
        resolve(msg.backend);
      } else if (msg.type === 'result') {
        pending.get(msg.id)?.resolve(msg);
        pending.delete(msg.id);
      } else if (msg.type === 'error') {
        const err = new Error(`gradient worker: ${msg.message}`);
        if (msg.id < 0) reject(err);
        pending.get(msg.id)?.reject(err);
        pending.delete(msg.id);
      }
    });
    worker.on('error', (err) => {
      reject(err);
      failAll(err);
    });
    worker.on('exit', (code) => {
      const err = new Error(`gradient worker exited with code ${code}`);
      reject(err);
      failAll(err);
    });
  });
  const actual = await ready;
  let nextId = 0;
  return {
    backend: actual,
    compute(request) {
      if (failure) return Promise.reject(failure);
      const id = nextId++;
      return new Promise<GradientReply>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage(
          { type: 'step', id, ...request } satisfies GradientRequest,
          request.params.map((p) => p.buffer as ArrayBuffer),
        );
      });
    },
    async terminate() {
      failure ??= new Error('gradient worker terminated');
      await worker.terminate();
    },
  };
}

async function serve(backend: string): Promise<void> {
  const port = parentPort!;
  try {
    if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    if (backend === 'tensorflow') createRequire(import.meta.url)('@tensorflow/tfjs-node'); // registers the native backend
    if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} failed to initialise`);
    await tf.ready();
    if (backend === 'wasm') {
      const { registerFastKernels } = await import('./fast-kernels.js');
      registerFastKernels();
    }
  } catch (err) {
    port.postMessage({ type: 'error', id: -1, message: errorMessage(err) });
    return;
  }
  port.postMessage({ type: 'ready', backend: tf.getBackend() });
  port.on('message', (msg: GradientRequest) => {
    try {
      const { loss, grads } = gradientArrays(
        msg.params,
        msg.shapes,
        msg.batch,
        msg.scheme,
        msg.dropout,
        mulberry32(msg.maskSeed),
      );
      // transfer whole buffers only: a view into a bigger buffer is copied first
      const own = grads.map((g) => (g.byteOffset === 0 && g.byteLength === g.buffer.byteLength ? g : g.slice()));
      port.postMessage(
        { type: 'result', id: msg.id, loss, grads: own } satisfies GradientReply,
        own.map((g) => g.buffer as ArrayBuffer),
      );
    } catch (err) {
      port.postMessage({ type: 'error', id: msg.id, message: errorMessage(err) });
    }
  });
}

if (!isMainThread && (workerData as Record<string, unknown> | null)?.[WORKER_FLAG] === true) {
  void serve(String((workerData as { backend: string }).backend));
}
