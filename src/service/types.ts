/**
 * What the Discord adapter (and anything else) may ask of the generation service. Free of Discord types.
 */

/** Discord's message content limit; no generated text is ever longer. */
export { MAX_LENGTH } from '../model/generate.js';

export interface BabbleRequest {
  /** Any text; it is normalised, and the reply starts with the normalised seed. */
  seed: string;
  /** 0 = always the likeliest character; default 0.5. Range 0..2. */
  temperature?: number;
  /** Characters to generate after the seed; default 60, at most MAX_LENGTH - seed length. */
  length?: number;
  /** Seed of the random generator: the same request with the same rng gives the same text. */
  rng?: number;
  /** Sample only among the k likeliest characters (0 = all). */
  topK?: number;
  /** Stop at the end of an utterance (a newline) instead of running to `length`. Default true. */
  stopAtEndOfUtterance?: boolean;
}

export interface ModelInfo {
  /** e.g. "base" or "3" */
  version: string;
  created: string;
  /** Characters of training text. */
  trainingChars: number;
  corpusSha256: string;
  vocabSize: number;
  parameters: number;
  /** Training figures as recorded in meta.json (loss, bits per char, steps, seconds, command…). */
  training: Record<string, unknown>;
  /** Where an imported model came from (meta.json `source`), and its window when it generates from one. */
  source?: { file: string; sha256: string; format: string; kerasVersion: string | null; window?: number };
}

export interface GenerationService {
  /** Text that starts with the normalised seed, ≤ MAX_LENGTH characters. */
  babble(request: BabbleRequest): Promise<string>;
  /** A babbled answer primed by what someone said (the prompt is not echoed), ≤ MAX_LENGTH characters. */
  reply(prompt: string, options?: Omit<BabbleRequest, 'seed'>): Promise<string>;
  info(): ModelInfo;
}
