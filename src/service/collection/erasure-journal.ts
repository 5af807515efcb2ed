/**
 * Erasures that could not be applied before the bot stopped (the store failing or too slow at shutdown) are
 * written to a local file, fsynced, and applied at the next start before anything else: a message delete, a
 * channel or server purge is never lost to a restart. The file holds ids only (no text). It is removed once every
 * erasure in it has been applied.
 */
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsyncDir, isErrno, writeFileDurable } from '../../durable-file.js';

export type Erasure =
  | { kind: 'remove'; guildId: string; ids: string[] }
  | { kind: 'purgeChannel'; guildId: string; channelId: string }
  | { kind: 'purge'; guildId: string };

export const ERASURE_KINDS: ReadonlySet<string> = new Set(['remove', 'purgeChannel', 'purge']);

export function isErasure(op: { kind: string }): op is Erasure {
  return ERASURE_KINDS.has(op.kind);
}

/** Replaces the journal with these erasures (atomically, fsynced); none → the file is removed. */
export async function writeJournal(path: string, erasures: readonly Erasure[]): Promise<void> {
  if (erasures.length === 0) {
    await rm(path, { force: true });
    return;
  }
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  await writeFileDurable(tmp, `${JSON.stringify({ format: 'babble-erasures', erasures })}\n`);
  await rename(tmp, path);
  await fsyncDir(dirname(path));
}

const ID = /^\d{1,20}$/;
function valid(e: unknown): e is Erasure {
  if (typeof e !== 'object' || e === null) return false;
  const o = e as Record<string, unknown>;
  if (typeof o.guildId !== 'string' || !ID.test(o.guildId)) return false;
  if (o.kind === 'purge') return true;
  if (o.kind === 'purgeChannel') return typeof o.channelId === 'string' && ID.test(o.channelId);
  return o.kind === 'remove' && Array.isArray(o.ids) && o.ids.every((id) => typeof id === 'string' && ID.test(id));
}

/** The journal's erasures ([] when there is none). A damaged file throws: it must not be silently dropped. */
export async function readJournal(path: string): Promise<Erasure[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
  const doc = JSON.parse(text) as { format?: unknown; erasures?: unknown };
  if (doc.format !== 'babble-erasures' || !Array.isArray(doc.erasures) || !doc.erasures.every(valid)) {
    throw new Error(`${path} is not a journal of pending erasures`);
  }
  return doc.erasures;
}
