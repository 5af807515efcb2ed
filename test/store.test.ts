import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '../src/model/backend.js';
import { buildLayersModel, setModelWeights } from '../src/model/layers.js';
import {
  ModelLoadError,
  loadLayersModelFromDir,
  loadModel,
  saveModel,
  sha256File,
  verifyModelDir,
  type ModelLoadProblem,
  type SaveModelMeta,
} from '../src/model/store.js';
import { EOU, UNK, Vocabulary } from '../src/model/vocab.js';
import { flattenWeights, initWeights, type BabyWeights } from '../src/model/weights.js';

const VOCAB = new Vocabulary([UNK, EOU, ' ', 'a', 'b', 'c']);
const V = VOCAB.size;
const E = 3;
const H = 4;
const META: SaveModelMeta = {
  version: 'base',
  created: '2024-05-01T12:00:00.000Z',
  corpus: { sha256: 'ab'.repeat(32), chars: 1234, lines: 56 },
  training: { command: 'test', steps: 10, seconds: 1.5, loss: 1.25, backend: 'cpu' },
};

let root: string;
let saved: string; // a valid model folder, copied before each damaging test
let counter = 0;

beforeAll(async () => {
  await initBackend('cpu');
  root = await mkdtemp(join(tmpdir(), 'babble-store-'));
  saved = join(root, 'saved');
  await saveModel(saved, initWeights(V, 1, E, H), VOCAB, META);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function copyOfSaved(): Promise<string> {
  const dir = join(root, `copy-${++counter}`);
  await cp(saved, dir, { recursive: true });
  return dir;
}

/** Rewrites meta.json's records so they match the files as they are now (a consistent-looking but wrong folder). */
async function refreshHashes(dir: string): Promise<void> {
  const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8'));
  for (const name of Object.keys(meta.files)) {
    meta.files[name] = { sha256: await sha256File(join(dir, name)), bytes: (await stat(join(dir, name))).size };
  }
  await writeFile(join(dir, 'meta.json'), JSON.stringify(meta));
}

async function expectRefusal(dir: string, file: string, problem: ModelLoadProblem, message?: RegExp): Promise<void> {
  for (const check of [loadModel, verifyModelDir, loadLayersModelFromDir]) {
    const err = await check(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, `${check.name} should refuse`).toBeInstanceOf(ModelLoadError);
    const e = err as ModelLoadError;
    expect({ fn: check.name, file: e.file, problem: e.problem }).toEqual({ fn: check.name, file, problem });
    expect(e.message).toContain(file);
    if (message) expect(e.message).toMatch(message);
  }
}

describe('saveModel / loadModel', () => {
  it('round-trips weights, vocabulary and meta exactly', async () => {
    const weights = initWeights(V, 42, E, H);
    const dir = join(root, 'roundtrip');
    const meta = await saveModel(dir, weights, VOCAB, META);
    const loaded = await loadModel(dir);
    expect(loaded.weights).toEqual(weights);
    flattenWeights(loaded.weights as BabyWeights).forEach((a) => {
      expect(a).toBeInstanceOf(Float32Array);
    });
    expect(loaded.vocab.chars).toEqual(VOCAB.chars);
    expect(loaded.meta).toEqual(meta);
    expect(loaded.dir).toBe(dir);
    expect(meta).toMatchObject({
      format: 'babble-model',
      version: 'base',
      created: META.created,
      corpus: META.corpus,
      training: META.training,
    });
  });

  it('records each file’s sha256 and size in meta.json, and writes the tfjs layers format', async () => {
    const meta = JSON.parse(await readFile(join(saved, 'meta.json'), 'utf8'));
    expect(Object.keys(meta.files).sort()).toEqual(['model.json', 'vocab.json', 'weights.bin']);
    for (const name of Object.keys(meta.files)) {
      const bytes = await readFile(join(saved, name));
      expect(meta.files[name]).toEqual({
        sha256: createHash('sha256').update(bytes).digest('hex'),
        bytes: bytes.length,
      });
    }
    const modelJson = JSON.parse(await readFile(join(saved, 'model.json'), 'utf8'));
    expect(modelJson).toMatchObject({ format: 'layers-model', convertedBy: null });
    expect(modelJson.generatedBy).toMatch(/^TensorFlow\.js tfjs-layers v/);
    expect(modelJson.modelTopology.class_name).toBe('Sequential');
    expect(modelJson.weightsManifest).toHaveLength(1);
    expect(modelJson.weightsManifest[0].paths).toEqual(['weights.bin']);
    expect(modelJson.weightsManifest[0].weights.map((w: { name: string }) => w.name)).toEqual([
      'embedding/embeddings',
      'lstm_1/kernel',
      'lstm_1/recurrent_kernel',
      'lstm_1/bias',
      'lstm_2/kernel',
      'lstm_2/recurrent_kernel',
      'lstm_2/bias',
      'dense/kernel',
      'dense/bias',
    ]);
    expect(JSON.parse(await readFile(join(saved, 'vocab.json'), 'utf8'))).toEqual(VOCAB.toJSON());
  });

  it('writes weights.bin as little-endian float32 in manifest order', async () => {
    const weights = initWeights(V, 1, E, H);
    const bytes = await readFile(join(saved, 'weights.bin'));
    const all = flattenWeights(weights);
    const count = all.reduce((n, a) => n + a.length, 0);
    expect(bytes.length).toBe(count * 4);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(view.getFloat32(0, true)).toBe(weights.embedding[0]);
    expect(view.getFloat32(weights.embedding.length * 4, true)).toBe(weights.lstm1.kernel[0]);
    expect(view.getFloat32((count - 1) * 4, true)).toBe(weights.dense.bias[V - 1]);
    expect(view.getFloat32((count - V - 1) * 4, true)).toBe(weights.dense.kernel[weights.dense.kernel.length - 1]);
  });

  it('verifyModelDir reports the architecture without decoding', async () => {
    const v = await verifyModelDir(saved);
    expect(v.architecture).toEqual({
      vocabSize: V,
      embeddingDim: E,
      units: [H, H],
      parameters: flattenWeights(initWeights(V, 1, E, H)).reduce((n, a) => n + a.length, 0),
    });
    expect(v.vocab.chars).toEqual(VOCAB.chars);
    expect(v.meta.version).toBe('base');
  });

  it('leaves the number of tensors unchanged after save, load and verify', async () => {
    const before = tf.memory().numTensors;
    const dir = join(root, 'tensors');
    await saveModel(dir, initWeights(V, 2, E, H), VOCAB, META);
    await loadModel(dir);
    await verifyModelDir(dir);
    const model = await loadLayersModelFromDir(dir);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses to overwrite a model folder unless asked, and replaces it when asked', async () => {
    const dir = await copyOfSaved();
    const other = initWeights(V, 99, E, H);
    await expect(saveModel(dir, other, VOCAB, META)).rejects.toThrow(/already holds a model/);
    expect((await loadModel(dir)).weights).toEqual(initWeights(V, 1, E, H));
    await saveModel(dir, other, VOCAB, { ...META, version: '2' }, { overwrite: true });
    const loaded = await loadModel(dir);
    expect(loaded.weights).toEqual(other);
    expect(loaded.meta.version).toBe('2');
  });

  it('refuses to save weights that do not fit the vocabulary, or that are not finite', async () => {
    await expect(saveModel(join(root, 'bad-size'), initWeights(V + 1, 1, E, H), VOCAB, META)).rejects.toThrow(
      /vocabulary/,
    );
    const nan = initWeights(V, 1, E, H);
    nan.lstm2.bias[3] = Number.NaN;
    await expect(saveModel(join(root, 'bad-nan'), nan, VOCAB, META)).rejects.toThrow(/lstm_2\/bias\[3\]/);
    await expect(stat(join(root, 'bad-nan', 'meta.json'))).rejects.toThrow(/ENOENT/);
  });

  it('sha256File hashes a file’s bytes', async () => {
    const path = join(root, 'hash.txt');
    await writeFile(path, 'babble babble');
    expect(await sha256File(path)).toBe(createHash('sha256').update('babble babble').digest('hex'));
  });
});

describe('loadLayersModelFromDir', () => {
  it('gives the standard layers model predicting what setModelWeights gives', async () => {
    const weights = initWeights(V, 1, E, H);
    const reference = buildLayersModel(V, { embeddingDim: E, units: H });
    const loaded = await loadLayersModelFromDir(saved);
    try {
      setModelWeights(reference, weights);
      expect(loaded.layers.map((l) => l.getClassName())).toEqual([
        'Embedding',
        'LSTM',
        'Dropout',
        'LSTM',
        'Dropout',
        'Dense',
      ]);
      expect(loaded.layers[1]!.getConfig()).toMatchObject({ recurrentActivation: 'sigmoid', returnSequences: true });
      const [a, b] = tf.tidy(() => {
        const x = tf.tensor2d(
          [
            [2, 3, 4, 1, 5],
            [0, 1, 2, 3, 4],
          ],
          [2, 5],
          'int32',
        );
        return [
          (loaded.predict(x) as tf.Tensor).dataSync().slice(),
          (reference.predict(x) as tf.Tensor).dataSync().slice(),
        ];
      });
      expect(a).toEqual(b);
    } finally {
      reference.dispose();
      loaded.dispose();
    }
  });
});

describe('refusals (every one a ModelLoadError naming the file)', () => {
  it('refuses a missing weights.bin', async () => {
    const dir = await copyOfSaved();
    await unlink(join(dir, 'weights.bin'));
    await expectRefusal(dir, 'weights.bin', 'missing', /missing/);
  });

  it('refuses a missing vocab.json', async () => {
    const dir = await copyOfSaved();
    await unlink(join(dir, 'vocab.json'));
    await expectRefusal(dir, 'vocab.json', 'missing', /missing/);
  });

  it('refuses a folder without meta.json (an unfinished save)', async () => {
    const dir = await copyOfSaved();
    await unlink(join(dir, 'meta.json'));
    await expectRefusal(dir, 'meta.json', 'missing', /missing/);
  });

  it('refuses a folder that does not exist', async () => {
    await expectRefusal(join(root, 'nowhere'), 'meta.json', 'missing', /does not exist/);
  });

  it('refuses a truncated weights.bin', async () => {
    const dir = await copyOfSaved();
    const size = (await stat(join(dir, 'weights.bin'))).size;
    await truncate(join(dir, 'weights.bin'), size - 100);
    await expectRefusal(dir, 'weights.bin', 'size', /truncated/);
  });

  it('refuses a zero-filled weights.bin of the right size', async () => {
    const dir = await copyOfSaved();
    const size = (await stat(join(dir, 'weights.bin'))).size;
    await writeFile(join(dir, 'weights.bin'), new Uint8Array(size));
    await expectRefusal(dir, 'weights.bin', 'content', /zero/);
  });

  it('refuses an old weights.bin beside a new model.json (weights of another model)', async () => {
    const dir = await copyOfSaved();
    const otherDir = join(root, `other-${++counter}`);
    await saveModel(otherDir, initWeights(V, 77, E, H), VOCAB, META);
    await cp(join(otherDir, 'weights.bin'), join(dir, 'weights.bin'));
    await expectRefusal(dir, 'weights.bin', 'content', /sha256/);
  });

  it('refuses an edited model.json', async () => {
    const dir = await copyOfSaved();
    const text = await readFile(join(dir, 'model.json'), 'utf8');
    expect(text).toContain('"rate":0.2');
    await writeFile(join(dir, 'model.json'), text.replace('"rate":0.2', '"rate":0.5'));
    await expectRefusal(dir, 'model.json', 'content', /does not match meta\.json/);
  });

  it('refuses a vocab.json of a different size', async () => {
    const dir = await copyOfSaved();
    await writeFile(join(dir, 'vocab.json'), JSON.stringify(new Vocabulary([UNK, EOU, 'a', 'b']).toJSON()));
    await expectRefusal(dir, 'vocab.json', 'size', /bytes, meta\.json records/);
  });

  it('refuses a vocab.json of a different size even when meta.json’s hashes were updated to match', async () => {
    const dir = await copyOfSaved();
    await writeFile(join(dir, 'vocab.json'), JSON.stringify(new Vocabulary([UNK, EOU, 'a', 'b']).toJSON()));
    await refreshHashes(dir);
    await expectRefusal(dir, 'vocab.json', 'mismatch', new RegExp(`4 characters .* vocabulary of ${V}`));
  });

  it('refuses a model.json with another architecture (relu gates) even with matching hashes', async () => {
    const dir = await copyOfSaved();
    const text = await readFile(join(dir, 'model.json'), 'utf8');
    await writeFile(
      join(dir, 'model.json'),
      text.replace('"recurrent_activation":"sigmoid"', '"recurrent_activation":"relu"'),
    );
    await refreshHashes(dir);
    await expectRefusal(dir, 'model.json', 'architecture', /recurrent_activation "relu"/);
  });

  it('refuses a weights.bin whose length is not the manifest’s, even with matching hashes', async () => {
    const dir = await copyOfSaved();
    const bytes = await readFile(join(dir, 'weights.bin'));
    await writeFile(join(dir, 'weights.bin'), bytes.subarray(0, bytes.length - 8));
    await refreshHashes(dir);
    await expectRefusal(dir, 'weights.bin', 'mismatch', /manifest/);
  });

  it('refuses malformed JSON in model.json and in meta.json', async () => {
    const dir = await copyOfSaved();
    await writeFile(join(dir, 'model.json'), '{"format": "layers-model", ');
    await refreshHashes(dir);
    await expectRefusal(dir, 'model.json', 'malformed', /not valid JSON/);
    const dir2 = await copyOfSaved();
    await writeFile(join(dir2, 'meta.json'), '{ not json');
    await expectRefusal(dir2, 'meta.json', 'malformed', /not valid JSON/);
  });

  it('refuses a meta.json that does not list weights.bin', async () => {
    const dir = await copyOfSaved();
    const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8'));
    delete meta.files['weights.bin'];
    await writeFile(join(dir, 'meta.json'), JSON.stringify(meta));
    await expectRefusal(dir, 'meta.json', 'malformed', /does not list weights\.bin/);
  });

  it('refuses non-finite weights even with matching hashes', async () => {
    const dir = await copyOfSaved();
    const bytes = await readFile(join(dir, 'weights.bin'));
    new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setFloat32(8, Number.POSITIVE_INFINITY, true);
    await writeFile(join(dir, 'weights.bin'), bytes);
    await refreshHashes(dir);
    const err = await loadModel(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ModelLoadError);
    expect(err).toMatchObject({ file: 'weights.bin', problem: 'malformed' });
    expect((err as Error).message).toMatch(/non-finite .* embedding\/embeddings\[2\]/);
  });
});

describe('an imported model folder', () => {
  it('saves and loads a three-layer stack with hard_sigmoid, window generation and its source', async () => {
    const vocab = new Vocabulary(['\n', ' ', 'A', 'b'], { unknown: false });
    const rand = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i + n) / 3);
    const units = [4, 8, 4];
    const layers = units.map((u, k) => ({
      units: u,
      recurrentActivation: 'hard_sigmoid' as const,
      kernel: rand((k === 0 ? 3 : units[k - 1]!) * 4 * u),
      recurrentKernel: rand(u * 4 * u),
      bias: rand(4 * u),
    }));
    const weights = {
      vocabSize: 4,
      embeddingDim: 3,
      embedding: rand(12),
      layers,
      dense: { kernel: rand(16), bias: rand(4) },
    };
    const source = {
      file: 'm.h5',
      sha256: 'cd'.repeat(32),
      format: 'keras2-h5',
      keras_version: '2.12.0',
      imported: META.created!,
    };
    const dir = join(root, 'imported');
    await saveModel(dir, weights, vocab, { ...META, generation: 'window', seq_length: 40, source });
    const loaded = await loadModel(dir);
    expect(loaded.weights).toEqual(weights);
    expect(loaded.vocab.hasUnknown).toBe(false);
    expect(loaded.meta).toMatchObject({ generation: 'window', seq_length: 40, source });
    expect((await verifyModelDir(dir)).architecture.units).toEqual(units);
    await expect(saveModel(join(root, 'no-window'), weights, vocab, { ...META, generation: 'window' })).rejects.toThrow(
      /seq_length/,
    );
  });
});
