/**
 * `npm run invite [client id]`: prints the OAuth2 URL that adds the bot to a server, with the scopes `bot` and
 * `applications.commands` and exactly the permissions it needs (permissions.ts). Offline: nothing is asked of
 * Discord. The client id is, in this order, the argument, DISCORD_CLIENT_ID, or read from DISCORD_TOKEN (a bot
 * token starts with the bot's user id in base64, which is the application's client id).
 */
import dotenv from 'dotenv';
import { invitePermissionNames, invitePermissions, inviteUrl, PERMISSION_LABELS } from './permissions.js';

const SNOWFLAKE = /^\d{17,20}$/;

export const INVITE_USAGE = 'usage: npm run invite [client id]   (or DISCORD_CLIENT_ID, or DISCORD_TOKEN in .env)';

/** The client id from the first token part, or undefined when the token doesn't carry one. */
export function clientIdFromToken(token: string): string | undefined {
  const first = token.trim().split('.')[0] ?? '';
  const decoded = Buffer.from(first, 'base64url').toString('utf8');
  return SNOWFLAKE.test(decoded) ? decoded : undefined;
}

/** The client id to invite, or a sentence saying what is wrong. */
export function resolveClientId(arg: string | undefined, env: NodeJS.ProcessEnv): { id: string } | { problem: string } {
  const given = arg ?? env.DISCORD_CLIENT_ID;
  if (given !== undefined && given.trim() !== '') {
    const where = arg !== undefined ? 'the argument' : 'DISCORD_CLIENT_ID';
    return SNOWFLAKE.test(given.trim())
      ? { id: given.trim() }
      : { problem: `${where} must be the application's client id (17–20 digits), got ${JSON.stringify(given)}` };
  }
  const token = env.DISCORD_TOKEN;
  if (!token)
    return { problem: `no client id: give one, set DISCORD_CLIENT_ID, or put DISCORD_TOKEN in .env\n${INVITE_USAGE}` };
  const id = clientIdFromToken(token);
  return id
    ? { id }
    : { problem: 'DISCORD_TOKEN does not start with a client id; pass the Client ID (app → OAuth2 page)' };
}

export interface InviteOptions {
  argv?: readonly string[];
  /** Environment to read (default process.env, after loading .env into it). */
  env?: NodeJS.ProcessEnv;
  write?: (text: string) => void;
  writeError?: (line: string) => void;
}

/** Prints the invite URL and what each permission is for; resolves with the exit code. */
export function runInvite(options: InviteOptions = {}): number {
  const env = options.env ?? process.env;
  if (!options.env) dotenv.config({ quiet: true });
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  const writeError = options.writeError ?? ((line: string) => process.stderr.write(`${line}\n`));
  const args = options.argv ?? process.argv.slice(2);
  if (args.length > 1 || args[0] === '--help' || args[0] === '-h') {
    writeError(INVITE_USAGE);
    return args[0] === '--help' || args[0] === '-h' ? 0 : 2;
  }
  const resolved = resolveClientId(args[0], env);
  if ('problem' in resolved) {
    writeError(resolved.problem);
    return 2;
  }
  const names = invitePermissionNames()
    .map((p) => PERMISSION_LABELS[p])
    .join(', ');
  write(`${inviteUrl(resolved.id)}\n`);
  writeError(`permissions ${invitePermissions().toString()}: ${names}`);
  return 0;
}
