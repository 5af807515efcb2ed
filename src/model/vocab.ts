/**
 * The fixed character vocabulary and input normalisation.
 *
 * The vocabulary is closed: lowercase letters, digits, space, newline (end of utterance) and basic punctuation,
 * plus one unknown symbol at index 0. It is saved beside the weights as `vocab.json`, so a model always travels
 * with the exact alphabet it was trained on.
 *
 * An imported vocabulary (a Keras model's `sorted(set(text))`) is built with `{ unknown: false }`: any characters in
 * any order (uppercase included), no unknown symbol, and the newline only if the text had one. Normalisation then
 * keeps what it has as written and drops what it has not.
 */

/** The symbol that stands for any character outside the vocabulary. Never generated. */
export const UNK = '\u0000';
/** End of utterance: one corpus line is one utterance. */
export const EOU = '\n';

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
const PUNCTUATION = ".,!?'-:;()";

/** The default alphabet, in id order. */
export const DEFAULT_CHARS: readonly string[] = [UNK, EOU, ' ', ...PUNCTUATION, ...DIGITS, ...LETTERS];

export interface VocabJson {
  format: 'babble-vocab';
  version: 1;
  /** Characters in id order; index 0 is the unknown symbol unless `unknown` is false. */
  chars: string[];
  /** false: an imported vocabulary without an unknown symbol (absent = true). */
  unknown?: false;
}

export interface VocabularyOptions {
  /** false: no unknown symbol (an imported vocabulary), and the end-of-utterance newline is optional. Default true. */
  unknown?: boolean;
}

export class Vocabulary {
  readonly chars: readonly string[];
  readonly size: number;
  /** Id of the unknown symbol; -1 for a vocabulary without one. */
  readonly unkId: number;
  /** Id of the newline (end of utterance); -1 for an imported vocabulary without one. */
  readonly eouId: number;
  private readonly index: Map<string, number>;

  constructor(chars: readonly string[] = DEFAULT_CHARS, options: VocabularyOptions = {}) {
    const unknown = options.unknown ?? true;
    if (unknown && chars[0] !== UNK) throw new Error('vocabulary: index 0 must be the unknown symbol');
    if (chars.length < 2) throw new Error('vocabulary: needs at least two characters');
    const seen = new Set<string>();
    for (const c of chars) {
      if ([...c].length !== 1) throw new Error(`vocabulary: entry ${JSON.stringify(c)} is not one character`);
      if (seen.has(c)) throw new Error(`vocabulary: duplicate entry ${JSON.stringify(c)}`);
      seen.add(c);
    }
    const eou = chars.indexOf(EOU);
    if (eou < 0 && unknown) throw new Error('vocabulary: the end-of-utterance symbol (newline) is missing');
    this.chars = [...chars];
    this.size = chars.length;
    this.unkId = unknown ? 0 : -1;
    this.eouId = eou;
    this.index = new Map(chars.map((c, i) => [c, i]));
  }

  /** Whether the vocabulary has an unknown symbol (Babble's own do; imported ones do not). */
  get hasUnknown(): boolean {
    return this.unkId >= 0;
  }

  has(char: string): boolean {
    const id = this.index.get(char);
    return id !== undefined && id !== this.unkId;
  }

  /** Id of one character; anything outside the vocabulary is the unknown id (-1 without an unknown symbol). */
  id(char: string): number {
    return this.index.get(char) ?? this.unkId;
  }

  /**
   * Encodes text as written (no normalisation): characters outside the vocabulary become the unknown id, or are
   * left out when the vocabulary has no unknown symbol.
   */
  encode(text: string): Int32Array {
    const chars = [...text];
    const out = new Int32Array(chars.length);
    let n = 0;
    for (const c of chars) {
      const id = this.id(c);
      if (id >= 0) out[n++] = id;
    }
    return n === out.length ? out : out.slice(0, n);
  }

  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const c = this.chars[ids[i]!];
      if (c === undefined) throw new RangeError(`vocabulary: id ${ids[i]} out of range 0..${this.size - 1}`);
      s += ids[i] === this.unkId ? '' : c;
    }
    return s;
  }

  toJSON(): VocabJson {
    const json: VocabJson = { format: 'babble-vocab', version: 1, chars: [...this.chars] };
    if (!this.hasUnknown) json.unknown = false;
    return json;
  }

  static fromJSON(value: unknown): Vocabulary {
    const v = value as Partial<VocabJson> | null;
    if (!v || typeof v !== 'object' || v.format !== 'babble-vocab' || v.version !== 1 || !Array.isArray(v.chars)) {
      throw new Error('vocabulary: not a babble-vocab v1 document');
    }
    if (!v.chars.every((c) => typeof c === 'string')) throw new Error('vocabulary: chars must be strings');
    if (v.unknown !== undefined && v.unknown !== false) {
      throw new Error('vocabulary: unknown must be false when present');
    }
    return new Vocabulary(v.chars, { unknown: v.unknown ?? true });
  }
}

