/**
 * The word filter: obscenity's English list (with its obfuscation handling) and a server's own words.
 */
import { describe, expect, it } from 'vitest';
import { createOutputFilter } from '../src/service/output-filter.js';

describe('output filter', () => {
  const filter = createOutputFilter();

  it('lets ordinary baby talk through', () => {
    const screen = filter.screener([]);
    for (const text of ['me want cookie', 'doggy go woof', 'where ball go?', 'me love mommy', 'me see kitty!']) {
      expect(screen(text), text).toBeUndefined();
    }
  });

  it('blocks swear words and their obfuscated spellings (leetspeak, stretched letters, case, look-alikes)', () => {
    const screen = filter.screener([]);
    for (const text of ['me want shit', 'sh1t', 'SHIT', 'shiiiiit', 'me see fuuuck', 'ƒuck', 'you b1tch']) {
      expect(screen(text), text).toEqual({ list: 'built-in' });
    }
  });

  it("blocks a server's own words, also inside longer words and obfuscated, only where they are listed", () => {
    const screen = filter.screener(['cookie']);
    for (const text of ['me want cookie', 'c00kie', 'COOKIES', 'cooooookie', 'fortunecookie']) {
      expect(screen(text), text).toEqual({ list: 'server' });
    }
    expect(screen('me want ball')).toBeUndefined();
    expect(filter.screener([])('me want cookie')).toBeUndefined();
    expect(filter.screener(['doggy'])('me want cookie')).toBeUndefined();
  });

  it('with the built-in list switched off, only server words are blocked', () => {
    const off = createOutputFilter({ builtIn: false });
    expect(off.builtIn).toBe(false);
    expect(off.screener([])('me want shit')).toBeUndefined();
    expect(off.screener(['cookie'])('c00kie')).toEqual({ list: 'server' });
  });
});
