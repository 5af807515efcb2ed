/**
 * Writes data/corpus.txt from buildCorpus() and prints its line count, character count and sha256.
 * `--check` writes nothing and exits 1 if the committed file differs from the builder's output.
 *
 *   npm run build-corpus [-- --check]
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCorpus, corpusText } from '../src/model/corpus.js';

const CORPUS_PATH = fileURLToPath(new URL('../data/corpus.txt', import.meta.url));

async function main(args: string[]): Promise<number> {
  const lines = buildCorpus();
  const text = corpusText(lines);
  const sha256 = createHash('sha256').update(text, 'utf8').digest('hex');
  const summary = `${lines.length} lines, ${text.length} chars, distinct ${new Set(lines).size}, sha256 ${sha256}`;
  if (args.includes('--check')) {
    const current = await readFile(CORPUS_PATH, 'utf8').catch(() => undefined);
    if (current === text) {
      console.log(`${CORPUS_PATH} is up to date: ${summary}`);
      return 0;
    }
    console.error(`${CORPUS_PATH} differs from buildCorpus() (${summary}); run npm run build-corpus`);
    return 1;
  }
  await mkdir(dirname(CORPUS_PATH), { recursive: true });
  await writeFile(CORPUS_PATH, text, 'utf8');
  console.log(`wrote ${CORPUS_PATH}: ${summary}`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
