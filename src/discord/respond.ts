/**
 * Answering an interaction with text that may take a while: reply directly when it is ready in time, otherwise
 * defer (Discord's 3-second deadline) and edit the deferred reply when it is.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChatInputCommandInteraction } from 'discord.js';
import { clampContent, noPings } from './safety.js';

type Outcome = { ok: true; text: string } | { ok: false; error: unknown };

/**
 * Waits up to `deferAfterMs` for `work`; replies with its text if it is done, else defers and edits later.
 * Rejects with the work's error (after deferring, if it came late) so the router's boundary can answer.
 * Returns how it answered.
 */
export async function replyWhenReady(
  interaction: ChatInputCommandInteraction,
  work: Promise<string>,
  deferAfterMs: number,
): Promise<'replied' | 'deferred'> {
  const outcome: Promise<Outcome> = work.then(
    (text) => ({ ok: true, text }),
    (error: unknown) => ({ ok: false, error }),
  );
  const timer = new AbortController();
  const early = await Promise.race([
    outcome,
    sleep(deferAfterMs, undefined, { signal: timer.signal }).then(
      () => undefined,
      () => undefined,
    ),
  ]);
  timer.abort();

  if (early) {
    if (!early.ok) throw early.error;
    await interaction.reply({ content: clampContent(early.text), allowedMentions: noPings() });
    return 'replied';
  }
  await interaction.deferReply();
  const late = await outcome;
  if (!late.ok) throw late.error;
  await interaction.editReply({ content: clampContent(late.text), allowedMentions: noPings() });
  return 'deferred';
}
