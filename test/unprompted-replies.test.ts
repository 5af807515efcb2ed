/** Unprompted replies (service/collection/unprompted-replies.ts): the chance, the cooldown, who is never answered. */
import { afterEach, describe, expect, it } from 'vitest';
import { closeStores, G, C, U, setup, msg } from './helpers/collection-setup.js';

afterEach(closeStores);

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
