/**
 * Plumbing shared by the kernels training adds to tfjs-backend-wasm (fast-kernels.ts, wasm-kernels.ts): the parts of
 * its BackendWasm they use, the shape of a kernel function, and where a tensor lives in the backend's memory.
 */
import * as tf from '@tensorflow/tfjs';
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';

/** The parts of tfjs-backend-wasm's BackendWasm the training kernels use. */
export interface WasmBackend {
  wasm: {
    HEAPU8: Uint8Array;
    HEAPF32: Float32Array;
    asm?: { memory?: object };
    tfjs: { disposeData(id: number): void };
  };
  dataIdMap: {
    get(dataId: object): { id: number; memoryOffset: number; shape: number[]; dtype: string };
    delete(dataId: object): boolean;
  };
  makeOutput(shape: number[], dtype: string, memoryOffset?: number | null, values?: Float32Array): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** What tfjs passes a kernel function: named inputs (a list for Concat), the backend and the attributes. */
export interface KernelArgs<Inputs = Record<string, TensorInfo | undefined>> {
  inputs: Inputs;
  backend: WasmBackend;
  attrs?: NamedAttrMap;
}

/** A kernel function as the wasm backend calls it (tfjs types it loosely as KernelFunc). */
export type RawKernel<Inputs = Record<string, TensorInfo | undefined>> = (
  args: KernelArgs<Inputs>,
) => TensorInfo | TensorInfo[];

/** Byte offset of a tensor's data in the backend's memory. */
export function offsetOf(backend: WasmBackend, t: TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

/** The wasm backend when it is registered and initialised, else undefined. */
export function wasmBackend(): WasmBackend | undefined {
  const registry = tf.engine().registry as Record<string, unknown>;
  return registry.wasm as WasmBackend | undefined;
}
