/**
 * npm run eval -- [--model models/base] [--corpus data/corpus.txt] [--server-text FILE]: prints the quality report as
 * JSON; with a server's text (one message a line), also the model's uptake of it (src/model/uptake.ts) as `uptake`.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { BabyLanguageModel } from '../model/baby.js';
import { initBackend } from '../model/backend.js';
import { evaluateModel } from '../model/quality.js';
import { measureUptake } from '../model/uptake.js';
import { normalize, type Vocabulary } from '../model/vocab.js';
import { withUsage, runCli } from './args.js';

const USAGE = 'usage: npm run eval -- [--model models/base] [--corpus data/corpus.txt] [--server-text FILE]';

async function main(): Promise<void> {
  const { values } = withUsage(USAGE, () =>
    parseArgs({
      args: process.argv.slice(2),
      allowPositionals: true,
      options: {
        model: { type: 'string', default: 'models/base' },
        corpus: { type: 'string', default: 'data/corpus.txt' },
        'server-text': { type: 'string' },
      },
    }),
  );
  const backend = await initBackend();
  const model = await BabyLanguageModel.load(values.model);
  const corpus = await readFile(values.corpus, 'utf8');
  const report = await evaluateModel(model, corpus);
  const serverFile = values['server-text'];
  const uptake =
    serverFile === undefined
      ? undefined
      : await measureUptake((seed, o) => model.generate(seed, { ...o, stopAtEndOfUtterance: true }), {
          serverLines: linesOf(await readFile(serverFile, 'utf8'), model.vocab),
          baseLines: linesOf(corpus, model.vocab),
        });
  process.stdout.write(
    `${JSON.stringify({ model: values.model, version: model.meta?.version, backend: backend.name, ...report, ...(uptake ? { uptake } : {}) }, null, 2)}\n`,
  );
  if (!report.pass) process.exitCode = 1;
}

function linesOf(text: string, vocab: Vocabulary): string[] {
  return normalize(text, vocab, { keepNewlines: true })
    .split('\n')
    .filter((l) => l.length > 0);
}

runCli(main);
