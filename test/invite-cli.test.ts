/**
 * `npm run invite`: the OAuth2 URL with the bot's scopes and exact permission integer, for a client id from the
 * argument, DISCORD_CLIENT_ID or DISCORD_TOKEN.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { clientIdFromToken, resolveClientId, runInvite } from '../src/discord/invite-cli.js';

const ID = '110000000000000001';
/** A token-shaped string whose first part is base64("110000000000000001"), like a real bot token's. */
const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.GfAkE0.fake-token-for-invite-tests';
const URL_FOR_ID = `https://discord.com/oauth2/authorize?client_id=${ID}&scope=bot+applications.commands&permissions=117760`;

function run(argv: string[], env: NodeJS.ProcessEnv) {
  const out: string[] = [];
  const err: string[] = [];
  const code = runInvite({ argv, env, write: (t) => void out.push(t), writeError: (l) => void err.push(l) });
  return { code, out: out.join(''), err: err.join('\n') };
}

describe('npm run invite', () => {
  it('reads the client id from the bot token when nothing else is given', () => {
    expect(clientIdFromToken(TOKEN)).toBe(ID);
    expect(clientIdFromToken('not-a-token')).toBeUndefined();
    expect(run([], { DISCORD_TOKEN: TOKEN })).toMatchObject({ code: 0, out: `${URL_FOR_ID}\n` });
  });

  it('prefers the argument, then DISCORD_CLIENT_ID, over the token', () => {
    const other = '222222222222222222';
    expect(resolveClientId(other, { DISCORD_CLIENT_ID: '333333333333333333', DISCORD_TOKEN: TOKEN })).toEqual({
      id: other,
    });
    expect(resolveClientId(undefined, { DISCORD_CLIENT_ID: '333333333333333333', DISCORD_TOKEN: TOKEN })).toEqual({
      id: '333333333333333333',
    });
  });

  it('names the permissions and their integer, and refuses a wrong id or no id with exit code 2', () => {
    expect(run([ID], {}).err).toBe(
      'permissions 117760: View Channel, Send Messages, Embed Links, Attach Files, Read Message History',
    );
    expect(run(['12ab'], {})).toMatchObject({
      code: 2,
      out: '',
      err: expect.stringMatching(/^the argument must be the application's client id/),
    });
    expect(run([], {})).toMatchObject({ code: 2, err: expect.stringMatching(/^no client id/) });
  });

  it('runs as the README says: npm run -s invite -- <client id>', async () => {
    const { stdout } = await promisify(execFile)('npm', ['run', '-s', 'invite', '--', ID], {
      env: { ...process.env, DISCORD_TOKEN: '' },
    });
    expect(stdout).toBe(`${URL_FOR_ID}\n`);
  });
});
