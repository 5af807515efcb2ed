/**
 * Waiting for the fake Discord: conditions re-checked whenever something happens (a request is answered, a gateway
 * event is sent or received) and every POLL_MS, rejected on timeout or when the fake closes.
 */

/** How often a pending condition is re-checked without an event of the fake. */
const POLL_MS = 50;

export class Waiters {
  private readonly listeners = new Set<() => void>();
  private readonly closers = new Set<(error: Error) => void>();
  private closed = false;

  /** Re-checks every pending wait. */
  notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  /** Rejects every pending wait, and any later one. */
  close(): void {
    this.closed = true;
    for (const reject of this.closers) reject(new Error('fake-discord closed'));
    this.closers.clear();
    this.listeners.clear();
  }

  /**
   * Resolves with the first defined `get()`, checked now, on every `notify()`, and every POLL_MS — for conditions
   * on what the fake doesn't see (the bot's log lines, a callback of the bot), which may come true after its last
   * request.
   */
  waitForValue<T>(get: () => T | undefined, timeoutMs: number, describe: () => string): Promise<T> {
    let now: T | undefined;
    try {
      now = get();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    if (now !== undefined) return Promise.resolve(now);
    if (this.closed) return Promise.reject(new Error('fake-discord closed'));
    return new Promise<T>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        clearInterval(poll);
        this.listeners.delete(check);
        this.closers.delete(onClose);
      };
      const check = (): void => {
        let value: T | undefined;
        try {
          value = get();
        } catch (error) {
          cleanup();
          reject(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        if (value === undefined) return;
        cleanup();
        resolve(value);
      };
      const onClose = (error: Error): void => {
        cleanup();
        reject(error);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${describe()} (after ${timeoutMs} ms)`));
      }, timeoutMs);
      const poll = setInterval(check, POLL_MS);
      this.listeners.add(check);
      this.closers.add(onClose);
    });
  }
}