// Discord markup and other things that are not words: removed on purpose, before anything else.
const DISCORD_MENTION = /<(?:@[!&]?|#)\d+>/g; // <@id>, <@!id>, <@&role>, <#channel>
const CUSTOM_EMOJI = /<a?:\w{1,32}:\d+>/g; // <:name:id>, <a:name:id>
const SLASH_COMMAND_MENTION = /<\/[\w -]{1,100}:\d+>/g; // </cmd:id>
const TIMESTAMP = /<t:-?\d+(?::[tTdDfFR])?>/g;
const EVERYONE = /@(?:everyone|here)\b/gi;
const URL = /\b(?:https?:\/\/|www\.)\S+/gi;
const TYPOGRAPHIC: Record<string, string> = {
  '\u2018': "'",
  '\u2019': "'",
  '\u201a': "'",
  '\u201b': "'",
  '\u2032': "'",
  '`': "'",
  '\u201c': '',
  '\u201d': '',
  '"': '',
  '\u2010': '-',
  '\u2011': '-',
  '\u2012': '-',
  '\u2013': '-',
  '\u2014': '-',
  '\u2015': '-',
  '\u2026': '...',
  '\u00a1': '!',
  '\u00bf': '?',
  '\u00df': 'ss',
  '\u00e6': 'ae',
  '\u0153': 'oe',
  '\u00f8': 'o',
  '\u0142': 'l',
  '\u0111': 'd',
  '\u00f0': 'd',
  '\u00fe': 'th',
  '\u0131': 'i',
};

export interface NormalizeOptions {
  /** Keep newlines as utterance breaks (training text); otherwise they become spaces (seeds). */
  keepNewlines?: boolean;
}

/**
 * Turns arbitrary text into text over the vocabulary: Discord mentions, custom emoji, URLs removed; a character
 * the vocabulary has is kept as written, any other is case folded and accent-stripped (é → e); typographic quotes and dashes mapped; anything else outside the vocabulary (emoji,
 * control and zero-width characters, other scripts) dropped; runs of spaces collapsed.
 */
export function normalize(text: string, vocab: Vocabulary = DEFAULT_VOCAB, options: NormalizeOptions = {}): string {
  let s = text
    .replace(DISCORD_MENTION, ' ')
    .replace(CUSTOM_EMOJI, ' ')
    .replace(SLASH_COMMAND_MENTION, ' ')
    .replace(TIMESTAMP, ' ')
    .replace(EVERYONE, ' ')
    .replace(URL, ' ')
    .normalize('NFKD');
  let out = '';
  for (const raw of s) {
    if (raw === '\n' || raw === '\r') {
      out += options.keepNewlines ? '\n' : ' ';
    } else if (/\s/u.test(raw)) {
      out += ' ';
    } else if (vocab.has(raw)) {
      out += raw; // kept as written: an imported vocabulary may have uppercase letters
    } else {
      for (const ch of raw.toLowerCase()) {
        const mapped = TYPOGRAPHIC[ch];
        if (mapped !== undefined) {
          for (const m of mapped) if (vocab.has(m)) out += m;
        } else if (vocab.has(ch)) {
          out += ch;
        }
        // else: combining marks (accents after NFKD), emoji, control, zero-width, other scripts: dropped.
      }
    }
  }
  s = out.replace(/\r/g, '');
  if (options.keepNewlines) {
    return s
      .split('\n')
      .map((line) => line.replace(/ {2,}/g, ' ').trim())
      .filter((line) => line.length > 0)
      .join('\n');
  }
  return s.replace(/ {2,}/g, ' ').trimStart();
}

export const DEFAULT_VOCAB = new Vocabulary();
