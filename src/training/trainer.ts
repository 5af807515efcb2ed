/**
 * The parent side of a training run: forks trainer-child.ts, sends it one job, relays its progress, and settles
 * with its `saved` report — or rejects with a `TrainingError` saying why (crash, out of memory, timeout,
 * cancellation, a malformed message).
 *
 * Isolation: the child gets an explicit, minimal environment (never DISCORD_TOKEN or anything named like a secret),
 * a V8 heap cap (`--max-old-space-size`), and a wall-clock limit. Cancellation (AbortSignal) sends `cancel`, then
 * SIGTERM after a grace period, then SIGKILL; the timeout sends SIGTERM, then SIGKILL. The child exits on its own
 * when this process goes (it watches its IPC channel).
 *
 * The promise resolves only when the child has reported `saved` and `done` and then exited with code 0; anything
 * else is a rejection, so a caller swaps nothing unless the run completed.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import {
  parseChildMessage,
  parseParentMessage,
  ProtocolError,
  type ChildMessage,
  type ParentMessage,
  type ProgressFigures,
  type SavedMessage,
  type TrainJob,
  TRAINER_CHILD_FLAG,
} from './trainer-protocol.js';
import { writeTrainingTextFile } from './training-text-file.js';

export type TrainingFailure =
  | 'not-started'
  | 'crashed'
  | 'out-of-memory'
  | 'timeout'
  | 'cancelled'
  | 'protocol'
  | 'failed';

export class TrainingError extends Error {
  override readonly name = 'TrainingError';
  constructor(
    /**
     * not-started: the process could not be started (ENOENT, EAGAIN, EMFILE…); crashed: died by a signal or a
     * non-zero exit; out-of-memory: heap cap hit; failed: the child reported an error.
     */
    readonly kind: TrainingFailure,
    message: string,
    readonly exitCode: number | null = null,
    readonly signal: NodeJS.Signals | null = null,
  ) {
    super(message);
  }
}

export interface RunTrainingOptions {
  signal?: AbortSignal;
  onProgress?: (progress: ProgressFigures) => void;
  /** Called with the child's pid once it is forked. */
  onSpawn?: (pid: number) => void;
  /** Called when the child says it is ready, with the names (only) of its environment variables. */
  onReady?: (info: { pid: number; envKeys: string[] }) => void;
  /** Called with the path of the training text file (0600) once written; it is gone when the promise settles. */
  onTextFile?: (path: string) => void;
  /** Wall-clock limit of the whole child, from fork to exit. Default 30 minutes. */
  timeoutMs?: number;
  /** The child's V8 heap cap. Default 1024 MB. */
  maxHeapMb?: number;
  /** Between cancel → SIGTERM → SIGKILL. Default 3000 ms. */
  graceMs?: number;
  /** Extra environment variables for the child (names that look like secrets are dropped). */
  env?: Record<string, string>;
  /** The node binary that runs the child. Default process.execPath. */
  execPath?: string;
}

export interface TrainingResult {
  saved: SavedMessage;
  pid: number;
}

/** Environment variables passed on to the child when the parent has them. Nothing else is. */
export const CHILD_ENV_ALLOWLIST = [
  'PATH',
  'HOME',
  'TMPDIR',
  'TMP',
  'TEMP',
  'LANG',
  'LC_ALL',
  'TZ',
  'NODE_ENV',
  'SystemRoot',
  'SYSTEMROOT',
  // The child trains: the backend and the fused kernels' FMA switch (src/model/cell-kernel.ts) apply there.
  'BABBLE_BACKEND',
  'BABBLE_WASM_FMA',
] as const;
const SECRET_NAME = /token|secret|password|passwd|credential|api_?key/i;

/** The child's whole environment: the allowlisted variables of `parent`, `extra` minus secret-looking names, and the child flag. */
export function childEnv(parent: NodeJS.ProcessEnv, extra: Record<string, string> = {}): Record<string, string> {
  // Values of the parent's secret-named variables (the token among them): never passed on, under any name.
  const secrets = Object.entries(parent)
    .filter(([k, v]) => SECRET_NAME.test(k) && v !== undefined && v.length >= 8)
    .map(([, v]) => v!);
  const holdsSecret = (v: string) => secrets.some((secret) => v.includes(secret));
  const env: Record<string, string> = {};
  for (const name of CHILD_ENV_ALLOWLIST) {
    const v = parent[name];
    if (v !== undefined && !holdsSecret(v)) env[name] = v;
  }
  for (const [k, v] of Object.entries(extra)) if (!SECRET_NAME.test(k) && !holdsSecret(v)) env[k] = v;
  env[TRAINER_CHILD_FLAG] = '1';
  return env;
}

