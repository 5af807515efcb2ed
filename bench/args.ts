/**
 * Command line of `npm run bench`: [--quick] [--strict] [--strength gentle|normal|strong]
 * [--skip torch,training,babble,window,memory,discord,retrain,bot-retrain,bot-memory,compiled,startup,server-voice,
 * ingest,multi-host,teach-flood].
 */
import { parseArgs } from 'node:util';
import { DEFAULT_STRENGTH, isStrength, STRENGTHS, type Strength } from '../src/training/server-share.js';

export const SECTIONS = [
  'training',
  'torch',
  'babble',
  'window',
  'memory',
  'discord',
  'retrain',
  'bot-retrain',
  'bot-memory',
  'compiled',
  'startup',
  'server-voice',
  'ingest',
  'multi-host',
  'teach-flood',
] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchArgs {
  /** Fewer steps and samples, no torch: for development. */
  quick: boolean;
  /** Exit 1 when a target is missed. */
  strict: boolean;
  skip: ReadonlySet<Section>;
  /** The strength of server-voice's retrain. */
  strength: Strength;
}

export const USAGE = `usage: npm run bench -- [--quick] [--strict] [--skip ${SECTIONS.join(',')}]
  --quick   fewer steps and samples, torch skipped (development; figures are rougher)
  --strict  exit 1 when any target is missed (default: always exit 0, the JSON says pass:false)
  --skip    comma-separated sections not to run (reported as null with the reason "skipped")
  --strength the /retrain strength of server-voice (${STRENGTHS.join(', ')}; default ${DEFAULT_STRENGTH})`;

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      strict: { type: 'boolean', default: false },
      skip: { type: 'string', multiple: true, default: [] },
      strength: { type: 'string', default: DEFAULT_STRENGTH },
      help: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) throw new Error(USAGE);
  const skip = new Set<Section>();
  for (const item of values.skip.flatMap((s) => s.split(','))) {
    const name = item.trim().toLowerCase().replace(/_/g, '-'); // server_voice, as the JSON names it, or server-voice
    if (name === '') continue;
    if (!(SECTIONS as readonly string[]).includes(name))
      throw new Error(`--skip: unknown section ${JSON.stringify(item)} (known: ${SECTIONS.join(', ')})`);
    skip.add(name as Section);
  }
  if (values.quick) skip.add('torch');
  if (!isStrength(values.strength))
    throw new Error(`--strength: unknown strength ${JSON.stringify(values.strength)} (known: ${STRENGTHS.join(', ')})`);
  return { quick: values.quick, strict: values.strict, skip, strength: values.strength };
}

/** Steps and samples of each measurement. */
export interface Plan {
  trainWarmup: number;
  trainSteps: number;
  torchSteps: number;
  babbleWarmup: number;
  babbleSamples: number;
  discordWarmup: number;
  discordCount: number;
  serverModels: number;
  /** Characters of server text a retrain learns from, and its budget (the /retrain epochs option). */
  retrainChars: number;
  retrainEpochs: number;
  /** /babble per second in another server while the bot retrains. */
  retrainBabbleRate: number;
  /** Starts of the bot per start command (startup section). */
  startups: number;
  /** Minutes of server-voice's retrain (the 2-minute /retrain). */
  voiceMinutes: number;
}

export function planFor(args: BenchArgs): Plan {
  return args.quick
    ? {
        trainWarmup: 1,
        trainSteps: 4,
        torchSteps: 5,
        babbleWarmup: 50,
        babbleSamples: 1_000,
        discordWarmup: 20,
        discordCount: 400,
        serverModels: 50,
        retrainChars: 100_000,
        retrainEpochs: 3,
        retrainBabbleRate: 20,
        startups: 3,
        voiceMinutes: 2,
      }
    : {
        trainWarmup: 5,
        trainSteps: 40,
        torchSteps: 15,
        babbleWarmup: 200,
        babbleSamples: 10_000,
        discordWarmup: 50,
        discordCount: 2_000,
        serverModels: 50,
        retrainChars: 100_000,
        retrainEpochs: 3,
        retrainBabbleRate: 20,
        startups: 5,
        voiceMinutes: 2,
      };
}
