import { describe, expect, it } from 'vitest';
import { DEFAULT_VOCAB, EOU, normalize, UNK, Vocabulary } from '../src/model/vocab.js';

describe('Vocabulary', () => {
  it('holds lowercase letters, digits, space, newline, basic punctuation and the unknown symbol at 0', () => {
    const v = DEFAULT_VOCAB;
    expect(v.chars[0]).toBe(UNK);
    for (const c of "abcdefghijklmnopqrstuvwxyz0123456789 .,!?'-") expect(v.has(c)).toBe(true);
    expect(v.has(EOU)).toBe(true);
    expect(v.has('A')).toBe(false);
    expect(v.has(UNK)).toBe(false);
  });

  it('encodes characters outside the vocabulary as the unknown id and decodes without it', () => {
    const ids = DEFAULT_VOCAB.encode('me ☃ want');
    expect(ids[3]).toBe(DEFAULT_VOCAB.unkId);
    expect(DEFAULT_VOCAB.decode(ids)).toBe('me  want');
  });

  it('round-trips through vocab.json', () => {
    const again = Vocabulary.fromJSON(JSON.parse(JSON.stringify(DEFAULT_VOCAB.toJSON())));
    expect(again.chars).toEqual(DEFAULT_VOCAB.chars);
  });

  it('refuses malformed vocabularies', () => {
    expect(() => Vocabulary.fromJSON({ format: 'other' })).toThrow(/babble-vocab/);
    expect(() => new Vocabulary(['a', '\n'])).toThrow(/index 0/);
    expect(() => new Vocabulary([UNK, 'a', 'a', '\n'])).toThrow(/duplicate/);
    expect(() => new Vocabulary([UNK, 'a'])).toThrow(/end-of-utterance/);
    expect(() => new Vocabulary([UNK, '\n', 'ab'])).toThrow(/one character/);
  });
});

describe('an imported vocabulary (no unknown symbol)', () => {
  const v = new Vocabulary(['\n', ' ', '!', 'D', 'a', 'g', 'o', 'y'], { unknown: false });

  it('has no unknown id, leaves out what it lacks when encoding, and survives JSON', () => {
    expect(v.unkId).toBe(-1);
    expect([...v.encode('Dog? yo')]).toEqual([3, 6, 5, 1, 7, 6]);
    expect(Vocabulary.fromJSON(JSON.parse(JSON.stringify(v.toJSON()))).chars).toEqual(v.chars);
    expect(v.toJSON().unknown).toBe(false);
    expect(() => new Vocabulary(['a'], { unknown: false })).toThrow(/at least two/);
  });

  it('normalize keeps its uppercase letters, folds others it has in lowercase, drops the rest', () => {
    expect(normalize('DOGGY Ágo! 🎉', v)).toBe('Doggy ago! '); // a seed keeps its trailing space
  });
});

describe('normalize', () => {
  it('folds case and strips accents', () => {
    expect(normalize('ME WANT Crème Brûlée')).toBe('me want creme brulee');
  });

  it('removes Discord mentions, custom emoji, @everyone and URLs on purpose', () => {
    expect(
      normalize(
        '<@123> <@!456> hi <@&789> <#42> @everyone @here <:pog:123> <a:dance:456> https://x.io/a?b=c www.y.com bye',
      ),
    ).toBe('hi bye');
  });

  it('maps typographic quotes, dashes and ellipses', () => {
    expect(normalize('it’s “mine” — ok…')).toBe("it's mine - ok...");
  });

  it('drops emoji, control and zero-width characters and other scripts', () => {
    expect(normalize('me 🍪\u0007\u200b want 日本語 cookie')).toBe('me want cookie');
  });

  it('keeps a trailing space of a seed (it matters for what comes next) but not leading ones', () => {
    expect(normalize('  me want ')).toBe('me want ');
  });

  it('turns newlines into spaces in seeds and keeps them as utterance breaks in training text', () => {
    expect(normalize('me\nwant')).toBe('me want');
    expect(normalize('Me want\r\n\n  uh OH  \n', DEFAULT_VOCAB, { keepNewlines: true })).toBe('me want\nuh oh');
  });

  it('only ever returns characters of the vocabulary, whatever the input', () => {
    let s = '';
    for (let i = 0; i < 5000; i++) s += String.fromCodePoint((i * 7919) % 0x10ffff);
    for (const c of normalize(s)) expect(DEFAULT_VOCAB.has(c)).toBe(true);
  });
});
