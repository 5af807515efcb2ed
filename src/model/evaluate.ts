/**
 * Sample-based quality metrics for a babbling model. Pure: no tfjs, no Discord. The model is reached only through
 * a generator callback, so the metrics can be checked with a scripted fake.
 *
 * - wordShare: the share of generated words that are words of the corpus.
 * - wantFoodOrToy / lovePerson / seeAnimal: for the seeds "me want ", "me love " and "me see ", the share of
 *   samples whose first word(s) after the seed are a food or toy, a person, an animal (WORD_CLASSES).
 *
 * Every sample is cut at its first newline (the end of the utterance). Held-out bits per character is measured
 * elsewhere.
 */
import { WORD_CLASSES, corpusWords, startsWithItem } from './corpus.js';

export interface GenerateOptions {
  temperature: number;
  /** Characters to generate after the seed. */
  length: number;
  /** Seed of the sampler's random generator. */
  rng: number;
}

/**
 * Returns text that starts with `seed`, followed by up to `length` generated characters. The text may include the
 * end-of-utterance newline, or stop before it; a text with fewer than `length` generated characters and no newline
 * is taken as a finished utterance.
 */
export type Generate = (seed: string, options: GenerateOptions) => string | Promise<string>;

/** The bars a model must reach. */
export const EVAL_BARS = Object.freeze({ wordShare: 0.95, wantFoodOrToy: 0.8, lovePerson: 0.8, seeAnimal: 0.8 });
export type EvalMetric = keyof typeof EVAL_BARS;

/** Seeds for the word share: statements, questions, the three class seeds, a seed that ends mid-word. */
export const WORD_SHARE_SEEDS: readonly string[] = Object.freeze([
  'me ',
  'me want ',
  'me love ',
  'me see ',
  'doggy ',
  'mommy ',
  'where ',
  'no ',
  'kitty say ',
  'uh oh, ',
  'bab',
]);

export const CLASS_SEEDS = Object.freeze({
  wantFoodOrToy: { seed: 'me want ', items: WORD_CLASSES.foodsAndToys },
  lovePerson: { seed: 'me love ', items: WORD_CLASSES.people },
  seeAnimal: { seed: 'me see ', items: WORD_CLASSES.animals },
});

export interface EvaluateOptions {
  /** Sampling temperature for every sample. Default 0.5. */
  temperature?: number;
  /** Characters generated after the seed; long enough to reach the end of nearly every utterance. Default 60. */
  length?: number;
  /** Samples per class seed, with rng 0..n-1. Default 200. */
  classSamples?: number;
  /** Seeds for the word share. Default WORD_SHARE_SEEDS. */
  wordShareSeeds?: readonly string[];
  /** Samples per word-share seed, with rng 0..n-1. Default 20. */
  wordShareSamplesPerSeed?: number;
  /** Example utterances kept per metric. Default 5. */
  examples?: number;
}

export interface Utterance {
  /** The sample up to (not including) its first newline after the seed. */
  text: string;
  /** False when generation ran out of length before the end of the utterance. */
  complete: boolean;
}

export interface ShareCount {
  share: number;
  hits: number;
  total: number;
}

export interface EvaluateResult {
  wordShare: number;
  wantFoodOrToy: number;
  lovePerson: number;
  seeAnimal: number;
  counts: Record<EvalMetric, ShareCount>;
  /** Generated words that are not corpus words, most frequent first (at most 10). */
  unknownWords: { word: string; count: number }[];
  /** A few utterances per metric. */
  samples: { wordShare: string[]; wantFoodOrToy: string[]; lovePerson: string[]; seeAnimal: string[] };
  options: Required<EvaluateOptions>;
}

const DEFAULTS: Required<EvaluateOptions> = {
  temperature: 0.5,
  length: 60,
  classSamples: 200,
  wordShareSeeds: WORD_SHARE_SEEDS,
  wordShareSamplesPerSeed: 20,
  examples: 5,
};

/** Cuts a sample at the first newline after the seed. Throws if the sample does not start with the seed. */
export function utteranceOf(sample: string, seed: string, length: number): Utterance {
  if (!sample.startsWith(seed)) {
    throw new Error(
      `evaluate: sample ${JSON.stringify(sample.slice(0, 40))} does not start with seed ${JSON.stringify(seed)}`,
    );
  }
  const newline = sample.indexOf('\n', seed.length);
  if (newline >= 0) return { text: sample.slice(0, newline), complete: true };
  return { text: sample, complete: sample.length - seed.length < length };
}

