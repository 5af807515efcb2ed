/**
 * The rules of a babble request, in one place: the bounds of every option (the Discord layer maps them to the
 * command's option limits and checks them again; the generation service checks them for every caller) and the
 * seed rules. What the generator itself does with any seed (model/generate.ts): it reads at most the last
 * RAW_SEED_LIMIT code units, normalises them and keeps the output within MAX_LENGTH (Discord's message limit).
 */
import { DEFAULT_LENGTH, DEFAULT_TEMPERATURE, MAX_TEMPERATURE } from '../model/generate.js';

export { MAX_LENGTH, RAW_SEED_LIMIT } from '../model/generate.js';

export const BABBLE_BOUNDS = {
  /** Longest seed a person may give (characters as typed). */
  seedMaxLength: 500,
  temperature: { min: 0, max: MAX_TEMPERATURE, default: DEFAULT_TEMPERATURE },
  length: { min: 1, max: 1000, default: DEFAULT_LENGTH },
  rng: { min: 0, max: 2 ** 31 - 1 },
  topK: { min: 0, max: 100, default: 0 },
} as const;

export interface BabbleOptions {
  seed: string;
  temperature?: number | undefined;
  length?: number | undefined;
  rng?: number | undefined;
  topK?: number | undefined;
}

function outOfRange(
  name: string,
  v: number | undefined,
  min: number,
  max: number,
  integer: boolean,
): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    return `${name} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max} (you gave ${v}).`;
  }
  return undefined;
}

/** What is wrong with the numeric options, as one sentence for the user, or undefined when they are fine. */
export function numericOptionsProblem(o: Omit<BabbleOptions, 'seed'>): string | undefined {
  const b = BABBLE_BOUNDS;
  return (
    outOfRange('temperature', o.temperature, b.temperature.min, b.temperature.max, false) ??
    outOfRange('length', o.length, b.length.min, b.length.max, true) ??
    outOfRange('rng', o.rng, b.rng.min, b.rng.max, true) ??
    outOfRange('top-k', o.topK, b.topK.min, b.topK.max, true)
  );
}

/** What is wrong with a /babble request (seed and options), as one sentence for the user, or undefined. */
export function babbleOptionsProblem(o: BabbleOptions): string | undefined {
  if (o.seed.trim().length === 0) return 'seed must not be empty: give the baby something to start from.';
  if (o.seed.length > BABBLE_BOUNDS.seedMaxLength) {
    return `seed is too long: at most ${BABBLE_BOUNDS.seedMaxLength} characters (yours has ${o.seed.length}).`;
  }
  return numericOptionsProblem(o);
}
