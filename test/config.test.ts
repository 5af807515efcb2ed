import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND_CHOICES, ConfigError, DEFAULT_API_URL, DEFAULT_RETENTION_DAYS, DEFAULT_STORAGE_URL, parseConfig } from '../src/config.js';
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
      storageUrl: DEFAULT_STORAGE_URL,
      retentionDays: DEFAULT_RETENTION_DAYS,
    });
    expect(DEFAULT_STORAGE_URL).toMatch(/^sqlite:\/\/var\//);
    expect(DEFAULT_RETENTION_DAYS).toBe(90);
  });

  it('reads every variable, trimming spaces, dropping a "Bot " prefix and a trailing slash', () => {
    const config = parseConfig({
      DISCORD_TOKEN: ` Bot ${TOKEN} `,
      DISCORD_API_URL: 'http://127.0.0.1:3000/api/',
      LOG_LEVEL: 'DEBUG',
      DEV_GUILD_ID: '123456789012345678',
      MODEL_DIR: modelDir,
      BABBLE_BACKEND: 'cpu',
      STORAGE_URL: ' redis://127.0.0.1:6379 ',
      RETENTION_DAYS: '30',
    });
    expect(config).toEqual({
      discordToken: TOKEN,
      discordApiUrl: 'http://127.0.0.1:3000/api',
      logLevel: 'debug',
      devGuildId: '123456789012345678',
      modelDir,
      backend: 'cpu',
      storageUrl: 'redis://127.0.0.1:6379',
      retentionDays: 30,
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
      STORAGE_URL: 'postgres://db/babble',
      RETENTION_DAYS: '0',
    });
    expect(list).toHaveLength(8);
    const fields = ['DISCORD_TOKEN', 'DISCORD_API_URL', 'LOG_LEVEL', 'DEV_GUILD_ID', 'MODEL_DIR', 'BABBLE_BACKEND', 'STORAGE_URL', 'RETENTION_DAYS'];
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

  it('accepts sqlite:// (relative or absolute) and redis:// storage, and whole retention days from 1 to 3650', () => {
    for (const url of ['sqlite://var/x.sqlite', 'sqlite:///tmp/x.sqlite', 'redis://localhost:6379', 'rediss://u:p@host:6380/2']) {
      expect(parseConfig({ DISCORD_TOKEN: TOKEN, MODEL_DIR: modelDir, STORAGE_URL: url }).storageUrl).toBe(url);
    }
    for (const days of ['1', '3650']) expect(parseConfig({ DISCORD_TOKEN: TOKEN, MODEL_DIR: modelDir, RETENTION_DAYS: days }).retentionDays).toBe(Number(days));
    for (const days of ['3651', '1.5', '-3', 'ninety']) {
      expect(problems({ DISCORD_TOKEN: TOKEN, MODEL_DIR: modelDir, RETENTION_DAYS: days })).toEqual([expect.stringMatching(/^RETENTION_DAYS .*1 to 3650/)]);
    }
    expect(problems({ DISCORD_TOKEN: TOKEN, MODEL_DIR: modelDir, STORAGE_URL: 'sqlite:/x' })).toEqual([expect.stringMatching(/^STORAGE_URL must be sqlite:/)]);
  });

  it('offers the same backend choices as the backend module', () => {
    expect([...BACKEND_CHOICES]).toEqual([...BACKEND_NAMES]);
  });
});
