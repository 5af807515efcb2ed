/**
 * Choosing the TensorFlow.js backend: `@tensorflow/tfjs-node` when it is installed (an optional dependency that
 * needs libtensorflow), otherwise `@tensorflow/tfjs` on the wasm backend, and the pure-JS cpu backend last.
 * `BABBLE_BACKEND=node|wasm|cpu` forces one.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { errorMessage } from '../error-message.js';

export type BackendName = 'node' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['node', 'wasm', 'cpu'];

export interface BackendInfo {
  name: BackendName;
  /** Why this one: forced by BABBLE_BACKEND, or the first that loaded. */
  reason: string;
  /** Backends tried before it, with the error each gave. */
  skipped: { name: BackendName; error: string }[];
}

const require = createRequire(import.meta.url);
let current: Promise<BackendInfo> | undefined;

const PROCESS_EVENTS = ['unhandledRejection', 'uncaughtException'] as const;

/**
 * Runs `load`, then removes any 'unhandledRejection' / 'uncaughtException' listener it added. The wasm backend's
 * Emscripten glue installs listeners that rethrow, which would turn any unhandled rejection anywhere in the
 * process into a crash (and print the glue's source); the program's own handlers decide that instead.
 */
async function withoutProcessHandlersAdded(load: () => Promise<void>): Promise<void> {
  const listeners = (event: string) => process.listeners(event as 'warning') as ((...args: unknown[]) => void)[];
  const before = new Map(PROCESS_EVENTS.map((e) => [e, new Set(listeners(e))]));
  try {
    await load();
  } finally {
    for (const event of PROCESS_EVENTS) {
      for (const listener of listeners(event)) {
        if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
      }
    }
  }
}

async function tryBackend(name: BackendName): Promise<void> {
  if (name === 'node') {
    // tfjs-node registers the 'tensorflow' backend on require; it throws when libtensorflow is missing.
    require('@tensorflow/tfjs-node');
    if (!(await tf.setBackend('tensorflow'))) throw new Error('tensorflow backend failed to initialise');
  } else if (name === 'wasm') {
    await withoutProcessHandlersAdded(async () => {
      await import('@tensorflow/tfjs-backend-wasm');
      if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend failed to initialise');
      await tf.ready();
    });
  } else {
    if (!(await tf.setBackend('cpu'))) throw new Error('cpu backend failed to initialise');
  }
  await tf.ready();
}

export function parseBackendName(value: string | undefined): BackendName | undefined {
  if (value === undefined || value === '') return undefined;
  const v = value.trim().toLowerCase();
  if ((BACKEND_NAMES as readonly string[]).includes(v)) return v as BackendName;
  throw new Error(`BABBLE_BACKEND must be one of ${BACKEND_NAMES.join(', ')} (got ${JSON.stringify(value)})`);
}

/**
 * Initialises the backend once per process (later calls return the same answer). With `forced`, only that
 * backend is tried and a failure is an error; otherwise node → wasm → cpu.
 */
export function initBackend(forced: BackendName | undefined = parseBackendName(process.env.BABBLE_BACKEND)): Promise<BackendInfo> {
  current ??= (async () => {
    const order = forced ? [forced] : BACKEND_NAMES;
    const skipped: BackendInfo['skipped'] = [];
    for (const name of order) {
      try {
        await tryBackend(name);
        return { name, reason: forced ? 'forced by BABBLE_BACKEND' : skipped.length ? 'first that loaded' : 'preferred', skipped };
      } catch (err) {
        skipped.push({ name, error: errorMessage(err).split('\n')[0]! });
      }
    }
    const detail = skipped.map((s) => `${s.name}: ${s.error}`).join('; ');
    throw new Error(`no TensorFlow.js backend could be initialised (${detail})`);
  })();
  current.catch(() => { current = undefined; });
  return current;
}

export { tf };
