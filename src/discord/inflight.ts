/**
 * Work in progress, for a graceful stop: every handler's promise is counted until it settles; closing stops new
 * work from being taken, and `idle()` waits for what runs to finish (or for a deadline).
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface WorkTracker {
  /** False once closed: new work is refused by the caller. */
  readonly accepting: boolean;
  /** Counts `work` until it settles (fulfilled or rejected); returns it unchanged. */
  track<T>(work: Promise<T>): Promise<T>;
  /** Pieces of work not settled yet. */
  running(): number;
  /** Stops taking work (`accepting` becomes false). Idempotent. */
  close(): void;
  /** Resolves with 0 as soon as nothing runs, or after `timeoutMs` with how many pieces still run. */
  idle(timeoutMs: number): Promise<number>;
}

export function createWorkTracker(): WorkTracker {
  let accepting = true;
  let count = 0;
  const waiters = new Set<() => void>();
  const settle = () => {
    count -= 1;
    if (count === 0) for (const w of [...waiters]) w();
  };
  return {
    get accepting() {
      return accepting;
    },
    track(work) {
      count += 1;
      work.then(settle, settle);
      return work;
    },
    running: () => count,
    close() {
      accepting = false;
    },
    async idle(timeoutMs) {
      if (count === 0) return 0;
      const timer = new AbortController();
      let done: () => void = () => undefined;
      const empty = new Promise<void>((resolve) => {
        done = resolve;
      });
      waiters.add(done);
      try {
        await Promise.race([empty, sleep(timeoutMs, undefined, { signal: timer.signal }).catch(() => undefined)]);
      } finally {
        waiters.delete(done);
        timer.abort();
      }
      return count;
    },
  };
}
