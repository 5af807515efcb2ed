/**
 * Retention: messages and taught texts are deleted RETENTION_DAYS after they were sent, by a sweep that runs every
 * hour (not only when read), whatever time to live a row was written with.
 */
import type { Logger } from '../../log.js';
import { DATED_ROW, type CollectionContext } from './layout.js';

/** Deletes every message and taught text sent more than RETENTION_DAYS ago (and their index entries). */
export async function sweepExpired(
  ctx: Pick<CollectionContext, 'store' | 'now' | 'retentionMs'>,
): Promise<{ deleted: number; purged: number }> {
  const cutoff = ctx.now() - ctx.retentionMs;
  let deleted = 0;
  // Every key of every server: streamed (a row may come twice; deleting it twice is harmless), not remembered.
  for await (const page of ctx.store.scan<{ at?: unknown }>('g:', 1000, { distinct: false })) {
    const doomed = page
      .filter((r) => DATED_ROW.test(r.key) && typeof r.value.at === 'number' && r.value.at <= cutoff)
      .map((r) => r.key);
    if (doomed.length > 0) {
      await ctx.store.deleteMany(doomed);
      deleted += doomed.length;
    }
  }
  const purged = await ctx.store.purgeExpired();
  return { deleted, purged };
}

export interface Sweeper {
  stop(): void;
  /** The running sweep, if any (for shutdown). */
  running(): Promise<void> | undefined;
}

/** Sweeps now and then every `intervalMs` (default 1 h); failures are logged and retried next time. */
export function startRetentionSweeper(
  collection: { sweep(): Promise<{ deleted: number; purged: number }> },
  log: Logger,
  intervalMs = 3_600_000,
): Sweeper {
  let current: Promise<void> | undefined;
  const run = () => {
    if (current) return;
    const started = Date.now();
    current = collection
      .sweep()
      .then(
        (r) => log.info({ ...r, ms: Date.now() - started }, 'retention sweep done'),
        (error: unknown) => log.error({ err: error }, 'retention sweep failed; retrying at the next interval'),
      )
      .finally(() => {
        current = undefined;
      });
  };
  const first = setTimeout(run, 0);
  const timer = setInterval(run, intervalMs);
  first.unref();
  timer.unref();
  return {
    stop: () => {
      clearTimeout(first);
      clearInterval(timer);
    },
    running: () => current,
  };
}
