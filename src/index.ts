/**
 * Babble as a library: `import { BabyLanguageModel } from 'babble'`.
 * Importing this module has no side effects; the TensorFlow.js backend is initialised on first training.
 */
export {
  BabyLanguageModel,
  encodeTrainingText,
  type BabyTrainOptions,
  type BabyTrainReport,
  type SaveInfo,
} from './model/baby.js';
export { initBackend, type BackendInfo, type BackendName } from './model/backend.js';
export { Vocabulary, DEFAULT_VOCAB, normalize } from './model/vocab.js';
export { initWeights, weightSpecs, type BabyWeights, type LstmWeights } from './model/weights.js';
export type { GenerateOptions, GenerateResult } from './model/generate.js';
export type { ModelMeta } from './model/store.js';
export type { TrainProgress, TrainResult } from './training/train.js';
export { createGenerationService, InvalidRequestError } from './service/generation.js';
export type { BabbleRequest, GenerationService, ModelInfo } from './service/types.js';
