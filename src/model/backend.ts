/**
 * Choosing the TensorFlow.js backend: `@tensorflow/tfjs-node` when it is installed (an optional dependency that
 * needs libtensorflow), otherwise `@tensorflow/tfjs` on the wasm backend, and the pure-JS cpu backend last.
 * `BABBLE_BACKEND=node|wasm|cpu` forces one.
 *
 * A backend is trusted only after it computed one LSTM step right (smoke.ts): a native build that loads but
 * computes wrongly (e.g. tfjs-node 4.22 on Node ≥ 23, tensorflow/tfjs#8609) is skipped like one that fails to load.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { errorMessage } from '../error-message.js';
import { lstmSmokeCheck } from './smoke.js';

export type BackendName = 'node' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['node', 'wasm', 'cpu'];

export interface BackendInfo {
  name: BackendName;
  /** Why this one: forced by BABBLE_BACKEND, or the first that loaded. */
  reason: string;
  /** Backends tried before it, with the error each gave (failing to load, or failing the smoke check). */
  skipped: { name: BackendName; error: string }[];
  /** How long the smoke check of the chosen backend took, in ms (absent where no check ran). */
  smokeMs?: number;
}

/** How a backend's module is loaded; tests swap the native one for a broken one. */
export interface BackendLoaders {
  /** Loads `@tensorflow/tfjs-node`, which registers the 'tensorflow' backend (throws without libtensorflow). */
  node(): void;
}

const require = createRequire(import.meta.url);

export const DEFAULT_LOADERS: BackendLoaders = {
  node: () => {
    require('@tensorflow/tfjs-node');
  },
};

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

async function tryBackend(name: BackendName, loaders: BackendLoaders): Promise<void> {
  if (name === 'node') {
    // tfjs-node registers the 'tensorflow' backend on require; it throws when libtensorflow is missing.
    loaders.node();
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

/** The optional tfjs-node is simply absent (the usual case): not worth a warning. */
const NOT_INSTALLED = 'not installed';

function notInstalled(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return e?.code === 'MODULE_NOT_FOUND' && String(e.message).startsWith("Cannot find module '@tensorflow/tfjs-node'");
}

function firstLine(err: unknown): string {
  return errorMessage(err).split('\n')[0]!;
}

/**
 * Tries the backends in order (only `forced` if given) and returns the first that loads and passes the smoke
 * check. Not cached: `initBackend` is the once-per-process entry point.
 */
export async function chooseBackend(
  forced: BackendName | undefined,
  loaders: BackendLoaders = DEFAULT_LOADERS,
): Promise<BackendInfo> {
  const order = forced ? [forced] : BACKEND_NAMES;
  const skipped: BackendInfo['skipped'] = [];
  for (const name of order) {
    try {
      await tryBackend(name, loaders);
    } catch (err) {
      skipped.push({ name, error: notInstalled(err) ? NOT_INSTALLED : `failed to load: ${firstLine(err)}` });
      continue;
    }
    const started = performance.now();
    const problem = lstmSmokeCheck(tf);
    const smokeMs = performance.now() - started;
    if (problem !== undefined) {
      skipped.push({ name, error: `computed wrong numbers: ${problem}` });
      continue;
    }
    const fallback = skipped.length ? 'first that loaded and computed right' : 'preferred';
    const reason = forced ? 'forced by BABBLE_BACKEND' : fallback;
    return { name, reason, skipped, smokeMs };
  }
  const detail = skipped.map((s) => `${s.name}: ${s.error}`).join('; ');
  throw new Error(`no TensorFlow.js backend could be initialised (${detail})`);
}

/** Where `initBackend` reports its choice: one line, at warn when a backend was skipped (saying why). */
export interface BackendLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/**
 * Logs the choice in one line: at warn when a backend before it was skipped for failing to load or computing
 * wrongly (naming each and why), at info otherwise (tfjs-node not installed is the usual case, not a problem).
 */
export function logBackend(info: BackendInfo, log: BackendLog): void {
  const smokeMs = Math.round((info.smokeMs ?? 0) * 100) / 100;
  const fields = { backend: info.name, reason: info.reason, skipped: info.skipped, smokeMs };
  const failed = info.skipped.filter((s) => s.error !== NOT_INSTALLED);
  if (failed.length === 0) {
    log.info(fields, `tfjs backend: ${info.name}`);
    return;
  }
  const why = failed.map((s) => `${s.name} ${s.error}`).join('; ');
  log.warn(fields, `tfjs backend: ${info.name}, because ${why}`);
}

export interface InitBackendOptions {
  /** Reports the choice once, when this call is the one that made it. */
  log?: BackendLog;
  loaders?: BackendLoaders;
}

/**
 * Initialises the backend once per process (later calls return the same answer, and log nothing). With
 * `forced`, only that backend is tried and a failure is an error; otherwise node → wasm → cpu, each checked.
 */
export function initBackend(
  forced: BackendName | undefined = parseBackendName(process.env.BABBLE_BACKEND),
  options: InitBackendOptions = {},
): Promise<BackendInfo> {
  if (current) return current;
  const choosing = chooseBackend(forced, options.loaders);
  current = choosing;
  choosing.then(
    (info) => {
      if (options.log) logBackend(info, options.log);
    },
    () => {
      current = undefined;
    },
  );
  return choosing;
}

export { tf };
