import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importKerasModel } from '../src/keras/import.js';
import { BabyLanguageModel } from '../src/model/baby.js';
import { initBackend } from '../src/model/backend.js';
import { normalize } from '../src/model/vocab.js';
import { InvalidRequestError, replySeed, serviceForModel } from '../src/service/generation.js';
import { MAX_LENGTH } from '../src/service/types.js';

async function service() {
  const backend = await initBackend();
  return serviceForModel(BabyLanguageModel.build({ seed: 3 }), backend);
}

describe('generation service', () => {
  it('babbles text that starts with the normalised seed and stays within Discord’s limit', async () => {
    const s = await service();
    const text = await s.babble({ seed: 'ME WANT <@123> 🍪', length: 40, rng: 1, stopAtEndOfUtterance: false });
    expect(text.startsWith(normalize('ME WANT <@123> 🍪'))).toBe(true);
    expect(text.length).toBeLessThanOrEqual(MAX_LENGTH);
  });

  it('gives the same text for the same rng', async () => {
    const s = await service();
    const a = await s.babble({ seed: 'me', rng: 7, temperature: 1 });
    const b = await s.babble({ seed: 'me', rng: 7, temperature: 1 });
    expect(a).toBe(b);
  });

  it('refuses out-of-range options with a message fit for the user', async () => {
    const s = await service();
    await expect(s.babble({ seed: 'me', temperature: 3 })).rejects.toThrow(InvalidRequestError);
    await expect(s.babble({ seed: 'me', temperature: Number.NaN })).rejects.toThrow(
      /temperature must be a number from 0 to 2/,
    );
    await expect(s.babble({ seed: 'me', length: 0 })).rejects.toThrow(/length/);
    await expect(s.babble({ seed: 'me', length: 1.5 })).rejects.toThrow(/whole number/);
    await expect(s.babble({ seed: 'me', rng: -1 })).rejects.toThrow(/rng/);
  });

  it('never throws and never exceeds the limit for any seed', async () => {
    const s = await service();
    const seeds = [
      '',
      ' ',
      '\u0000\u0007\u200b',
      '😀'.repeat(3000),
      'a'.repeat(10_000),
      'Привет мир',
      '@everyone <@&1> <@!2>',
      '```js\ncode\n```',
    ];
    for (const seed of seeds) {
      const text = await s.babble({ seed, length: 1000, rng: 1 });
      expect(text.length).toBeLessThanOrEqual(MAX_LENGTH);
      const reply = await s.reply(seed, { rng: 1 });
      expect(reply.length).toBeGreaterThan(0);
      expect(reply.length).toBeLessThanOrEqual(MAX_LENGTH);
    }
  });

  it('relates a reply to what was said when the baby knows the word', () => {
    expect(replySeed('look at the Kitty!')).toBe('me see kitty');
    expect(replySeed('do you want a cookie or a ball?')).toBe('me want ball');
    expect(replySeed('say hi to mommy')).toBe('me love mommy');
    expect(replySeed('quantum chromodynamics')).toBe('');
  });

  it('a reply starts from its topic and does not echo the prompt', async () => {
    const s = await service();
    const reply = await s.reply('<@1> where is the doggy?', { rng: 2, temperature: 0 });
    expect(reply.startsWith('me see doggy')).toBe(true);
    expect(reply).not.toContain('where is');
  });

  it('reports what model it serves', async () => {
    const s = await service();
    const info = s.info();
    expect(info.vocabSize).toBeGreaterThan(40);
    expect(info.parameters).toBeGreaterThan(200_000);
  });
});

describe('an imported model', () => {
  it('reports where it came from and babbles from its window (padded seed first)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'babble-gen-'));
    try {
      await importKerasModel({ file: 'test/fixtures/keras/k3_two.keras', out: join(dir, 'm') });
      const service = serviceForModel(await BabyLanguageModel.load(join(dir, 'm')), await initBackend());
      expect(service.info().source).toMatchObject({
        file: 'k3_two.keras',
        format: 'keras3',
        kerasVersion: '3.3.3',
        window: 10,
      });
      expect(service.info().parameters).toBe(
        34 * 8 + (8 * 64 + 16 * 64 + 64) + (16 * 64 + 16 * 64 + 64) + 16 * 34 + 34,
      );
      const text = await service.babble({ seed: 'Me', temperature: 0, length: 5 });
      expect(text).toMatch(/^Me {8}.{5}$/s);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
