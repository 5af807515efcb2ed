import { afterAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/model/backend.js';
import { fastKernelsRegistered, unregisterFastKernels } from '../src/training/fast-kernels.js';
import { initTrainingBackend } from '../src/training/training-backend.js';

afterAll(() => unregisterFastKernels());

describe('initTrainingBackend', () => {
  it('leaves the stock kernels to the model backend and registers the fast ones for training on wasm', async () => {
    const info = await initBackend('wasm');
    expect(info.name).toBe('wasm');
    expect(fastKernelsRegistered()).toBe(false);
    expect((await initTrainingBackend('wasm')).name).toBe('wasm');
    expect(fastKernelsRegistered()).toBe(true);
    expect((await initTrainingBackend('wasm')).name).toBe('wasm'); // idempotent
    expect(fastKernelsRegistered()).toBe(true);
  });
});
