/**
 * npm run babble -- "me want" [--temperature 0.5] [--length 50] [--top-k 5] [--rng 42] [--model DIR] [--stop] [--raw]
 *
 * Prints the babble on one line (newlines shown as " / "); with --raw, exactly the text the model returned (an
 * imported model: the padded seed and the generated characters, newlines included) and nothing after it.
 */
import { parseArgs } from 'node:util';
import { BabyLanguageModel } from '../model/baby.js';
import { BABBLE_BOUNDS } from '../service/babble-rules.js';
import { numberArg, withUsage, runCli } from './args.js';

const USAGE =
  'usage: npm run babble -- "me want" [--temperature 0.5] [--length 50] [--top-k 5] [--rng 42] [--model models/base] [--stop] [--raw]';

async function main(): Promise<void> {
  const { values, positionals } = withUsage(USAGE, () =>
    parseArgs({
      args: process.argv.slice(2),
      allowPositionals: true,
      options: {
        temperature: { type: 'string' },
        length: { type: 'string' },
        'top-k': { type: 'string' },
        rng: { type: 'string' },
        model: { type: 'string', default: 'models/base' },
        stop: { type: 'boolean', default: false },
        raw: { type: 'boolean', default: false },
      },
    }),
  );
  const temperature =
    numberArg('temperature', values.temperature, BABBLE_BOUNDS.temperature.min, BABBLE_BOUNDS.temperature.max) ??
    BABBLE_BOUNDS.temperature.default;
  const length = numberArg('length', values.length, BABBLE_BOUNDS.length.min, 2000, true) ?? 50;
  const topK = numberArg('top-k', values['top-k'], 0, BABBLE_BOUNDS.topK.max, true) ?? 0;
  const rng = numberArg('rng', values.rng, 0, BABBLE_BOUNDS.rng.max, true);
  const model = await BabyLanguageModel.load(values.model);
  const text = model.generate(positionals.join(' '), {
    temperature,
    length,
    topK,
    stopAtEndOfUtterance: values.stop,
    ...(rng !== undefined ? { rng } : {}),
  });
  process.stdout.write(values.raw ? text : `${text.replace(/\n/g, ' / ')}\n`);
}

runCli(main);
