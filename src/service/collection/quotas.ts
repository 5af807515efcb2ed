/**
 * Quotas on what a server stores, so that no member or server can fill the store (or the trainer) for the others:
 *   /teach: at most `teachPerMember` texts and `teachCharsPerMember` characters per member, and `teachPerServer` /
 *           `teachCharsPerServer` per server (counted over the live taught texts; a clear message when full);
 *   collected messages: at most `messagesPerServer` per server, the oldest dropped first (capCollected: run when
 *           the server's text is read for training and after every `messagesPerServer / 10` collected messages).
 */
import { InvalidRequestError } from '../errors.js';
import { key, type CollectionContext, type MessageRow, type TaughtRow } from './layout.js';
import { countText } from '../../count-text.js';

export interface Quotas {
  teachPerMember: number;
  teachCharsPerMember: number;
  teachPerServer: number;
  teachCharsPerServer: number;
  messagesPerServer: number;
}

export const DEFAULT_QUOTAS: Quotas = {
  teachPerMember: 50,
  teachCharsPerMember: 10_000,
  teachPerServer: 1000,
  teachCharsPerServer: 200_000,
  messagesPerServer: 100_000,
};

/** Throws InvalidRequestError (a message the member sees) when `chars` more taught characters would pass a quota. */
export async function checkTeachQuota(
  ctx: Pick<CollectionContext, 'store'>,
  q: Quotas,
  guildId: string,
  userId: string,
  chars: number,
): Promise<void> {
  let mine = 0,
    mineChars = 0,
    all = 0,
    allChars = 0;
  for await (const page of ctx.store.scan<TaughtRow>(key.taughtAll(guildId))) {
    for (const row of page) {
      all += 1;
      allChars += row.value.t.length;
      if (row.value.a === userId) {
        mine += 1;
        mineChars += row.value.t.length;
      }
    }
  }
  const forget = 'Your texts are erased after the retention time, or now with `/forget`.';
  if (mine + 1 > q.teachPerMember || mineChars + chars > q.teachCharsPerMember) {
    throw new InvalidRequestError(
      `You have taught the baby all it can take from one person here: at most ${countText(q.teachPerMember)} texts and ` +
        `${countText(q.teachCharsPerMember)} characters (you have ${countText(mine)} texts, ${countText(mineChars)} characters). ` +
        forget,
    );
  }
  if (all + 1 > q.teachPerServer || allChars + chars > q.teachCharsPerServer) {
    throw new InvalidRequestError(
      `The baby has all the taught words this server can give it: at most ${countText(q.teachPerServer)} texts and ` +
        `${countText(q.teachCharsPerServer)} characters. Older texts make room as they expire.`,
    );
  }
}

/** Deletes the server's oldest collected messages (and their index entries) beyond the cap; returns how many. */
export async function capCollected(
  ctx: Pick<CollectionContext, 'store'>,
  cap: number,
  guildId: string,
): Promise<number> {
  const rows: Array<{ id: string; author: string; at: number }> = [];
  const prefix = key.messages(guildId);
  for await (const page of ctx.store.scan<MessageRow>(prefix)) {
    for (const row of page) rows.push({ id: row.key.slice(prefix.length), author: row.value.a, at: row.value.at });
  }
  if (rows.length <= cap) return 0;
  rows.sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const excess = rows.slice(0, rows.length - cap);
  for (let i = 0; i < excess.length; i += 500) {
    const doomed = excess
      .slice(i, i + 500)
      .flatMap((r) => [key.message(guildId, r.id), key.userMessage(guildId, r.author, r.id)]);
    await ctx.store.deleteMany(doomed);
  }
  return excess.length;
}
