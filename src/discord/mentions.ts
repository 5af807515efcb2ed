/**
 * Mention replies: a message that mentions the bot gets a babbled reply primed by what was said.
 */
import type { Message } from 'discord.js';
import type { Logger } from '../log.js';
import type { GenerationService } from '../service/types.js';
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
  service: GenerationService;
  log: Logger;
}

/** Answers one message if it is meant for the bot. Never rejects: failures are logged. */
export async function handleMessage(message: Message, botId: string, { service, log }: MentionContext): Promise<void> {
  if (!shouldAnswer(message, botId)) return;
  const where = { message: message.id, channel: message.channelId, guild: message.guildId, user: message.author.id };
  try {
    const started = Date.now();
    const text = await service.reply(mentionPrompt(message.content, botId));
    await message.reply({ content: clampContent(text), allowedMentions: noPingsReply() });
    log.info({ ...where, ms: Date.now() - started }, 'mention answered');
  } catch (error) {
    log.error({ ...where, err: error }, 'mention reply failed');
  }
}