const WORD_CHAR = /[a-z0-9']/;

/**
 * The words of an utterance that contain generated characters (words wholly inside the seed are not counted;
 * a word that starts in the seed and ends in the generated text is). The last word is left out when the
 * utterance was cut off in the middle of it. Word splitting is that of `wordsOf`.
 */
export function generatedWords(utterance: Utterance, seed: string): string[] {
  const text = utterance.text.toLowerCase();
  const cutMidWord = !utterance.complete && text.length > seed.length && WORD_CHAR.test(text.slice(-1));
  const words: string[] = [];
  for (const m of text.matchAll(/[a-z0-9']+/g)) {
    const end = m.index + m[0].length;
    if (end <= seed.length) continue;
    if (cutMidWord && end === text.length) continue;
    const word = m[0].replace(/^'+|'+$/g, '');
    if (word.length > 0) words.push(word);
  }
  return words;
}

function ratio(hits: number, total: number): ShareCount {
  return { share: total > 0 ? hits / total : 0, hits, total };
}

/**
 * Share of `samples` generations for `seed` (rng 0..samples-1) whose continuation starts with one of `items`.
 * Also returns the first utterances as examples.
 */
export async function classShare(
  generate: Generate,
  seed: string,
  items: readonly string[],
  options: { temperature: number; length: number; samples: number; examples: number },
): Promise<ShareCount & { examples: string[] }> {
  let hits = 0;
  const examples: string[] = [];
  for (let rng = 0; rng < options.samples; rng++) {
    const sample = await generate(seed, { temperature: options.temperature, length: options.length, rng });
    const utterance = utteranceOf(sample, seed, options.length);
    if (startsWithItem(utterance.text.slice(seed.length), items)) hits++;
    if (examples.length < options.examples) examples.push(utterance.text);
  }
  return { ...ratio(hits, options.samples), examples };
}

/**
 * Generates samples and measures word share and the three class associations against the corpus `lines`.
 * The generator is called one sample at a time, in a fixed order.
 */
export async function evaluateSamples(
  generate: Generate,
  lines: readonly string[],
  options: EvaluateOptions = {},
): Promise<EvaluateResult> {
  const o: Required<EvaluateOptions> = { ...DEFAULTS, ...options };
  const known = corpusWords(lines);

  let words = 0;
  let knownWords = 0;
  const unknown = new Map<string, number>();
  const wordExamples: string[] = [];
  for (const seed of o.wordShareSeeds) {
    for (let rng = 0; rng < o.wordShareSamplesPerSeed; rng++) {
      const sample = await generate(seed, { temperature: o.temperature, length: o.length, rng });
      const utterance = utteranceOf(sample, seed, o.length);
      for (const word of generatedWords(utterance, seed)) {
        words++;
        if (known.has(word)) knownWords++;
        else unknown.set(word, (unknown.get(word) ?? 0) + 1);
      }
      if (rng === 0 && wordExamples.length < o.examples) wordExamples.push(utterance.text);
    }
  }

  const classOptions = { temperature: o.temperature, length: o.length, samples: o.classSamples, examples: o.examples };
  const want = await classShare(
    generate,
    CLASS_SEEDS.wantFoodOrToy.seed,
    CLASS_SEEDS.wantFoodOrToy.items,
    classOptions,
  );
  const love = await classShare(generate, CLASS_SEEDS.lovePerson.seed, CLASS_SEEDS.lovePerson.items, classOptions);
  const see = await classShare(generate, CLASS_SEEDS.seeAnimal.seed, CLASS_SEEDS.seeAnimal.items, classOptions);

  const wordCount = ratio(knownWords, words);
  return {
    wordShare: wordCount.share,
    wantFoodOrToy: want.share,
    lovePerson: love.share,
    seeAnimal: see.share,
    counts: {
      wordShare: wordCount,
      wantFoodOrToy: ratio(want.hits, want.total),
      lovePerson: ratio(love.hits, love.total),
      seeAnimal: ratio(see.hits, see.total),
    },
    unknownWords: [...unknown]
      .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))
      .slice(0, 10)
      .map(([word, count]) => ({ word, count })),
    samples: {
      wordShare: wordExamples,
      wantFoodOrToy: want.examples,
      lovePerson: love.examples,
      seeAnimal: see.examples,
    },
    options: o,
  };
}

/** Which metrics fall below their bars. */
export function checkBars(
  result: Pick<EvaluateResult, EvalMetric>,
  bars: Readonly<Record<EvalMetric, number>> = EVAL_BARS,
): { pass: boolean; failures: string[] } {
  const failures: string[] = [];
  for (const metric of Object.keys(bars) as EvalMetric[]) {
    const value = result[metric];
    if (!(value >= bars[metric])) failures.push(`${metric} ${value.toFixed(3)} < ${bars[metric]}`);
  }
  return { pass: failures.length === 0, failures };
}
