/**
 * Who owns a temporary model folder or a pointer lock: the process that made it, recorded as its pid, host and
 * start time (owner.json). Start-up cleanup removes a temporary folder only when its owner is gone, so a bot
 * starting beside another one (a shard, a second process on the same MODELS_DIR) never deletes a live training.
 *
 * Gone means: recorded on this host, and no process has that pid any more, or the process with that pid started
 * at another time (the pid was reused). An owner on another host is never presumed gone. A folder without a
 * readable record (a crash between creating the folder and writing the record, or a folder from an older bot) is
 * presumed gone once it is older than UNOWNED_GRACE_MS.
 */
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeFileDurable } from '../durable-file.js';

export const OWNER_FILE = 'owner.json';
/** How old a folder without an owner record must be before cleanup removes it. */
export const UNOWNED_GRACE_MS = 10 * 60_000;

export interface FolderOwner {
  format: 'babble-owner';
  pid: number;
  host: string;
  /** The process's start time: /proc/<pid>/stat's start ticks on Linux, else null (pid alone decides). */
  start: string | null;
}

/** A process's start time as the OS reports it (Linux), or null where it cannot be read. */
export function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces, in parentheses): state is field 3, starttime field 22.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

let self: FolderOwner | undefined;
/** This process as an owner. */
export function currentOwner(): FolderOwner {
  self ??= { format: 'babble-owner', pid: process.pid, host: hostname(), start: processStart(process.pid) };
  return self;
}

export async function writeOwner(dir: string, owner: FolderOwner = currentOwner()): Promise<void> {
  await writeFileDurable(join(dir, OWNER_FILE), `${JSON.stringify(owner)}\n`);
}

export function parseOwner(text: string): FolderOwner | undefined {
  try {
    const doc = JSON.parse(text) as Partial<FolderOwner>;
    if (doc.format !== 'babble-owner' || !Number.isInteger(doc.pid) || typeof doc.host !== 'string') return undefined;
    const start = typeof doc.start === 'string' ? doc.start : null;
    return { format: 'babble-owner', pid: doc.pid!, host: doc.host, start };
  } catch {
    return undefined;
  }
}

/** Whether the process an owner record names is still running (presumed so when it ran on another host). */
export function ownerAlive(owner: FolderOwner): boolean {
  if (owner.host !== hostname()) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as { code?: string }).code === 'ESRCH') return false;
  }
  if (owner.start === null) return true;
  const start = processStart(owner.pid);
  return start === null || start === owner.start;
}

/** Whether cleanup may remove the folder: its owner is gone (or it has no owner record and is old enough). */
export async function ownerGone(dir: string, now = Date.now()): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(join(dir, OWNER_FILE), 'utf8');
  } catch {
    return unownedAndOld(dir, now);
  }
  const owner = parseOwner(text);
  return owner ? !ownerAlive(owner) : unownedAndOld(dir, now);
}

async function unownedAndOld(path: string, now: number): Promise<boolean> {
  try {
    return now - (await stat(path)).mtimeMs > UNOWNED_GRACE_MS;
  } catch {
    return true;
  }
}
