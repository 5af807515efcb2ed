/**
 * Output moderation: nothing the baby generates reaches anyone unless it passes the word filter
 * (output-filter.ts: the built-in list and the server's own blocked words, blocked-words.ts).
 *
 * - Babbles and replies: `models()` wraps the source every Discord path gets its generation service from
 *   (/babble, mention replies, unprompted replies), so each generation is screened. A blocked one is drawn again
 *   with a new rng, at most `attempts` times in all; if every one is blocked, the baby says NO_WORDS instead.
 * - Retraining: `screenerFor(scope)` once per run; progress samples that trip it are shown as NO_WORDS, the
 *   gate's samples too, and `filterGate` refuses the model when more than `maxRate` of its samples trip it.
 */
import type { Logger } from '../log.js';
import type { BlockedWords } from './blocked-words.js';
import type { OutputFilter, Screener } from './output-filter.js';
import type { BabbleRequest, GenerationService } from './types.js';

/** What the baby says when every generation it tried tripped the filter (also shown for a hidden sample). */
export const NO_WORDS = 'The baby has no words for that right now.';

/** Generations tried per request, the first included, before the baby says NO_WORDS. */
export const DEFAULT_ATTEMPTS = 4;

/** Default share of the quality gate's samples that may trip the filter (TRAIN_GATE_MAX_FLAGGED). */
export const DEFAULT_MAX_FLAGGED_RATE = 0.1;

const RNG_SPAN = 2 ** 31;
const SERVER_ID = /^\d{1,20}$/;

export interface ModerationOptions {
  filter: OutputFilter;
  /** The servers' own lists; without, only the built-in list applies. */
  words?: BlockedWords | undefined;
  /** Generations tried per request. Default DEFAULT_ATTEMPTS. */
  attempts?: number;
  /** Uniform in [0, 1): the rng of a retry when the request gave none. Default Math.random. */
  random?: () => number;
  log?: Pick<Logger, 'info'>;
}

/** Anything that hands out generation services per server (the model cache, a fixed service). */
export interface ServiceSource {
  serviceFor(guildId: string | null): Promise<GenerationService>;
}

export interface Moderation {
  /** The servers' own lists (undefined: none on this bot). */
  readonly words: BlockedWords | undefined;
  readonly builtIn: boolean;
  /** The filter for texts sent in a server (null, "base": built-in list only). Rejects if the list can't be read. */
  screenerFor(scope: string | null): Promise<Screener>;
  /** `inner`, with every babble and reply screened for `guildId`. */
  service(inner: GenerationService, guildId: string | null): GenerationService;
  /** `source`, with every service it hands out screened. */
  models<T extends ServiceSource>(source: T): T;
}

/** The rng of try `attempt` (0 = the request's own). */
function rngFor(rng: number | undefined, attempt: number, random: () => number): number | undefined {
  if (attempt === 0) return rng;
  if (rng === undefined) return Math.floor(random() * RNG_SPAN);
  return (rng + attempt * 104_729) % RNG_SPAN;
}

export function createModeration(options: ModerationOptions): Moderation {
  const { filter, words, log } = options;
  const attempts = Math.max(1, Math.floor(options.attempts ?? DEFAULT_ATTEMPTS));
  const random = options.random ?? Math.random;

  async function screenerFor(scope: string | null): Promise<Screener> {
    const own = words && scope !== null && SERVER_ID.test(scope) ? await words.list(scope) : [];
    return filter.screener(own);
  }

  /** The first generation that passes, or NO_WORDS. */
  async function firstAllowed(
    guildId: string | null,
    draw: (rng: number | undefined) => Promise<string>,
    rng: number | undefined,
  ): Promise<string> {
    const screen = await screenerFor(guildId);
    const lists = new Set<string>();
    for (let attempt = 0; attempt < attempts; attempt++) {
      const text = await draw(rngFor(rng, attempt, random));
      const hit = screen(text);
      if (!hit) return text;
      lists.add(hit.list);
    }
    const fields = { guild: guildId, attempts, lists: [...lists] };
    log?.info(fields, 'every generation tripped the word filter: the baby has no words');
    return NO_WORDS;
  }

  function service(inner: GenerationService, guildId: string | null): GenerationService {
    const withRng = <T extends Omit<BabbleRequest, 'seed'>>(req: T, rng: number | undefined): T => {
      const { rng: _old, ...rest } = req;
      return (rng === undefined ? rest : { ...rest, rng }) as T;
    };
    return {
      info: () => inner.info(),
      babble: (req) => firstAllowed(guildId, (rng) => inner.babble(withRng(req, rng)), req.rng),
      reply: (prompt, req = {}) => firstAllowed(guildId, (rng) => inner.reply(prompt, withRng(req, rng)), req.rng),
    };
  }

  return {
    words,
    builtIn: filter.builtIn,
    screenerFor,
    service,
    models(source) {
      const serviceFor = async (guildId: string | null) => service(await source.serviceFor(guildId), guildId);
      return { ...source, serviceFor };
    },
  };
}

/** A sample for display: itself, or NO_WORDS when it trips the filter. */
export function shownSample(sample: string, screen: Screener): string {
  return screen(sample) ? NO_WORDS : sample;
}

/** The quality gate's part that moderation decides (see filterGate). */
export interface FilterCheck {
  /** Samples that tripped the filter. */
  flagged: number;
  /** flagged / samples (0 without samples). */
  rate: number;
  maxRate: number;
  ok: boolean;
}

/**
 * The gate with the filter applied: samples that trip it are replaced by NO_WORDS (they are shown to the admin
 * and kept in the version's history), and when more than `maxRate` of them do, the gate fails with a reason.
 */
export function filterGate<G extends { pass: boolean; reasons: string[]; samples: { texts: string[] } }>(
  gate: G,
  screen: Screener,
  maxRate: number = DEFAULT_MAX_FLAGGED_RATE,
): G & { filter: FilterCheck } {
  const texts = gate.samples.texts;
  const flagged = texts.filter((t) => screen(t) !== undefined).length;
  const rate = texts.length > 0 ? flagged / texts.length : 0;
  const ok = rate <= maxRate;
  const percent = (x: number) => `${Math.round(x * 100)}%`;
  const reasons = ok
    ? gate.reasons
    : [
        ...gate.reasons,
        `its samples trip the word filter (${percent(rate)} of them, at most ${percent(maxRate)} allowed)`,
      ];
  return {
    ...gate,
    pass: gate.pass && ok,
    reasons,
    samples: { ...gate.samples, texts: texts.map((t) => shownSample(t, screen)) },
    filter: { flagged, rate, maxRate, ok },
  };
}
