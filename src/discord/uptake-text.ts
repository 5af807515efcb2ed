/**
 * The words of issue 15's figures in Discord messages: the strength option of /retrain start, and the result
 * message's "server's share" and "new words" lines.
 */
import type { APIEmbedField } from 'discord.js';
import type { UptakeReport } from '../model/uptake.js';
import { DEFAULT_STRENGTH, STRENGTH_SPECS, STRENGTHS, type Strength } from '../training/server-share.js';

const pct = (x: number) => `${Math.round(x * 100)}%`;

/** The choices of `/retrain start strength:`, e.g. "normal (50% server text)". */
export function strengthChoices(): { name: string; value: Strength }[] {
  return STRENGTHS.map((s) => ({
    name: `${s} (${pct(STRENGTH_SPECS[s].share)} server text${s === DEFAULT_STRENGTH ? ', default' : ''})`,
    value: s,
  }));
}

/** "normal strength: 50% of the training text was this server's" */
export function shareLine(strength: Strength | null, share: number | null): string | null {
  if (strength === null || share === null) return null;
  return `${strength} strength: ${pct(share)} of the training text was this server's`;
}

/** Up to 5 new words the model used, and how often; or why there are none. */
export function newWordsField(uptake: UptakeReport | null): APIEmbedField | null {
  if (uptake === null) return null;
  const name = "The server's new words";
  if (uptake.newWords.length === 0)
    return { name, value: "The server's messages have no words the baby didn't know already." };
  const over = `in ${uptake.samples} babbles at temperature ${uptake.temperature}`;
  if (uptake.used.length === 0) {
    const words = uptake.newWords
      .slice(0, 5)
      .map((w) => w.word)
      .join(', ');
    return { name, value: `Not used yet ${over} (the server's new words: ${words}).` };
  }
  const used = uptake.used
    .slice(0, 5)
    .map((w) => `**${w.word}** ×${w.count}`)
    .join(', ');
  return { name, value: `${used} ${over}: ${pct(uptake.newWordShare)} of them use a new word.` };
}

/** " · normal, 50% server text" for a version's line in /model info, from its recorded details; "" without. */
export function historyShare(details: Record<string, unknown>): string {
  const { strength, serverShare } = details;
  return typeof strength === 'string' && typeof serverShare === 'number'
    ? ` · ${strength}, ${pct(serverShare)} server text`
    : '';
}
