/**
 * Is a retrained model still a baby? The sample half of the quality gate (retrain.ts `evaluateGate` holds the
 * held-out figures and calls this):
 *  - non-empty: at least `minNonEmpty` of the samples generate something;
 *  - known words: at least `minWordShare` of the generated words are words of the base corpus or of the server's text;
 *  - short utterances: at least `minShortShare` of the samples end their utterance within the generated length and
 *    have at most `maxWords` words (the corpus's lines have 2–8);
 *  - no parroting: at most `maxParrotShare` of the samples are, whole, a line of the server's text that is not also a
 *    baby corpus line. A model that mostly recites the server back is overfit, not talking like it.
 *
 * `drawGateSamples` draws the samples at a fixed temperature (0.5, as the eval), from fixed seeds and rngs, so the
 * same model always gets the same verdict; it yields to the event loop between samples (it runs inside the bot).
 */
import type { BabyLanguageModel } from '../model/baby.js';
import { MAX_WORDS, wordsOf } from '../model/corpus.js';

/** Seeds of the gate's samples. */
export const GATE_SEEDS = ['', 'me ', 'me want ', 'hi ', 'where ', 'no '] as const;
/** Characters generated per gate sample. */
export const GATE_SAMPLE_LENGTH = 60;
export const GATE_TEMPERATURE = 0.5;

export interface GateSample {
  /** The utterance: seed and generated text, up to the end of the utterance, trimmed. */
  utterance: string;
  /** The generated part only, trimmed. */
  generated: string;
  /** The utterance ended (the model chose the end of utterance) within the length. */
  complete: boolean;
}

export interface LikenessOptions {
  /** Least share of known words among the samples' generated words. Default 0.9. */
  minWordShare?: number;
  /** Least share of samples with something generated. Default 0.75. */
  minNonEmpty?: number;
  /** Least share of short samples. Default 0.75. */
  minShortShare?: number;
  /** Most words of a short sample. Default the corpus's longest line (8) + 4. */
  maxWords?: number;
  /** Most share of samples that are exactly a server line. Default 0.5. */
  maxParrotShare?: number;
}

export interface Likeness {
  ok: boolean;
  /** Why not, one sentence each. */
  reasons: string[];
  wordShare: number;
  nonEmpty: number;
  shortShare: number;
  parrotShare: number;
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** `count` samples from the gate seeds in turn, rng 1000 + i. */
export async function drawGateSamples(model: BabyLanguageModel, count: number): Promise<GateSample[]> {
  const out: GateSample[] = [];
  for (let i = 0; i < count; i++) {
    const seed = GATE_SEEDS[i % GATE_SEEDS.length]!;
    const r = model.generateDetailed(seed, {
      temperature: GATE_TEMPERATURE,
      length: GATE_SAMPLE_LENGTH,
      rng: 1000 + i,
      stopAtEndOfUtterance: true,
    });
    const generated = r.text.slice(r.seed.length).trim();
    // It stops at the end of the utterance, before the newline: fewer characters than allowed means it ended.
    out.push({ utterance: `${r.seed}${generated}`.trim(), generated, complete: r.generated < GATE_SAMPLE_LENGTH });
    if (i % 8 === 7) await yieldToLoop();
  }
  return out;
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

/** The sample checks (pure). `serverLines`: the server's lines that are not base corpus lines. */
export function checkBabyLikeness(input: {
  samples: readonly GateSample[];
  knownWords: ReadonlySet<string>;
  serverLines?: ReadonlySet<string>;
  options?: LikenessOptions;
}): Likeness {
  const o = input.options ?? {};
  const minWordShare = o.minWordShare ?? 0.9;
  const minNonEmpty = o.minNonEmpty ?? 0.75;
  const minShortShare = o.minShortShare ?? 0.75;
  const maxWords = o.maxWords ?? MAX_WORDS + 4;
  const maxParrotShare = o.maxParrotShare ?? 0.5;
  const n = input.samples.length;
  let words = 0;
  let known = 0;
  let nonEmpty = 0;
  let short = 0;
  let parrots = 0;
  for (const s of input.samples) {
    if (s.generated.length > 0) nonEmpty++;
    for (const w of wordsOf(s.generated)) {
      words++;
      if (input.knownWords.has(w)) known++;
    }
    if (s.complete && wordsOf(s.utterance).length <= maxWords) short++;
    if (input.serverLines?.has(s.utterance)) parrots++;
  }
  const share = (k: number) => (n > 0 ? k / n : 0);
  const result = {
    wordShare: words > 0 ? known / words : 0,
    nonEmpty: share(nonEmpty),
    shortShare: share(short),
    parrotShare: share(parrots),
  };
  const reasons: string[] = [];
  if (result.nonEmpty < minNonEmpty)
    reasons.push(`its samples are mostly empty (${pct(result.nonEmpty)} have text, need ${pct(minNonEmpty)})`);
  if (result.wordShare < minWordShare)
    reasons.push(
      `its samples are mostly made-up words (${pct(result.wordShare)} known words, need ${pct(minWordShare)})`,
    );
  if (result.shortShare < minShortShare)
    reasons.push(`its samples ramble on (${pct(result.shortShare)} are short utterances, need ${pct(minShortShare)})`);
  if (result.parrotShare > maxParrotShare)
    reasons.push(
      `it mostly repeats the server's messages word for word (${pct(result.parrotShare)} of its samples, at most ${pct(maxParrotShare)})`,
    );
  return { ok: reasons.length === 0, reasons, ...result };
}
