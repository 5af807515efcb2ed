/**
 * A saved model is a folder:
 *   model.json   tfjs layers format (topology of the standard layers model + weights manifest)
 *   weights.bin  little-endian float32, in manifest order
 *   vocab.json   Vocabulary.toJSON()
 *   meta.json    written last: version, corpus, training figures, and the sha256 and size of every other file;
 *                for an imported model also `source` (file, sha256, format, keras_version) and, for a model that
 *                predicts from a sliding window, `generation: "window"` and `seq_length`
 *
 * Loading checks every file against meta.json before using any of it, then checks that model.json describes the
 * expected architecture, that vocab.json agrees with it and that weights.bin has the manifest's length. A folder
 * without meta.json is an incomplete save. Every refusal is a `ModelLoadError` naming the file.
 *
 * Pure Node fs: tf.io file:// handlers need tfjs-node. The layers model is built only to produce its topology JSON.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, stat, unlink } from 'node:fs/promises';
import { endianness } from 'node:os';
import { basename, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { buildLayersModel } from './layers.js';
import {
  MAX_LSTM_LAYERS,
  flattenStack,
  stackShape,
  stackSpecs,
  toStack,
  unflattenStack,
  toBabyWeights,
  untrainableReason,
  type ModelWeights,
  type RecurrentActivation,
} from './stack.js';
import { Vocabulary } from './vocab.js';
import { errorMessage } from '../error-message.js';
import { fsyncDir, isErrno, writeFileDurable } from '../durable-file.js';

export const META_FILE = 'meta.json';
export const MODEL_JSON_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';
export const VOCAB_FILE = 'vocab.json';
/** The files meta.json must list (with sha256 and size) besides itself. */
export const MODEL_FILES = [MODEL_JSON_FILE, WEIGHTS_FILE, VOCAB_FILE] as const;

export interface FileRecord {
  sha256: string;
  bytes: number;
}

export interface CorpusRecord {
  sha256: string;
  /** Characters of training text. */
  chars: number;
  lines?: number;
}

export interface ModelMeta {
  format: 'babble-model';
  /** e.g. "base" or "3" */
  version: string;
  /** ISO date */
  created: string;
  corpus: CorpusRecord;
  /** Free-form figures: command, steps, seconds, loss, heldOutBitsPerChar, backend… */
  training: Record<string, unknown>;
  /** At least model.json, weights.bin and vocab.json. */
  files: Record<string, FileRecord>;
  /** 'window': generate from a sliding window of `seq_length` characters (imported Keras models). Absent: stateful. */
  generation?: GenerationMode;
  seq_length?: number;
  /** Where an imported model came from. */
  source?: ModelSource;
}

export type GenerationMode = 'stateful' | 'window';

export interface ModelSource {
  /** The imported file's name (no folder). */
  file: string;
  sha256: string;
  /** 'keras3' (.keras zip), 'keras2-h5', 'tfjs-layers'. */
  format: string;
  keras_version: string | null;
  /** ISO date of the import. */
  imported: string;
}

export interface SaveModelMeta {
  version: string;
  /** ISO date; now when absent. */
  created?: string;
  corpus: CorpusRecord;
  training: Record<string, unknown>;
  generation?: GenerationMode;
  seq_length?: number;
  source?: ModelSource;
}

export interface SaveModelOptions {
  /** Replace a folder that already holds a model (meta.json). Default false. */
  overwrite?: boolean;
}

export interface ModelArchitecture {
  vocabSize: number;
  embeddingDim: number;
  /** Units of each LSTM layer, bottom to top. */
  units: number[];
  /** Number of weights (floats). */
  parameters: number;
}

export interface VerifiedModel {
  /** Absolute path of the folder. */
  dir: string;
  meta: ModelMeta;
  vocab: Vocabulary;
  architecture: ModelArchitecture;
}

export interface LoadedModel {
  /** `BabyWeights` for Babble's standard two equal sigmoid layers, the general stack otherwise. */
  weights: ModelWeights;
  vocab: Vocabulary;
  meta: ModelMeta;
  /** Absolute path of the folder. */
  dir: string;
}

