/**
 * The quality gate of /retrain: a newly trained model is swapped in only if it is no worse on either held-out text
 * (the server's, the base corpus's) than the model serving now, within a tolerance in bits per character, and if
 * its sample babbles are mostly non-empty and mostly known words (base corpus words and the server's own words).
 */
import type { BabyLanguageModel } from '../model/baby.js';
import { corpusWords, wordsOf } from '../model/corpus.js';
import type { HeldOutFigures } from './trainer-protocol.js';

export interface GateOptions {
  /** How much worse (bits per character) a held-out figure may get. Default 0.05. */
  tolerance?: number;
  /** Least share of known words among the samples' generated words. Default 0.6. */
  minWordShare?: number;
  /** Least share of samples with something generated. Default 0.75. */
  minNonEmpty?: number;
  /** Samples drawn for the check. Default 12. */
  samples?: number;
}

export interface GateCheck {
  before: number | null;
  after: number | null;
  /** False when worse than before + tolerance; true when better, equal, within tolerance, or not measured. */
  ok: boolean;
}

export interface GateResult {
  pass: boolean;
  /** Why it failed (empty when it passed), one sentence each. */
  reasons: string[];
  /** Held-out figures compared, and notes such as "no held-out server text". */
  server: GateCheck;
  base: GateCheck;
  samples: { wordShare: number; nonEmpty: number; ok: boolean; texts: string[] };
  notes: string[];
  tolerance: number;
}

/** Seeds for the gate's samples. */
export const GATE_SEEDS = ['', 'me ', 'me want ', 'hi ', 'where ', 'no '] as const;

/** Draws the gate's samples from a model: the generated part of each (seed removed), trimmed. */
export function drawSamples(model: BabyLanguageModel, count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const seed = GATE_SEEDS[i % GATE_SEEDS.length]!;
    const r = model.generateDetailed(seed, { temperature: 0.5, length: 60, rng: 1000 + i, stopAtEndOfUtterance: true });
    out.push(r.text.slice(r.seed.length).trim());
  }
  return out;
}

function checkFigure(before: number | null, after: number | null, tolerance: number): GateCheck {
  if (before === null || after === null) return { before, after, ok: true };
  return { before, after, ok: after <= before + tolerance };
}

/** The quality gate on figures and samples (pure). */
export function evaluateGate(input: {
  before: HeldOutFigures;
  after: HeldOutFigures;
  samples: readonly string[];
  knownWords: ReadonlySet<string>;
  options?: GateOptions;
}): GateResult {
  const tolerance = input.options?.tolerance ?? 0.05;
  const minWordShare = input.options?.minWordShare ?? 0.6;
  const minNonEmpty = input.options?.minNonEmpty ?? 0.75;
  const reasons: string[] = [];
  const notes: string[] = [];
  const server = checkFigure(input.before.server, input.after.server, tolerance);
  const base = checkFigure(input.before.base, input.after.base, tolerance);
  const f = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));
  if (input.after.server === null || input.before.server === null) notes.push('no held-out server text to compare on');
  else if (!server.ok) reasons.push(`worse on the server's held-out messages: ${f(server.after)} bits/char, was ${f(server.before)} (tolerance ${tolerance})`);
  if (input.after.base === null || input.before.base === null) notes.push('no held-out base corpus to compare on');
  else if (!base.ok) reasons.push(`worse on the held-out baby corpus: ${f(base.after)} bits/char, was ${f(base.before)} (tolerance ${tolerance})`);
  let words = 0;
  let known = 0;
  let nonEmptyCount = 0;
  for (const s of input.samples) {
    if (s.trim().length > 0) nonEmptyCount++;
    for (const w of wordsOf(s)) {
      words++;
      if (input.knownWords.has(w)) known++;
    }
  }
  const nonEmpty = input.samples.length ? nonEmptyCount / input.samples.length : 0;
  const wordShare = words ? known / words : 0;
  const samplesOk = nonEmpty >= minNonEmpty && wordShare >= minWordShare;
  if (nonEmpty < minNonEmpty) reasons.push(`its samples are mostly empty (${Math.round(nonEmpty * 100)}% have text, need ${Math.round(minNonEmpty * 100)}%)`);
  if (wordShare < minWordShare) reasons.push(`its samples are mostly made-up words (${Math.round(wordShare * 100)}% known words, need ${Math.round(minWordShare * 100)}%)`);
  return {
    pass: reasons.length === 0,
    reasons,
    server,
    base,
    samples: { wordShare, nonEmpty, ok: samplesOk, texts: [...input.samples] },
    notes,
    tolerance,
  };
}


/** The words a candidate's samples may use: the base corpus's and the server's own. */
export function knownWords(baseWords: ReadonlySet<string>, serverLines: readonly string[]): Set<string> {
  const known = new Set(baseWords);
  for (const w of corpusWords(serverLines)) known.add(w);
  return known;
}
