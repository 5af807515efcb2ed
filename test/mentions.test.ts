import { describe, expect, it } from 'vitest';
import { mentionPrompt, shouldAnswer, type MessageFacts } from '../src/discord/mentions.js';

const BOT = '1100000000000000001';

function message(overrides: Partial<MessageFacts> & { mentioned?: string[] } = {}): MessageFacts {
  const mentioned = new Set(overrides.mentioned ?? []);
  return {
    content: overrides.content ?? 'hello',
    author: overrides.author ?? { id: '2200000000000000002', bot: false },
    webhookId: overrides.webhookId ?? null,
    system: overrides.system ?? false,
    mentions: overrides.mentions ?? { users: { has: (id: string) => mentioned.has(id) } },
  };
}

describe('shouldAnswer', () => {
  it('answers a person who mentions the bot, in the text or in the mention list', () => {
    expect(shouldAnswer(message({ content: `<@${BOT}> hi` }), BOT)).toBe(true);
    expect(shouldAnswer(message({ content: `hi <@!${BOT}>` }), BOT)).toBe(true);
    expect(shouldAnswer(message({ content: 'hi', mentioned: [BOT] }), BOT)).toBe(true);
  });

  it('ignores messages that do not mention the bot (other users, roles, @everyone)', () => {
    expect(shouldAnswer(message({ content: 'hi there' }), BOT)).toBe(false);
    expect(
      shouldAnswer(message({ content: '<@3300000000000000003> hi', mentioned: ['3300000000000000003'] }), BOT),
    ).toBe(false);
    expect(shouldAnswer(message({ content: `<@&${BOT}> @everyone` }), BOT)).toBe(false);
  });

  it('never answers bots, itself, webhooks or system messages', () => {
    const content = `<@${BOT}> hi`;
    expect(shouldAnswer(message({ content, author: { id: '4400000000000000004', bot: true } }), BOT)).toBe(false);
    expect(shouldAnswer(message({ content, author: { id: BOT, bot: false } }), BOT)).toBe(false);
    expect(shouldAnswer(message({ content, webhookId: '5500000000000000005' }), BOT)).toBe(false);
    expect(shouldAnswer(message({ content, system: true }), BOT)).toBe(false);
  });
});

describe('mentionPrompt', () => {
  it('removes every mention of the bot and tidies the spaces', () => {
    expect(mentionPrompt(`<@${BOT}>  do you want a cookie? <@!${BOT}>`, BOT)).toBe('do you want a cookie?');
  });

  it('keeps mentions of others (the service decides what to do with them)', () => {
    expect(mentionPrompt(`<@${BOT}> say hi to <@123>`, BOT)).toBe('say hi to <@123>');
  });

  it('is empty when the message was only the mention', () => {
    expect(mentionPrompt(`<@${BOT}>`, BOT)).toBe('');
  });
});
