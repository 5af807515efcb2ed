/**
 * BabyLanguageModel: the library face of the model — build, train, generate, save, load.
 *
 *   const baby = BabyLanguageModel.build();
 *   await baby.train(text, { epochs: 1 });
 *   baby.generate('me want', { temperature: 0.5, rng: 42 });
 *   await baby.save('models/mine', { version: 'mine' });
 *   const again = await BabyLanguageModel.load('models/mine');
 */
import { createHash } from 'node:crypto';
import { Generator, type GenerateOptions, type GenerateResult } from './generate.js';
import { loadModel, saveModel, type ModelMeta } from './store.js';
import { fitSeqLength } from '../training/batches.js';
import { crossEntropyBits, train, type TrainOptions, type TrainResult } from '../training/train.js';
import { initTrainingBackend } from '../training/training-backend.js';
import { toBabyWeights, type ModelWeights } from './stack.js';
import { DEFAULT_VOCAB, normalize, type Vocabulary } from './vocab.js';
import { initWeights } from './weights.js';

export type BabyTrainOptions = Omit<TrainOptions, 'data' | 'vocabSize' | 'init'>;

export interface BabyTrainReport extends TrainResult {
  /** Characters of (normalised) text trained on. */
  trainingChars: number;
  corpusSha256: string;
}

export interface SaveInfo {
  version: string;
  /** Free-form training figures recorded in meta.json (merged over the last train() report). */
  training?: Record<string, unknown>;
  overwrite?: boolean;
}

/**
 * Normalises training text line by line (one line = one utterance) and encodes it, '\n' after every line — or a
 * space, for an imported vocabulary that has no newline.
 */
export function encodeTrainingText(
  text: string | readonly string[],
  vocab: Vocabulary,
): { data: Int32Array; text: string } {
  const lines = typeof text === 'string' ? text.split('\n') : text;
  const normalised = normalize(lines.join('\n'), vocab, { keepNewlines: true });
  const end = vocab.eouId >= 0 ? '\n' : ' ';
  const joined = normalised.length > 0 ? `${end === '\n' ? normalised : normalised.replace(/\n/g, end)}${end}` : '';
  return { data: vocab.encode(joined), text: joined };
}

export function sha256(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

export class BabyLanguageModel {
  #weights: ModelWeights;
  #generator: Generator;
  #lastTraining: BabyTrainReport | undefined;
  readonly vocab: Vocabulary;
  /** meta.json of the folder this model was loaded from or last saved to. */
  meta: ModelMeta | undefined;

  private constructor(weights: ModelWeights, vocab: Vocabulary, meta?: ModelMeta) {
    if (weights.vocabSize !== vocab.size) {
      throw new Error(`model has ${weights.vocabSize} output classes but the vocabulary has ${vocab.size} characters`);
    }
    this.#weights = weights;
    this.vocab = vocab;
    this.meta = meta;
    this.#generator = new Generator(weights, vocab);
  }

  /** A fresh, untrained model over a vocabulary (the default one unless given). */
  static build(options: { vocab?: Vocabulary; seed?: number } = {}): BabyLanguageModel {
    const vocab = options.vocab ?? DEFAULT_VOCAB;
    return new BabyLanguageModel(initWeights(vocab.size, options.seed ?? 1), vocab);
  }

  /** Wraps existing weights (e.g. converted from Keras). */
  static fromWeights(weights: ModelWeights, vocab: Vocabulary = DEFAULT_VOCAB, meta?: ModelMeta): BabyLanguageModel {
    return new BabyLanguageModel(weights, vocab, meta);
  }

  /** Loads a model folder, verifying every file's hash first. */
  static async load(dir: string): Promise<BabyLanguageModel> {
    const { weights, vocab, meta } = await loadModel(dir);
    return new BabyLanguageModel(weights, vocab, meta);
  }

  get weights(): ModelWeights {
    return this.#weights;
  }

  /**
   * Trains (or fine-tunes) on text, one utterance per line. The vocabulary stays the same. Throws, saying why, for
   * an imported model Babble's trainer cannot take (not two equal sigmoid LSTM layers).
   */
  async train(text: string | readonly string[], options: BabyTrainOptions = {}): Promise<BabyTrainReport> {
    const init = toBabyWeights(this.#weights);
    await initTrainingBackend();
    const { data, text: normalised } = encodeTrainingText(text, this.vocab);
    if (data.length < 2) throw new Error('training text is empty after normalisation');
    const seqLength = fitSeqLength(data.length, options.seqLength);
    const result = await train({ ...options, seqLength, data, vocabSize: this.vocab.size, init });
    this.#weights = result.weights;
    this.#generator = new Generator(result.weights, this.vocab);
    this.#lastTraining = { ...result, trainingChars: data.length, corpusSha256: sha256(normalised) };
    return this.#lastTraining;
  }

  /** Held-out bits per character of text (one utterance per line). */
  async bitsPerChar(text: string | readonly string[]): Promise<number> {
    await initTrainingBackend();
    const { data } = encodeTrainingText(text, this.vocab);
    return crossEntropyBits(toBabyWeights(this.#weights), data);
  }

  /**
   * Babbles: the normalised seed followed by generated characters. A model whose meta.json says
   * `generation: "window"` generates from a sliding window of its `seq_length` unless `options.mode` says otherwise.
   */
  generate(seed: string, options: GenerateOptions = {}): string {
    return this.generateDetailed(seed, options).text;
  }

  /** Like generate, with details (normalised seed, characters generated). */
  generateDetailed(seed: string, options: GenerateOptions = {}): GenerateResult {
    return this.#generator.generate(seed, { ...this.generationDefaults(), ...options });
  }

  /** The generation mode this model was trained for (from meta.json). */
  generationDefaults(): Pick<GenerateOptions, 'mode' | 'window'> {
    const meta = this.meta;
    return meta?.generation === 'window' && meta.seq_length !== undefined
      ? { mode: 'window', window: meta.seq_length }
      : { mode: 'stateful' };
  }

  /** Saves the model as a folder: model.json, weights.bin, vocab.json, meta.json (with sha256 of every file). */
  async save(dir: string, info: SaveInfo): Promise<ModelMeta> {
    const t = this.#lastTraining;
    const training: Record<string, unknown> = t
      ? {
          steps: t.steps,
          targetChars: t.targetChars,
          seconds: t.seconds,
          charsPerSecond: t.charsPerSecond,
          finalLoss: t.finalLoss,
          stoppedBy: t.stoppedBy,
        }
      : { ...(this.meta?.training ?? {}) };
    const corpus = t
      ? { sha256: t.corpusSha256, chars: t.trainingChars }
      : (this.meta?.corpus ?? { sha256: '', chars: 0 });
    // An imported model stays what it is: its generation mode and origin travel with it.
    const previous = this.meta;
    this.meta = await saveModel(
      dir,
      this.#weights,
      this.vocab,
      {
        version: info.version,
        corpus,
        training: { ...training, ...(info.training ?? {}) },
        ...(previous?.generation !== undefined ? { generation: previous.generation } : {}),
        ...(previous?.seq_length !== undefined ? { seq_length: previous.seq_length } : {}),
        ...(previous?.source !== undefined ? { source: previous.source } : {}),
      },
      { overwrite: info.overwrite ?? false },
    );
    return this.meta;
  }
}