/** The child module and the node flags to run it (tsx's loader when running from TypeScript sources). */
function childEntry(maxHeapMb: number): { path: URL; execArgv: string[] } {
  const isTs = import.meta.url.endsWith('.ts');
  const path = new URL(isTs ? './trainer-child.ts' : './trainer-child.js', import.meta.url);
  const execArgv = [`--max-old-space-size=${maxHeapMb}`];
  if (isTs) execArgv.unshift('--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href);
  return { path, execArgv };
}

const STDERR_TAIL = 4000;

/** Forks a trainer child for `job` and settles when it is done. See the module comment. */
export function runTraining(job: TrainJob, options: RunTrainingOptions = {}): Promise<TrainingResult> {
  const start: ParentMessage = { type: 'start', job };
  try {
    parseParentMessage(start); // a bad job is refused here, before any process is started
  } catch (err) {
    return Promise.reject(new TrainingError('protocol', `the training job is invalid: ${(err as Error).message}`));
  }
  if (options.signal?.aborted) return Promise.reject(new TrainingError('cancelled', 'training was cancelled'));
  // The lines go through a 0600 file, removed when the job ends whatever its outcome (training-text-file.ts).
  return writeTrainingTextFile(job).then(
    async (file) => {
      options.onTextFile?.(file.path);
      try {
        return await forkTrainer({ type: 'start', job: file.job }, options);
      } finally {
        await file.remove();
      }
    },
    (err: unknown) => {
      throw new TrainingError('not-started', `could not write the training text: ${(err as Error).message}`);
    },
  );
}

/** Forks the child, sends it `start`, and settles as runTraining says. */
function forkTrainer(start: ParentMessage, options: RunTrainingOptions): Promise<TrainingResult> {
  if (options.signal?.aborted) return Promise.reject(new TrainingError('cancelled', 'training was cancelled'));
  const maxHeapMb = options.maxHeapMb ?? 1024;
  const graceMs = options.graceMs ?? 3000;
  const timeoutMs = options.timeoutMs ?? 30 * 60_000;
  const entry = childEntry(maxHeapMb);

  return new Promise<TrainingResult>((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = fork(entry.path, [], {
        ...(options.execPath !== undefined ? { execPath: options.execPath } : {}),
        execArgv: entry.execArgv,
        env: childEnv(process.env, options.env),
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        serialization: 'json',
      });
    } catch (err) {
      reject(new TrainingError('not-started', `could not start the trainer: ${(err as Error).message}`));
      return;
    }
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_TAIL);
    });
    let saved: SavedMessage | undefined;
    let done = false;
    let reported: string | undefined;
    let stopReason: TrainingError | undefined;
    const timers: NodeJS.Timeout[] = [];
    const pid = child.pid ?? -1;
    let spawned = false;
    let settled = false;

    const kill = (signal: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    /** Ends the child: cancel (if asked and still connected), SIGTERM after grace, SIGKILL after another. */
    const stop = (reason: TrainingError, politely: boolean) => {
      if (stopReason) return;
      stopReason = reason;
      let delay = 0;
      if (politely && child.connected) {
        child.send({ type: 'cancel' } satisfies ParentMessage, (err) => {
          if (err) kill('SIGTERM');
        });
        delay = graceMs;
      }
      timers.push(setTimeout(() => kill('SIGTERM'), delay).unref());
      timers.push(setTimeout(() => kill('SIGKILL'), delay + graceMs).unref());
    };
    const onAbort = () => stop(new TrainingError('cancelled', 'training was cancelled'), true);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    timers.push(
      setTimeout(
        () =>
          stop(
            new TrainingError(
              'timeout',
              `training took longer than the ${Math.round(timeoutMs / 1000)} s limit and was stopped`,
            ),
            false,
          ),
        timeoutMs,
      ).unref(),
    );

    child.on('spawn', () => {
      spawned = true;
      options.onSpawn?.(pid);
    });
    child.on('message', (raw: unknown) => {
      let message: ChildMessage;
      try {
        message = parseChildMessage(raw);
      } catch (err) {
        stop(
          new TrainingError(
            'protocol',
            `the trainer sent a malformed message: ${err instanceof ProtocolError ? err.message : String(err)}`,
          ),
          false,
        );
        return;
      }
      switch (message.type) {
        case 'ready':
          options.onReady?.({ pid: message.pid, envKeys: message.envKeys });
          if (!stopReason)
            child.send(start, (err) => {
              if (err)
                stop(new TrainingError('crashed', `could not send the job to the trainer: ${err.message}`), false);
            });
          break;
        case 'progress': {
          const { type: _type, ...progress } = message;
          options.onProgress?.(progress);
          break;
        }
        case 'saved':
          saved = message;
          break;
        case 'done':
          done = true;
          break;
        case 'error':
          reported = message.message;
          break;
      }
    });
    const cleanUp = () => {
      settled = true;
      for (const t of timers) clearTimeout(t);
      options.signal?.removeEventListener('abort', onAbort);
    };
    child.on('error', (err: NodeJS.ErrnoException) => {
      // A process that never started emits 'error' and 'close' but no 'exit': settle now, or the job waits for ever.
      if (!spawned && !settled) {
        cleanUp();
        const why = `the trainer process could not be started (${err.code ?? 'error'}): ${err.message}`;
        reject(new TrainingError('not-started', why));
        return;
      }
      stop(new TrainingError('crashed', `the trainer process failed: ${err.message}`), false);
    });
    const onEnd = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      cleanUp();
      if (stopReason) {
        reject(stopReason);
        return;
      }
      if (code === 0 && saved && done) {
        resolve({ saved, pid });
        return;
      }
      const tail = stderr.trim().split('\n').slice(-3).join(' | ');
      if (signal === 'SIGABRT' || /heap out of memory|Allocation failed/i.test(stderr)) {
        reject(
          new TrainingError(
            'out-of-memory',
            `the trainer ran out of memory (heap limit ${maxHeapMb} MB)`,
            code,
            signal,
          ),
        );
      } else if (reported !== undefined) {
        reject(new TrainingError('failed', `training failed: ${reported}`, code, signal));
      } else if (signal) {
        reject(new TrainingError('crashed', `the trainer was killed by ${signal}`, code, signal));
      } else if (code !== 0) {
        reject(
          new TrainingError('crashed', `the trainer exited with code ${code}${tail ? `: ${tail}` : ''}`, code, signal),
        );
      } else {
        reject(new TrainingError('crashed', 'the trainer exited before it finished saving the model', code, signal));
      }
    };
    child.on('exit', onEnd);
    // 'close' alone comes when the process ended without an 'exit' (after an 'error').
    child.on('close', onEnd);
  });
}
