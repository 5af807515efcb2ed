/**
 * Mention replies: a message that mentions the bot gets a babbled reply primed by what was said, from the server's
 * current model (the base in DMs and for a server without its own).
 */
import type { Message } from 'discord.js';
import type { Logger } from '../log.js';
import type { CollectionService } from '../service/collection.js';
import { napMessage, type ReplyLimiter } from '../service/rate-limiter.js';
import { serverTemperature } from '../service/settings.js';
import type { ModelSource } from './command.js';
import { checkReplyLimit } from './rate-limit-check.js';
import { clampContent, noPingsReply } from './message-rules.js';
import { handleRefusal, messageTarget, SENDS } from './permissions.js';

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

/**
 * Answers one message if it is meant for the bot. Never rejects: failures are logged; a reply Discord refuses for
 * lack of a permission is logged once per channel and hour, naming the permission (permissions.ts).
 */
export async function handleMessage(
  message: Message,
  botId: string,
  { models, log, collection, limiter }: MentionContext,
): Promise<void> {
  if (!shouldAnswer(message, botId)) return;
  const where = { message: message.id, channel: message.channelId, guild: message.guildId, user: message.author.id };
  try {
    const started = Date.now();
    const verdict = await checkReplyLimit(
      limiter,
      { kind: 'mention', userId: message.author.id, guildId: message.guildId },
      log,
      where,
    );
    if (!verdict.allowed) {
      if (verdict.notify) await message.reply({ content: napMessage(verdict), allowedMentions: noPingsReply() });
      return;
    }
    const temperature = await serverTemperature(collection, message.guildId, log);
    const service = await models.serviceFor(message.guildId);
    const text = await service.reply(
      mentionPrompt(message.content, botId),
      temperature !== undefined ? { temperature } : {},
    );
    await message.reply({ content: clampContent(text), allowedMentions: noPingsReply() });
    log.info({ ...where, ms: Date.now() - started }, 'mention answered');
  } catch (error) {
    const context = { ...where, send: 'mentionReply' };
    const shape = SENDS.mentionReply.shape;
    if (await handleRefusal(error, { log, target: messageTarget(message), shape, context })) return;
    log.error({ ...where, err: error }, 'mention reply failed');
  }
}
