/**
 * `npm run deploy-commands` (runDeployCommands) against the fake Discord: a bulk overwrite, globally or to
 * DEV_GUILD_ID, and clear failures.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commands } from '../src/discord/commands/index.js';
import { runDeployCommands } from '../src/discord/deploy-cli.js';
import { startFakeDiscord, type FakeDiscord } from './fake-discord/index.js';

const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.GfAkE0.fake-token-for-deploy-tests';
let fake: FakeDiscord;

beforeEach(async () => {
  fake = await startFakeDiscord({ token: TOKEN });
});
afterEach(async () => {
  await fake.close();
});

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    DISCORD_TOKEN: TOKEN,
    DISCORD_API_URL: fake.apiUrl,
    LOG_LEVEL: 'silent',
    MODEL_DIR: '/nonexistent/model',
    ...extra,
  };
}

describe('runDeployCommands', () => {
  it('registers every command globally with one PUT, and needs no model', async () => {
    expect(await runDeployCommands({ env: env() })).toBe(0);
    const puts = fake.requests.filter((r) => r.method === 'PUT');
    expect(puts).toHaveLength(1);
    expect(puts[0]!.operationId).toBe('bulk_set_application_commands');
    expect(puts[0]!.params.application_id).toBe(fake.applicationId);
    expect(fake.getCommands().map((c) => c.name)).toEqual(commands.map((c) => c.data.name));
    fake.assertNoViolations();
  });

  it('registers to DEV_GUILD_ID instead when it is set', async () => {
    const guildId = fake.guilds[0]!.id;
    expect(await runDeployCommands({ env: env({ DEV_GUILD_ID: guildId }) })).toBe(0);
    const puts = fake.requests.filter((r) => r.method === 'PUT');
    expect(puts.map((r) => r.operationId)).toEqual(['bulk_set_guild_application_commands']);
    expect(fake.getCommands(guildId)).toHaveLength(commands.length);
    expect(fake.getCommands()).toHaveLength(0);
  });

  it('exits 1 listing the config problems when the token is missing', async () => {
    const lines: string[] = [];
    expect(await runDeployCommands({ env: env({ DISCORD_TOKEN: '' }), writeError: (l) => lines.push(l) })).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('DISCORD_TOKEN is missing');
    expect(fake.requests).toHaveLength(0);
  });

  it('exits 1 when Discord rejects the token', async () => {
    expect(await runDeployCommands({ env: env({ DISCORD_TOKEN: 'MTEx.wrong.token' }) })).toBe(1);
    expect(fake.requests.filter((r) => r.method === 'PUT')).toHaveLength(0);
  });
});