/**
 * What is wrong: `missing` file; `size` differs from meta.json (truncated / partly written); `content` differs from
 * meta.json's sha256 (edited, zero-filled, or a file from another model); `malformed` JSON or document; `architecture`
 * not the expected model; `mismatch` between files that each look fine (vocab size vs model, weights.bin vs manifest).
 */
export type ModelLoadProblem = 'missing' | 'size' | 'content' | 'malformed' | 'architecture' | 'mismatch';

export class ModelLoadError extends Error {
  override readonly name = 'ModelLoadError';
  /** Absolute path of the model folder. */
  readonly dir: string;
  /** The file at fault, e.g. 'weights.bin'. */
  readonly file: string;
  readonly problem: ModelLoadProblem;

  constructor(dir: string, file: string, problem: ModelLoadProblem, detail: string) {
    super(`model folder ${dir}: ${file} ${detail}`);
    this.dir = dir;
    this.file = file;
    this.problem = problem;
  }
}

/** sha256 of a file's bytes, lowercase hex. */
export function sha256File(path: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const hash = createHash('sha256');
    const stream = createReadStream(path);
    stream.on('error', reject);
    stream.on('data', (chunk) => hash.update(chunk));
    stream.on('end', () => resolvePromise(hash.digest('hex')));
  });
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

const LITTLE_ENDIAN = endianness() === 'LE';

/** Reverses each 4-byte group in place (only needed on big-endian hosts). */
function swap32(bytes: Uint8Array): void {
  for (let i = 0; i + 3 < bytes.length; i += 4) {
    const a = bytes[i]!,
      b = bytes[i + 1]!;
    bytes[i] = bytes[i + 3]!;
    bytes[i + 1] = bytes[i + 2]!;
    bytes[i + 2] = b;
    bytes[i + 3] = a;
  }
}

function encodeFloat32LE(arrays: readonly Float32Array[]): Uint8Array {
  const total = arrays.reduce((n, a) => n + a.length, 0);
  const out = new Float32Array(total);
  let offset = 0;
  for (const a of arrays) {
    out.set(a, offset);
    offset += a.length;
  }
  const bytes = new Uint8Array(out.buffer);
  if (!LITTLE_ENDIAN) swap32(bytes);
  return bytes;
}

