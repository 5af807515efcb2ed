import { beforeAll, describe, expect, it } from 'vitest';
import { Vocabulary } from '../src/model/vocab.js';
import { loadBaseCorpus, normalizeLines, prepareBaseCorpus, retrainText } from '../src/training/retrain-text.js';

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
    expect(normalizeLines(['Hello <@123> THERE\nsecond line', '   ', '🎉', 'ok!'])).toEqual([
      'hello there',
      'second line',
      'ok!',
    ]);
  });
});

describe('retrainText', () => {
  const messages = Array.from({ length: 50 }, (_, i) => `Pizza night ${i}\nGG everyone`);

  it("splits the server's utterances into training and held-out lines and mixes them with base lines to the share", () => {
    const base = prepareBaseCorpus(baseCorpus);
    const text = retrainText(messages, base, { share: 0.5, minChars: 0, seed: 1 });
    expect(text.lines).toHaveLength(100);
    expect(text.server.train.length + text.server.heldOut.length).toBe(100);
    expect(text.server.heldOut.length).toBeGreaterThan(0);
    const chars = (ls: string[]) => ls.reduce((a, l) => a + l.length + 1, 0);
    expect(Math.abs(chars(text.baseLines) - chars(text.trainLines)) / chars(text.trainLines)).toBeLessThan(0.05);
    expect(text.mix?.share).toBe(0.5);
    const strong = retrainText(messages, base, { share: 0.75, seed: 1 });
    expect(chars(strong.trainLines) / (chars(strong.trainLines) + chars(strong.baseLines))).toBeCloseTo(0.75, 1);
  });

  it('trains the base model on its whole training split', () => {
    const base = prepareBaseCorpus(baseCorpus);
    const whole = retrainText(messages, base, { share: null, seed: 1 });
    expect(whole.baseLines).toBe(base.split.train);
    expect(whole.mix).toBeNull();
  });
});
