/**
 * A server's data generation: a token that changes every time something of the server is erased (/forget, an
 * opt-out, a message deleted or edited, the server purged). A retrain reads it before it reads the text and again
 * before it swaps the new model in; a different token means the model may have learned erased text
 * (service/retrain.ts then trains again without it, or refuses).
 *
 * Stored at `gen:<guildId>`, outside the server's `g:<guildId>:` keys, so that a purge of the server (which
 * deletes those) cannot bring the token back to a value a running retrain recorded. A fresh random token rather
 * than a counter: every bump differs without a read, whichever process (shard) makes it. It holds nothing about
 * anyone. The bump comes after the erase: a retrain that read the text before the erase sees a new token.
 */
import { randomUUID } from 'node:crypto';
import type { KvStore } from '../../storage/kv.js';
import { checkId } from './layout.js';

export const dataGenerationKey = (guildId: string) => `gen:${checkId(guildId, 'guild id')}`;

/** The server's current token ('' when nothing was ever erased there). */
export async function dataGeneration(store: KvStore, guildId: string): Promise<string> {
  return (await store.get<string>(dataGenerationKey(guildId))) ?? '';
}

/** A new token for the server: call after an erase has been written. */
export async function bumpDataGeneration(store: KvStore, guildId: string): Promise<void> {
  await store.set(dataGenerationKey(guildId), randomUUID());
}
