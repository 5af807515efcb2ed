import { describe, expect, it } from 'vitest';
import { WORD_CLASSES } from '../src/model/corpus.js';
import {
  CLASS_SEEDS,
  EVAL_BARS,
  WORD_SHARE_SEEDS,
  checkBars,
  evaluateSamples,
  generatedWords,
  utteranceOf,
  type Generate,
  type GenerateOptions,
} from '../src/model/evaluate.js';

const corpus = ['me want cookie', 'me want choo choo', 'me love mommy', 'me see doggy', 'doggy go woof', 'uh oh'];
const small = { classSamples: 20, wordShareSamplesPerSeed: 2 };

/** A generator that always continues with `text` and a newline. */
const always =
  (text: string): Generate =>
  (seed) =>
    `${seed}${text}\n`;

describe('utteranceOf and generatedWords', () => {
  it('cut the sample at the first newline and mark it complete', () => {
    expect(utteranceOf('me want cookie\nme see', 'me want ', 60)).toEqual({ text: 'me want cookie', complete: true });
  });

  it('treat a sample without newline as complete only if it stopped before the length', () => {
    expect(utteranceOf('me want coo', 'me want ', 3).complete).toBe(false);
    expect(utteranceOf('me want coo', 'me want ', 4).complete).toBe(true);
  });

  it('count only words with generated characters and drop a word cut off by the length', () => {
    expect(generatedWords({ text: 'me want cookie now', complete: true }, 'me want ')).toEqual(['cookie', 'now']);
    expect(generatedWords({ text: 'me want cookie no', complete: false }, 'me want ')).toEqual(['cookie']);
    expect(generatedWords({ text: 'me want cookie ', complete: false }, 'me want ')).toEqual(['cookie']);
    expect(generatedWords({ text: 'baby go', complete: true }, 'bab')).toEqual(['baby', 'go']);
  });

  it('throws when the sample does not start with the seed', () => {
    expect(() => utteranceOf('you want cookie', 'me want ', 60)).toThrow(/does not start with seed/);
  });
});

