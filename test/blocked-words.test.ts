/**
 * A server's blocked words in the real store (in-memory SQLite): bounded, checked, per server.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BLOCKED_WORDS,
  checkBlockedWord,
  createBlockedWords,
  type BlockedWords,
} from '../src/service/blocked-words.js';
import { InvalidRequestError } from '../src/service/errors.js';
import type { KvStore } from '../src/storage/kv.js';
import { openStore } from '../src/storage/open.js';

const G1 = '111111111111111111';
const G2 = '222222222222222222';

describe('blocked words', () => {
  let store: KvStore;
  let words: BlockedWords;
  beforeEach(async () => {
    store = await openStore('sqlite://:memory:');
    words = createBlockedWords(store);
  });
  afterEach(async () => store.close());

  it('adds, lists (sorted, lowercase) and removes words, once each', async () => {
    expect(await words.add(G1, 'Cookie')).toBe(true);
    expect(await words.add(G1, ' ball ')).toBe(true);
    expect(await words.add(G1, 'cookie')).toBe(false);
    expect(await words.list(G1)).toEqual(['ball', 'cookie']);
    expect(await words.remove(G1, 'COOKIE')).toBe(true);
    expect(await words.remove(G1, 'cookie')).toBe(false);
    expect(await words.list(G1)).toEqual(['ball']);
  });

  it("keeps each server's list to itself, under the server's keys (erased with the server)", async () => {
    await words.add(G1, 'cookie');
    expect(await words.list(G2)).toEqual([]);
    const keys: string[] = [];
    for await (const page of store.scan(`g:${G1}:`)) keys.push(...page.map((r) => r.key));
    expect(keys).toEqual([`g:${G1}:f`]);
  });

  it('refuses what is not one word of 2 to 32 letters, with a sentence for the member', () => {
    for (const bad of ['a', 'two words', 'c00kie', 'x'.repeat(BLOCKED_WORDS.maxLength + 1), '[?]', '']) {
      expect(() => checkBlockedWord(bad), bad).toThrow(InvalidRequestError);
    }
    expect(checkBlockedWord('Ok')).toBe('ok');
  });

  it('holds at most BLOCKED_WORDS.maxWords words, even when adds race', async () => {
    const letters = (i: number) =>
      `${[...i.toString(26)].map((d) => String.fromCharCode(97 + parseInt(d, 26))).join('')}zz`;
    const adds = Array.from({ length: BLOCKED_WORDS.maxWords + 5 }, (_, i) =>
      words.add(G1, letters(i)).then(
        () => 'ok',
        (e: unknown) => e,
      ),
    );
    const results = await Promise.all(adds);
    expect(results.filter((r) => r === 'ok')).toHaveLength(BLOCKED_WORDS.maxWords);
    for (const r of results.filter((r) => r !== 'ok')) expect(r).toBeInstanceOf(InvalidRequestError);
    expect(await words.list(G1)).toHaveLength(BLOCKED_WORDS.maxWords);
  });
});
