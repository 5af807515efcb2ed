/**
 * Answering an interaction with text that may take a while: reply directly when it is ready in time, otherwise
 * defer (Discord's 3-second deadline) and edit the deferred reply when it is.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  MessageFlags,
  PermissionFlagsBits,
  type APIEmbed,
  type ChatInputCommandInteraction,
  type RepliableInteraction,
} from 'discord.js';
import { clampContent, noPings } from './message-rules.js';

/** A message body: plain text (clamped to 2,000 characters) or content and embeds. */
export type ReplyBody = string | { content?: string; embeds?: APIEmbed[] };

type Outcome = { ok: true; body: ReplyBody } | { ok: false; error: unknown };

function bodyOf(body: ReplyBody): { content?: string; embeds?: APIEmbed[] } {
  return typeof body === 'string' ? { content: clampContent(body) } : body;
}

/**
 * Waits up to `deferAfterMs` for `work`; replies with its message if it is done, else defers and edits later.
 * Rejects with the work's error (after deferring, if it came late) so the router's boundary can answer.
 * `ephemeral`: only the person who asked sees the answer. Returns how it answered.
 */
export async function replyWhenReady(
  interaction: ChatInputCommandInteraction,
  work: Promise<ReplyBody>,
  deferAfterMs: number,
  options: { ephemeral?: boolean } = {},
): Promise<'replied' | 'deferred'> {
  const outcome: Promise<Outcome> = work.then(
    (body) => ({ ok: true, body }),
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
  const flags = options.ephemeral ? { flags: MessageFlags.Ephemeral as const } : {};

  if (early) {
    if (!early.ok) throw early.error;
    await interaction.reply({ ...bodyOf(early.body), ...flags, allowedMentions: noPings() });
    return 'replied';
  }
  await interaction.deferReply(flags);
  const late = await outcome;
  if (!late.ok) throw late.error;
  await interaction.editReply({ ...bodyOf(late.body), allowedMentions: noPings() });
  return 'deferred';
}

/** An ephemeral answer (only the person who asked sees it) that pings nobody. */
export async function replyEphemeral(
  interaction: RepliableInteraction,
  message: string | { content?: string; embeds?: APIEmbed[] },
): Promise<void> {
  const body = typeof message === 'string' ? { content: clampContent(message) } : message;
  await interaction.reply({ ...body, flags: MessageFlags.Ephemeral, allowedMentions: noPings() });
}

/** The server of a command, or undefined after telling the user that it only works in a server. */
export async function guildOnly(interaction: ChatInputCommandInteraction): Promise<string | undefined> {
  if (interaction.inGuild()) return interaction.guildId;
  await replyEphemeral(interaction, 'This command only works in a server.');
  return undefined;
}

/**
 * Whether the member may manage the server (Manage Server). The command's default permissions hide it from
 * others, but server admins can change who sees a command, so the handler checks again; says no to the member.
 */
export async function requireManageGuild(interaction: ChatInputCommandInteraction): Promise<boolean> {
  if (interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild)) return true;
  await replyEphemeral(interaction, `You need the Manage Server permission to use /${interaction.commandName}.`);
  return false;
}
