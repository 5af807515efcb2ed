/**
 * npm run train -- [--corpus data/corpus.txt] [--epochs N | --minutes M] [--out DIR] [--from DIR] [--version V]
 *                  [--batch 128] [--seq 32] [--lr 0.002] [--scheme seq|window] [--seed 1] [--overwrite]
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { BabyLanguageModel, sha256 } from '../model/baby.js';
import { initBackend } from '../model/backend.js';
import { splitHeldOut } from '../model/corpus.js';
import { normalize } from '../model/vocab.js';
import { formatSeconds, numberArg, withUsage, progressBar, runCli, UsageError } from './args.js';

const USAGE = `usage: npm run train -- [--corpus FILE] [--epochs N | --minutes M] [--out DIR] [--from DIR]
                      [--version NAME] [--batch 128] [--seq 32] [--lr 0.002] [--scheme seq|window] [--seed 1] [--workers 1|2] [--overwrite]`;

async function main(): Promise<void> {
  const { values } = withUsage(USAGE, () =>
    parseArgs({
      args: process.argv.slice(2),
      allowPositionals: true,
      options: {
        corpus: { type: 'string', default: 'data/corpus.txt' },
        epochs: { type: 'string' },
        minutes: { type: 'string' },
        out: { type: 'string', default: 'models/trained' },
        from: { type: 'string' },
        version: { type: 'string' },
        batch: { type: 'string' },
        seq: { type: 'string' },
        lr: { type: 'string' },
        scheme: { type: 'string', default: 'seq' },
        seed: { type: 'string' },
        workers: { type: 'string', default: '2' },
        overwrite: { type: 'boolean', default: false },
      },
    }),
  );
  if (values.epochs !== undefined && values.minutes !== undefined)
    throw new UsageError(`give --epochs or --minutes, not both\n\n${USAGE}`);
  const epochs = numberArg('epochs', values.epochs, 0.01, 10_000);
  const minutes = numberArg('minutes', values.minutes, 0.01, 24 * 60);
  const batchSize = numberArg('batch', values.batch, 1, 4096, true);
  const seqLength = numberArg('seq', values.seq, 2, 1024, true);
  const learningRate = numberArg('lr', values.lr, 1e-6, 1);
  const seed = numberArg('seed', values.seed, 0, 2 ** 31 - 1, true) ?? 1;
  const workers = numberArg('workers', values.workers, 1, 2, true) as 1 | 2;
  if (values.scheme !== 'seq' && values.scheme !== 'window')
    throw new UsageError(`--scheme must be seq or window\n\n${USAGE}`);

  const backend = await initBackend();
  process.stderr.write(`backend: ${backend.name} (${backend.reason})\n`);

  const raw = await readFile(values.corpus, 'utf8');
  const model = values.from ? await BabyLanguageModel.load(values.from) : BabyLanguageModel.build({ seed });
  const lines = normalize(raw, model.vocab, { keepNewlines: true }).split('\n');
  const { train, heldOut } = splitHeldOut(lines, 0.1);
  process.stderr.write(
    `corpus: ${values.corpus}, ${lines.length} lines (${train.length} train, ${heldOut.length} held out)\n`,
  );

  const budget = minutes !== undefined ? { maxSeconds: minutes * 60 } : { epochs: epochs ?? 10 };
  const tty = process.stderr.isTTY;
  let lastPrint = 0;
  const report = await model.train(train, {
    ...budget,
    ...(batchSize ? { batchSize } : {}),
    ...(seqLength ? { seqLength } : {}),
    ...(learningRate ? { learningRate } : {}),
    scheme: values.scheme,
    seed,
    workers,
    onProgress: (p) => {
      const now = Date.now();
      if (!tty && now - lastPrint < 10_000) return;
      lastPrint = now;
      const line = `${progressBar(p.step / Math.max(1, p.totalSteps))} step ${p.step}/${p.totalSteps} epoch ${p.epoch.toFixed(2)} loss ${p.loss.toFixed(3)} ${Math.round(p.charsPerSecond)} chars/s eta ${formatSeconds(p.etaSeconds)}`;
      process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
    },
  });
  if (tty) process.stderr.write('\n');
  // Lines are held out by a hash of their text, so a corpus of a few repeated lines may hold out nothing.
  const heldOutBitsPerChar = heldOut.length > 0 ? await model.bitsPerChar(heldOut) : null;
  if (heldOutBitsPerChar === null)
    process.stderr.write('warning: no line was held out (too few distinct lines), so there is no held-out figure\n');
  const command = `npm run train -- ${process.argv.slice(2).join(' ')}`.trim();
  const meta = await model.save(values.out, {
    version: values.version ?? 'trained',
    overwrite: values.overwrite,
    training: {
      command,
      backend: backend.name,
      corpusFile: values.corpus,
      corpusFileSha256: sha256(raw),
      heldOutFraction: 0.1,
      heldOutBitsPerChar: heldOutBitsPerChar === null ? null : Number(heldOutBitsPerChar.toFixed(4)),
      learningRate: learningRate ?? 0.002,
      batchSize: batchSize ?? 128,
      seqLength: seqLength ?? 32,
      scheme: values.scheme,
      seed,
      workers: report.workers,
      fineTunedFrom: values.from ?? null,
    },
  });
  process.stderr.write(
    `trained ${report.steps} steps in ${formatSeconds(report.seconds)} (${Math.round(report.charsPerSecond)} target chars/s), final loss ${report.finalLoss.toFixed(3)}, held-out ${heldOutBitsPerChar?.toFixed(3) ?? 'n/a'} bits/char\n`,
  );
  process.stderr.write(`saved ${values.out} (version ${meta.version})\n`);
  for (const s of ['me want ', 'me love ', 'me see ', '']) {
    process.stdout.write(
      `sample: ${model.generate(s, { temperature: 0.5, rng: 1, length: 60, stopAtEndOfUtterance: true })}\n`,
    );
  }
}

runCli(main);
