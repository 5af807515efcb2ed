/** npm run eval -- [--model models/base] [--corpus data/corpus.txt]: prints the quality report as JSON. */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { BabyLanguageModel } from '../model/baby.js';
import { initBackend } from '../model/backend.js';
import { evaluateModel } from '../model/quality.js';
import { withUsage, runCli } from './args.js';

const USAGE = 'usage: npm run eval -- [--model models/base] [--corpus data/corpus.txt]';

async function main(): Promise<void> {
  const { values } = withUsage(USAGE, () => parseArgs({ args: process.argv.slice(2), allowPositionals: true, options: {
    model: { type: 'string', default: 'models/base' },
    corpus: { type: 'string', default: 'data/corpus.txt' },
  } }));
  const backend = await initBackend();
  const model = await BabyLanguageModel.load(values.model);
  const report = await evaluateModel(model, await readFile(values.corpus, 'utf8'));
  process.stdout.write(`${JSON.stringify({ model: values.model, version: model.meta?.version, backend: backend.name, ...report }, null, 2)}\n`);
  if (!report.pass) process.exitCode = 1;
}

runCli(main);