/** A copy of `count` float32 values starting at `byteOffset`. */
function decodeFloat32LE(data: Uint8Array, byteOffset: number, count: number): Float32Array {
  const bytes = data.slice(byteOffset, byteOffset + count * 4); // a copy, 4-byte aligned
  if (!LITTLE_ENDIAN) swap32(bytes);
  return new Float32Array(bytes.buffer, bytes.byteOffset, count);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

function checkSaveMeta(meta: SaveModelMeta): void {
  if (typeof meta.version !== 'string' || meta.version.trim() === '')
    throw new Error('saveModel: meta.version must be a non-empty string');
  if (meta.created !== undefined && (typeof meta.created !== 'string' || Number.isNaN(Date.parse(meta.created)))) {
    throw new Error(`saveModel: meta.created must be an ISO date (got ${JSON.stringify(meta.created)})`);
  }
  const c = meta.corpus as unknown;
  if (
    !isRecord(c) ||
    typeof c.sha256 !== 'string' ||
    !isCount(c.chars) ||
    (c.lines !== undefined && !isCount(c.lines))
  ) {
    throw new Error('saveModel: meta.corpus must be { sha256: string, chars: integer ≥ 0, lines?: integer ≥ 0 }');
  }
  if (!isRecord(meta.training)) throw new Error('saveModel: meta.training must be an object');
  checkGeneration(meta.generation, meta.seq_length, (what) => new Error(`saveModel: meta.${what}`));
}

const MAX_SEQ_LENGTH = 1000;

/** generation and seq_length: absent, 'stateful', or 'window' with a seq_length of 1–1000. */
function checkGeneration(generation: unknown, seqLength: unknown, fail: (what: string) => Error): void {
  if (generation === undefined || generation === 'stateful') {
    if (seqLength !== undefined && !(isCount(seqLength) && seqLength >= 1 && seqLength <= MAX_SEQ_LENGTH)) {
      throw fail(`seq_length must be an integer from 1 to ${MAX_SEQ_LENGTH}`);
    }
    return;
  }
  if (generation !== 'window') {
    throw fail(`generation must be "stateful" or "window" (got ${JSON.stringify(generation)})`);
  }
  if (!isCount(seqLength) || seqLength < 1 || seqLength > MAX_SEQ_LENGTH) {
    const got = JSON.stringify(seqLength);
    throw fail(`seq_length must be an integer from 1 to ${MAX_SEQ_LENGTH} for window generation (got ${got})`);
  }
}

function checkWeights(weights: ModelWeights, vocab: Vocabulary): void {
  if (weights.vocabSize !== vocab.size) {
    throw new Error(
      `saveModel: the weights are for a vocabulary of ${weights.vocabSize}, the vocabulary has ${vocab.size} characters`,
    );
  }
  const stack = toStack(weights);
  if (stack.layers.length < 1 || stack.layers.length > MAX_LSTM_LAYERS) {
    throw new Error(`saveModel: 1 to ${MAX_LSTM_LAYERS} LSTM layers (got ${stack.layers.length})`);
  }
  const specs = stackSpecs(stackShape(stack));
  const arrays = flattenStack(stack);
  specs.forEach((spec, i) => {
    const a = arrays[i]!;
    const n = spec.shape.reduce((x: number, y: number) => x * y, 1);
    if (!(a instanceof Float32Array) || a.length !== n) {
      throw new Error(
        `saveModel: ${spec.name} must be a Float32Array of ${n} values for shape [${spec.shape.join(', ')}]`,
      );
    }
    for (let j = 0; j < a.length; j++) {
      if (!Number.isFinite(a[j]!))
        throw new Error(`saveModel: ${spec.name}[${j}] is ${a[j]}: refusing to save non-finite weights`);
    }
  });
}

/** The model.json document for these weights: the standard layers model's topology and a one-file manifest. */
function modelJsonDocument(weights: ModelWeights): Record<string, unknown> {
  const stack = toStack(weights);
  const model = buildLayersModel(weights.vocabSize, {
    embeddingDim: stack.embeddingDim,
    units: stack.layers.map((l) => l.units),
    recurrentActivation: stack.layers.map((l) => l.recurrentActivation),
  });
  let modelTopology: unknown;
  try {
    modelTopology = model.toJSON(null, false);
  } finally {
    model.dispose();
  }
  const specs = stackSpecs(stackShape(stack));
  return {
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
    convertedBy: null,
    modelTopology,
    weightsManifest: [
      { paths: [WEIGHTS_FILE], weights: specs.map((s) => ({ name: s.name, shape: [...s.shape], dtype: 'float32' })) },
    ],
  };
}

/**
 * Writes a model folder: model.json, weights.bin, vocab.json (each written and fsynced), then meta.json (fsynced),
 * then fsyncs the folder, then verifies it as `loadModel` would. Refuses a folder that already holds meta.json
 * unless `{ overwrite: true }`; when overwriting, meta.json is removed first so an interrupted save never loads.
 */
export async function saveModel(
  dir: string,
  weights: ModelWeights,
  vocab: Vocabulary,
  meta: SaveModelMeta,
  options: SaveModelOptions = {},
): Promise<ModelMeta> {
  checkSaveMeta(meta);
  checkWeights(weights, vocab);
  const absDir = resolve(dir);
  const metaPath = join(absDir, META_FILE);
  await mkdir(absDir, { recursive: true });
  let exists = true;
  try {
    await stat(metaPath);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
    exists = false;
  }
  if (exists) {
    if (!options.overwrite)
      throw new Error(`saveModel: ${absDir} already holds a model (meta.json); pass { overwrite: true } to replace it`);
    await unlink(metaPath);
    await fsyncDir(absDir);
  }

  const contents: Record<(typeof MODEL_FILES)[number], Uint8Array> = {
    [MODEL_JSON_FILE]: Buffer.from(JSON.stringify(modelJsonDocument(weights)), 'utf8'),
    [WEIGHTS_FILE]: encodeFloat32LE(flattenStack(toStack(weights))),
    [VOCAB_FILE]: Buffer.from(JSON.stringify(vocab.toJSON()), 'utf8'),
  };
  const files: Record<string, FileRecord> = {};
  for (const name of MODEL_FILES) {
    const data = contents[name];
    await writeFileDurable(join(absDir, name), data);
    files[name] = { sha256: sha256(data), bytes: data.byteLength };
  }
  const corpus: CorpusRecord = { sha256: meta.corpus.sha256, chars: meta.corpus.chars };
  if (meta.corpus.lines !== undefined) corpus.lines = meta.corpus.lines;
  const full: ModelMeta = {
    format: 'babble-model',
    version: meta.version,
    created: meta.created ?? new Date().toISOString(),
    corpus,
    training: JSON.parse(JSON.stringify(meta.training)) as Record<string, unknown>, // as it will read back
    files,
  };
  if (meta.generation !== undefined) full.generation = meta.generation;
  if (meta.seq_length !== undefined) full.seq_length = meta.seq_length;
  if (meta.source !== undefined) full.source = { ...meta.source };
  await writeFileDurable(metaPath, `${JSON.stringify(full, null, 2)}\n`);
  await fsyncDir(absDir);
  await inspectModelDir(absDir);
  return full;
}

function parseJson(dir: string, file: string, data: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch (err) {
    throw new ModelLoadError(dir, file, 'malformed', `is not valid JSON (${errorMessage(err)})`);
  }
}

function parseMeta(dir: string, value: unknown): ModelMeta {
  const bad = (what: string) => new ModelLoadError(dir, META_FILE, 'malformed', what);
  if (!isRecord(value) || value.format !== 'babble-model')
    throw bad('is not a babble-model document (format must be "babble-model")');
  if (typeof value.version !== 'string' || value.version === '') throw bad('has no version string');
  if (typeof value.created !== 'string') throw bad('has no created date');
  const c = value.corpus;
  if (
    !isRecord(c) ||
    typeof c.sha256 !== 'string' ||
    !isCount(c.chars) ||
    (c.lines !== undefined && !isCount(c.lines))
  ) {
    throw bad('has no valid corpus record { sha256, chars, lines? }');
  }
  if (!isRecord(value.training)) throw bad('has no training record');
  const files = value.files;
  if (!isRecord(files)) throw bad('has no files record');
  for (const [name, rec] of Object.entries(files)) {
    if (name !== basename(name) || name === META_FILE || name === '.' || name === '..')
      throw bad(`lists an invalid file name ${JSON.stringify(name)}`);
    if (!isRecord(rec) || typeof rec.sha256 !== 'string' || !SHA256_HEX.test(rec.sha256) || !isCount(rec.bytes)) {
      throw bad(`has no valid { sha256, bytes } record for ${name}`);
    }
  }
  for (const name of MODEL_FILES) if (!(name in files)) throw bad(`does not list ${name}`);
  checkGeneration(value.generation, value.seq_length, bad);
  const src = value.source;
  if (
    src !== undefined &&
    (!isRecord(src) ||
      typeof src.file !== 'string' ||
      typeof src.sha256 !== 'string' ||
      typeof src.format !== 'string' ||
      (src.keras_version !== null && typeof src.keras_version !== 'string'))
  ) {
    throw bad('has an invalid source record { file, sha256, format, keras_version }');
  }
  return value as unknown as ModelMeta;
}

async function readMeta(dir: string): Promise<ModelMeta> {
  let data: Buffer;
  try {
    data = await readFile(join(dir, META_FILE));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) {
      let folder = true;
      try {
        await stat(dir);
      } catch {
        folder = false;
      }
      throw new ModelLoadError(
        dir,
        META_FILE,
        'missing',
        folder
          ? 'is missing: not a complete model folder (a save that did not finish leaves no meta.json)'
          : 'is missing: the folder does not exist',
      );
    }
    throw err;
  }
  return parseMeta(dir, parseJson(dir, META_FILE, data));
}

