/**
 * npm run import -- FILE [--vocab FILE.npy | --corpus FILE | --chars STRING] [--seq-length N] --out DIR [--overwrite]
 *
 * FILE: a Keras 3 .keras, a Keras 2 .h5, or a TensorFlow.js model.json (or its folder).
 */
import { parseArgs } from 'node:util';
import { ImportError } from '../keras/errors.js';
import { importKerasModel } from '../keras/import.js';
import { UsageError, numberArg, runCli, withUsage } from './args.js';

const USAGE =
  'usage: npm run import -- FILE [--vocab FILE.npy | --corpus FILE | --chars STRING] [--seq-length N] ' +
  '--out DIR [--overwrite]';

async function main(): Promise<void> {
  const { values, positionals } = withUsage(USAGE, () =>
    parseArgs({
      args: process.argv.slice(2),
      allowPositionals: true,
      options: {
        vocab: { type: 'string' },
        corpus: { type: 'string' },
        chars: { type: 'string' },
        'seq-length': { type: 'string' },
        out: { type: 'string' },
        overwrite: { type: 'boolean', default: false },
      },
    }),
  );
  if (positionals.length !== 1) throw new UsageError(`give one model file\n\n${USAGE}`);
  if (!values.out) throw new UsageError(`--out DIR is required\n\n${USAGE}`);
  const seqLength = numberArg('seq-length', values['seq-length'], 1, 1000, true);
  try {
    const r = await importKerasModel({
      file: positionals[0]!,
      vocab: { npy: values.vocab, corpus: values.corpus, chars: values.chars },
      ...(seqLength !== undefined ? { seqLength } : {}),
      out: values.out,
      overwrite: values.overwrite,
      command: `npm run import -- ${process.argv.slice(2).join(' ')}`,
    });
    process.stdout.write(
      `${JSON.stringify({
        out: r.dir,
        format: r.format,
        keras_version: r.kerasVersion,
        sha256: r.meta.source?.sha256,
        vocabSize: r.vocabSize,
        units: r.units,
        seq_length: r.seqLength,
        recurrent_activation: r.recurrentActivation,
        check_difference: r.checkDifference,
      })}\n`,
    );
  } catch (err) {
    // A refusal is the user's to fix: its message, no stack trace.
    if (err instanceof ImportError) throw new UsageError(`import refused (${err.problem}): ${err.message}`);
    throw err;
  }
}

runCli(main);
