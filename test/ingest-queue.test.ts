/** Gateway events into the store (service/collection/ingest-queue.ts): what is collected, edits, deletes, purges,
 * and events waiting through a store failure. */
import { afterEach, describe, expect, it } from 'vitest';
import { normaliseForTraining } from '../src/service/collection.js';
import { DEFAULT_SETTINGS } from '../src/service/settings.js';
import { StorageError, type KvStore } from '../src/storage/kv.js';
import { openStore } from '../src/storage/open.js';
import { closeStores, trackStore, G, C, U, T0, setup, msg } from './helpers/collection-setup.js';

afterEach(closeStores);

describe('what is collected', () => {
  it('collects messages from people in channels where collection is on, normalised', async () => {
    const { collection } = await setup();
    await collection.setChannel(G, C, true, '1');
    expect(await collection.collect(msg({ id: '1', content: 'Me WANT <@123> cookie! https://x.y/z' }))).toBe(
      'collected',
    );
    expect(await collection.trainingText(G)).toEqual(['me want cookie!']);
  });

  it('does not collect: other channels, bots/webhooks, empty text, messages sent before collection was switched on', async () => {
    const { collection } = await setup();
    await collection.setChannel(G, C, true, '1');
    expect(await collection.collect(msg({ id: '1', channelId: '2001' }))).toBe('not-enabled');
    expect(await collection.collect(msg({ id: '2', human: false }))).toBe('not-human');
    expect(await collection.collect(msg({ id: '3', content: '🎉 <:party:123456> https://example.com' }))).toBe('empty');
    expect(await collection.collect(msg({ id: '4', createdAt: T0 - 1 }))).toBe('not-enabled');
    expect(await collection.trainingText(G)).toEqual([]);
  });

  it('stores a message once however often it arrives (by message id)', async () => {
    const { collection } = await setup();
    await collection.setChannel(G, C, true, '1');
    await collection.collect(msg({ id: '1' }));
    await collection.collect(msg({ id: '1' }));
    expect(await collection.trainingText(G)).toEqual(['me want cookie']);
    expect((await collection.privacy(G, U)).messages).toBe(1);
  });

  it('gives one utterance per line of a message', async () => {
    const { collection } = await setup();
    await collection.setChannel(G, C, true, '1');
    await collection.collect(msg({ id: '1', content: 'hi baby\n\n  look   a doggy \n' }));
    expect(await collection.trainingText(G)).toEqual(['hi baby', 'look a doggy']);
    expect(normaliseForTraining('A\r\nB')).toBe('a\nb');
  });

  it('updates a stored message on edit, removes it when the edit leaves nothing, and ignores edits without text', async () => {
    const { collection } = await setup();
    await collection.setChannel(G, C, true, '1');
    await collection.collect(msg({ id: '1' }));
    await collection.collect(msg({ id: '2', content: 'doggy' }));
    await collection.edit({ id: '1', guildId: G, content: 'Me want MILK' });
    await collection.edit({ id: '2', guildId: G, content: null });
    expect(await collection.trainingText(G)).toEqual(['me want milk', 'doggy']);
    await collection.edit({ id: '2', guildId: G, content: '🐶' });
    expect(await collection.trainingText(G)).toEqual(['me want milk']);
    expect((await collection.privacy(G, U)).messages).toBe(1);
    // An edit of a message that was never collected doesn't collect it.
    await collection.edit({ id: '3', guildId: G, content: 'sneaky' });
    expect(await collection.trainingText(G)).toEqual(['me want milk']);
  });

  it('removes deleted messages, one or many, known or not', async () => {
    const { collection } = await setup();
    await collection.setChannel(G, C, true, '1');
    for (const id of ['1', '2', '3', '4']) await collection.collect(msg({ id, content: `word ${id}` }));
    await collection.remove(G, ['1']);
    await collection.remove(G, ['2', '3', '999']);
    expect(await collection.trainingText(G)).toEqual(['word 4']);
    expect((await collection.privacy(G, U)).messages).toBe(1);
  });

  it('purges everything of a server when the bot leaves it', async () => {
    const { collection } = await setup();
    await collection.setChannel(G, C, true, '1');
    await collection.updateSettings(G, { replyChance: 50 });
    await collection.collect(msg({ id: '1' }));
    await collection.teach(G, U, '5', 'hello');
    await collection.optOut(G, '3001');
    await collection.purgeGuild(G);
    expect(await collection.trainingText(G)).toEqual([]);
    expect(await collection.channels(G)).toEqual([]);
    expect(await collection.getSettings(G)).toEqual(DEFAULT_SETTINGS);
    expect(await collection.isOptedOut(G, '3001')).toBe(false);
    expect(await collection.privacy(G, U)).toMatchObject({ messages: 0, taught: 0 });
  });

  it('refuses ids that are not Discord ids (no key injection)', async () => {
    const { collection } = await setup();
    await expect(collection.collect(msg({ id: '1', guildId: '1:m:2' }))).rejects.toThrow(/guild id/);
    await expect(collection.trainingText('*')).rejects.toThrow(/guild id/);
  });
});

