import { describe, expect, it } from 'vitest';
import {
  clampContent,
  clampEmbed,
  clampText,
  EMBED_LIMITS,
  embedLength,
  MAX_CONTENT,
  noPings,
  noPingsReply,
} from '../src/discord/message-rules.js';

describe('no pings', () => {
  it('parses no mentions at all, and message replies do not ping the author', () => {
    expect(noPings()).toEqual({ parse: [] });
    expect(noPingsReply()).toEqual({ parse: [], repliedUser: false });
  });

  it('hands out a fresh object each time, so no caller can change what the next one gets', () => {
    const a = noPings();
    a.parse = ['everyone'];
    expect(noPings()).toEqual({ parse: [] });
  });
});

describe('clampText / clampContent', () => {
  it('leaves text within the limit as it is', () => {
    expect(clampText('hello', 5)).toBe('hello');
    expect(clampContent('ba ba')).toBe('ba ba');
  });

  it('cuts longer text to the limit, marking the cut', () => {
    const out = clampText('abcdefghij', 5);
    expect(out).toHaveLength(5);
    expect(out).toBe('abcd…');
    expect(clampContent('x'.repeat(MAX_CONTENT + 50))).toHaveLength(MAX_CONTENT);
  });

  it('never splits a surrogate pair', () => {
    const out = clampText(`abc${'😀'.repeat(3)}`, 5); // a b c \ud83d\ude00 ...: the cut falls inside an emoji
    expect(out.length).toBeLessThanOrEqual(5);
    expect(out).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
  });

  it('never returns empty content (Discord rejects empty messages)', () => {
    expect(clampContent('')).not.toBe('');
    expect(clampContent('   ').trim()).not.toBe('');
  });
});

describe('clampEmbed', () => {
  it('cuts each part to its own limit and keeps at most 25 fields', () => {
    const embed = clampEmbed({
      title: 't'.repeat(300),
      description: 'd'.repeat(5000),
      fields: Array.from({ length: 30 }, (_, i) => ({ name: `n${i}`, value: 'v'.repeat(2000) })),
    });
    expect(embed.title!.length).toBeLessThanOrEqual(EMBED_LIMITS.title);
    expect(embed.description!.length).toBeLessThanOrEqual(EMBED_LIMITS.description);
    expect(embed.fields!.length).toBeLessThanOrEqual(EMBED_LIMITS.fields);
    for (const f of embed.fields!) expect(f.value.length).toBeLessThanOrEqual(EMBED_LIMITS.fieldValue);
    expect(embedLength(embed)).toBeLessThanOrEqual(EMBED_LIMITS.total);
  });

  it('gives empty field values a visible placeholder (Discord rejects empty ones)', () => {
    const embed = clampEmbed({ fields: [{ name: 'x', value: '' }] });
    expect(embed.fields![0]!.value.length).toBeGreaterThan(0);
  });

  it('keeps a small embed as it is', () => {
    const small = { title: 'hi', description: 'there', fields: [{ name: 'a', value: 'b', inline: true }] };
    expect(clampEmbed(small)).toEqual(small);
  });
});
