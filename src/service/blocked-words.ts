/**
 * A server's own blocked words (managed with /wordfilter): stored as one row `g:<guild id>:f` in the keyv
 * store, so that the word filter reads a server's whole list with one get per generation, and removing the bot
 * from the server (which deletes everything under `g:<id>:`) deletes the list too. Bounded: at most
 * BLOCKED_WORDS.maxWords words of BLOCKED_WORDS.minLength–maxLength letters. Changes to one server's list run one
 * at a time in this process.
 */
import type { KvStore } from '../storage/kv.js';
import { InvalidRequestError } from './errors.js';

export const BLOCKED_WORDS = { maxWords: 100, minLength: 2, maxLength: 32 } as const;

const SNOWFLAKE = /^\d{1,20}$/;
const LETTERS = /^[a-z]+$/;

function listKey(guildId: string): string {
  if (!SNOWFLAKE.test(guildId)) {
    throw new Error(`guild id must be a Discord id (digits), got ${JSON.stringify(guildId)}`);
  }
  return `g:${guildId}:f`;
}

/** A word as stored (trimmed, lowercase); throws InvalidRequestError with a sentence for the member if it can't be. */
export function checkBlockedWord(raw: string): string {
  const word = raw.trim().toLowerCase();
  const { minLength, maxLength } = BLOCKED_WORDS;
  if (!LETTERS.test(word) || word.length < minLength || word.length > maxLength) {
    throw new InvalidRequestError(
      `A blocked word is one word of ${minLength} to ${maxLength} letters (a–z, no spaces, digits or symbols): ` +
        'look-alike spellings such as digits for letters are caught anyway.',
    );
  }
  return word;
}

/** The stored list, keeping only well-formed words (anything else in the row is ignored). */
function wordsOf(stored: unknown): string[] {
  if (!Array.isArray(stored)) return [];
  const out = new Set<string>();
  for (const w of stored) {
    const fits = typeof w === 'string' && w.length >= BLOCKED_WORDS.minLength && w.length <= BLOCKED_WORDS.maxLength;
    if (fits && LETTERS.test(w)) out.add(w);
    if (out.size >= BLOCKED_WORDS.maxWords) break;
  }
  return [...out].sort();
}

export interface BlockedWords {
  /** The server's words, sorted. Rejects with a StorageError when the store fails. */
  list(guildId: string): Promise<string[]>;
  /** Adds a word; false if it was already there. Throws InvalidRequestError for a bad word or a full list. */
  add(guildId: string, word: string): Promise<boolean>;
  /** Removes a word; false if it wasn't there. */
  remove(guildId: string, word: string): Promise<boolean>;
}

export function createBlockedWords(store: Pick<KvStore, 'get' | 'set' | 'deleteMany'>): BlockedWords {
  const tails = new Map<string, Promise<unknown>>();
  /** One change at a time per server (read, change, write). */
  function serial<T>(guildId: string, task: () => Promise<T>): Promise<T> {
    const result = (tails.get(guildId) ?? Promise.resolve()).then(task);
    const tail = result.catch(() => undefined);
    tails.set(guildId, tail);
    void tail.then(() => {
      if (tails.get(guildId) === tail) tails.delete(guildId);
    });
    return result;
  }

  const list = async (guildId: string) => wordsOf(await store.get(listKey(guildId)));

  return {
    list,
    add(guildId, raw) {
      const word = checkBlockedWord(raw);
      return serial(guildId, async () => {
        const words = await list(guildId);
        if (words.includes(word)) return false;
        if (words.length >= BLOCKED_WORDS.maxWords) {
          throw new InvalidRequestError(
            `This server already blocks ${BLOCKED_WORDS.maxWords} words, the most it can; remove one first.`,
          );
        }
        await store.set(listKey(guildId), [...words, word].sort());
        return true;
      });
    },
    remove(guildId, raw) {
      const word = raw.trim().toLowerCase();
      return serial(guildId, async () => {
        const words = await list(guildId);
        if (!words.includes(word)) return false;
        const rest = words.filter((w) => w !== word);
        if (rest.length === 0) await store.deleteMany([listKey(guildId)]);
        else await store.set(listKey(guildId), rest);
        return true;
      });
    },
  };
}
