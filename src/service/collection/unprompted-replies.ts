/**
 * Unprompted replies: whether the baby babbles back to a message nobody addressed to it — a person who has not
 * opted out, in a collection channel, the channel's cooldown passed, and the dice say so (the server's reply
 * chance). The cooldowns live in this process's memory.
 */
import { withDefaults } from '../settings.js';
import { key, type CollectionContext } from './layout.js';
import type { IncomingMessage } from './ingest-queue.js';

export interface UnpromptedReply {
  temperature: number;
}

export function createUnpromptedReplies(ctx: Pick<CollectionContext, 'store' | 'now'>, random: () => number) {
  /** Last unprompted reply per channel (guild:channel → epoch ms). */
  const lastReply = new Map<string, number>();

  /**
   * Whether to babble a reply to this message without being asked. Starts the channel's cooldown when it says yes.
   */
  async function decide(
    message: Pick<IncomingMessage, 'guildId' | 'channelId' | 'authorId' | 'human'>,
  ): Promise<UnpromptedReply | undefined> {
    if (!message.human) return undefined;
    const { guildId, channelId, authorId } = message;
    const [channel, optedOut, stored] = await ctx.store.getMany<unknown>([
      key.channel(guildId, channelId),
      key.optOut(guildId, authorId),
      key.settings(guildId),
    ]);
    if (channel === undefined || optedOut !== undefined) return undefined;
    const settings = withDefaults(stored);
    if (settings.replyChance <= 0) return undefined;
    const cooldownKey = `${guildId}:${channelId}`;
    const t = ctx.now();
    const last = lastReply.get(cooldownKey);
    if (last !== undefined && t - last < settings.cooldownSeconds * 1000) return undefined;
    if (random() * 100 >= settings.replyChance) return undefined;
    lastReply.set(cooldownKey, t);
    if (lastReply.size > 10_000) {
      for (const [k, at] of lastReply) if (t - at > 86_400_000) lastReply.delete(k);
    }
    return { temperature: settings.temperature };
  }

  /** Forgets the cooldowns of a server (it was purged). */
  function forgetServer(guildId: string): void {
    for (const k of lastReply.keys()) if (k.startsWith(`${guildId}:`)) lastReply.delete(k);
  }

  return { decide, forgetServer };
}
