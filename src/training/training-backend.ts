/**
 * The backend for training: the process's TensorFlow.js backend (model/backend.ts), plus, on wasm, training's own
 * faster kernels (fast-kernels.ts). Generation runs without TensorFlow.js, so only what trains or scores needs them.
 */
import { initBackend, type BackendInfo, type BackendName } from '../model/backend.js';
import { registerFastKernels } from './fast-kernels.js';

/** initBackend, then the fast kernels when the backend is wasm (idempotent, like initBackend). */
export async function initTrainingBackend(forced?: BackendName): Promise<BackendInfo> {
  const info = await initBackend(forced);
  if (info.name === 'wasm') registerFastKernels();
  return info;
}
