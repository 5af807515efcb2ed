/**
 * What every message the bot sends must respect: no pings, Discord's length limits, never empty.
 */
import type { APIEmbed, MessageMentionOptions } from 'discord.js';

/** Discord's message content limit. */
export const MAX_CONTENT = 2000;

/** Discord's embed limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits). */
export const EMBED_LIMITS = {
  title: 256,
  description: 4096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footer: 2048,
  author: 256,
  total: 6000,
} as const;

/** Mentions parsed from nothing: @everyone, roles and users in the text stay plain text. */
export function noPings(): MessageMentionOptions {
  return { parse: [] };
}

/** For message replies: no pings, and the author of the message replied to isn't pinged either. */
export function noPingsReply(): MessageMentionOptions {
  return { parse: [], repliedUser: false };
}

/** Cuts text to at most `max` UTF-16 units without splitting a surrogate pair, marking the cut with '…'. */
export function clampText(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, Math.max(0, max - 1));
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** Message content: within 2,000 characters and never empty (Discord rejects empty messages). */
export function clampContent(text: string, fallback = '...'): string {
  const t = text.trim().length > 0 ? text : fallback;
  return clampText(t, MAX_CONTENT);
}

/** An embed cut to Discord's limits: each part on its own, then fields dropped from the end to fit 6,000 in all. */
export function clampEmbed(embed: APIEmbed): APIEmbed {
  const out: APIEmbed = { ...embed };
  if (out.title !== undefined) out.title = clampText(out.title, EMBED_LIMITS.title);
  if (out.description !== undefined) out.description = clampText(out.description, EMBED_LIMITS.description);
  if (out.footer) out.footer = { ...out.footer, text: clampText(out.footer.text, EMBED_LIMITS.footer) };
  if (out.author) out.author = { ...out.author, name: clampText(out.author.name, EMBED_LIMITS.author) };
  if (out.fields) {
    out.fields = out.fields.slice(0, EMBED_LIMITS.fields).map((f) => ({
      ...f,
      name: clampText(f.name.trim() || '\u200b', EMBED_LIMITS.fieldName),
      value: clampText(f.value.trim() || '\u200b', EMBED_LIMITS.fieldValue),
    }));
    while (out.fields.length > 0 && embedLength(out) > EMBED_LIMITS.total) out.fields = out.fields.slice(0, -1);
  }
  if (embedLength(out) > EMBED_LIMITS.total && out.description !== undefined) {
    out.description = clampText(
      out.description,
      Math.max(1, out.description.length - (embedLength(out) - EMBED_LIMITS.total)),
    );
  }
  return out;
}

/** The characters Discord counts towards an embed's 6,000 total. */
export function embedLength(embed: APIEmbed): number {
  let n =
    (embed.title?.length ?? 0) +
    (embed.description?.length ?? 0) +
    (embed.footer?.text.length ?? 0) +
    (embed.author?.name.length ?? 0);
  for (const f of embed.fields ?? []) n += f.name.length + f.value.length;
  return n;
}
