/**
 * How much of a retrain's training text is the server's own: `/retrain start strength: gentle | normal | strong`.
 *
 * The share of training characters drawn from the server's text is a setting, not a consequence of corpus sizes:
 * `mixForShare` repeats the server's lines (whole copies, then an evenly spread part) or the base corpus lines until
 * the server's text is `share` of the characters, never using less than all of either (`minBaseChars` of the base).
 * Each strength also says how much the held-out baby corpus may get worse (the quality gate, baby-likeness.ts):
 * learning a server's words costs some bits on the baby corpus, more the stronger the pull.
 *
 * Pure, no model code: the Discord command imports the names and the numbers.
 */

export const STRENGTHS = ['gentle', 'normal', 'strong'] as const;
export type Strength = (typeof STRENGTHS)[number];

export interface StrengthSpec {
  /** Share of training characters from the server's text. */
  share: number;
  /** How much the held-out baby corpus may rise, in multiples of the gate's tolerance (TRAIN_GATE_TOLERANCE). */
  baseToleranceFactor: number;
}

/** The numbers behind each strength (README "Retraining" lists them). */
export const STRENGTH_SPECS: Readonly<Record<Strength, StrengthSpec>> = Object.freeze({
  gentle: { share: 0.25, baseToleranceFactor: 2 },
  normal: { share: 0.5, baseToleranceFactor: 3 },
  strong: { share: 0.75, baseToleranceFactor: 5 },
});

/** The strength of a /retrain that does not say (chosen by measurement: README "Retraining"). */
export const DEFAULT_STRENGTH: Strength = 'normal';

export function isStrength(value: unknown): value is Strength {
  return typeof value === 'string' && (STRENGTHS as readonly string[]).includes(value);
}

/** Characters of lines as the trainer reads them (a newline after each). */
export function lineChars(lines: readonly string[]): number {
  return lines.reduce((n, l) => n + l.length + 1, 0);
}

/**
 * About `want` characters of `lines`: whole copies while at least one more fits, then every k-th line from an
 * offset set by `seed` (spread over the whole list). Deterministic.
 */
export function repeatToChars(lines: readonly string[], want: number, seed: number): string[] {
  const total = lineChars(lines);
  if (total === 0 || !(want > 0)) return [];
  const out: string[] = [];
  let left = want;
  while (left >= total) {
    out.push(...lines);
    left -= total;
  }
  const share = left / total;
  let acc = (Math.abs(Math.trunc(seed)) % 997) / 997;
  for (const line of lines) {
    acc += share;
    if (acc >= 1) {
      acc -= 1;
      out.push(line);
    }
  }
  return out;
}

export interface ShareMix {
  /** The server's lines, repeated to their share. */
  server: string[];
  /** The base corpus lines, repeated to theirs. */
  base: string[];
  /** The share asked for. */
  share: number;
  /** The server's share of the characters actually mixed (differs from `share` by at most a line or so). */
  actualShare: number;
  /** How many times the server's text was used (1 = once). */
  serverRepeats: number;
}

/**
 * The server's and the base corpus's training lines mixed so that the server's text is `share` of the characters:
 * the total is the smallest that uses all of the server's text and at least `minBaseChars` of the base corpus
 * (default: all of it), the other side being repeated up to its share.
 */
export function mixForShare(
  server: readonly string[],
  base: readonly string[],
  share: number,
  options: { minBaseChars?: number; seed?: number } = {},
): ShareMix {
  if (!(share > 0 && share < 1)) throw new RangeError(`mixForShare: share must be between 0 and 1 (got ${share})`);
  const seed = options.seed ?? 1;
  const serverChars = lineChars(server);
  const baseChars = Math.min(options.minBaseChars ?? Infinity, lineChars(base));
  const total = Math.max(serverChars / share, baseChars / (1 - share));
  const serverPart = repeatToChars(server, total * share, seed);
  const basePart = repeatToChars(base, total * (1 - share), seed);
  const s = lineChars(serverPart);
  const b = lineChars(basePart);
  return {
    server: serverPart,
    base: basePart,
    share,
    actualShare: s + b > 0 ? s / (s + b) : 0,
    serverRepeats: serverChars > 0 ? s / serverChars : 0,
  };
}
