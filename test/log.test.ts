import { DiscordAPIError } from 'discord.js';
import { describe, expect, it } from 'vitest';
import { createLogger, redactPathTokens } from '../src/log.js';

function capture(level: Parameters<typeof createLogger>[0]) {
  const lines: string[] = [];
  const log = createLogger(level, {
    write: (s: string) => {
      lines.push(s);
    },
  });
  return { log, lines };
}

describe('createLogger', () => {
  it('writes one JSON line per event, with level, time, message and fields', () => {
    const { log, lines } = capture('info');
    log.info({ command: 'babble' }, 'command done');
    log.warn('careful');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l.endsWith('\n') && !l.slice(0, -1).includes('\n')).toBe(true);
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(first).toMatchObject({ level: 30, msg: 'command done', command: 'babble', name: 'babble' });
    expect(Number.isNaN(Date.parse(String(first.time)))).toBe(false);
  });

  it('drops events below the configured level', () => {
    const { log, lines } = capture('warn');
    log.info('quiet');
    log.debug('quieter');
    log.error('loud');
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['loud']);
  });

  it('keeps an error stack on one line', () => {
    const { log, lines } = capture('info');
    log.error({ err: new Error('boom') }, 'failed');
    expect(lines).toHaveLength(1);
    expect((JSON.parse(lines[0]!) as { err: { stack: string } }).err.stack).toContain('boom');
  });

  it('never writes a token it is handed by mistake', () => {
    const { log, lines } = capture('info');
    log.info({ token: 'secret-token', config: { discordToken: 'secret-token' } }, 'oops');
    expect(lines.join('')).not.toContain('secret-token');
  });
});

describe('what the log never carries', () => {
  const INTERACTION_TOKEN = 'aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OmZha2U';
  const WEBHOOK_TOKEN = 'd2ViaG9vay10b2tlbi1mb3ItdGVzdHMtb25seQ';
  const SAID = 'zqxq-what-a-person-said-zqxq';

  function failedCall(): DiscordAPIError {
    return new DiscordAPIError(
      {
        message: 'Invalid Form Body',
        code: 50035,
        errors: { content: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'too long' }] } },
      },
      50035,
      400,
      'POST',
      `https://discord.com/api/v10/interactions/123456789012345678/${INTERACTION_TOKEN}/callback`,
      {
        body: { type: 4, data: { content: `${SAID} goo goo` } },
        files: [{ name: 'loss.png', data: Buffer.alloc(2048) }],
      },
    );
  }

  it('redacts interaction and webhook tokens in error URLs, url fields and messages, at every level', () => {
    for (const level of ['info', 'trace'] as const) {
      const { log, lines } = capture(level);
      log.error({ err: failedCall() }, 'command failed');
      log.warn({ url: `/webhooks/1100000000000000001/${WEBHOOK_TOKEN}/messages/@original` }, 'rate limited');
      log.error(`could not edit /webhooks/1100000000000000001/${WEBHOOK_TOKEN}/messages/@original`);
      const out = lines.join('');
      expect(out).not.toContain(INTERACTION_TOKEN);
      expect(out).not.toContain(WEBHOOK_TOKEN);
      const err = (JSON.parse(lines[0]!) as { err: { url: string; code: number; message: string } }).err;
      expect(err.url).toBe('https://discord.com/api/v10/interactions/123456789012345678/[redacted]/callback');
      expect(err).toMatchObject({ code: 50035, message: expect.stringContaining('Invalid Form Body') });
      expect((JSON.parse(lines[1]!) as { url: string }).url).toBe(
        '/webhooks/1100000000000000001/[redacted]/messages/@original',
      );
    }
  });

  it("leaves discord.js's route templates (:id/:token) as they are", () => {
    const { log, lines } = capture('info');
    log.warn({ route: '/interactions/:id/:token/callback' }, 'rate limited');
    expect((JSON.parse(lines[0]!) as { route: string }).route).toBe('/interactions/:id/:token/callback');
  });

  it('drops the body of a failed request (what was being said) at info, and keeps only its JSON at debug', () => {
    const info = capture('info');
    info.log.error({ err: failedCall() }, 'command failed');
    expect(info.lines.join('')).not.toContain(SAID);
    expect(JSON.parse(info.lines[0]!).err.requestBody).toBeUndefined();

    const debug = capture('debug');
    debug.log.error({ err: failedCall() }, 'command failed');
    const err = (JSON.parse(debug.lines[0]!) as { err: { requestBody: { data: { content: string } } } }).err;
    expect(err.requestBody.data.content).toContain(SAID);
    expect(debug.lines[0]).not.toContain('loss.png');
  });

  it('finds the tokens in any text: redactPathTokens', () => {
    expect(
      redactPathTokens(`POST /interactions/1/${INTERACTION_TOKEN}/callback and /webhooks/2/${WEBHOOK_TOKEN}?wait=true`),
    ).toBe('POST /interactions/1/[redacted]/callback and /webhooks/2/[redacted]?wait=true');
    expect(redactPathTokens('/channels/123/messages')).toBe('/channels/123/messages');
  });
});
