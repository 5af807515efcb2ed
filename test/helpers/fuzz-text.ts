/**
 * A seeded generator of hostile text for fuzz tests: Unicode of every plane (astral, private use, unassigned),
 * lone surrogates, RTL and bidi controls, control and zero-width characters, combining marks, Discord mentions
 * (@everyone, @here, <@id>, <@!id>, <@&id>, <#id>), markdown and code blocks, and strings up to 10,000 UTF-16
 * units. The same seed gives the same strings, so a failure reproduces from the seed printed with it.
 */
import { mulberry32 } from '../../src/model/weights.js';

export type Rand = () => number;

/** A seeded random source (mulberry32). */
export function seededRand(seed: number): Rand {
  return mulberry32(seed);
}

/** A whole number in [min, max]. */
export function randInt(rand: Rand, min: number, max: number): number {
  return min + Math.floor(rand() * (max - min + 1));
}

export function pick<T>(rand: Rand, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

/** A snowflake-looking id (17–20 digits). */
export function randomId(rand: Rand): string {
  let s = String(randInt(rand, 1, 9));
  const n = randInt(rand, 16, 19);
  for (let i = 0; i < n; i++) s += String(randInt(rand, 0, 9));
  return s;
}

/** One code point from plane 0–16 (BMP without surrogates, then the astral planes incl. private use 15–16). */
function anyPlaneChar(rand: Rand): string {
  const plane = randInt(rand, 0, 16);
  if (plane === 0) {
    let cp = randInt(rand, 0x20, 0xfffd);
    if (cp >= 0xd800 && cp <= 0xdfff) cp -= 0x800;
    return String.fromCodePoint(cp);
  }
  return String.fromCodePoint(plane * 0x10000 + randInt(rand, 0, 0xffff));
}

const CONTROL = [...Array(32).keys()]
  .map((i) => String.fromCharCode(i))
  .concat(['\u007f', '\u0085', '\u009b', '\u0080']);
const ZERO_WIDTH = ['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u180e', '\u034f', '\u00ad'];
const BIDI = [
  '\u200e',
  '\u200f',
  '\u061c',
  '\u202a',
  '\u202b',
  '\u202c',
  '\u202d',
  '\u202e',
  '\u2066',
  '\u2067',
  '\u2068',
  '\u2069',
];
const WORDS = [
  'me',
  'want',
  'cookie',
  'mama',
  'dada',
  'doggy',
  'no',
  'yes',
  'ba',
  'goo',
  'hi',
  'nap',
  'ball',
  'kitty',
  "don't",
  'WANT',
  'Ça',
  'naïve',
  'ÉCOLE',
  'straße',
];
const SCRIPTS = [
  'שלום עולם',
  'مرحبا بالعالم',
  'こんにちは',
  '你好世界',
  'Привет',
  'नमस्ते',
  'ﷺ',
  '𒀱𒀲',
  '𝕳𝖊𝖑𝖑𝖔',
  'Ⓜⓔ',
  'ｆｕｌｌｗｉｄｔｈ',
];
const EMOJI = [
  '👶',
  '🍪',
  '👨‍👩‍👧‍👦',
  '🏳️‍🌈',
  '🇺🇸',
  '👍🏽',
  '❤️',
  '🫠',
  '<:baby:123456789012345678>',
  '<a:dance:123456789012345678>',
];
const MARKDOWN = [
  '**',
  '__',
  '~~',
  '||',
  '*',
  '_',
  '`',
  '```',
  '> ',
  '>>> ',
  '# ',
  '## ',
  '-# ',
  '- ',
  '1. ',
  '\\',
  '[link](https://example.com)',
  '```js\nconsole.log("@everyone")\n```',
  '`@here`',
  '||<@&1>||',
  '<t:1700000000:R>',
  '</babble:123456789012345678>',
  'https://discord.gg/invite',
  'www.example.com/@everyone',
];

export interface FuzzContext {
  /** Ids that mean something here (the bot, a member, a role, a channel): mixed in with random ones. */
  ids?: readonly string[];
}

/** One hostile fragment. */
export function fragment(rand: Rand, ctx: FuzzContext = {}): string {
  const id = () => (ctx.ids && ctx.ids.length > 0 && rand() < 0.5 ? pick(rand, ctx.ids) : randomId(rand));
  switch (randInt(rand, 0, 15)) {
    case 0:
      return pick(rand, WORDS);
    case 1: {
      let s = '';
      for (let n = randInt(rand, 1, 8); n > 0; n--) s += anyPlaneChar(rand);
      return s;
    }
    case 2:
      // A lone surrogate (high or low), or a pair in the wrong order.
      return pick(rand, [
        String.fromCharCode(randInt(rand, 0xd800, 0xdbff)),
        String.fromCharCode(randInt(rand, 0xdc00, 0xdfff)),
        '\udc00\ud800',
      ]);
    case 3:
      return pick(rand, BIDI) + pick(rand, SCRIPTS) + pick(rand, BIDI);
    case 4:
      return pick(rand, CONTROL).repeat(randInt(rand, 1, 3));
    case 5:
      return pick(rand, ZERO_WIDTH).repeat(randInt(rand, 1, 4));
    case 6:
      return pick(rand, [
        '@everyone',
        '@here',
        '@Everyone',
        '@\u200beveryone',
        '＠everyone',
        '@everyone@here',
        '@@everyone',
      ]);
    case 7:
      return pick(rand, [
        `<@${id()}>`,
        `<@!${id()}>`,
        `<@&${id()}>`,
        `<#${id()}>`,
        `<@${id()}`,
        `<@&>`,
        `<@${'9'.repeat(40)}>`,
      ]);
    case 8:
      return pick(rand, MARKDOWN);
    case 9:
      return pick(rand, EMOJI);
    case 10:
      // Zalgo: a letter drowning in combining marks.
      return (
        'a' +
        Array.from({ length: randInt(rand, 1, 30) }, () => String.fromCharCode(randInt(rand, 0x300, 0x36f))).join('')
      );
    case 11:
      return pick(rand, ['\n', '\r\n', '\t', '\u2028', '\u2029', '\u00a0', '\u3000', ' '.repeat(randInt(rand, 2, 40))]);
    case 12:
      return pick(rand, SCRIPTS);
    case 13:
      return pick(rand, [
        '"',
        "'",
        '\\u0000',
        '%s',
        '${x}',
        '{{x}}',
        '<script>',
        '&amp;',
        'null',
        'undefined',
        '__proto__',
        'constructor',
      ]);
    case 14:
      return String.fromCodePoint(pick(rand, [0xfffe, 0xffff, 0x1fffe, 0x10ffff, 0xe0001, 0xe0041, 0xf0000]));
    default:
      return ' ';
  }
}

/** A string of random fragments, at most `maxLength` UTF-16 units (sometimes exactly that long, or a long run of one fragment). */
export function fuzzString(rand: Rand, maxLength: number, ctx: FuzzContext = {}): string {
  const shape = rand();
  let target: number;
  if (shape < 0.05) target = maxLength;
  else if (shape < 0.5) target = randInt(rand, 1, Math.min(maxLength, 40));
  else if (shape < 0.85) target = randInt(rand, 1, Math.min(maxLength, 400));
  else target = randInt(rand, 1, maxLength);
  let s = '';
  if (rand() < 0.1) {
    const f = fragment(rand, ctx) || 'x';
    while (s.length < target) s += f;
  } else {
    while (s.length < target) s += fragment(rand, ctx);
  }
  return s.slice(0, target);
}
