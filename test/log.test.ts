import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';

function capture(level: Parameters<typeof createLogger>[0]) {
  const lines: string[] = [];
  const log = createLogger(level, { write: (s: string) => { lines.push(s); } });
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