/** A store whose writes fail while `broken` is true (reads work). */
function flaky(inner: KvStore) {
  const state = { broken: false };
  const fail = async () => {
    throw new StorageError('write', new Error('disk on fire'));
  };
  const store: KvStore = {
    ...inner,
    set: (...a) => (state.broken ? fail() : inner.set(...a)),
    setMany: (...a) => (state.broken ? fail() : inner.setMany(...a)),
    deleteMany: (...a) => (state.broken ? fail() : inner.deleteMany(...a)),
    scan: (...a) => inner.scan(...a),
  };
  return { store, state };
}

describe('when the store fails', () => {
  it('gateway events wait, in order, and each is decided again when it finally runs', async () => {
    const inner = await openStore('sqlite://:memory:');
    trackStore(inner);
    const { store, state } = flaky(inner);
    const { collection } = await setup({ retryInitialMs: 60_000 }, store);
    await collection.setChannel(G, C, true, '1');
    await collection.collect(msg({ id: '1', content: 'kept' }));

    state.broken = true;
    expect(await collection.collect(msg({ id: '2', content: 'created then deleted' }))).toBe('queued');
    expect(await collection.remove(G, ['2'])).toBe('queued');
    expect(await collection.collect(msg({ id: '3', authorId: '3001', content: 'from someone who then forgets' }))).toBe(
      'queued',
    );
    expect(await collection.collect(msg({ id: '4', content: 'edited while waiting' }))).toBe('queued');
    expect(await collection.edit({ id: '4', guildId: G, content: 'edited text' })).toBe('queued');
    await expect(collection.forget(G, '3001')).rejects.toBeInstanceOf(StorageError);
    expect(collection.pendingCount()).toBe(5);

    state.broken = false;
    // The member asks again once the store works, before the queue is retried.
    await collection.forget(G, '3001');
    await collection.retryNow();
    expect(collection.pendingCount()).toBe(0);
    expect(await collection.trainingText(G)).toEqual(['kept', 'edited text']);
    expect((await collection.privacy(G, '3001')).messages).toBe(0);
  });

  it('retries by itself and drops the oldest events past the limit', async () => {
    const inner = await openStore('sqlite://:memory:');
    trackStore(inner);
    const { store, state } = flaky(inner);
    const { collection } = await setup({ retryInitialMs: 20, maxPending: 2 }, store);
    await collection.setChannel(G, C, true, '1');
    state.broken = true;
    for (const id of ['1', '2', '3']) await collection.collect(msg({ id, content: `word ${id}` }));
    expect(collection.pendingCount()).toBe(2);
    state.broken = false;
    for (let i = 0; i < 100 && collection.pendingCount() > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(collection.pendingCount()).toBe(0);
    expect(await collection.trainingText(G)).toEqual(['word 2', 'word 3']);
  });
});
