import { beforeAll, describe, expect, it } from 'vitest';
import { Vocabulary } from '../src/model/vocab.js';
import { loadBaseCorpus, normalizeLines, pickBaseLines, prepareBaseCorpus, retrainText } from '../src/training/retrain-text.js';

let baseCorpus: string[];

beforeAll(async () => {
  baseCorpus = await loadBaseCorpus('data/corpus.txt');
});

describe('text preparation', () => {
  it('normalizeLines keeps the characters of an imported vocabulary as written and drops the others', () => {
    const vocab = new Vocabulary(['\n', ' ', '!', 'D', 'a', 'g', 'o', 'y'], { unknown: false });
    expect(normalizeLines(['Doggy GO away! 🎉', 'zzz'], vocab)).toEqual(['Doggy go aay!']);
  });

  it('normalizeLines splits messages into utterances and drops what is left empty', () => {
    expect(normalizeLines(['Hello <@123> THERE\nsecond line', '   ', '🎉', 'ok!'])).toEqual(['hello there', 'second line', 'ok!']);
  });

  it('pickBaseLines mixes about ratio × the server text, at least the minimum, repeating the corpus if needed, the same every time', () => {
    const chars = (ls: string[]) => ls.reduce((a, l) => a + l.length + 1, 0);
    const total = chars(baseCorpus);
    const some = pickBaseLines(baseCorpus, 10_000, 1, 2000, 1);
    expect(Math.abs(chars(some) - 10_000)).toBeLessThan(200);
    expect(pickBaseLines(baseCorpus, 10_000, 1, 2000, 1)).toEqual(some);
    expect(Math.abs(chars(pickBaseLines(baseCorpus, 10, 1, 5000, 1)) - 5000)).toBeLessThan(200);
    expect(chars(pickBaseLines(baseCorpus, total, 1, 0, 1))).toBe(total);
    const twiceAndAHalf = pickBaseLines(baseCorpus, total * 2.5, 1, 0, 1);
    expect(Math.abs(chars(twiceAndAHalf) - total * 2.5)).toBeLessThan(200);
    expect(twiceAndAHalf.slice(0, baseCorpus.length)).toEqual(baseCorpus);
  });
});

describe('retrainText', () => {
  const messages = Array.from({ length: 50 }, (_, i) => `Pizza night ${i}\nGG everyone`);

  it("splits the server's utterances into training and held-out lines and mixes in base corpus lines", () => {
    const base = prepareBaseCorpus(baseCorpus);
    const text = retrainText(messages, base, { wholeBase: false, ratio: 1, minChars: 0, seed: 1 });
    expect(text.lines).toHaveLength(100);
    expect(text.server.train.length + text.server.heldOut.length).toBe(100);
    expect(text.server.heldOut.length).toBeGreaterThan(0);
    const chars = (ls: string[]) => ls.reduce((a, l) => a + l.length + 1, 0);
    expect(Math.abs(chars(text.baseLines) - chars(text.server.train))).toBeLessThan(200);
  });

  it('trains the base model on its whole training split', () => {
    const base = prepareBaseCorpus(baseCorpus);
    expect(retrainText(messages, base, { wholeBase: true, seed: 1 }).baseLines).toBe(base.split.train);
  });
});
