/**
 * The collection service over a private in-memory SQLite store with a test clock, for the tests of its parts
 * (collection, ingest-queue, consent, retention, unprompted-replies). Call closeStores() after each test.
 */
import { createCollectionService, type CollectionOptions, type IncomingMessage } from '../../src/service/collection.js';
import type { KvStore } from '../../src/storage/kv.js';
import { openStore } from '../../src/storage/open.js';

export const DAY = 86_400_000;
export const G = '1000';
export const C = '2000';
export const U = '3000';
export const T0 = Date.UTC(2025, 0, 1);

const stores: KvStore[] = [];

/** Closes `store` with the others after the test. */
export function trackStore(store: KvStore): void {
  stores.push(store);
}

export async function closeStores(): Promise<void> {
  for (const s of stores.splice(0)) await s.close();
}

export async function setup(options: Omit<CollectionOptions, 'store'> = {}, store?: KvStore) {
  const s = store ?? (await openStore('sqlite://:memory:'));
  if (!store) stores.push(s);
  let clock = T0;
  const collection = createCollectionService({ store: s, now: () => clock, ...options });
  return {
    store: s,
    collection,
    advance: (ms: number) => {
      clock += ms;
    },
    at: () => clock,
  };
}

export function msg(partial: Partial<IncomingMessage> & { id: string }): IncomingMessage {
  return {
    guildId: G,
    channelId: C,
    authorId: U,
    human: true,
    content: 'me want cookie',
    createdAt: T0 + 1000,
    ...partial,
  };
}
