/**
 * Output moderation over a stub generator that emits listed words and obfuscated variants: blocked generations
 * are drawn again with a new rng, a bounded number of times, then the baby has no words; the retrain gate's
 * sample check.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBlockedWords } from '../src/service/blocked-words.js';
import { createModeration, DEFAULT_ATTEMPTS, filterGate, NO_WORDS, shownSample } from '../src/service/moderation.js';
import { createOutputFilter } from '../src/service/output-filter.js';
import type { BabbleRequest, GenerationService, ModelInfo } from '../src/service/types.js';
import type { KvStore } from '../src/storage/kv.js';
import { openStore } from '../src/storage/open.js';

const GUILD = '333333333333333333';
const INFO = { version: 'stub' } as ModelInfo;

/** Says the texts of `script` in turn (the last one for ever), and records each request. */
function stub(script: string[]) {
  const calls: Array<{ kind: 'babble' | 'reply'; rng: number | undefined }> = [];
  let i = 0;
  const next = () => script[Math.min(i++, script.length - 1)]!;
  const service: GenerationService = {
    babble: async (req: BabbleRequest) => {
      calls.push({ kind: 'babble', rng: req.rng });
      return next();
    },
    reply: async (_prompt, req = {}) => {
      calls.push({ kind: 'reply', rng: req.rng });
      return next();
    },
    info: () => INFO,
  };
  return { service, calls };
}

describe('moderation of generated text', () => {
  let store: KvStore;
  beforeEach(async () => {
    store = await openStore('sqlite://:memory:');
  });
  afterEach(async () => store.close());

  const moderation = () =>
    createModeration({ filter: createOutputFilter(), words: createBlockedWords(store), random: () => 0.5 });

  it('sends a clean babble as it is, generated once with the request rng', async () => {
    const { service, calls } = stub(['me want ball']);
    expect(await moderation().service(service, GUILD).babble({ seed: 'me', rng: 7 })).toBe('me want ball');
    expect(calls).toEqual([{ kind: 'babble', rng: 7 }]);
  });

  it('draws a blocked babble again with a new rng each time, and sends the first clean one', async () => {
    const { service, calls } = stub(['me want sh1t', 'me want fuuuck', 'me want ball']);
    expect(await moderation().service(service, GUILD).babble({ seed: 'me', rng: 7 })).toBe('me want ball');
    const rngs = calls.map((c) => c.rng);
    expect(rngs[0]).toBe(7);
    expect(new Set(rngs).size).toBe(3);
  });

  it('gives up after a bounded number of tries: the baby has no words', async () => {
    const { service, calls } = stub(['SHIT', 'sh!t', 'shiiiit', 'b1tch', 'me want ball']);
    expect(await moderation().service(service, GUILD).babble({ seed: 'x' })).toBe(NO_WORDS);
    expect(calls).toHaveLength(DEFAULT_ATTEMPTS);
    expect(calls[0]!.rng).toBeUndefined();
    for (const c of calls.slice(1)) expect(c.rng).toEqual(expect.any(Number));
  });

  it("screens replies too, with the server's own words (obfuscated ones too), only in that server", async () => {
    const m = moderation();
    await m.words!.add(GUILD, 'cookie');
    const here = stub(['me want cookie', 'me want c00kie', 'me want COOKIES', 'me want cooookie', 'me want ball']);
    expect(await m.service(here.service, GUILD).reply('hi')).toBe(NO_WORDS);
    expect(here.calls.map((c) => c.kind)).toEqual(Array(DEFAULT_ATTEMPTS).fill('reply'));
    const elsewhere = stub(['me want cookie']);
    expect(await m.service(elsewhere.service, '444444444444444444').reply('hi')).toBe('me want cookie');
    expect(await m.service(stub(['me want cookie']).service, null).reply('hi')).toBe('me want cookie');
  });

  it('wraps a model source so that every service it hands out is screened', async () => {
    const { service } = stub(['me want shit']);
    const source = moderation().models({ serviceFor: async (_guild: string | null) => service });
    expect(await (await source.serviceFor(GUILD)).babble({ seed: 'me' })).toBe(NO_WORDS);
    expect((await source.serviceFor(GUILD)).info()).toBe(INFO);
  });

  it('fails closed when the server list cannot be read (nothing generated is sent)', async () => {
    const m = moderation();
    await store.close();
    const { service, calls } = stub(['me want ball']);
    await expect(m.service(service, GUILD).babble({ seed: 'me' })).rejects.toThrow();
    expect(calls).toEqual([]);
  });
});

describe('the retrain gate and samples', () => {
  const screen = createOutputFilter().screener(['cookie']);
  const gate = (texts: string[]) => ({ pass: true, reasons: [] as string[], samples: { texts, wordShare: 1 } });

  it('hides a sample that trips the filter', () => {
    expect(shownSample('me want c00kie', screen)).toBe(NO_WORDS);
    expect(shownSample('me want ball', screen)).toBe('me want ball');
  });

  it('passes a model whose samples trip the filter at most at the set rate, hiding those samples', () => {
    const texts = ['me want ball', 'me see doggy', 'me want sh1t', ...Array(7).fill('hi mommy')];
    const out = filterGate(gate(texts), screen, 0.1);
    expect(out.pass).toBe(true);
    expect(out.filter).toEqual({ flagged: 1, rate: 0.1, maxRate: 0.1, ok: true });
    expect(out.samples.texts[2]).toBe(NO_WORDS);
    expect(out.samples.wordShare).toBe(1);
  });

  it('refuses a model whose samples trip the filter above the set rate, saying why', () => {
    const out = filterGate(gate(['me want cookie', 'shit', 'me want ball', 'hi']), screen, 0.25);
    expect(out.pass).toBe(false);
    expect(out.reasons).toEqual([expect.stringContaining('trip the word filter (50%')]);
    expect(out.samples.texts).toEqual([NO_WORDS, NO_WORDS, 'me want ball', 'hi']);
  });

  it('keeps an earlier failure', () => {
    const out = filterGate({ ...gate(['hi']), pass: false, reasons: ['worse'] }, screen);
    expect(out).toMatchObject({ pass: false, reasons: ['worse'] });
  });
});
