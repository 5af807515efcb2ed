/**
 * The text of a /retrain run: the server's messages as utterances, split into training and held-out lines, and
 * the base corpus lines mixed in so that the model stays a baby and keeps its alphabet, the server's text being the
 * share of the characters its strength sets (server-share.ts).
 */
import { readFile } from 'node:fs/promises';
import { corpusWords, splitHeldOut } from '../model/corpus.js';
import { DEFAULT_VOCAB, normalize, type Vocabulary } from '../model/vocab.js';
import { mixForShare, type ShareMix } from './server-share.js';

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
  /** The server's training lines as the trainer reads them (repeated up to the strength's share). */
  trainLines: string[];
  /** Base corpus lines mixed into training. */
  baseLines: string[];
  /** How the two were mixed; null when the base model itself is retrained (its whole training split, nothing else). */
  mix: ShareMix | null;
}

export interface MixOptions {
  /** The vocabulary of the model to be fine-tuned (default: Babble's own). */
  vocab?: Vocabulary;
  /** The server's share of the training characters (server-share.ts); null: retraining the base model itself. */
  share: number | null;
  /** Least base corpus characters. Default: the whole base training split once. */
  minChars?: number;
  seed: number;
}

/** What one run trains and is scored on, from the server's raw messages. */
export function retrainText(messages: readonly string[], base: BaseCorpus, mix: MixOptions): RetrainText {
  const lines = normalizeLines(messages, mix.vocab);
  const server = splitHeldOut(lines, 0.1);
  if (mix.share === null) return { lines, server, trainLines: server.train, baseLines: base.split.train, mix: null };
  const shared = mixForShare(server.train, base.split.train, mix.share, {
    minBaseChars: mix.minChars ?? base.trainChars,
    seed: mix.seed,
  });
  return { lines, server, trainLines: shared.server, baseLines: shared.base, mix: shared };
}
