/** Members' consent and erasure (service/collection/consent.ts): /teach, /optout, /optin, /forget, /privacy. */
import { afterEach, describe, expect, it } from 'vitest';
import { closeStores, G, C, U, T0, setup, msg } from './helpers/collection-setup.js';

afterEach(closeStores);

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
      channels: [
        { channelId: '2001', messages: 2 },
        { channelId: C, messages: 1 },
      ],
      taught: 1,
      oldest: T0,
      retentionDays: 90,
    });
  });
});
