/**
 * Server-like text for the retrain figures: what a server might have collected, about `chars` characters, one
 * message per entry, deterministic for a seed. Two halves, interleaved:
 *  - baby talk in the corpus's own style that the base model never trained on: lines of buildCorpus() with other
 *    seeds (src/model/corpus.ts templates), minus every line of data/corpus.txt, no line twice;
 *  - server chatter in baby grammar with the server's own words (games, voice chat, raids, memes, member names),
 *    from the templates below.
 * Messages are distinct; the quality gate's word check learns the server's words from the text itself.
 */
import { buildCorpus } from '../src/model/corpus.js';
import { mulberry32 } from '../src/model/weights.js';

const NAMES = [
  'ann',
  'bo',
  'cy',
  'dee',
  'eli',
  'fox',
  'gus',
  'ivy',
  'jo',
  'kai',
  'lu',
  'max',
  'nia',
  'oz',
  'pip',
  'quin',
  'rue',
  'sam',
];
const GAMES = [
  'minecraft',
  'mario kart',
  'among us',
  'fortnite',
  'zelda',
  'chess',
  'tetris',
  'pokemon',
  'uno',
  'roblox',
];
const THINGS = [
  'pizza',
  'the raid',
  'the stream',
  'voice chat',
  'the meme',
  'the new map',
  'boss fight',
  'movie night',
  'the playlist',
  'snacks',
  'the squad',
  'emotes',
];
const WHEN = ['tonight', 'now', 'later', 'tomorrow', 'after school', 'on friday', 'this weekend', 'again', 'soon'];
const FEEL = ['sleepy', 'happy', 'hungry', 'silly', 'grumpy', 'excited', 'tired', 'sad', 'mad'];
const OPENERS = ['gg', 'lol', 'brb', 'omg', 'yay', 'uh oh', 'hi', 'bye', 'wow', 'oops', 'hehe'];

type Template = (pick: <T>(xs: readonly T[]) => T) => string;

const CHATTER: readonly Template[] = [
  (p) => `me want play ${p(GAMES)} ${p(WHEN)}`,
  (p) => `${p(OPENERS)} ${p(NAMES)}`,
  (p) => `${p(NAMES)} come to ${p(THINGS)}`,
  (p) => `who want ${p(THINGS)} ${p(WHEN)}?`,
  (p) => `me love ${p(THINGS)}`,
  (p) => `${p(NAMES)} carry us in ${p(GAMES)}`,
  (p) => `${p(OPENERS)}, me ${p(FEEL)} after ${p(THINGS)}`,
  (p) => `${p(THINGS)} is so good`,
  (p) => `${p(NAMES)} and ${p(NAMES)} in voice chat`,
  (p) => `no more ${p(GAMES)} for ${p(NAMES)}!`,
  (p) => `${p(NAMES)} win at ${p(GAMES)} ${p(WHEN)}`,
  (p) => `me ${p(FEEL)}. ${p(OPENERS)}`,
  (p) => `where ${p(NAMES)}? ${p(THINGS)} start ${p(WHEN)}`,
  (p) => `${p(OPENERS)} ${p(OPENERS)}, ${p(THINGS)} ${p(WHEN)}`,
];

/** Characters of a message list as the trainer sees it (one line each, a newline after each). */
export function textChars(messages: readonly string[]): number {
  return messages.reduce((n, m) => n + m.length + 1, 0);
}

/**
 * About `chars` characters (at least that many, at most one message more) of distinct server-like messages, none
 * of them a line of `baseLines` (the base corpus). Deterministic for `seed`.
 */
export function serverLikeText(chars: number, baseLines: readonly string[], seed = 1): string[] {
  if (!(chars > 0) || !Number.isFinite(chars))
    throw new RangeError(`serverLikeText: chars must be a positive number (got ${chars})`);
  const seen = new Set(baseLines);
  const rand = mulberry32(seed ^ 0x5e77e5);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const out: string[] = [];
  let total = 0;
  const take = (line: string): boolean => {
    if (seen.has(line)) return false;
    seen.add(line);
    out.push(line);
    total += line.length + 1;
    return true;
  };
  let corpusSeed = seed + 1;
  let babyLines: string[] = [];
  let misses = 0;
  while (total < chars) {
    if (out.length % 2 === 0) {
      // Baby talk the base never saw: the next unseen line of a fresh corpus build.
      for (;;) {
        const line = babyLines.pop();
        if (line === undefined) {
          babyLines = buildCorpus(corpusSeed++).reverse();
          continue;
        }
        if (take(line)) break;
      }
    } else if (!take(pick(CHATTER)(pick)) && ++misses > 100_000) {
      // a repeat: the next round draws chatter again (the halves alternate on what was taken)
      throw new Error('serverLikeText: the chatter templates ran out of distinct lines');
    }
  }
  return out;
}
