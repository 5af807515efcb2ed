import { describe, expect, it } from 'vitest';
import { chooseBackend, initBackend, logBackend, tf, type BackendLoaders } from '../src/model/backend.js';
import { backendStep, expectedStep, lstmSmokeCheck, stepInputs } from '../src/model/smoke.js';

/**
 * A native backend that loads but computes wrongly: registers a backend under tfjs-node's name ('tensorflow')
 * made of the cpu backend's kernels, except that Sigmoid runs the Tanh kernel.
 */
function brokenNative(): BackendLoaders {
  return {
    node: () => {
      if (tf.findBackend('tensorflow')) return;
      tf.registerBackend('tensorflow', tf.findBackendFactory('cpu'));
      const cpuKernels = tf.getKernelsForBackend('cpu');
      const tanh = cpuKernels.find((k) => k.kernelName === 'Tanh')!;
      for (const kernel of cpuKernels) {
        const kernelFunc = kernel.kernelName === 'Sigmoid' ? tanh.kernelFunc : kernel.kernelFunc;
        tf.registerKernel({ ...kernel, kernelFunc, backendName: 'tensorflow' });
      }
    },
  };
}

function captureLog() {
  type Line = { level: 'info' | 'warn'; fields: object; message: string };
  const lines: Line[] = [];
  return {
    lines,
    info: (fields: object, message: string) => lines.push({ level: 'info', fields, message }),
    warn: (fields: object, message: string) => lines.push({ level: 'warn', fields, message }),
  };
}

describe('the backend smoke check', () => {
  it('the plain-JS step is the Keras LSTM cell: it matches a tf.layers LSTM with the same weights on cpu', async () => {
    await chooseBackend('cpu');
    const s = stepInputs();
    const want = expectedStep(s);
    const [h, c] = tf.tidy(() => {
      const layer = tf.layers.lstm({
        units: 4,
        recurrentActivation: 'sigmoid',
        returnState: true,
        weights: [tf.tensor2d(s.kernel, [3, 16]), tf.tensor2d(s.recurrent, [4, 16]), tf.tensor1d(s.bias)],
      });
      const x = tf.tensor3d(s.x, [2, 1, 3]);
      const initialState = [tf.tensor2d(s.h, [2, 4]), tf.tensor2d(s.c, [2, 4])];
      const out = layer.apply(x, { initialState }) as tf.Tensor[];
      return [Array.from(out[1]!.dataSync()), Array.from(out[2]!.dataSync())];
    });
    want.h.forEach((v, i) => {
      expect(h![i]).toBeCloseTo(v, 5);
    });
    want.c.forEach((v, i) => {
      expect(c![i]).toBeCloseTo(v, 5);
    });
    expect(new Set(want.h.map((v) => v.toFixed(4))).size).toBe(8); // varied numbers, not a degenerate step
  });

  it('passes on the cpu and the wasm backends', async () => {
    for (const name of ['cpu', 'wasm'] as const) {
      const info = await chooseBackend(name);
      expect(info).toMatchObject({ name, skipped: [] });
      expect(lstmSmokeCheck(tf)).toBeUndefined();
      const got = backendStep(tf);
      expectedStep().h.forEach((v, i) => {
        expect(got.h[i]).toBeCloseTo(v, 5);
      });
    }
  });

  it('fails a backend whose sigmoid is wrong, naming the number that differs', async () => {
    brokenNative().node();
    await tf.setBackend('tensorflow');
    expect(lstmSmokeCheck(tf)).toMatch(/^LSTM step h\[0\] = .*, expected /);
  });
});

describe('choosing a backend', () => {
  it('falls back to wasm when the native module fails to load, saying why', async () => {
    const broken: BackendLoaders = {
      node: () => {
        throw new Error('libtensorflow.so.2: cannot open shared object file\nRequire stack: …');
      },
    };
    const info = await chooseBackend(undefined, broken);
    expect(info.name).toBe('wasm');
    expect(info.skipped).toEqual([
      { name: 'node', error: 'failed to load: libtensorflow.so.2: cannot open shared object file' },
    ]);
    const log = captureLog();
    logBackend(info, log);
    expect(log.lines).toMatchObject([
      {
        level: 'warn',
        message: 'tfjs backend: wasm, because node failed to load: libtensorflow.so.2: cannot open shared object file',
      },
    ]);
  });

  it('tfjs-node not installed (the usual case) is one info line, not a warning', async () => {
    const absent: BackendLoaders = {
      node: () => {
        throw Object.assign(new Error("Cannot find module '@tensorflow/tfjs-node'\nRequire stack: …"), {
          code: 'MODULE_NOT_FOUND',
        });
      },
    };
    const info = await chooseBackend(undefined, absent);
    expect(info).toMatchObject({ name: 'wasm', skipped: [{ name: 'node', error: 'not installed' }] });
    const log = captureLog();
    logBackend(info, log);
    expect(log.lines).toMatchObject([{ level: 'info', message: 'tfjs backend: wasm' }]);
  });

  it('a forced backend that computes wrongly is an error, not a silent fallback', async () => {
    await expect(chooseBackend('node', brokenNative())).rejects.toThrow(/node: computed wrong numbers: LSTM step/);
  });

  it('a native backend that loads but computes wrongly is skipped for wasm, logged once in one line', async () => {
    const log = captureLog();
    const first = await initBackend(undefined, { loaders: brokenNative(), log });
    const again = await initBackend(undefined, { loaders: brokenNative(), log });
    expect(again).toBe(first);
    expect(first.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(first.skipped).toHaveLength(1);
    const reason = expect.stringMatching(/^computed wrong numbers: LSTM step/);
    expect(first.skipped[0]).toMatchObject({ name: 'node', error: reason });
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).toMatchObject({ level: 'warn', fields: { backend: 'wasm' } });
    expect(log.lines[0]!.message).toMatch(/^tfjs backend: wasm, because node computed wrong numbers: LSTM step h\[0\]/);
    expect(first.smokeMs).toBeGreaterThan(0);
  });
});
