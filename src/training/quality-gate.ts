/**
 * The quality gate of /retrain: a newly trained model is swapped in only if it is no worse on the server's held-out
 * text than the model serving now (within `tolerance` bits per character), no worse on the held-out baby corpus than
 * `baseTolerance` allows (the strength's factor × tolerance: learning a server's words costs some bits there), and if
 * its samples are still baby talk (baby-likeness.ts: known words, non-empty, short, not parroting the server).
 */
import { corpusWords } from '../model/corpus.js';
import { checkBabyLikeness, type GateSample, type LikenessOptions } from './baby-likeness.js';
import type { HeldOutFigures } from './trainer-protocol.js';

export interface GateOptions extends LikenessOptions {
  /** How much worse (bits per character) a held-out figure may get. Default 0.05. */
  tolerance?: number;
  /** The held-out baby corpus's own tolerance (default `tolerance`); a run uses tolerance × its strength's factor. */
  baseTolerance?: number;
  /** Samples drawn for the check. Default 36. */
  samples?: number;
  /** Most share of the samples that may trip the word filter (TRAIN_GATE_MAX_FLAGGED). Default 0.1. */
  maxFlaggedRate?: number;
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
  samples: {
    wordShare: number;
    nonEmpty: number;
    shortShare: number;
    parrotShare: number;
    ok: boolean;
    texts: string[];
  };
  notes: string[];
  tolerance: number;
  baseTolerance: number;
}

/** 0.05 × 3 → 0.15, not 0.15000000000000002 (the tolerance is shown to admins). */
export const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

function checkFigure(before: number | null, after: number | null, tolerance: number): GateCheck {
  if (before === null || after === null) return { before, after, ok: true };
  return { before, after, ok: after <= before + tolerance };
}

/** The quality gate on figures and samples (pure). `serverLines`: the server's lines (for the parroting check). */
export function evaluateGate(input: {
  before: HeldOutFigures;
  after: HeldOutFigures;
  samples: readonly GateSample[];
  knownWords: ReadonlySet<string>;
  serverLines?: ReadonlySet<string>;
  options?: GateOptions;
}): GateResult {
  const tolerance = input.options?.tolerance ?? 0.05;
  const baseTolerance = input.options?.baseTolerance ?? tolerance;
  const reasons: string[] = [];
  const notes: string[] = [];
  const server = checkFigure(input.before.server, input.after.server, tolerance);
  const base = checkFigure(input.before.base, input.after.base, baseTolerance);
  const f = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));
  if (input.after.server === null || input.before.server === null) notes.push('no held-out server text to compare on');
  else if (!server.ok)
    reasons.push(
      `worse on the server's held-out messages: ${f(server.after)} bits/char, was ${f(server.before)} (tolerance ${tolerance})`,
    );
  if (input.after.base === null || input.before.base === null) notes.push('no held-out base corpus to compare on');
  else if (!base.ok)
    reasons.push(
      `worse on the held-out baby corpus: ${f(base.after)} bits/char, was ${f(base.before)} (tolerance ${baseTolerance})`,
    );
  const likeness = checkBabyLikeness({
    samples: input.samples,
    knownWords: input.knownWords,
    ...(input.serverLines ? { serverLines: input.serverLines } : {}),
    ...(input.options ? { options: input.options } : {}),
  });
  reasons.push(...likeness.reasons);
  return {
    pass: reasons.length === 0,
    reasons,
    server,
    base,
    samples: {
      wordShare: likeness.wordShare,
      nonEmpty: likeness.nonEmpty,
      shortShare: likeness.shortShare,
      parrotShare: likeness.parrotShare,
      ok: likeness.ok,
      texts: input.samples.map((x) => x.generated),
    },
    notes,
    tolerance,
    baseTolerance,
  };
}

/** The words a candidate's samples may use: the base corpus's and the server's own. */
export function knownWords(baseWords: ReadonlySet<string>, serverLines: readonly string[]): Set<string> {
  const known = new Set(baseWords);
  for (const w of corpusWords(serverLines)) known.add(w);
  return known;
}
