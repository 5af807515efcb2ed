import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImportError, type ImportProblem } from '../src/keras/errors.js';
import { corpusChars, importKerasModel } from '../src/keras/import.js';
import { BabyLanguageModel } from '../src/model/baby.js';
import { Generator } from '../src/model/generate.js';
import { loadModel } from '../src/model/store.js';

const FIXTURES = join(import.meta.dirname, 'fixtures/keras');
const fixture = (name: string) => join(FIXTURES, name);

interface Expected {
  chars: string[];
  models: Record<
    string,
    {
      seq_length: number;
      units: number[];
      windows: { window: string; probs: number[] }[];
      greedy: { seed: string; text: string }[];
    }
  >;
}

let expected: Expected;
let dir: string;
let chars: string;

beforeAll(async () => {
  expected = JSON.parse(await readFile(fixture('expected.json'), 'utf8')) as Expected;
  chars = expected.chars.join('');
  dir = await mkdtemp(join(tmpdir(), 'babble-keras-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function refusal(promise: Promise<unknown>, problem: ImportProblem, message: RegExp): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImportError);
  expect((err as ImportError).problem).toBe(problem);
  expect((err as ImportError).message).toMatch(message);
}

function softmax(logits: Float32Array): number[] {
  const max = Math.max(...logits);
  const e = [...logits].map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

const MODELS = [
  { name: 'k3_two', file: 'k3_two.keras', vocab: {}, format: 'keras3', keras: '3.3.3', backend: 'wasm' },
  {
    name: 'k3_one',
    file: 'k3_one.keras',
    vocab: { chars: 'CHARS' },
    format: 'keras3',
    keras: '3.3.3',
    backend: 'wasm',
  },
  {
    name: 'k2_three',
    file: 'k2_three.h5',
    vocab: { chars: 'CHARS' },
    format: 'keras2-h5',
    keras: '2.12.0',
    backend: 'wasm',
  },
  {
    name: 'tfjs_two',
    file: 'tfjs_two/model.json',
    vocab: { chars: 'CHARS' },
    format: 'tfjs-layers',
    keras: '2.12.0',
    backend: 'js',
  },
] as const;

describe('importKerasModel matches the numpy forward pass of the original', () => {
  for (const m of MODELS) {
    const promise = 'probabilities within 1e-5 for every window, greedy 50-character generations identical';
    it(`${m.name} (${m.format}): ${promise}`, async () => {
      const out = join(dir, m.name);
      const vocab = 'chars' in m.vocab ? { chars } : {};
      const report = await importKerasModel({ file: fixture(m.file), vocab, out });
      const want = expected.models[m.name]!;
      expect(report.format).toBe(m.format);
      expect(report.units).toEqual(want.units);
      expect(report.seqLength).toBe(want.seq_length);

      const model = await BabyLanguageModel.load(out);
      expect(model.meta?.generation).toBe('window');
      expect(model.meta?.seq_length).toBe(want.seq_length);
      expect(model.meta?.source).toMatchObject({
        format: m.format,
        keras_version: m.keras,
        file: m.file.split('/').at(-1),
      });
      expect(model.meta?.source?.sha256).toMatch(/^[0-9a-f]{64}$/);

      const { weights, vocab: v } = await loadModel(out);
      const generator = new Generator(weights, v);
      expect(generator.backend).toBe(m.backend);
      for (const w of want.windows) {
        const state = generator.newState();
        for (const id of v.encode(w.window)) generator.feed(state, id);
        const probs = softmax(generator.logits(state));
        probs.forEach((p, i) => {
          expect(Math.abs(p - w.probs[i]!), `${JSON.stringify(w.window)} char ${i}`).toBeLessThan(1e-5);
        });
      }
      for (const g of want.greedy) {
        expect(model.generate(g.seed, { temperature: 0, length: 50 })).toBe(g.text);
      }
    });
  }

  it('generates the same window babble on the wasm and JS backends', async () => {
    const { weights, vocab } = await loadModel(join(dir, 'k2_three'));
    const opts = { temperature: 0.8, length: 50, rng: 7, mode: 'window', window: 6 } as const;
    const a = new Generator(weights, vocab, { backend: 'wasm' }).generate('Me see', opts);
    const b = new Generator(weights, vocab, { backend: 'js' }).generate('Me see', opts);
    expect(a.text).toBe(b.text);
    expect(a.generated).toBe(50);
  });

  it('keeps the uppercase letters an imported vocabulary has, folds the others, drops what it lacks', async () => {
    const model = await BabyLanguageModel.load(join(dir, 'k3_two'));
    const r = model.generateDetailed('Me want 🍪 Doggy Cookie', { temperature: 0, length: 0 });
    expect(r.seed).toBe('Me want Doggy cookie'); // the vocabulary has D and M, not C
  });

  it('pads a short seed with spaces to the window', async () => {
    const model = await BabyLanguageModel.load(join(dir, 'k3_two'));
    expect(model.generateDetailed('Me', { temperature: 0, length: 0 }).seed).toBe('Me        ');
  });
});

describe('fine-tuning an imported model', () => {
  it('trains a two-layer import keeping its vocabulary, window mode and origin', async () => {
    const model = await BabyLanguageModel.load(join(dir, 'k3_two'));
    await model.train(['Me want milk!', 'Doggy go woof.', 'ÉMOJI 😀 are dropped'], {
      epochs: 2,
      batchSize: 2,
      seqLength: 8,
    });
    expect(model.vocab.chars.join('')).toBe(chars);
    const meta = await model.save(join(dir, 'k3_two-tuned'), { version: '1' });
    expect(meta.generation).toBe('window');
    expect(meta.seq_length).toBe(10);
    expect(meta.source?.format).toBe('keras3');
    const again = await BabyLanguageModel.load(join(dir, 'k3_two-tuned'));
    expect(again.generate('me want', { temperature: 0, length: 5 })).toHaveLength(15);
  });

  it('refuses to train a three-layer import, saying why', async () => {
    const model = await BabyLanguageModel.load(join(dir, 'k2_three'));
    await expect(model.train(['Me want milk!'], { epochs: 1 })).rejects.toThrow(/3 LSTM layer/);
  });
});

describe('the vocabulary', () => {
  it('--corpus is sorted(set(text)) by code point, with universal newlines', () => {
    expect(corpusChars('ba\r\nc a😀\u00e9')).toEqual(['\n', ' ', 'a', 'b', 'c', '\u00e9', '😀']);
  });

  it("refuses a vocabulary whose size is not the model's, naming both sizes", async () => {
    await refusal(
      importKerasModel({ file: fixture('k3_one.keras'), vocab: { chars: 'abc' }, out: join(dir, 'x1') }),
      'vocabulary',
      /has 3 characters but the model's Embedding and Dense take 34/,
    );
  });

  it('refuses a _chars.npy pickle holding a float, and one that would run a command, naming them', async () => {
    await refusal(
      importKerasModel({
        file: fixture('k3_one.keras'),
        vocab: { npy: fixture('refuse_float_chars.npy') },
        out: join(dir, 'x2'),
      }),
      'pickle',
      /opcode BINFLOAT/,
    );
    await refusal(
      importKerasModel({
        file: fixture('k3_one.keras'),
        vocab: { npy: fixture('refuse_shell_chars.npy') },
        out: join(dir, 'x3'),
      }),
      'pickle',
      /global posix\.system is not allowed/,
    );
  });

  it('refuses a model without a vocabulary beside it', async () => {
    await refusal(
      importKerasModel({ file: fixture('k3_one.keras'), out: join(dir, 'x4') }),
      'vocabulary',
      /k3_one_chars\.npy is not beside/,
    );
  });
});

describe('refusals', () => {
  /** k3_two.keras with its config.json changed by `edit`. */
  async function withConfig(
    name: string,
    edit: (layers: { class_name: string; config: Record<string, unknown> }[]) => void,
  ): Promise<string> {
    const entries = unzipSync(await readFile(fixture('k3_two.keras')));
    const config = JSON.parse(strFromU8(entries['config.json']!)) as {
      config: { layers: { class_name: string; config: Record<string, unknown> }[] };
    };
    edit(config.config.layers);
    entries['config.json'] = strToU8(JSON.stringify(config));
    const path = join(dir, `${name}.keras`);
    await writeFile(path, zipSync(entries));
    return path;
  }
  const run = (file: string, out: string) =>
    importKerasModel({ file, vocab: { npy: fixture('k3_two_chars.npy') }, out: join(dir, out) });

  it('a missing variable, named', async () => {
    await refusal(
      importKerasModel({ file: fixture('refuse_missing_var.keras'), vocab: { chars }, out: join(dir, 'r1') }),
      'variable',
      /layer "lstm" \(LSTM\): variable model\.weights\.h5 layers\/lstm\/cell\/vars\/1 \(recurrent_kernel\) is missing/,
    );
  });

  it('a misshapen variable, named with both shapes', async () => {
    await refusal(
      importKerasModel({ file: fixture('refuse_misshapen_var.keras'), vocab: { chars }, out: join(dir, 'r2') }),
      'variable',
      /layers\/dense\/vars\/0 \(kernel\) has shape \[135\], expected \[4, 34\]/,
    );
  });

  it('a GRU, a Bidirectional, masking and a relu LSTM, each naming the layer', async () => {
    const gru = await withConfig('gru', (l) => {
      l[2]!.class_name = 'GRU';
    });
    await refusal(run(gru, 'r3'), 'architecture', /layer "lstm" \(GRU\) is not supported/);
    const bi = await withConfig('bi', (l) => {
      l[4] = { class_name: 'Bidirectional', config: { name: 'bidirectional' } };
    });
    await refusal(run(bi, 'r4'), 'architecture', /layer "bidirectional" \(Bidirectional\) is not supported/);
    const mask = await withConfig('mask', (l) => {
      l[1]!.config.mask_zero = true;
    });
    await refusal(run(mask, 'r5'), 'architecture', /layer "embedding" \(Embedding\) has mask_zero true/);
    const relu = await withConfig('relu', (l) => {
      l[4]!.config.activation = 'relu';
    });
    await refusal(run(relu, 'r6'), 'architecture', /layer "lstm_1" \(LSTM\) has activation "relu"/);
    const gates = await withConfig('gates', (l) => {
      l[2]!.config.recurrent_activation = 'relu';
    });
    await refusal(run(gates, 'r7'), 'architecture', /layer "lstm" \(LSTM\) has recurrent_activation "relu"/);
  });

  it('a corrupt zip: cut short, or its deflated data damaged', async () => {
    const bytes = await readFile(fixture('k3_two.keras'));
    const cut = join(dir, 'cut.keras');
    await writeFile(cut, bytes.subarray(0, bytes.length - 200));
    await refusal(run(cut, 'r8'), 'corrupt', /cut\.keras is not a readable zip/);
    const damaged = Buffer.from(bytes);
    for (let i = 200; i < 260; i++) damaged[i] = 0xff;
    const bad = join(dir, 'damaged.keras');
    await writeFile(bad, damaged);
    await refusal(run(bad, 'r9'), 'corrupt', /damaged\.keras is not a readable zip/);
  });

  it('a stored zip with one byte of its weights changed fails its CRC-32 check', async () => {
    const bytes = Buffer.from(await readFile(fixture('k3_one.keras')));
    const at = bytes.indexOf(Buffer.from('model.weights.h5')) + 4000; // inside the stored HDF5 data
    expect(at).toBeLessThan(bytes.length - 1000);
    bytes[at] = bytes[at]! ^ 0x10;
    const flipped = join(dir, 'flipped.keras');
    await writeFile(flipped, bytes);
    await refusal(
      importKerasModel({ file: flipped, vocab: { chars }, out: join(dir, 'r11') }),
      'corrupt',
      /flipped\.keras is not a readable zip \(model\.weights\.h5 fails its CRC-32 check\)/,
    );
  });

  it("a truncated HDF5 file, with HDF5's reason", async () => {
    const bytes = await readFile(fixture('k2_three.h5'));
    const cut = join(dir, 'cut.h5');
    await writeFile(cut, bytes.subarray(0, 20_000));
    await refusal(
      importKerasModel({ file: cut, vocab: { chars }, out: join(dir, 'r10') }),
      'corrupt',
      /cut\.h5 is not a readable HDF5 file \(truncated file/,
    );
  });

  it('a folder that already holds a model, unless overwrite', async () => {
    await expect(importKerasModel({ file: fixture('k3_two.keras'), out: join(dir, 'k3_two') })).rejects.toThrow(
      /already holds a model/,
    );
  });
});