/** Reads one listed file and checks its size and sha256 against meta.json. */
async function readListed(dir: string, name: string, rec: FileRecord): Promise<Buffer> {
  const path = join(dir, name);
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new ModelLoadError(dir, name, 'missing', 'is not a regular file');
    size = s.size;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new ModelLoadError(dir, name, 'missing', 'is missing (meta.json lists it)');
    throw err;
  }
  const sizeError = (actual: number) =>
    new ModelLoadError(
      dir,
      name,
      'size',
      actual < rec.bytes
        ? `is truncated: ${actual} bytes, meta.json records ${rec.bytes} (cut short, or not the file that was saved)`
        : `is ${actual} bytes, longer than the ${rec.bytes} meta.json records`,
    );
  if (size !== rec.bytes) throw sizeError(size);
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new ModelLoadError(dir, name, 'missing', 'is missing (meta.json lists it)');
    throw err;
  }
  if (data.byteLength !== rec.bytes) throw sizeError(data.byteLength);
  const digest = sha256(data);
  if (digest !== rec.sha256) {
    const zeros = data.byteLength > 0 && data.every((b) => b === 0);
    throw new ModelLoadError(
      dir,
      name,
      'content',
      `content does not match meta.json (sha256 ${digest}, recorded ${rec.sha256})` +
        (zeros ? ': the file is all zero bytes' : ': it was changed, or comes from another model'),
    );
  }
  return data;
}

