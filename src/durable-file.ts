/**
 * Writing files so that they survive a crash or power loss: the model folders (model/store.ts) and the model
 * versions' records and `current` pointers (service/registry.ts) are written with these.
 */
import { open } from 'node:fs/promises';

/** Writes a file and fsyncs it before closing. */
export async function writeFileDurable(path: string, data: Uint8Array | string): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Fsyncs a directory, so that the names created or renamed in it are durable (a no-op on Windows). */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(dir, 'r');
  } catch (err) {
    if (process.platform === 'win32') return; // directories cannot be opened for fsync there
    throw err;
  }
  try {
    await fh.sync();
  } catch (err) {
    if (process.platform !== 'win32') throw err;
  } finally {
    await fh.close();
  }
}

/** Whether `err` is a Node.js system error with this code (e.g. 'ENOENT'). */
export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
