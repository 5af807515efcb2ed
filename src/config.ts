/**
 * The bot's configuration, read once from the environment (after .env is loaded). Every problem is collected,
 * one clear line each, so a wrong .env is fixed in one go.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import type { BackendName } from './model/backend.js';
import { LOG_LEVELS, type LogLevel } from './log.js';
import { DEFAULT_STORAGE_URL, parseStorageUrl } from './storage/url.js';

export interface Config {
  /** The bot token, without any "Bot " prefix. */
  discordToken: string;
  /** REST base URL without a trailing slash, e.g. https://discord.com/api (discord.js adds /v10). */
  discordApiUrl: string;
  logLevel: LogLevel;
  /** Register commands to this guild instead of globally. */
  devGuildId: string | undefined;
  /** Folder of the model to serve. */
  modelDir: string;
  /** Forced TensorFlow.js backend, or undefined to pick the best available. */
  backend: BackendName | undefined;
  /** Where per-server data lives: sqlite://<file> (default) or redis://host:port. */
  storageUrl: string;
  /** Collected and taught text is deleted this many days after it was sent. */
  retentionDays: number;
}

/** The backends BABBLE_BACKEND may force (same list as src/model/backend.ts, kept here so config loads without tfjs). */
export const BACKEND_CHOICES = ['node', 'wasm', 'cpu'] as const satisfies readonly BackendName[];

export const DEFAULT_API_URL = 'https://discord.com/api';
export const DEFAULT_MODEL_DIR = 'models/base';
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';
export { DEFAULT_STORAGE_URL };
export const DEFAULT_RETENTION_DAYS = 90;
export const MAX_RETENTION_DAYS = 3650;

export const TOKEN_HELP =
  'get one at https://discord.com/developers/applications → your app → Bot → Reset Token, and put it in .env as DISCORD_TOKEN=...';

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

export interface ConfigOptions {
  /** Check that MODEL_DIR is an existing folder (default true; the command deployer doesn't need a model). */
  requireModelDir?: boolean;
  /** Folder that a relative MODEL_DIR is resolved against (default process.cwd()). */
  cwd?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

function value(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

/** A Discord bot token is three dot-separated base64url parts (user id, timestamp, HMAC). */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const SNOWFLAKE = /^\d{1,20}$/;

/**
 * Reads and checks the configuration. Throws ConfigError listing every missing or bad variable, one line each.
 */
export function parseConfig(env: Env, options: ConfigOptions = {}): Config {
  const problems: string[] = [];

  let discordToken = value(env, 'DISCORD_TOKEN')?.replace(/^Bot\s+/i, '') ?? '';
  if (discordToken === '') {
    problems.push(`DISCORD_TOKEN is missing: ${TOKEN_HELP}`);
  } else if (!TOKEN_SHAPE.test(discordToken)) {
    problems.push(
      'DISCORD_TOKEN does not look like a bot token (three parts separated by dots; not the client secret or the application id): ' +
        TOKEN_HELP,
    );
    discordToken = '';
  }

  let discordApiUrl = value(env, 'DISCORD_API_URL') ?? DEFAULT_API_URL;
  try {
    const url = new URL(discordApiUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
    discordApiUrl = discordApiUrl.replace(/\/+$/, '');
  } catch {
    problems.push(`DISCORD_API_URL must be an http(s) URL such as ${DEFAULT_API_URL} (got ${JSON.stringify(discordApiUrl)})`);
  }

  const levelText = value(env, 'LOG_LEVEL')?.toLowerCase() ?? DEFAULT_LOG_LEVEL;
  let logLevel: LogLevel = DEFAULT_LOG_LEVEL;
  if ((LOG_LEVELS as readonly string[]).includes(levelText)) logLevel = levelText as LogLevel;
  else problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(env.LOG_LEVEL)})`);

  const devGuildId = value(env, 'DEV_GUILD_ID');
  if (devGuildId !== undefined && !SNOWFLAKE.test(devGuildId)) {
    problems.push(`DEV_GUILD_ID must be a server id (digits only; right-click the server → Copy Server ID) (got ${JSON.stringify(devGuildId)})`);
  }

  const modelDir = value(env, 'MODEL_DIR') ?? DEFAULT_MODEL_DIR;
  if (options.requireModelDir ?? true) {
    const full = path.resolve(options.cwd ?? process.cwd(), modelDir);
    let isDir = false;
    try {
      isDir = statSync(full).isDirectory();
    } catch {
      isDir = false;
    }
    if (!isDir) problems.push(`MODEL_DIR ${JSON.stringify(modelDir)} is not a folder (resolved to ${full}); train a model with npm run train or point MODEL_DIR at one`);
  }

  const backendText = value(env, 'BABBLE_BACKEND')?.toLowerCase();
  let backend: BackendName | undefined;
  if (backendText !== undefined) {
    if ((BACKEND_CHOICES as readonly string[]).includes(backendText)) backend = backendText as BackendName;
    else problems.push(`BABBLE_BACKEND must be one of ${BACKEND_CHOICES.join(', ')} or unset (got ${JSON.stringify(env.BABBLE_BACKEND)})`);
  }

  const storageUrl = value(env, 'STORAGE_URL') ?? DEFAULT_STORAGE_URL;
  try {
    parseStorageUrl(storageUrl, options.cwd ?? process.cwd());
  } catch (error) {
    problems.push(`STORAGE_URL ${(error as Error).message}`);
  }

  const retentionText = value(env, 'RETENTION_DAYS');
  let retentionDays = DEFAULT_RETENTION_DAYS;
  if (retentionText !== undefined) {
    const n = Number(retentionText);
    if (/^\d+$/.test(retentionText) && n >= 1 && n <= MAX_RETENTION_DAYS) retentionDays = n;
    else problems.push(`RETENTION_DAYS must be a whole number of days from 1 to ${MAX_RETENTION_DAYS} (got ${JSON.stringify(retentionText)})`);
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return { discordToken, discordApiUrl, logLevel, devGuildId, modelDir, backend, storageUrl, retentionDays };
}
