/**
 * Import a Keras model trained by the original Python script (or any Embedding → LSTM → Dense softmax model) as a
 * Babble model folder that generates from a sliding window, as the original does.
 *
 * The vocabulary: the original's `<model>_chars.npy` (found beside the model file when not given), `--corpus`
 * (`sorted(set(text))`, the original's rule, with Python's universal newlines) or `--chars` (in id order). The
 * folder is written by the model store (hash-checked), then checked once more: the generator's next-character
 * probabilities for one window must equal those of TensorFlow.js running the saved layers model.
 */
import { createHash } from 'node:crypto';
import { readFile, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../model/backend.js';
import { Generator } from '../model/generate.js';
import { META_FILE, saveModel, loadLayersModelFromDir, type ModelMeta } from '../model/store.js';
import { Vocabulary } from '../model/vocab.js';
import { convertKerasModel } from './convert.js';
import { ImportError } from './errors.js';
import { openKerasModel, type KerasFormat } from './formats.js';
import { readCharsNpy } from './pickle.js';

export interface VocabularySource {
  /** The original's _chars.npy. */
  npy?: string;
  /** A text file: the vocabulary is sorted(set(text)). */
  corpus?: string;
  /** The characters in id order. */
  chars?: string;
}

export interface ImportOptions {
  /** A .keras zip, a Keras 2 .h5, or a tfjs model.json (or its folder). */
  file: string;
  vocab?: VocabularySource;
  /** The window length, when neither the model nor the _chars.npy records it. */
  seqLength?: number;
  out: string;
  overwrite?: boolean;
  /** Recorded in meta.json's training.command. */
  command?: string;
}

export interface ImportReport {
  dir: string;
  meta: ModelMeta;
  format: KerasFormat;
  kerasVersion: string | null;
  vocabSize: number;
  units: number[];
  seqLength: number;
  recurrentActivation: string;
  /** Largest difference between the generator's and TensorFlow.js's probabilities in the check. */
  checkDifference: number;
}

/** Python's sorted(set(text)) over code points, after universal-newline reading (\r\n and \r become \n). */
export function corpusChars(text: string): string[] {
  const set = new Set(text.replace(/\r\n?/g, '\n'));
  return [...set].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
}

/** The original saves `<name>_chars.npy` beside `<name>.keras` (path.replace('.keras', '_chars.npy')). */
function besideNpy(file: string): string {
  const name = basename(file).replace(/\.(keras|h5|hdf5|json)$/i, '');
  return join(dirname(file), `${name}_chars.npy`);
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function readVocabulary(
  opts: ImportOptions,
): Promise<{ chars: string[]; seqLength: number | undefined; from: string }> {
  const v = opts.vocab ?? {};
  const given = [v.npy, v.corpus, v.chars].filter((x) => x !== undefined).length;
  if (given > 1) throw new ImportError('vocabulary', 'give one vocabulary: --vocab, --corpus or --chars');
  if (v.chars !== undefined) {
    const chars = [...v.chars];
    if (new Set(chars).size !== chars.length) throw new ImportError('vocabulary', '--chars lists a character twice');
    return { chars, seqLength: undefined, from: '--chars' };
  }
  if (v.corpus !== undefined) {
    let text: string;
    try {
      text = await readFile(v.corpus, 'utf8');
    } catch {
      throw new ImportError('vocabulary', `the corpus ${v.corpus} cannot be read`);
    }
    return { chars: corpusChars(text), seqLength: undefined, from: `--corpus ${basename(v.corpus)}` };
  }
  const npy = v.npy ?? besideNpy(opts.file);
  if (v.npy === undefined && !(await exists(npy))) {
    throw new ImportError(
      'vocabulary',
      `no vocabulary: ${basename(npy)} is not beside the model; pass --vocab FILE.npy, --corpus FILE or --chars STRING`,
    );
  }
  let data: Uint8Array;
  try {
    data = await readFile(npy);
  } catch {
    throw new ImportError('vocabulary', `the vocabulary ${npy} cannot be read`);
  }
  const read = readCharsNpy(data, basename(npy));
  return { chars: read.chars, seqLength: read.seqLength, from: basename(npy) };
}

function softmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  const out = Float64Array.from(logits, (v) => Math.exp(v - max));
  const sum = out.reduce((a, b) => a + b, 0);
  return out.map((v) => v / sum);
}

/** The generator's and TensorFlow.js's next-character probabilities for one window of the saved folder. */
async function crossCheck(dir: string, generator: Generator, ids: Int32Array): Promise<number> {
  await initBackend();
  const model = await loadLayersModelFromDir(dir);
  try {
    const expected = tf.tidy(() => (model.predict(tf.tensor2d(ids, [1, ids.length], 'int32')) as tf.Tensor).dataSync());
    const state = generator.newState();
    for (const id of ids) generator.feed(state, id);
    const got = softmax(generator.logits(state));
    let diff = 0;
    for (let i = 0; i < got.length; i++) diff = Math.max(diff, Math.abs(got[i]! - expected[i]!));
    return diff;
  } finally {
    model.dispose();
  }
}

/** Imports `opts.file` into the model folder `opts.out`. Throws ImportError naming what is refused. */
export async function importKerasModel(opts: ImportOptions): Promise<ImportReport> {
  const model = await openKerasModel(opts.file);
  let converted: ReturnType<typeof convertKerasModel>;
  try {
    converted = convertKerasModel(model);
  } finally {
    model.close();
  }
  const { weights } = converted;
  const vocabulary = await readVocabulary(opts);
  if (vocabulary.chars.length !== weights.vocabSize) {
    throw new ImportError(
      'vocabulary',
      `the vocabulary (${vocabulary.from}) has ${vocabulary.chars.length} characters ` +
        `but the model's Embedding and Dense take ${weights.vocabSize}`,
    );
  }
  const seqLengths = [opts.seqLength, converted.seqLength, vocabulary.seqLength].filter(
    (n): n is number => n !== undefined,
  );
  const seqLength = seqLengths[0];
  if (seqLength === undefined) {
    throw new ImportError(
      'format',
      'the window length is unknown (neither the model nor the vocabulary records seq_length); pass --seq-length N',
    );
  }
  if (
    opts.seqLength === undefined &&
    converted.seqLength !== undefined &&
    vocabulary.seqLength !== undefined &&
    converted.seqLength !== vocabulary.seqLength
  ) {
    throw new ImportError(
      'vocabulary',
      `the model's input is ${converted.seqLength} characters long ` +
        `but ${vocabulary.from} says seq_length ${vocabulary.seqLength}`,
    );
  }
  const vocab = new Vocabulary(vocabulary.chars, { unknown: false });
  const generator = new Generator(weights, vocab);
  const meta = await saveModel(
    opts.out,
    weights,
    vocab,
    {
      version: 'imported',
      corpus: { sha256: '', chars: 0 },
      training: {
        command: opts.command ?? 'import',
        vocabulary: vocabulary.from,
        recurrentActivation: converted.recurrentActivation,
      },
      generation: 'window',
      seq_length: seqLength,
      source: {
        file: basename(opts.file),
        sha256: createHash('sha256').update(model.bytes).digest('hex'),
        format: model.format,
        keras_version: model.kerasVersion,
        imported: new Date().toISOString(),
      },
    },
    { overwrite: opts.overwrite ?? false },
  );
  const window = vocab.encode(' '.repeat(seqLength));
  const checkDifference = await crossCheck(opts.out, generator, window.length > 0 ? window : Int32Array.of(0));
  if (!(checkDifference <= 1e-4)) {
    await unlink(join(opts.out, META_FILE)); // not a model folder any more: loading it is refused
    throw new ImportError(
      'corrupt',
      `the saved model does not predict what TensorFlow.js predicts from it (difference ${checkDifference})`,
    );
  }
  return {
    dir: opts.out,
    meta,
    format: model.format,
    kerasVersion: model.kerasVersion,
    vocabSize: vocab.size,
    units: weights.layers.map((l) => l.units),
    seqLength,
    recurrentActivation: converted.recurrentActivation,
    checkDifference,
  };
}
