/**
 * The compare-and-swap of a scope's `current` pointer, across processes: a commit or rollback flips the pointer
 * only if it still holds what the operation read when it started. Several bots (shards, or a second process) may
 * share MODELS_DIR, so the in-process queue of registry.ts is not enough: the read-compare-write runs while holding
 * `<scope>/current.lock`, created exclusively (O_EXCL) with the owner's pid, host and start time. A lock whose
 * owner is gone (folder-owner.ts) is broken; a live one is waited for, at most LOCK_WAIT_MS.
 */
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno } from '../durable-file.js';
import { currentOwner, ownerAlive, parseOwner } from './folder-owner.js';
import { RegistryError } from './scope.js';

export const LOCK_FILE = 'current.lock';
export const LOCK_WAIT_MS = 5000;

/** The pointer changed under an operation: another commit or rollback won the race. */
export class PointerMovedError extends RegistryError {
  constructor(
    readonly expected: number | undefined,
    readonly found: number | undefined,
  ) {
    super(
      `the serving version changed while this was in progress (from ${expected ?? 'none'} to ${found ?? 'none'}, ` +
        'by another rollback or retraining): nothing was swapped',
    );
  }
}

async function acquire(scopeDir: string, waitMs: number): Promise<() => Promise<void>> {
  const path = join(scopeDir, LOCK_FILE);
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      const fh = await open(path, 'wx');
      try {
        await fh.writeFile(`${JSON.stringify(currentOwner())}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      return () => rm(path, { force: true });
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    const owner = parseOwner(await readFile(path, 'utf8').catch(() => ''));
    if (owner && !ownerAlive(owner)) {
      await rm(path, { force: true });
      continue;
    }
    if (Date.now() > until) throw new RegistryError("another process is swapping this server's model: try again");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Runs `write` only if `read()` still returns `expected`, holding the scope's pointer lock; otherwise rejects with
 * a PointerMovedError and writes nothing.
 */
export async function compareAndSwap(
  scopeDir: string,
  expected: number | undefined,
  read: () => Promise<number | undefined>,
  write: () => Promise<void>,
  waitMs = LOCK_WAIT_MS,
): Promise<void> {
  const release = await acquire(scopeDir, waitMs);
  try {
    const found = await read();
    if (found !== expected) throw new PointerMovedError(expected, found);
    await write();
  } finally {
    await release();
  }
}
