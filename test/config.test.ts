import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND_CHOICES, ConfigError, DEFAULT_API_URL, parseConfig } from '../src/config.js';
import { BACKEND_NAMES } from '../src/model/backend.js';

const TOKEN = 'MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB';
let modelDir: string;

beforeAll(() => {
  modelDir = mkdtempSync(path.join(tmpdir(), 'babble-config-'));
});
afterAll(() => rmSync(modelDir, { recursive: true, force: true }));

function problems(env: Record<string, string | undefined>): readonly string[] {
  try {
    parseConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('parseConfig', () => {
  it('fills in the defaults when only the token and model folder are given', () => {
    const config = parseConfig({ DISCORD_TOKEN: TOKEN, MODEL_DIR: modelDir });
    expect(config).toEqual({
      discordToken: TOKEN,
      discordApiUrl: DEFAULT_API_URL,
      logLevel: 'info',
      devGuildId: undefined,
      modelDir,
      backend: undefined,
    });
  });

  it('reads every variable, trimming spaces, dropping a "Bot " prefix and a trailing slash', () => {
    const config = parseConfig({
      DISCORD_TOKEN: ` Bot ${TOKEN} `,
      DISCORD_API_URL: 'http://127.0.0.1:3000/api/',
      LOG_LEVEL: 'DEBUG',
      DEV_GUILD_ID: '123456789012345678',
      MODEL_DIR: modelDir,
      BABBLE_BACKEND: 'cpu',
    });
    expect(config).toEqual({
      discordToken: TOKEN,
      discordApiUrl: 'http://127.0.0.1:3000/api',
      logLevel: 'debug',
      devGuildId: '123456789012345678',
      modelDir,
      backend: 'cpu',
    });
  });

  it('says in one line where to get a token when DISCORD_TOKEN is missing or blank', () => {
    for (const value of [undefined, '', '   ']) {
      const list = problems({ DISCORD_TOKEN: value, MODEL_DIR: modelDir });
      expect(list).toHaveLength(1);
      expect(list[0]).toContain('DISCORD_TOKEN is missing');
      expect(list[0]).toContain('https://discord.com/developers/applications');
      expect(list[0]).toContain('Reset Token');
      expect(list[0]).not.toContain('\n');
    }
  });

  it('rejects something that is not shaped like a bot token (e.g. a client secret)', () => {
    const list = problems({ DISCORD_TOKEN: 'abcdefghijklmnopqrstuvwxyz012345', MODEL_DIR: modelDir });
    expect(list).toHaveLength(1);
    expect(list[0]).toMatch(/DISCORD_TOKEN does not look like a bot token/);
  });

  it('collects every bad field, one line each, not just the first', () => {
    const list = problems({
      DISCORD_API_URL: 'ftp://example.com',
      LOG_LEVEL: 'loud',
      DEV_GUILD_ID: 'my-server',
      MODEL_DIR: path.join(modelDir, 'missing'),
      BABBLE_BACKEND: 'gpu',
    });
    expect(list).toHaveLength(6);
    const fields = ['DISCORD_TOKEN', 'DISCORD_API_URL', 'LOG_LEVEL', 'DEV_GUILD_ID', 'MODEL_DIR', 'BABBLE_BACKEND'];
    fields.forEach((field, i) => expect(list[i]).toMatch(new RegExp(`^${field} `)));
    for (const line of list) expect(line).not.toContain('\n');
  });

  it('resolves a relative MODEL_DIR against the given cwd', () => {
    const config = parseConfig({ DISCORD_TOKEN: TOKEN, MODEL_DIR: path.basename(modelDir) }, { cwd: path.dirname(modelDir) });
    expect(config.modelDir).toBe(path.basename(modelDir));
    expect(() => parseConfig({ DISCORD_TOKEN: TOKEN, MODEL_DIR: path.basename(modelDir) }, { cwd: '/' })).toThrow(/MODEL_DIR/);
  });

  it('does not require the model folder when asked not to (command deployment)', () => {
    const config = parseConfig({ DISCORD_TOKEN: TOKEN, MODEL_DIR: path.join(modelDir, 'missing') }, { requireModelDir: false });
    expect(config.modelDir).toBe(path.join(modelDir, 'missing'));
  });

  it('offers the same backend choices as the backend module', () => {
    expect([...BACKEND_CHOICES]).toEqual([...BACKEND_NAMES]);
  });
});
