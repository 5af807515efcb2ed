/**
 * The real entry point as a child process, started the way `npm start` starts it — the compiled `node
 * dist/src/main.js` (test/helpers/dist.ts keeps dist/ fresh) — for the end-to-end, fault and secret tests and the
 * bench: only the environment given (nothing inherited but PATH and HOME, so no real token leaks in), optional
 * preloaded modules (fault injection, the bench's loop probe: their compiled counterparts), stdout parsed as JSON
 * log lines, the raw stdout and stderr kept whole for scanning, and optionally an IPC channel.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { compiledPath, DIST, ROOT } from './dist.js';

export { ROOT };

export interface EntryExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Date.now() when the process exited. */
  at: number;
}

export interface EntryProcess {
  child: ChildProcess;
  /** stdout lines parsed as JSON (a line that is not JSON is kept as { msg, notJson: true }). */
  logs: Record<string, unknown>[];
  /** Everything written to stdout so far, as written. */
  stdout(): string;
  /** Everything written to stderr so far, as written. */
  stderr(): string;
  exited: Promise<EntryExit>;
  /** Resolves with the first log line (seen or coming) matching; rejects if the process exits first or on timeout. */
  waitForLog(pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** How the process was started, e.g. `node dist/src/main.js`. */
  entry: string;
  /**
   * Sends `message` over the IPC channel (option `ipc`) and resolves with the first message back carrying the same
   * `probe` field (bench/loop-probe.ts's protocol).
   */
  ask<T>(message: { probe: string }, timeoutMs: number): Promise<T>;
}

export interface EntryProcessOptions {
  /** Variables over a blank configuration (LOG_LEVEL info, MODEL_DIR models/base, STORAGE_URL sqlite://:memory:). */
  env: Record<string, string>;
  /** Modules of this repository to preload (their compiled counterparts), e.g. test/helpers/fault-preload.ts. */
  preload?: string[];
  /** The compiled tree to run (default dist/; the bench compiles into a temporary folder). */
  distDir?: string;
  /** Run from the TypeScript sources under tsx instead (`node --import tsx src/main.ts`): only to compare. */
  fromSources?: boolean;
  /** Open an IPC channel (for `ask`). */
  ipc?: boolean;
  /** The working folder of the process (default: this repository). */
  cwd?: string;
  /** Which entry point: the bot (`main`, default) or a trainer host (`trainer-main`, as `npm run trainer` runs). */
  role?: 'main' | 'trainer-main';
}

/** The node arguments that start the bot as `npm start` does (or from sources), preloads first. */
export function entryArgs(how: Omit<EntryProcessOptions, 'env' | 'ipc' | 'cwd'>): string[] {
  const { preload = [], distDir = DIST, fromSources = false, role = 'main' } = how;
  if (fromSources) {
    return ['--import', 'tsx', ...preload.flatMap((m) => ['--import', path.resolve(ROOT, m)]), `src/${role}.ts`];
  }
  const main = path.join(distDir, 'src', `${role}.js`);
  const modules = preload.map((m) => compiledPath(m, distDir));
  for (const file of [main, ...modules]) {
    if (!existsSync(file)) {
      throw new Error(
        `${file} does not exist: the end-to-end tests run the compiled bot; run npx tsc -p tsconfig.json`,
      );
    }
  }
  return [...modules.flatMap((m) => ['--import', m]), main];
}

/** A path inside the repository, relative to it; anything else as it is. */
function shortPath(arg: string): string {
  return path.isAbsolute(arg) && !path.relative(ROOT, arg).startsWith('..') ? path.relative(ROOT, arg) : arg;
}

export function startEntryProcess({ env, ipc = false, cwd = ROOT, ...how }: EntryProcessOptions): EntryProcess {
  const args = entryArgs(how);
  const child = spawn(process.execPath, args, {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      DISCORD_TOKEN: '',
      DISCORD_API_URL: '',
      DEV_GUILD_ID: '',
      BABBLE_BACKEND: '',
      LOG_LEVEL: 'info',
      MODEL_DIR: path.join(ROOT, 'models/base'),
      STORAGE_URL: 'sqlite://:memory:',
      RETENTION_DAYS: '',
      ...env,
    },
    stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let out = '';
  let err = '';
  let pending = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    pending += chunk;
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.trim() === '') continue;
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ msg: line, notJson: true });
      }
    }
    for (const w of waiters) w();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<EntryExit>((resolve) => {
    child.on('exit', (code, signal) => {
      for (const w of waiters) w();
      resolve({ code, signal, at: Date.now() });
    });
  });
  return {
    child,
    logs,
    stdout: () => out,
    stderr: () => err,
    exited,
    entry: `node ${args.map(shortPath).join(' ')}`,
    ask<T>(message: { probe: string }, timeoutMs: number): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const onMessage = (reply: unknown) => {
          if ((reply as { probe?: unknown } | null)?.probe !== message.probe) return;
          child.off('message', onMessage);
          clearTimeout(timer);
          resolve(reply as T);
        };
        const timer = setTimeout(() => {
          child.off('message', onMessage);
          reject(new Error(`the bot did not answer ${JSON.stringify(message)} within ${timeoutMs} ms`));
        }, timeoutMs);
        child.on('message', onMessage);
        child.send(message);
      });
    },
    waitForLog(pred, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = logs.find(pred);
          if (found) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(found);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(
              new Error(
                `bot exited (${child.exitCode ?? child.signalCode}) before the log line; stderr: ${err}; logs: ${JSON.stringify(logs).slice(-4000)}`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no such log line within ${timeoutMs} ms; logs: ${JSON.stringify(logs).slice(-4000)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}