interface LayerJson {
  className: string;
  config: Record<string, unknown>;
}

interface CheckedModelJson {
  vocabSize: number;
  embeddingDim: number;
  units: number[];
  activations: RecurrentActivation[];
  manifest: { name: string; shape: number[] }[];
}

/**
 * Checks model.json describes the model saveModel writes — Embedding, then 1–3 × (LSTM, Dropout), then Dense —
 * and returns its dimensions and the manifest entries.
 */
function checkModelJson(dir: string, doc: unknown): CheckedModelJson {
  const bad = (what: string) => new ModelLoadError(dir, MODEL_JSON_FILE, 'malformed', what);
  const arch = (what: string) => new ModelLoadError(dir, MODEL_JSON_FILE, 'architecture', what);
  if (!isRecord(doc) || !isRecord(doc.modelTopology) || !Array.isArray(doc.weightsManifest)) {
    throw bad('is not a tfjs layers model (needs modelTopology and weightsManifest)');
  }
  if (doc.format !== undefined && doc.format !== 'layers-model')
    throw bad(`has format ${JSON.stringify(doc.format)}, expected "layers-model"`);
  const topo = doc.modelTopology;
  // tfjs saves { class_name, config: { name, layers } }; some Keras exports nest it under model_config.
  const root = isRecord(topo.model_config) ? topo.model_config : topo;
  if (root.class_name !== 'Sequential')
    throw arch(`holds a ${JSON.stringify(root.class_name)} model, expected Sequential`);
  const rawLayers = Array.isArray(root.config) ? root.config : isRecord(root.config) ? root.config.layers : undefined;
  if (!Array.isArray(rawLayers)) throw bad('has no layer list in modelTopology.config.layers');
  const layers: LayerJson[] = [];
  for (const l of rawLayers) {
    if (!isRecord(l) || typeof l.class_name !== 'string' || !isRecord(l.config))
      throw bad('has a layer without class_name/config');
    if (l.class_name !== 'InputLayer') layers.push({ className: l.class_name, config: l.config });
  }
  const classes = layers.map((l) => l.className);
  const lstmCount = (classes.length - 2) / 2;
  const pairs = Array.from({ length: Math.max(1, lstmCount) }, () => ['LSTM', 'Dropout']).flat();
  const expected = ['Embedding', ...pairs, 'Dense'];
  const countOk = Number.isInteger(lstmCount) && lstmCount >= 1 && lstmCount <= MAX_LSTM_LAYERS;
  if (!countOk || classes.join(',') !== expected.join(',')) {
    throw arch(
      `has layers [${classes.join(', ')}], expected [Embedding, 1 to ${MAX_LSTM_LAYERS} × (LSTM, Dropout), Dense]`,
    );
  }
  const embedding = layers[0]!;
  const dense = layers[layers.length - 1]!;
  const lstms = layers.filter((l) => l.className === 'LSTM');
  const int = (l: LayerJson, key: string): number => {
    const v = l.config[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
      throw arch(`layer ${String(l.config.name)} has ${key} ${JSON.stringify(v)}, expected a positive integer`);
    return v;
  };
  const expect = (l: LayerJson, key: string, want: unknown, absentOk = false) => {
    const v = l.config[key];
    if (absentOk && (v === undefined || v === null)) return;
    if (v !== want)
      throw arch(`layer ${String(l.config.name)} has ${key} ${JSON.stringify(v)}, expected ${JSON.stringify(want)}`);
  };
  const vocabSize = int(embedding, 'input_dim');
  const embeddingDim = int(embedding, 'output_dim');
  if (embedding.config.mask_zero === true) throw arch('layer embedding has mask_zero true, expected false');
  const units = lstms.map((l) => int(l, 'units'));
  const activations = lstms.map((l, k): RecurrentActivation => {
    expect(l, 'return_sequences', k < lstms.length - 1);
    expect(l, 'activation', 'tanh');
    const r = l.config.recurrent_activation;
    if (r !== 'sigmoid' && r !== 'hard_sigmoid') {
      const name = String(l.config.name);
      throw arch(`layer ${name} has recurrent_activation ${JSON.stringify(r)}, expected "sigmoid" or "hard_sigmoid"`);
    }
    expect(l, 'use_bias', true, true);
    expect(l, 'go_backwards', false, true);
    expect(l, 'return_state', false, true);
    return r;
  });
  if (int(dense, 'units') !== vocabSize)
    throw arch(`has Dense units ${int(dense, 'units')} but Embedding input_dim ${vocabSize}`);
  expect(dense, 'activation', 'softmax');
  expect(dense, 'use_bias', true, true);

  const manifest: { name: string; shape: number[] }[] = [];
  for (const group of doc.weightsManifest) {
    if (!isRecord(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights))
      throw bad('has a weightsManifest group without paths/weights');
    if (group.paths.length !== 1 || group.paths[0] !== WEIGHTS_FILE)
      throw bad(`has weightsManifest paths ${JSON.stringify(group.paths)}, expected ["${WEIGHTS_FILE}"]`);
    for (const w of group.weights) {
      if (!isRecord(w) || typeof w.name !== 'string' || !Array.isArray(w.shape) || !w.shape.every((d) => isCount(d))) {
        throw bad('has a weightsManifest entry without name/shape');
      }
      if (w.dtype !== 'float32' || w.quantization !== undefined)
        throw bad(
          `has weight ${w.name} stored as ${JSON.stringify(w.dtype)}${w.quantization ? ' (quantized)' : ''}, expected plain float32`,
        );
      manifest.push({ name: w.name, shape: w.shape as number[] });
    }
  }
  const specs = stackSpecs({ vocabSize, embeddingDim, units });
  const listed = new Map(manifest.map((m) => [m.name, m.shape]));
  if (listed.size !== manifest.length) throw bad('lists a weight twice in weightsManifest');
  for (const spec of specs) {
    const shape = listed.get(spec.name);
    if (!shape) throw arch(`has no weight ${spec.name} in weightsManifest`);
    if (shape.join(',') !== spec.shape.join(','))
      throw arch(`has weight ${spec.name} of shape [${shape.join(', ')}], expected [${spec.shape.join(', ')}]`);
  }
  if (manifest.length !== specs.length) throw arch(`lists ${manifest.length} weights, expected ${specs.length}`);
  return { vocabSize, embeddingDim, units, activations, manifest };
}

interface Inspected extends VerifiedModel {
  activations: RecurrentActivation[];
  modelJson: Record<string, unknown>;
  manifest: { name: string; shape: number[] }[];
  weightsData: Buffer;
}

async function inspectModelDir(dir: string): Promise<Inspected> {
  const absDir = resolve(dir);
  const meta = await readMeta(absDir);
  const data = new Map<string, Buffer>();
  for (const [name, rec] of Object.entries(meta.files)) data.set(name, await readListed(absDir, name, rec));

  let vocab: Vocabulary;
  try {
    vocab = Vocabulary.fromJSON(parseJson(absDir, VOCAB_FILE, data.get(VOCAB_FILE)!));
  } catch (err) {
    if (err instanceof ModelLoadError) throw err;
    throw new ModelLoadError(absDir, VOCAB_FILE, 'malformed', `is not a valid vocabulary (${errorMessage(err)})`);
  }
  const modelJson = parseJson(absDir, MODEL_JSON_FILE, data.get(MODEL_JSON_FILE)!);
  const { vocabSize, embeddingDim, units, activations, manifest } = checkModelJson(absDir, modelJson);
  if (vocab.size !== vocabSize) {
    throw new ModelLoadError(
      absDir,
      VOCAB_FILE,
      'mismatch',
      `has ${vocab.size} characters but model.json is built for a vocabulary of ${vocabSize}`,
    );
  }
  const parameters = manifest.reduce((n, m) => n + m.shape.reduce((a, b) => a * b, 1), 0);
  const weightsData = data.get(WEIGHTS_FILE)!;
  if (weightsData.byteLength !== parameters * 4) {
    throw new ModelLoadError(
      absDir,
      WEIGHTS_FILE,
      'mismatch',
      `is ${weightsData.byteLength} bytes but model.json's manifest needs ${parameters * 4} (${parameters} float32 values)`,
    );
  }
  return {
    dir: absDir,
    meta,
    vocab,
    architecture: { vocabSize, embeddingDim, units, parameters },
    activations,
    modelJson: modelJson as Record<string, unknown>,
    manifest,
    weightsData,
  };
}

/**
 * The vocabulary of a model folder from vocab.json alone (no hash checks: for preparing text; loading the model
 * checks everything). Throws `ModelLoadError`.
 */
export async function readModelVocabulary(dir: string): Promise<Vocabulary> {
  const absDir = resolve(dir);
  let data: Buffer;
  try {
    data = await readFile(join(absDir, VOCAB_FILE));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new ModelLoadError(absDir, VOCAB_FILE, 'missing', 'is missing');
    throw err;
  }
  try {
    return Vocabulary.fromJSON(parseJson(absDir, VOCAB_FILE, data));
  } catch (err) {
    if (err instanceof ModelLoadError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new ModelLoadError(absDir, VOCAB_FILE, 'malformed', `is not a valid vocabulary (${reason})`);
  }
}

/** Every check `loadModel` makes except decoding the weights. Throws `ModelLoadError`. */
export async function verifyModelDir(dir: string): Promise<VerifiedModel> {
  const { dir: absDir, meta, vocab, architecture } = await inspectModelDir(dir);
  return { dir: absDir, meta, vocab, architecture };
}

/** Loads and checks a model folder. Throws `ModelLoadError` naming the file at fault. */
export async function loadModel(dir: string): Promise<LoadedModel> {
  const found = await inspectModelDir(dir);
  const { vocabSize, embeddingDim, units } = found.architecture;
  const byName = new Map<string, Float32Array>();
  let offset = 0;
  for (const m of found.manifest) {
    const count = m.shape.reduce((a, b) => a * b, 1);
    const values = decodeFloat32LE(found.weightsData, offset, count);
    offset += count * 4;
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i]!))
        throw new ModelLoadError(
          found.dir,
          WEIGHTS_FILE,
          'malformed',
          `holds a non-finite value (${values[i]}) in ${m.name}[${i}]`,
        );
    }
    byName.set(m.name, values);
  }
  const arrays = stackSpecs({ vocabSize, embeddingDim, units }).map((s) => byName.get(s.name)!);
  const stack = unflattenStack(arrays, { vocabSize, embeddingDim, units }, found.activations);
  // Babble's own two-layer models load as BabyWeights (what the trainer takes); any other stack as it is.
  const weights = untrainableReason(stack) === undefined ? toBabyWeights(stack) : stack;
  return { weights, vocab: found.vocab, meta: found.meta, dir: found.dir };
}

/**
 * The standard tfjs layers model from a saved folder, through `tf.loadLayersModel` and an in-memory IOHandler
 * (after the same checks as `loadModel`). The caller disposes it.
 */
export async function loadLayersModelFromDir(dir: string): Promise<tf.LayersModel> {
  const found = await inspectModelDir(dir);
  const weightsManifest = found.modelJson.weightsManifest as tf.io.WeightsManifestConfig;
  const bytes = new Uint8Array(found.weightsData); // a copy with its own ArrayBuffer
  if (!LITTLE_ENDIAN) swap32(bytes); // tfjs reads weightData in host byte order
  const weightData = bytes.buffer;
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: found.modelJson.modelTopology as tf.io.ModelArtifacts['modelTopology'],
      weightSpecs: weightsManifest.flatMap((g) => g.weights),
      weightData,
      format: 'layers-model',
      generatedBy: typeof found.modelJson.generatedBy === 'string' ? found.modelJson.generatedBy : undefined,
      convertedBy: null,
    }),
  );
}
