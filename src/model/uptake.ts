/**
 * Uptake: how much a retrained model talks like its server. Pure, the model reached through a generator callback
 * (as evaluate.ts), so the figures can be checked with a scripted fake.
 *
 * - New words: words of the server's text, at least `minCount` times, that the base corpus never has.
 * - Word uptake: over `samplesPerSeed` samples of each seed (rng 0..n-1), the share of samples whose generated words
 *   include a new word; per seed, and per new word how many samples use it.
 * - Openings: for the server's 3 most frequent 2-word openings (lines of 3 words or more), the share of samples
 *   seeded with the opening whose continuation (to the end of the utterance) is one the server's text has after it
 *   (`exact`), or starts with a word the server has next (`firstWord`).
 */
import { corpusWords, wordsOf } from './corpus.js';
import { generatedWords, utteranceOf, type Generate } from './evaluate.js';

/** Seeds of the word-uptake samples when none are given: baby openings, and "me want " (the targets' seed). */
export const UPTAKE_SEEDS: readonly string[] = Object.freeze(['me want ', 'me ', 'me see ', 'where ', 'big ', 'no ']);

export interface UptakeOptions {
  seeds?: readonly string[];
  /** Samples per seed. Default 50. */
  samplesPerSeed?: number;
  /** Default 0.5. */
  temperature?: number;
  /** Characters generated per sample. Default 60. */
  length?: number;
  /** Least times a word appears in the server's text to count as one of its new words. Default 3. */
  minCount?: number;
  /** Openings measured. Default 3. */
  openings?: number;
}

export interface WordCount {
  word: string;
  count: number;
}

export interface SeedUptake {
  seed: string;
  samples: number;
  /** Samples using a new word. */
  withNewWord: number;
  share: number;
}

export interface OpeningUptake {
  /** The two words, with a trailing space (the seed used). */
  opening: string;
  /** Server lines that start with it. */
  serverLines: number;
  samples: number;
  /** Share of continuations that are, whole, a continuation the server has. */
  exact: number;
  /** Share of continuations whose first word is one the server has next. */
  firstWord: number;
}

export interface UptakeReport {
  /** The server's new words, most frequent first, with their counts in the server's text. */
  newWords: WordCount[];
  /** Samples over every seed. */
  samples: number;
  /** Share of all samples that use a new word. */
  newWordShare: number;
  perSeed: SeedUptake[];
  /** New words the model used, most used first, with how many samples used each. */
  used: WordCount[];
  /** Share of generated words that are base corpus or server words. */
  knownWordShare: number;
  openings: OpeningUptake[];
  temperature: number;
  /** A few samples that use a new word. */
  examples: string[];
}

function byCount(a: WordCount, b: WordCount): number {
  return b.count - a.count || (a.word < b.word ? -1 : a.word > b.word ? 1 : 0);
}

/** Words of the server's lines that the base corpus lacks, used at least `minCount` times, most frequent first. */
export function newWords(serverLines: readonly string[], baseWords: ReadonlySet<string>, minCount = 3): WordCount[] {
  const counts = new Map<string, number>();
  for (const line of serverLines)
    for (const w of wordsOf(line)) if (!baseWords.has(w)) counts.set(w, (counts.get(w) ?? 0) + 1);
  return [...counts]
    .map(([word, count]) => ({ word, count }))
    .filter((w) => w.count >= minCount)
    .sort(byCount);
}

/** The server's most frequent 2-word openings of lines of 3+ words, with the continuations it has after each. */
export function topOpenings(
  serverLines: readonly string[],
  max = 3,
): { opening: string; lines: number; continuations: Set<string>; firstWords: Set<string> }[] {
  const found = new Map<string, { lines: number; continuations: Set<string>; firstWords: Set<string> }>();
  for (const line of serverLines) {
    const words = wordsOf(line);
    if (words.length < 3) continue;
    const opening = `${words[0]} ${words[1]} `;
    const entry = found.get(opening) ?? { lines: 0, continuations: new Set<string>(), firstWords: new Set<string>() };
    entry.lines++;
    entry.continuations.add(words.slice(2).join(' '));
    entry.firstWords.add(words[2]!);
    found.set(opening, entry);
  }
  return [...found]
    .sort((a, b) => b[1].lines - a[1].lines || (a[0] < b[0] ? -1 : 1))
    .slice(0, max)
    .map(([opening, e]) => ({ opening, ...e }));
}

/** Measures uptake; the generator is called one sample at a time in a fixed order. */
export async function measureUptake(
  generate: Generate,
  text: { serverLines: readonly string[]; baseLines: readonly string[] },
  options: UptakeOptions = {},
): Promise<UptakeReport> {
  const seeds = options.seeds ?? UPTAKE_SEEDS;
  const n = options.samplesPerSeed ?? 50;
  const temperature = options.temperature ?? 0.5;
  const length = options.length ?? 60;
  const baseWords = corpusWords(text.baseLines);
  const fresh = newWords(text.serverLines, baseWords, options.minCount ?? 3);
  const isNew = new Set(fresh.map((w) => w.word));
  const known = new Set([...baseWords, ...corpusWords(text.serverLines)]);
  const used = new Map<string, number>();
  const examples: string[] = [];
  const perSeed: SeedUptake[] = [];
  let words = 0;
  let knownWords = 0;
  for (const seed of seeds) {
    let withNew = 0;
    for (let rng = 0; rng < n; rng++) {
      const utterance = utteranceOf(await generate(seed, { temperature, length, rng }), seed, length);
      const generated = generatedWords(utterance, seed);
      const hits = new Set(generated.filter((w) => isNew.has(w)));
      for (const w of generated) {
        words++;
        if (known.has(w)) knownWords++;
      }
      for (const w of hits) used.set(w, (used.get(w) ?? 0) + 1);
      if (hits.size > 0) {
        withNew++;
        if (examples.length < 5) examples.push(utterance.text);
      }
    }
    perSeed.push({ seed, samples: n, withNewWord: withNew, share: n > 0 ? withNew / n : 0 });
  }
  const openings: OpeningUptake[] = [];
  for (const o of topOpenings(text.serverLines, options.openings ?? 3)) {
    let exact = 0;
    let first = 0;
    for (let rng = 0; rng < n; rng++) {
      const utterance = utteranceOf(await generate(o.opening, { temperature, length, rng }), o.opening, length);
      const continuation = wordsOf(utterance.text.slice(o.opening.length));
      if (utterance.complete && o.continuations.has(continuation.join(' '))) exact++;
      if (continuation.length > 0 && o.firstWords.has(continuation[0]!)) first++;
    }
    openings.push({
      opening: o.opening,
      serverLines: o.lines,
      samples: n,
      exact: n > 0 ? exact / n : 0,
      firstWord: n > 0 ? first / n : 0,
    });
  }
  const total = perSeed.reduce((a, s) => a + s.samples, 0);
  return {
    newWords: fresh,
    samples: total,
    newWordShare: total > 0 ? perSeed.reduce((a, s) => a + s.withNewWord, 0) / total : 0,
    perSeed,
    used: [...used].map(([word, count]) => ({ word, count })).sort(byCount),
    knownWordShare: words > 0 ? knownWords / words : 0,
    openings,
    temperature,
    examples,
  };
}
