import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  MAX_WORDS,
  MIN_WORDS,
  WORD_CLASSES,
  buildCorpus,
  corpusText,
  corpusWords,
  splitHeldOut,
  startsWithItem,
  wordsOf,
} from '../src/model/corpus.js';
import { DEFAULT_VOCAB, normalize } from '../src/model/vocab.js';

const lines = buildCorpus();

/** Every occurrence of the word `verb` in the line, and whether the text after it starts with one of `items`. */
function followers(line: string, verb: string, items: readonly string[]): boolean[] {
  const out: boolean[] = [];
  for (const m of line.matchAll(new RegExp(`\\b${verb}\\b`, 'g'))) {
    const rest = line.slice(m.index + verb.length);
    out.push(rest.startsWith(' ') && startsWithItem(rest.slice(1), items));
  }
  return out;
}

describe('buildCorpus', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    expect(buildCorpus(1)).toEqual(lines);
    expect(buildCorpus(2)).not.toEqual(lines);
  });

  it('has at least 3,000 lines, nearly all distinct, and 60k–120k characters', () => {
    expect(lines.length).toBeGreaterThanOrEqual(3000);
    expect(new Set(lines).size / lines.length).toBeGreaterThan(0.9);
    const chars = corpusText(lines).length;
    expect(chars).toBeGreaterThanOrEqual(60_000);
    expect(chars).toBeLessThanOrEqual(120_000);
  });

  it('has only normalised lines of 2–8 words over the vocabulary, with no newline or outer spaces', () => {
    for (const line of lines) {
      expect(normalize(line)).toBe(line);
      expect(line).toBe(line.trim());
      expect(line).not.toContain('\n');
      expect([...line].every((c) => DEFAULT_VOCAB.has(c) && c !== '\n')).toBe(true);
      const n = wordsOf(line).length;
      expect(n).toBeGreaterThanOrEqual(MIN_WORDS);
      expect(n).toBeLessThanOrEqual(MAX_WORDS);
    }
  });

  it('follows every "want" with a food or toy, every "love" with a person, every "see" with an animal', () => {
    const checks = [
      ['want', WORD_CLASSES.foodsAndToys],
      ['love', WORD_CLASSES.people],
      ['see', WORD_CLASSES.animals],
    ] as const;
    for (const [verb, items] of checks) {
      const results = lines.flatMap((line) => followers(line, verb, items).map((ok) => ({ line, ok })));
      expect(results.filter((r) => !r.ok).map((r) => r.line)).toEqual([]);
    }
  });

  it('has plenty of "me want", "me love" and "me see" lines to learn from', () => {
    for (const seed of ['me want ', 'me love ', 'me see ']) {
      expect(lines.filter((l) => l.startsWith(seed)).length).toBeGreaterThanOrEqual(200);
    }
  });

  it('uses every item of the food, people and animal classes after its verb', () => {
    const checks = [
      ['me want ', WORD_CLASSES.foodsAndToys],
      ['me love ', WORD_CLASSES.people],
      ['me see ', WORD_CLASSES.animals],
    ] as const;
    for (const [seed, items] of checks) {
      for (const item of items)
        expect(lines.some((l) => l.startsWith(seed) && startsWithItem(l.slice(seed.length), [item]))).toBe(true);
    }
  });

  it('matches the committed data/corpus.txt byte for byte', () => {
    const committed = readFileSync(new URL('../data/corpus.txt', import.meta.url), 'utf8');
    expect(committed).toBe(corpusText(lines));
    expect(committed.endsWith('\n')).toBe(true);
  });
});

describe('WORD_CLASSES', () => {
  it('puts no item in two classes and uses only normalised lowercase items', () => {
    const owner = new Map<string, string>();
    for (const [name, items] of Object.entries(WORD_CLASSES)) {
      for (const item of items) {
        expect(owner.get(item), `${item} in ${owner.get(item)} and ${name}`).toBeUndefined();
        owner.set(item, name);
        expect(normalize(item)).toBe(item);
      }
    }
  });

  it('has the required classes with the examples of the brief', () => {
    expect(WORD_CLASSES.foodsAndToys).toEqual(expect.arrayContaining(['cookie', 'milk', 'blankie', 'choo choo']));
    expect(WORD_CLASSES.people).toEqual(expect.arrayContaining(['mommy', 'daddy', 'grandma']));
    expect(WORD_CLASSES.animals).toEqual(expect.arrayContaining(['doggy', 'kitty', 'duckie']));
  });

  it('contains words that all occur in the corpus', () => {
    const words = corpusWords(lines);
    for (const items of Object.values(WORD_CLASSES))
      for (const item of items) for (const w of wordsOf(item)) expect(words.has(w)).toBe(true);
  });
});

describe('wordsOf, corpusWords and startsWithItem', () => {
  it('split on spaces and punctuation, keeping inner apostrophes', () => {
    expect(wordsOf("no! me want choo choo, dat's mine.")).toEqual([
      'no',
      'me',
      'want',
      'choo',
      'choo',
      "dat's",
      'mine',
    ]);
    expect(wordsOf(" 'hi' (doggy)")).toEqual(['hi', 'doggy']);
    expect([...corpusWords(['me want ball!', 'ball go?'])].sort()).toEqual(['ball', 'go', 'me', 'want']);
  });

  it('match an item only at a word boundary', () => {
    expect(startsWithItem('ball!', ['ball'])).toBe(true);
    expect(startsWithItem('ball', ['ball'])).toBe(true);
    expect(startsWithItem('balloon', ['ball'])).toBe(false);
    expect(startsWithItem('choo choo go', ['choo choo'])).toBe(true);
    expect(startsWithItem('choo go', ['choo choo'])).toBe(false);
  });
});

describe('splitHeldOut', () => {
  it('is deterministic, keeps every line once and holds out about 10%', () => {
    const a = splitHeldOut(lines);
    expect(splitHeldOut(lines)).toEqual(a);
    expect(a.train.length + a.heldOut.length).toBe(lines.length);
    expect([...a.train, ...a.heldOut].sort()).toEqual([...lines].sort());
    const share = a.heldOut.length / lines.length;
    expect(share).toBeGreaterThan(0.08);
    expect(share).toBeLessThan(0.12);
  });

  it('decides per line, independent of order, and depends on the seed and fraction', () => {
    const a = splitHeldOut(lines);
    const reversed = splitHeldOut([...lines].reverse());
    expect(new Set(reversed.heldOut)).toEqual(new Set(a.heldOut));
    expect(splitHeldOut(lines, 0.1, 8).heldOut).not.toEqual(a.heldOut);
    expect(splitHeldOut(lines, 0).heldOut).toEqual([]);
    expect(splitHeldOut(lines, 1).train).toEqual([]);
    expect(splitHeldOut(lines, 0.3).heldOut.length).toBeGreaterThan(a.heldOut.length);
  });

  it('rejects a fraction outside 0..1', () => {
    expect(() => splitHeldOut(lines, 1.5)).toThrow(RangeError);
  });
});
