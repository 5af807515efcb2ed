/**
 * The generation service: one loaded model, answering babble and reply requests. Free of Discord.
 */
import { BabyLanguageModel } from '../model/baby.js';
import { initBackend, type BackendInfo } from '../model/backend.js';
import { parameterCount } from '../model/stack.js';
import { WORD_CLASSES } from '../model/corpus.js';
import { normalize } from '../model/vocab.js';
import { InvalidRequestError } from './errors.js';
import { BABBLE_BOUNDS, MAX_LENGTH, numericOptionsProblem } from './babble-rules.js';
import type { BabbleRequest, GenerationService, ModelInfo } from './types.js';

/** Validates the numeric options of a request (babble-rules.ts); throws InvalidRequestError with a user-facing message. */
export function validateRequest(req: Omit<BabbleRequest, 'seed'>): void {
  const problem = numericOptionsProblem(req);
  if (problem !== undefined) throw new InvalidRequestError(problem);
}

export { InvalidRequestError };

const TOPIC_TEMPLATES: { words: readonly string[]; template: (w: string) => string }[] = [
  { words: WORD_CLASSES.foodsAndToys, template: (w) => `me want ${w}` },
  { words: WORD_CLASSES.people, template: (w) => `me love ${w}` },
  { words: WORD_CLASSES.animals, template: (w) => `me see ${w}` },
];

/**
 * Picks how to start a reply to what someone said: the last word the baby knows a feeling about ("cookie" →
 * "me want cookie"), else nothing (a fresh utterance).
 */
export function replySeed(prompt: string): string {
  const text = ` ${normalize(prompt).replace(/[^a-z0-9' ]/g, ' ')} `;
  let best: { at: number; seed: string } | undefined;
  for (const { words, template } of TOPIC_TEMPLATES) {
    for (const w of words) {
      const at = text.lastIndexOf(` ${w} `);
      if (at >= 0 && (!best || at > best.at)) best = { at, seed: template(w) };
    }
  }
  return best?.seed ?? '';
}

export interface LoadedGenerationService extends GenerationService {
  readonly backend: BackendInfo;
  readonly model: BabyLanguageModel;
  close(): void;
}

export async function createGenerationService(options: { modelDir: string }): Promise<LoadedGenerationService> {
  const backend = await initBackend();
  const model = await BabyLanguageModel.load(options.modelDir);
  return serviceForModel(model, backend);
}

/** A service over an already loaded model. */
export function serviceForModel(model: BabyLanguageModel, backend: BackendInfo): LoadedGenerationService {
  const meta = model.meta;
  const parameters = parameterCount(model.weights);
  const src = meta?.source;
  const info: ModelInfo = {
    version: meta?.version ?? 'unsaved',
    created: meta?.created ?? '',
    trainingChars: meta?.corpus.chars ?? 0,
    corpusSha256: meta?.corpus.sha256 ?? '',
    vocabSize: model.vocab.size,
    parameters,
    training: { ...(meta?.training ?? {}) },
  };
  if (src) {
    info.source = { file: src.file, sha256: src.sha256, format: src.format, kerasVersion: src.keras_version };
    if (meta?.generation === 'window' && meta.seq_length !== undefined) info.source.window = meta.seq_length;
  }

  function run(seed: string, req: Omit<BabbleRequest, 'seed'>, defaultStop: boolean): string {
    validateRequest(req);
    // The generator reads at most the last RAW_SEED_LIMIT code units of the seed and fits the output in MAX_LENGTH.
    const text = model.generate(seed, {
      temperature: req.temperature ?? BABBLE_BOUNDS.temperature.default,
      length: req.length ?? BABBLE_BOUNDS.length.default,
      topK: req.topK ?? BABBLE_BOUNDS.topK.default,
      ...(req.rng !== undefined ? { rng: req.rng } : {}),
      stopAtEndOfUtterance: req.stopAtEndOfUtterance ?? defaultStop,
    });
    return text.slice(0, MAX_LENGTH);
  }

  return {
    backend,
    model,
    info: () => ({ ...info, training: { ...info.training } }),
    babble: async (req) => run(req.seed, req, true),
    reply: async (prompt, options = {}) => {
      const text = run(replySeed(prompt), options, true).trim();
      return text.length > 0 ? text : 'goo goo?';
    },
    close: () => undefined,
  };
}
