/**
 * The collection service's rules, over an in-memory SQLite store: what is collected, edits and deletes, member
 * controls, settings, retention, unprompted replies, and gateway events waiting through a store failure.
 * (The same service over both real backends: storage.test.ts.)
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createCollectionService,
  normaliseForTraining,
  startRetentionSweeper,
  type CollectionOptions,
  type IncomingMessage,
} from '../src/service/collection.js';
import { createLogger } from '../src/log.js';
import { DEFAULT_SETTINGS } from '../src/service/settings.js';
import { StorageError, type KvStore } from '../src/storage/kv.js';
import { openStore } from '../src/storage/open.js';

const DAY = 86_400_000;
const G = '1000';
const C = '2000';
const U = '3000';
const T0 = Date.UTC(2025, 0, 1);

const stores: KvStore[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const s of stores.splice(0)) await s.close();
});

async function setup(options: Omit<CollectionOptions, 'store'> = {}, store?: KvStore) {
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

function msg(partial: Partial<IncomingMessage> & { id: string }): IncomingMessage {
  return { guildId: G, channelId: C, authorId: U, human: true, content: 'me want cookie', createdAt: T0 + 1000, ...partial };
}

describe('what is collected', () => {
  it('collects messages from people in channels where collection is on, normalised', async () => {
    const { collection } = await setup();
    await collection.setChannel(G, C, true, '1');
    expect(await collection.collect(msg({ id: '1', content: 'Me WANT <@123> cookie! https://x.y/z' }))).toBe('collected');
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

describe('member controls', () => {
  it('/teach stores normalised text with consent, and refuses text with no words or too long', async () => {
    const { collection } = await setup();
    expect(await collection.teach(G, U, '10', 'Doggy go WOOF!')).toEqual({ text: 'doggy go woof!' });
    expect(await collection.trainingText(G)).toEqual(['doggy go woof!']);
    await expect(collection.teach(G, U, '11', '🎉🎉')).rejects.toMatchObject({ name: 'InvalidRequestError' });
    await expect(collection.teach(G, U, '12', 'a'.repeat(501))).rejects.toThrow(/at most 500/);
  });

  it('/optout stops collection of that member only; /optin restarts it; both say whether anything changed', async () => {
    const { collection } = await setup();
    await collection.setChannel(G, C, true, '1');
    expect(await collection.optOut(G, U)).toBe(true);
    expect(await collection.optOut(G, U)).toBe(false);
    expect(await collection.collect(msg({ id: '1' }))).toBe('opted-out');
    expect(await collection.collect(msg({ id: '2', authorId: '3001', content: 'other member' }))).toBe('collected');
    expect(await collection.optIn(G, U)).toBe(true);
    expect(await collection.optIn(G, U)).toBe(false);
    expect(await collection.collect(msg({ id: '3', content: 'back again' }))).toBe('collected');
    expect(await collection.trainingText(G)).toEqual(['other member', 'back again']);
  });

  it('/forget erases every message and taught text of the member, opts them out, and leaves others alone', async () => {
    const { collection } = await setup();
    await collection.setChannel(G, C, true, '1');
    await collection.setChannel(G, '2001', true, '1');
    await collection.collect(msg({ id: '1', content: 'mine one' }));
    await collection.collect(msg({ id: '2', channelId: '2001', content: 'mine two' }));
    await collection.collect(msg({ id: '3', authorId: '3001', content: 'theirs' }));
    await collection.teach(G, U, '10', 'my lesson');
    expect(await collection.forget(G, U)).toEqual({ messages: 2, taught: 1 });
    expect(await collection.trainingText(G)).toEqual(['theirs']);
    expect(await collection.isOptedOut(G, U)).toBe(true);
    expect(await collection.collect(msg({ id: '4', content: 'after forgetting' }))).toBe('opted-out');
    expect(await collection.forget(G, U)).toEqual({ messages: 0, taught: 0 });
  });

  it('/privacy counts what is stored about the member, per channel, with the oldest date', async () => {
    const { collection } = await setup();
    await collection.setChannel(G, C, true, '1');
    await collection.setChannel(G, '2001', true, '1');
    await collection.collect(msg({ id: '1', createdAt: T0 + 5000 }));
    await collection.collect(msg({ id: '2', channelId: '2001', createdAt: T0 + 2000 }));
    await collection.collect(msg({ id: '3', channelId: '2001', createdAt: T0 + 3000 }));
    await collection.collect(msg({ id: '4', authorId: '3001' }));
    await collection.teach(G, U, '10', 'lesson');
    expect(await collection.privacy(G, U)).toEqual({
      optedOut: false,
      messages: 3,
      channels: [{ channelId: '2001', messages: 2 }, { channelId: C, messages: 1 }],
      taught: 1,
      oldest: T0,
      retentionDays: 90,
    });
  });
});

describe('settings and channels', () => {
  it('starts from the defaults (unprompted replies off) and keeps what was set', async () => {
    const { collection } = await setup();
    expect(await collection.getSettings(G)).toEqual(DEFAULT_SETTINGS);
    expect(DEFAULT_SETTINGS.replyChance).toBe(0);
    expect(await collection.updateSettings(G, { replyChance: 25, temperature: 1.5 })).toEqual({ ...DEFAULT_SETTINGS, replyChance: 25, temperature: 1.5 });
    expect(await collection.updateSettings(G, { cooldownSeconds: 5 })).toEqual({ replyChance: 25, temperature: 1.5, cooldownSeconds: 5 });
  });

  it('refuses settings out of bounds with a sentence naming the option', async () => {
    const { collection } = await setup();
    await expect(collection.updateSettings(G, { replyChance: 101 })).rejects.toThrow(/^reply-chance must be a whole number from 0 to 100/);
    await expect(collection.updateSettings(G, { replyChance: 1.5 })).rejects.toMatchObject({ name: 'InvalidRequestError' });
    await expect(collection.updateSettings(G, { temperature: 2.5 })).rejects.toThrow(/^temperature .*0 to 2/);
    await expect(collection.updateSettings(G, { cooldownSeconds: -1 })).rejects.toThrow(/^cooldown/);
    expect(await collection.getSettings(G)).toEqual(DEFAULT_SETTINGS);
  });

  it('switches channels on and off, says whether that changed anything, and lists them', async () => {
    const { collection, advance } = await setup();
    expect(await collection.setChannel(G, C, true, '7')).toBe(true);
    advance(1000);
    expect(await collection.setChannel(G, '2001', true, '8')).toBe(true);
    expect(await collection.setChannel(G, C, true, '7')).toBe(false);
    expect(await collection.channels(G)).toEqual([
      { channelId: C, since: T0, by: '7' },
      { channelId: '2001', since: T0 + 1000, by: '8' },
    ]);
    expect(await collection.setChannel(G, C, false, '7')).toBe(true);
    expect(await collection.setChannel(G, C, false, '7')).toBe(false);
    expect((await collection.channels(G)).map((c) => c.channelId)).toEqual(['2001']);
  });
});

describe('retention', () => {
  it('does not collect a message already older than the retention period', async () => {
    const { collection, store } = await setup({ retentionDays: 2 });
    const { collection: earlier } = await setup({ now: () => T0 - 10 * DAY }, store);
    await earlier.setChannel(G, C, true, '1');
    expect(await collection.collect(msg({ id: '1', createdAt: T0 - 2 * DAY - 1 }))).toBe('too-old');
    expect(await collection.collect(msg({ id: '2', createdAt: T0 - DAY, content: 'recent' }))).toBe('collected');
    expect(await collection.trainingText(G)).toEqual(['recent']);
  });

  it('the sweeper deletes messages and taught texts older than RETENTION_DAYS, and keeps the rest', async () => {
    const { collection, advance, store } = await setup({ retentionDays: 3 });
    await collection.setChannel(G, C, true, '1');
    await collection.collect(msg({ id: '1', content: 'old one', createdAt: T0 + 1000 }));
    await collection.teach(G, U, '10', 'old lesson');
    advance(2 * DAY);
    await collection.collect(msg({ id: '2', content: 'newer one', createdAt: T0 + 2 * DAY }));
    advance(DAY + 5000); // the first message and the lesson are now older than 3 days
    const result = await collection.sweep();
    expect(result.deleted).toBe(4); // two rows and their index entries
    expect(await collection.trainingText(G)).toEqual(['newer one']);
    expect(await collection.privacy(G, U)).toMatchObject({ messages: 1, taught: 0 });
    // Settings, channels and opt-outs don't expire.
    expect((await collection.channels(G)).length).toBe(1);
    // A shorter retention applies at the next sweep to what was stored under a longer one.
    const { collection: stricter } = await setup({ retentionDays: 1, now: () => T0 + 4 * DAY }, store);
    expect((await stricter.sweep()).deleted).toBe(2);
    expect(await stricter.trainingText(G)).toEqual([]);
  });
});

describe('the retention sweeper', () => {
  it('sweeps at once and then every interval, logging a failed sweep and going on', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const lines: Record<string, unknown>[] = [];
    const log = createLogger('info', { write: (l: string) => { lines.push(JSON.parse(l) as Record<string, unknown>); } });
    let calls = 0;
    const sweeper = startRetentionSweeper(
      {
        sweep: async () => {
          calls += 1;
          if (calls === 2) throw new StorageError('scan', new Error('database is locked'));
          return { deleted: calls, purged: 0 };
        },
      },
      log,
      3_600_000,
    );
    try {
      await vi.advanceTimersByTimeAsync(0); // at once
      expect(calls).toBe(1);
      await vi.advanceTimersByTimeAsync(3_600_000); // an hour later: fails
      expect(calls).toBe(2);
      await vi.advanceTimersByTimeAsync(3_600_000); // and goes on
      expect(calls).toBe(3);
    } finally {
      sweeper.stop();
    }
    await sweeper.running();
    expect(lines.some((l) => l.msg === 'retention sweep done' && l.deleted === 1)).toBe(true);
    expect(lines.some((l) => l.msg === 'retention sweep failed; retrying at the next interval' && l.level === 50)).toBe(true);
    await vi.advanceTimersByTimeAsync(10 * 3_600_000); // stopped: no more sweeps
    expect(calls).toBe(3);
  });
});

describe('unprompted replies', () => {
  async function replying(chance: number, rolls: number[]) {
    let i = 0;
    const env = await setup({ random: () => rolls[i++ % rolls.length]! });
    await env.collection.setChannel(G, C, true, '1');
    await env.collection.updateSettings(G, { replyChance: chance, cooldownSeconds: 60, temperature: 0.8 });
    return env;
  }

  it('never replies with a chance of 0, whatever the dice', async () => {
    const { collection } = await replying(0, [0, 0.001, 0.5]);
    for (let n = 0; n < 50; n++) expect(await collection.unpromptedReply(msg({ id: String(n + 1) }))).toBeUndefined();
  });

  it('always replies with a chance of 100 (after the cooldown), with the server temperature', async () => {
    const { collection, advance } = await replying(100, [0.999999]);
    expect(await collection.unpromptedReply(msg({ id: '1' }))).toEqual({ temperature: 0.8 });
    expect(await collection.unpromptedReply(msg({ id: '2' }))).toBeUndefined(); // cooldown
    advance(59_000);
    expect(await collection.unpromptedReply(msg({ id: '3' }))).toBeUndefined();
    advance(1000);
    expect(await collection.unpromptedReply(msg({ id: '4' }))).toEqual({ temperature: 0.8 });
    // The cooldown is per channel.
    await collection.setChannel(G, '2001', true, '1');
    expect(await collection.unpromptedReply(msg({ id: '5', channelId: '2001' }))).toEqual({ temperature: 0.8 });
  });

  it('replies when the dice fall under the chance', async () => {
    const { collection, advance } = await replying(30, [0.29, 0.3, 0.31]);
    expect(await collection.unpromptedReply(msg({ id: '1' }))).toBeDefined();
    advance(60_000);
    expect(await collection.unpromptedReply(msg({ id: '2' }))).toBeUndefined();
    expect(await collection.unpromptedReply(msg({ id: '3' }))).toBeUndefined();
  });

  it('does not reply outside collection channels, to bots, or to members who opted out', async () => {
    const { collection } = await replying(100, [0]);
    expect(await collection.unpromptedReply(msg({ id: '1', channelId: '2001' }))).toBeUndefined();
    expect(await collection.unpromptedReply(msg({ id: '2', human: false }))).toBeUndefined();
    await collection.optOut(G, U);
    expect(await collection.unpromptedReply(msg({ id: '3' }))).toBeUndefined();
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
    stores.push(inner);
    const { store, state } = flaky(inner);
    const { collection } = await setup({ retryInitialMs: 60_000 }, store);
    await collection.setChannel(G, C, true, '1');
    await collection.collect(msg({ id: '1', content: 'kept' }));

    state.broken = true;
    expect(await collection.collect(msg({ id: '2', content: 'created then deleted' }))).toBe('queued');
    expect(await collection.remove(G, ['2'])).toBe('queued');
    expect(await collection.collect(msg({ id: '3', authorId: '3001', content: 'from someone who then forgets' }))).toBe('queued');
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
    stores.push(inner);
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
