import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const root = join(import.meta.dirname, '..');

/** Runs a CLI entry point as `npm run <name>` does (tsx), returning its output and exit code. */
async function cli(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(
      process.execPath,
      ['--import', 'tsx', join(root, 'src/cli', script), ...args],
      {
        cwd: root,
        timeout: 120_000,
        env: { ...process.env, BABBLE_BACKEND: 'wasm' },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'babble-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('npm run train / babble', () => {
  it('trains on a tiny corpus, saves a loadable model with its figures, and prints a sample', async () => {
    const corpus = join(dir, 'tiny.txt');
    const words = ['cookie', 'doggy', 'ball', 'mommy', 'kitty', 'milk', 'truck', 'nap'];
    await writeFile(
      corpus,
      Array.from({ length: 64 }, (_, i) => `me want ${words[i % 8]} ${words[(i >> 3) % 8]}`).join('\n'),
    );
    const out = join(dir, 'tiny-model');
    const r = await cli('train.ts', [
      '--corpus',
      corpus,
      '--epochs',
      '2',
      '--batch',
      '8',
      '--seq',
      '16',
      '--out',
      out,
      '--version',
      'tiny',
      '--workers',
      '1',
    ]);
    expect(r.stderr).toContain('backend: wasm');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/step \d+\/\d+ .*loss \d+\.\d+ .*eta/);
    expect(r.stdout).toMatch(/^sample: me want /m);
    const meta = JSON.parse(await readFile(join(out, 'meta.json'), 'utf8'));
    expect(meta.version).toBe('tiny');
    expect(meta.training.command).toContain('--epochs 2');
    expect(typeof meta.training.heldOutBitsPerChar).toBe('number');

    const b = await cli('babble.ts', ['me want', '--rng', '42', '--length', '30', '--model', out]);
    expect(b.code, b.stderr).toBe(0);
    const lines = b.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.startsWith('me want')).toBe(true);
    const again = await cli('babble.ts', ['me want', '--rng', '42', '--length', '30', '--model', out]);
    expect(again.stdout).toBe(b.stdout);
  }, 120_000);

  it('explains bad arguments and exits 2', async () => {
    const r = await cli('babble.ts', ['me', '--temperature', 'hot']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--temperature must be a number from 0 to 2');
    const t = await cli('train.ts', ['--epochs', '1', '--minutes', '1']);
    expect(t.code).toBe(2);
    expect(t.stderr).toContain('not both');
  });

  it('refuses a damaged model folder with an error naming the file', async () => {
    const out = join(dir, 'tiny-model');
    const weights = join(out, 'weights.bin');
    const bytes = await readFile(weights);
    await writeFile(weights, bytes.subarray(0, bytes.length - 4));
    const r = await cli('babble.ts', ['me', '--model', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('weights.bin');
  });
});

describe('npm run train / babble / eval load .env', () => {
  it('take BABBLE_BACKEND from .env in the working folder, and a real environment variable over it', async () => {
    const work = await mkdtemp(join(tmpdir(), 'babble-cli-env-'));
    try {
      await writeFile(join(work, '.env'), 'BABBLE_BACKEND=cpu\n');
      const tsx = pathToFileURL(createRequire(join(root, 'package.json')).resolve('tsx')).href;
      const { BABBLE_BACKEND: _, ...inherited } = process.env;
      // The corpus is missing: train stops right after choosing the backend, which it reports first.
      const train = (env: NodeJS.ProcessEnv) =>
        exec(
          process.execPath,
          [
            '--import',
            tsx,
            join(root, 'src/cli/train.ts'),
            '--corpus',
            join(work, 'none.txt'),
            '--out',
            join(work, 'm'),
          ],
          {
            cwd: work,
            timeout: 120_000,
            env,
          },
        ).then(
          () => ({ stderr: '', code: 0 }),
          (e: { stderr?: string; code?: number }) => ({ stderr: e.stderr ?? '', code: e.code }),
        );
      const fromFile = await train(inherited);
      expect(fromFile.stderr).toContain('backend: cpu (forced by BABBLE_BACKEND)');
      expect(fromFile.code).toBe(1);
      const fromEnv = await train({ ...inherited, BABBLE_BACKEND: 'wasm' });
      expect(fromEnv.stderr).toContain('backend: wasm (forced by BABBLE_BACKEND)');
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});

describe('npm run import / babble --raw', () => {
  const fixtures = join(root, 'test/fixtures/keras');

  it("imports the original's .keras with its _chars.npy, and babble --raw prints exactly what the original returns", async () => {
    const out = join(dir, 'imported');
    const r = await cli('import.ts', [join(fixtures, 'k3_two.keras'), '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout.split('\n').find((l) => l.startsWith('{'))!);
    expect(report).toMatchObject({
      format: 'keras3',
      keras_version: '3.3.3',
      vocabSize: 34,
      units: [16, 16],
      seq_length: 10,
    });
    const expected = JSON.parse(await readFile(join(fixtures, 'expected.json'), 'utf8'));
    for (const g of expected.models.k3_two.greedy as { seed: string; text: string }[]) {
      const b = await cli('babble.ts', [g.seed, '--model', out, '--temperature', '0', '--length', '50', '--raw']);
      expect(b.code, b.stderr).toBe(0);
      expect(b.stdout).toBe(g.text);
    }
  }, 120_000);

  it('refuses a vocabulary of the wrong size, naming both sizes, and exits 2', async () => {
    const r = await cli('import.ts', [join(fixtures, 'k3_one.keras'), '--chars', 'abc', '--out', join(dir, 'never')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "import refused (vocabulary): the vocabulary (--chars) has 3 characters but the model's Embedding and Dense take 34",
    );
  });
});

describe('npm run eval --server-text', () => {
  it("adds the model's uptake of a server's words to the report; the base model never says them", async () => {
    const text = join(dir, 'server.txt');
    await writeFile(
      text,
      Array.from({ length: 30 }, (_, i) => ['me want dinosaur', 'big tractor go roar', 'me want tractor!'][i % 3]).join(
        '\n',
      ),
    );
    const r = await cli('eval.ts', ['--model', 'models/base', '--server-text', text]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      pass: boolean;
      uptake: { newWords: { word: string }[]; newWordShare: number; samples: number; openings: { opening: string }[] };
    };
    expect(report.pass).toBe(true);
    expect(report.uptake.newWords.map((w) => w.word)).toEqual(['tractor', 'dinosaur']);
    expect(report.uptake.samples).toBeGreaterThan(0);
    expect(report.uptake.newWordShare).toBe(0);
    expect(report.uptake.openings.map((o) => o.opening)).toEqual(['me want ', 'big tractor ']);
  });
});
