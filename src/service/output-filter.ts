/**
 * The word filter every generated text passes before it is sent: the maintained `obscenity` library's English
 * profanity and slur list (it sees through obfuscated spellings: leetspeak "sh1t", stretched letters
 * "fuuuck", look-alike characters and case), on unless switched off, plus a server's own blocked words, matched
 * the same way (a blocked "cookie" also catches "c00kie", "COOKIES" and "fortunecookie"). Pure and synchronous:
 * where the words come from and what happens to a blocked text is moderation.ts's business.
 */
import { DataSet, englishDataset, englishRecommendedTransformers, parseRawPattern, RegExpMatcher } from 'obscenity';

/** Whether a text may be sent: undefined when it may, else which list tripped (never the text itself). */
export type Screener = (text: string) => FilterHit | undefined;

export interface FilterHit {
  /** 'built-in': obscenity's English list; 'server': the server's own blocked words. */
  list: 'built-in' | 'server';
}

export interface OutputFilterOptions {
  /** obscenity's English list (OUTPUT_FILTER). Default true. */
  builtIn?: boolean;
  /** Compiled server word lists kept (one per distinct list). Default 256. */
  cacheSize?: number;
}

export interface OutputFilter {
  readonly builtIn: boolean;
  /** A screener for texts sent where `serverWords` (already checked, lowercase letters) are blocked. */
  screener(serverWords: readonly string[]): Screener;
}

function serverMatcher(words: readonly string[]): RegExpMatcher {
  const dataset = new DataSet<{ word: string }>();
  // Server words are letters only (blocked-words.ts), so none holds pattern syntax ([, ], ?, |, \).
  for (const word of words) dataset.addPhrase((p) => p.setMetadata({ word }).addPattern(parseRawPattern(word)));
  return new RegExpMatcher({ ...dataset.build(), ...englishRecommendedTransformers });
}

export function createOutputFilter(options: OutputFilterOptions = {}): OutputFilter {
  const builtIn = options.builtIn ?? true;
  const cacheSize = Math.max(1, options.cacheSize ?? 256);
  const english = builtIn
    ? new RegExpMatcher({ ...englishDataset.build(), ...englishRecommendedTransformers })
    : undefined;
  /** Compiled server lists by their words joined, least recently used first. */
  const compiled = new Map<string, RegExpMatcher>();

  function matcherFor(words: readonly string[]): RegExpMatcher | undefined {
    if (words.length === 0) return undefined;
    const cacheKey = words.join('\n');
    let matcher = compiled.get(cacheKey);
    if (matcher) compiled.delete(cacheKey);
    else matcher = serverMatcher(words);
    compiled.set(cacheKey, matcher);
    while (compiled.size > cacheSize) compiled.delete(compiled.keys().next().value!);
    return matcher;
  }

  return {
    builtIn,
    screener(serverWords) {
      const server = matcherFor(serverWords);
      return (text) => {
        if (english?.hasMatch(text)) return { list: 'built-in' };
        if (server?.hasMatch(text)) return { list: 'server' };
        return undefined;
      };
    },
  };
}
