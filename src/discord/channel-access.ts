/**
 * Who can see a channel, for /collect set: collection is switched on only in a channel the member asking can
 * view, and that the bot can read (View Channel and Read Message History). Permissions are computed by
 * discord.js from the cached server roles and the channel's overwrites; when they can't be, the answer is no.
 */
import { PermissionFlagsBits, type GuildBasedChannel, type GuildMember } from 'discord.js';

/** What the bot needs in a collection channel to read what is said there. */
export const BOT_READ_PERMISSIONS = [PermissionFlagsBits.ViewChannel, PermissionFlagsBits.ReadMessageHistory] as const;

/** Why collection can't be switched on in `channel` for `member`, as one sentence, or undefined when it can. */
export function collectionAccessProblem(
  channel: GuildBasedChannel,
  member: GuildMember | string,
  me: GuildMember | null,
): string | undefined {
  const theirs = channel.permissionsFor(member);
  if (!theirs?.has(PermissionFlagsBits.ViewChannel)) {
    return `You can't view <#${channel.id}> yourself, so you can't switch collection on there; collection stays off.`;
  }
  const mine = me ? channel.permissionsFor(me) : null;
  if (!mine?.has([...BOT_READ_PERMISSIONS])) {
    return (
      `I can't read <#${channel.id}> (I need View Channel and Read Message History there), ` +
      'so collection stays off.'
    );
  }
  return undefined;
}