describe('evaluateSamples', () => {
  it('gives wantFoodOrToy 0 and seeAnimal 1 for a generator that always says doggy', async () => {
    const r = await evaluateSamples(always('doggy'), corpus, small);
    expect(r.wantFoodOrToy).toBe(0);
    expect(r.lovePerson).toBe(0);
    expect(r.seeAnimal).toBe(1);
    expect(r.samples.wantFoodOrToy[0]).toBe('me want doggy');
  });

  it('counts a multi-word item only when the continuation starts with all of it', async () => {
    expect((await evaluateSamples(always('choo choo!'), corpus, small)).wantFoodOrToy).toBe(1);
    expect((await evaluateSamples(always('choo'), corpus, small)).wantFoodOrToy).toBe(0);
    expect((await evaluateSamples(always('cookies'), corpus, small)).wantFoodOrToy).toBe(0);
  });

  it('measures the share of samples per class from the rng of each sample', async () => {
    // Even rng: a person; odd rng: an animal. Over rng 0..n-1 the person share is ceil(n/2)/n.
    const gen: Generate = (seed, o) => `${seed}${o.rng % 2 === 0 ? 'grandma' : 'kitty'}\n`;
    const n = 15;
    const r = await evaluateSamples(gen, corpus, { ...small, classSamples: n });
    expect(r.lovePerson).toBeCloseTo(Math.ceil(n / 2) / n, 12);
    expect(r.seeAnimal).toBeCloseTo(Math.floor(n / 2) / n, 12);
    expect(r.counts.lovePerson).toEqual({ share: r.lovePerson, hits: Math.ceil(n / 2), total: n });
  });

  it('calls the generator with temperature 0.5 and rng 0..199 for each class seed by default', async () => {
    const calls: { seed: string; o: GenerateOptions }[] = [];
    const gen: Generate = (seed, o) => {
      calls.push({ seed, o });
      return `${seed}cookie\n`;
    };
    await evaluateSamples(gen, corpus, { wordShareSeeds: [] });
    for (const { seed } of Object.values(CLASS_SEEDS)) {
      const mine = calls.filter((c) => c.seed === seed);
      expect(mine.map((c) => c.o.rng)).toEqual(Array.from({ length: 200 }, (_, i) => i));
      expect(mine.every((c) => c.o.temperature === 0.5)).toBe(true);
    }
  });

  it('computes the word share over generated words', async () => {
    const seeds = { wordShareSeeds: ['me ', 'no ', 'where '] };
    const known = await evaluateSamples(always('cookie woof'), corpus, { ...small, ...seeds });
    expect(known.wordShare).toBe(1);
    const half = await evaluateSamples(always('cookie zzzq'), corpus, { ...small, ...seeds });
    expect(half.wordShare).toBe(0.5);
    expect(half.counts.wordShare.total).toBe(2 * seeds.wordShareSeeds.length * small.wordShareSamplesPerSeed);
    expect(half.unknownWords).toEqual([
      { word: 'zzzq', count: seeds.wordShareSeeds.length * small.wordShareSamplesPerSeed },
    ]);
  });

  it('judges a word begun in the seed as a whole, as the default seeds include one that ends mid-word', async () => {
    expect(WORD_SHARE_SEEDS.some((seed) => !seed.endsWith(' '))).toBe(true);
    const finish: Generate = (seed, o) => `${seed}${o.rng % 2 === 0 ? 'y go' : 'zz go'}\n`;
    const r = await evaluateSamples(finish, ['baby go'], { ...small, wordShareSeeds: ['bab'] });
    expect(r.unknownWords.map((u) => u.word)).toEqual(['babzz']);
    expect(r.wordShare).toBe(0.75);
  });

  it('does not count a last word cut off by the length, but does count one the generator finished', async () => {
    // Runs to exactly `length` characters with no newline: the last word "zz..." is cut, so not counted.
    const cut: Generate = (seed, o) => seed + `cookie ${'z'.repeat(o.length)}`.slice(0, o.length);
    const r1 = await evaluateSamples(cut, corpus, { ...small, wordShareSeeds: ['me want '] });
    expect(r1.wordShare).toBe(1);
    // Stops early with no newline: the utterance is finished, so its unknown last word counts.
    const early: Generate = (seed) => `${seed}cookie zzzq`;
    const r2 = await evaluateSamples(early, corpus, { ...small, wordShareSeeds: ['me want '] });
    expect(r2.wordShare).toBe(0.5);
  });

  it('ignores text after the end of the utterance', async () => {
    const r = await evaluateSamples(always('doggy\nzzzq qqq'), corpus, { ...small, wordShareSeeds: ['me see '] });
    expect(r.wordShare).toBe(1);
  });

  it('accepts an asynchronous generator', async () => {
    const gen: Generate = async (seed) => `${seed}mommy\n`;
    expect((await evaluateSamples(gen, corpus, small)).lovePerson).toBe(1);
  });
});

describe('EVAL_BARS and checkBars', () => {
  it('sets the bars of the brief', () => {
    expect(EVAL_BARS).toEqual({ wordShare: 0.95, wantFoodOrToy: 0.8, lovePerson: 0.8, seeAnimal: 0.8 });
  });

  it('passes a model that answers each class seed with its class and fails one that does not', async () => {
    const byClass: Generate = (seed) => {
      const item =
        seed === 'me want '
          ? WORD_CLASSES.foodsAndToys[0]
          : seed === 'me love '
            ? WORD_CLASSES.people[0]
            : WORD_CLASSES.animals[0];
      return `${seed}${item}\n`;
    };
    const good = await evaluateSamples(byClass, [...corpus, ...WORD_CLASSES.foodsAndToys], {
      ...small,
      wordShareSeeds: ['me want '],
    });
    expect(checkBars(good)).toEqual({ pass: true, failures: [] });
    const bad = await evaluateSamples(always('doggy'), corpus, { ...small, wordShareSeeds: ['me see '] });
    const verdict = checkBars(bad);
    expect(verdict.pass).toBe(false);
    expect(verdict.failures.map((f) => f.split(' ')[0])).toEqual(['wantFoodOrToy', 'lovePerson']);
  });
});
