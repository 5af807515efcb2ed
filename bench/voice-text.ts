/**
 * The scripted server of issue 15's targets: 300 messages built from 12 baby-style lines that use two words the base
 * corpus never has ("dinosaur", "tractor"), each line with a few endings, in a fixed order. Used by the server_voice
 * bench section (bench/server-voice.ts) and test/server-voice.test.ts.
 */

/** The two words the base corpus lacks. */
export const VOICE_NEW_WORDS = ['dinosaur', 'tractor'] as const;

export const VOICE_LINES: readonly string[] = Object.freeze([
  'me want dinosaur',
  'big tractor go roar',
  'me want tractor',
  'dinosaur go roar',
  'me see dinosaur',
  'tractor go vroom vroom',
  'where tractor go?',
  'dinosaur so big',
  'me got tractor',
  'red tractor',
  'dinosaur eat cookie',
  'night night dinosaur',
]);

const ENDINGS = ['', '!', ' now', ' please', ' again'] as const;

/** `count` messages (default 300): line i mod 12, ending (i div 12) mod 5. */
export function voiceServerText(count = 300): string[] {
  return Array.from(
    { length: count },
    (_, i) => `${VOICE_LINES[i % VOICE_LINES.length]!}${ENDINGS[Math.floor(i / VOICE_LINES.length) % ENDINGS.length]!}`,
  );
}
