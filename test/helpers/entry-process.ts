/**
 * The real entry point (`node --import tsx src/main.ts`) as a child process, for fault and secret tests: only the
 * environment given (nothing inherited but PATH and HOME, so no real token leaks in), optional preloaded modules
 * (fault injection), stdout parsed as JSON log lines, and the raw stdout and stderr kept whole for scanning.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

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
}

export interface EntryProcessOptions {
  /** Variables over a blank configuration (LOG_LEVEL info, MODEL_DIR models/base, STORAGE_URL sqlite://:memory:). */
  env: Record<string, string>;
  /** Modules to preload after tsx (so they may be TypeScript), e.g. test/helpers/fault-preload.ts. */
  preload?: string[];
}

export function startEntryProcess({ env, preload = [] }: EntryProcessOptions): EntryProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ...preload.flatMap((m) => ['--import', m]), 'src/main.ts'], {
    cwd: ROOT,
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
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let out = '';
  let err = '';
  let pending = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
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
            reject(new Error(`bot exited (${child.exitCode ?? child.signalCode}) before the log line; stderr: ${err}; logs: ${JSON.stringify(logs).slice(-4000)}`));
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
