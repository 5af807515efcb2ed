/**
 * The text of a /retrain run: the server's messages as utterances, split into training and held-out lines, and
 * the base corpus lines mixed in so that the model stays a baby and keeps its alphabet.
 */
import { readFile } from 'node:fs/promises';
import { corpusWords, splitHeldOut } from '../model/corpus.js';
import { DEFAULT_VOCAB, normalize, type Vocabulary } from '../model/vocab.js';

/** data/corpus.txt as normalised lines. */
export async function loadBaseCorpus(path = 'data/corpus.txt'): Promise<string[]> {
  return normalizeLines((await readFile(path, 'utf8')).split('\n'));
}

/**
 * Messages → normalised utterances (one per line; multi-line messages split; empty ones dropped), over the
 * vocabulary of the model to be trained (an imported model keeps its own alphabet, uppercase included).
 */
export function normalizeLines(messages: readonly string[], vocab: Vocabulary = DEFAULT_VOCAB): string[] {
  const out: string[] = [];
  for (const m of messages) {
    for (const line of normalize(m, vocab, { keepNewlines: true }).split('\n')) if (line.length > 0) out.push(line);
  }
  return out;
}

/**
 * Base corpus lines to mix in: about `ratio` × the server's characters and at least `minChars` (whole copies of
 * the corpus repeated when that is more than the corpus, then an evenly spread part of it); deterministic.
 */
export function pickBaseLines(base: readonly string[], serverChars: number, ratio: number, minChars: number, seed: number): string[] {
  const want = Math.max(minChars, serverChars * ratio);
  const total = base.reduce((n, l) => n + l.length + 1, 0);
  if (total === 0) return [];
  const out: string[] = [];
  let left = want;
  while (left >= total) {
    out.push(...base);
    left -= total;
  }
  // Every k-th line from an offset keeps the rest spread over the whole corpus.
  const share = left / total;
  let acc = (seed % 997) / 997;
  for (const line of base) {
    acc += share;
    if (acc >= 1) {
      acc -= 1;
      out.push(line);
    }
  }
  return out;
}

/** The base corpus as every run uses it: split into training and held-out lines (10 %), and its words. */
export interface BaseCorpus {
  split: { train: string[]; heldOut: string[] };
  words: Set<string>;
  /** Characters of the training split, newlines included. */
  trainChars: number;
}

export function prepareBaseCorpus(lines: readonly string[]): BaseCorpus {
  const split = splitHeldOut(lines, 0.1);
  return { split, words: corpusWords(lines), trainChars: split.train.reduce((n, l) => n + l.length + 1, 0) };
}

export interface RetrainText {
  /** The server's utterances. */
  lines: string[];
  /** Their training and held-out (10 %) split. */
  server: { train: string[]; heldOut: string[] };
  /** Base corpus lines mixed into training. */
  baseLines: string[];
}

export interface MixOptions {
  /** The vocabulary of the model to be fine-tuned (default: Babble's own). */
  vocab?: Vocabulary;
  /** Retraining the base model itself: its whole training split, nothing picked. */
  wholeBase: boolean;
  /** Base corpus characters per character of server text. Default 1. */
  ratio?: number;
  /** Least base corpus characters. Default: the whole base training split once. */
  minChars?: number;
  seed: number;
}

/** What one run trains and is scored on, from the server's raw messages. */
export function retrainText(messages: readonly string[], base: BaseCorpus, mix: MixOptions): RetrainText {
  const lines = normalizeLines(messages, mix.vocab);
  const server = splitHeldOut(lines, 0.1);
  const serverChars = server.train.reduce((n, l) => n + l.length + 1, 0);
  const baseLines = mix.wholeBase
    ? base.split.train
    : pickBaseLines(base.split.train, serverChars, mix.ratio ?? 1, mix.minChars ?? base.trainChars, mix.seed);
  return { lines, server, baseLines };
}
