/**
 * The collection service as a whole (service/collection.ts): settings and channels. Its parts have their own tests
 * (ingest-queue, consent, retention, unprompted-replies); the same service over both real backends: storage.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../src/service/settings.js';
import { closeStores, G, C, T0, setup } from './helpers/collection-setup.js';

afterEach(closeStores);

describe('settings and channels', () => {
  it('starts from the defaults (unprompted replies off) and keeps what was set', async () => {
    const { collection } = await setup();
    expect(await collection.getSettings(G)).toEqual(DEFAULT_SETTINGS);
    expect(DEFAULT_SETTINGS.replyChance).toBe(0);
    expect(await collection.updateSettings(G, { replyChance: 25, temperature: 1.5 })).toEqual({
      ...DEFAULT_SETTINGS,
      replyChance: 25,
      temperature: 1.5,
    });
    expect(await collection.updateSettings(G, { cooldownSeconds: 5 })).toEqual({
      replyChance: 25,
      temperature: 1.5,
      cooldownSeconds: 5,
    });
  });

  it('refuses settings out of bounds with a sentence naming the option', async () => {
    const { collection } = await setup();
    await expect(collection.updateSettings(G, { replyChance: 101 })).rejects.toThrow(
      /^reply-chance must be a whole number from 0 to 100/,
    );
    await expect(collection.updateSettings(G, { replyChance: 1.5 })).rejects.toMatchObject({
      name: 'InvalidRequestError',
    });
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
