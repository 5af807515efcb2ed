/**
 * Mention replies: a message that mentions the bot gets a babbled reply primed by what was said, from the server's
 * current model (the base in DMs and for a server without its own).
 */
import type { Message } from 'discord.js';
import type { Logger } from '../log.js';
import type { CollectionService } from '../service/collection.js';
import { napMessage, type ReplyLimiter } from '../service/ratelimit.js';
import type { ModelSource } from './command.js';
import { checkReplyLimit } from './limits.js';
import { clampContent, noPingsReply } from './safety.js';

/** The parts of a message that decide whether the bot answers it. */
export interface MessageFacts {
  content: string;
  author: { id: string; bot: boolean };
  webhookId: string | null;
  system: boolean;
  mentions: { users: { has(id: string): boolean } };
}

function mentionPattern(botId: string): RegExp {
  return new RegExp(`<@!?${botId}>`, 'g');
}

/** Whether the bot should answer: it is mentioned, and the message is from a person (not a bot, webhook, system or itself). */
export function shouldAnswer(message: MessageFacts, botId: string): boolean {
  if (message.author.bot || message.author.id === botId) return false;
  if (message.webhookId !== null || message.system) return false;
  return message.mentions.users.has(botId) || mentionPattern(botId).test(message.content);
}

/** What was said to the bot: the message without its mentions of the bot. */
export function mentionPrompt(content: string, botId: string): string {
  return content.replace(mentionPattern(botId), ' ').replace(/\s+/g, ' ').trim();
}

export interface MentionContext {
  /** The server's model: `serviceFor(guildId)`. */
  models: Pick<ModelSource, 'serviceFor'>;
  log: Logger;
  /** For the server's temperature setting (the default temperature without it, or if it can't be read). */
  collection?: Pick<CollectionService, 'getSettings'>;
  /** Rate limits (none without): a refused mention gets at most one nap reply per window, then nothing. */
  limiter?: ReplyLimiter | undefined;
}

/** The temperature a server set for replies, or undefined (the service's default) outside servers or on failure. */
export async function serverTemperature(
  collection: Pick<CollectionService, 'getSettings'> | undefined,
  guildId: string | null,
  log: Pick<Logger, 'warn'>,
): Promise<number | undefined> {
  if (!collection || !guildId) return undefined;
  try {
    return (await collection.getSettings(guildId)).temperature;
  } catch (error) {
    log.warn({ err: error, guild: guildId }, 'could not read the server settings; using the default temperature');
    return undefined;
  }
}

/** Answers one message if it is meant for the bot. Never rejects: failures are logged. */
export async function handleMessage(message: Message, botId: string, { models, log, collection, limiter }: MentionContext): Promise<void> {
  if (!shouldAnswer(message, botId)) return;
  const where = { message: message.id, channel: message.channelId, guild: message.guildId, user: message.author.id };
  try {
    const started = Date.now();
    const verdict = await checkReplyLimit(limiter, { kind: 'mention', userId: message.author.id, guildId: message.guildId }, log, where);
    if (!verdict.allowed) {
      if (verdict.notify) await message.reply({ content: napMessage(verdict), allowedMentions: noPingsReply() });
      return;
    }
    const temperature = await serverTemperature(collection, message.guildId, log);
    const service = await models.serviceFor(message.guildId);
    const text = await service.reply(mentionPrompt(message.content, botId), temperature !== undefined ? { temperature } : {});
    await message.reply({ content: clampContent(text), allowedMentions: noPingsReply() });
    log.info({ ...where, ms: Date.now() - started }, 'mention answered');
  } catch (error) {
    log.error({ ...where, err: error }, 'mention reply failed');
  }
}
