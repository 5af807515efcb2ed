/**
 * The bot's configuration, read once from the environment (after .env is loaded). Every problem is collected,
 * one clear line each, so a wrong .env is fixed in one go.
 */
import { DEFAULT_QUOTAS, type Quotas } from './service/collection/quotas.js';
import { statSync } from 'node:fs';
import path from 'node:path';
import type { BackendName } from './model/backend.js';
import { LOG_LEVELS, type LogLevel } from './log.js';
import type { ReplyLimits } from './service/rate-limiter.js';
import { DEFAULT_STORAGE_URL, parseStorageUrl } from './storage/url.js';
import { parseModelStoreUrl, type ModelStoreLocation } from './model-store/location.js';
import type { S3Settings } from './model-store/open-registry.js';

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
  /** Where retrained model versions live, one folder per server (and "base"). */
  modelsDir: string;
  /** Versions kept per server (the serving one is always kept too). */
  modelVersionsKept: number;
  /** Server models kept loaded at once (least recently used ones are dropped). */
  modelCacheSize: number;
  /** Trainings at once; more wait in a queue. */
  trainConcurrency: number;
  /** The most minutes one /retrain may ask for (fractions allowed). */
  trainMaxMinutes: number;
  /** Minutes of a /retrain that doesn't say (at most trainMaxMinutes). */
  trainDefaultMinutes: number;
  /** TRAIN_DEFAULT_EPOCHS: passes over the text when /retrain gives no epochs (0: minutes alone bound it). */
  trainDefaultEpochs: number;
  /** The trainer child's V8 heap cap. */
  trainMaxHeapMb: number;
  /** How much worse (bits per character) a held-out figure may get for a new model to be swapped in. */
  trainGateTolerance: number;
  /** Least usable lines of a server's text before it can be retrained. */
  trainMinLines: number;
  /** Users who may retrain the shared base model (/retrain start model:base). */
  botOwnerIds: string[];
  /** Replies (/babble, mentions, unprompted) per user and per server per window; 0 replies: no such limit. */
  rateLimits: ReplyLimits;
  /**
   * SHARDS: shard processes under discord.js's ShardingManager ("auto": Discord's count); undefined: one process,
   * or this process is one of the shards.
   */
  shards: 'auto' | number | undefined;
  /** OUTPUT_FILTER: the built-in swear word and slur list screens what the baby says (server words always do). */
  outputFilter: boolean;
  /** TRAIN_GATE_MAX_FLAGGED: the most share of a new model's gate samples that may trip the word filter. */
  trainGateMaxFlagged: number;
  /** TRAIN_DAILY_MINUTES: trainer minutes per server in any 24 hours (0: no limit; owners exempt). */
  trainDailyMinutes: number;
  /** TEACH_MAX_* and COLLECT_MAX_MESSAGES: what a member and a server may store (service/collection/quotas.ts). */
  quotas: Quotas;
  /** TRAIN_COOLDOWN_MINUTES: minutes between the end of a server's training and the start of its next. */
  trainCooldownMinutes: number;
  /** PURGE_AFTER_DAYS: a server with data that the bot is no longer in is erased after this many days missing. */
  purgeAfterDays: number;
  /** ERASURE_JOURNAL: where erasures not applied at shutdown are recorded, for the next start. */
  erasureJournal: string;
  /** MODEL_STORE_URL: the model versions' folder (default MODELS_DIR) or an S3 bucket (pointers in Redis). */
  modelStore: ModelStoreLocation;
  /** MODEL_CACHE_DIR: this host's verified copies of versions from an S3 store, and its temporary folders. */
  modelCacheDir: string;
  /** S3_ENDPOINT, S3_FORCE_PATH_STYLE, AWS_REGION (credentials: the AWS SDK reads AWS_ACCESS_KEY_ID and the rest). */
  s3: S3Settings;
  /** TRAINER_MODE: fork (the bot forks its own trainer) or queue (BullMQ jobs for `npm run trainer` hosts). */
  trainerMode: 'fork' | 'queue';
  /** MODEL_RECONCILE_SECONDS: how often each process compares the versions it serves with the pointers. */
  modelReconcileSeconds: number;
  /** TRAIN_STALLED_SECONDS: a trainer host silent this long has its job failed (BullMQ stalled-job check). */
  trainStalledSeconds: number;
  /** SHARD_IDS (with SHARD_COUNT): the shards this host runs; undefined = all of `shards`. */
  shardList: number[] | undefined;
}

/** The backends BABBLE_BACKEND may force (same list as src/model/backend.ts, kept here so config loads without tfjs). */
export const BACKEND_CHOICES = ['node', 'wasm', 'cpu'] as const satisfies readonly BackendName[];

export const DEFAULT_API_URL = 'https://discord.com/api';
export const DEFAULT_MODEL_DIR = 'models/base';
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';
export { DEFAULT_STORAGE_URL };
export const DEFAULT_RETENTION_DAYS = 90;
export const MAX_RETENTION_DAYS = 3650;
export const DEFAULT_MODELS_DIR = 'var/models';
export const DEFAULT_ERASURE_JOURNAL = 'var/pending-erasures.json';
export const DEFAULT_MODEL_CACHE_DIR = 'var/model-cache';
/** Passes over the text a /retrain makes when it gives no epochs (TRAIN_DEFAULT_EPOCHS): measured with bench server_voice. */
export const DEFAULT_TRAIN_EPOCHS = 3;

/**
 * Bounds and defaults of the numeric settings. TRAIN_MAX_MINUTES can be at most `trainMinutes.max`, which is also
 * the bound in /retrain's definition (the definition can't depend on the configuration: `npm run deploy-commands`
 * and the running bot must register the same one); the handler then checks the configured limit.
 */
export const SETTINGS = {
  modelVersionsKept: { min: 1, max: 100, default: 3, integer: true },
  modelCacheSize: { min: 1, max: 10_000, default: 8, integer: true },
  trainConcurrency: { min: 1, max: 16, default: 1, integer: true },
  trainMinutes: { min: 0.1, max: 120, integer: false },
  trainMaxMinutes: { default: 30 },
  trainDefaultMinutes: { default: 5 },
  trainDefaultEpochs: { min: 0, max: 1000, default: DEFAULT_TRAIN_EPOCHS, integer: true },
  trainMaxHeapMb: { min: 128, max: 65_536, default: 1024, integer: true },
  trainGateTolerance: { min: 0, max: 10, default: 0.05, integer: false },
  trainMinLines: { min: 1, max: 1_000_000, default: 20, integer: true },
  rateUserReplies: { min: 0, max: 10_000, default: 6, integer: true },
  rateUserSeconds: { min: 1, max: 86_400, default: 60, integer: true },
  rateServerReplies: { min: 0, max: 100_000, default: 30, integer: true },
  rateServerSeconds: { min: 1, max: 86_400, default: 60, integer: true },
  trainGateMaxFlagged: { min: 0, max: 1, default: 0.1, integer: false },
  trainDailyMinutes: { min: 0, max: 1440, default: 60, integer: false },
  trainCooldownMinutes: { min: 0, max: 1440, default: 5, integer: false },
  purgeAfterDays: { min: 1, max: 3650, default: 7, integer: true },
  modelReconcileSeconds: { min: 1, max: 86_400, default: 60, integer: true },
  trainStalledSeconds: { min: 5, max: 3600, default: 30, integer: true },
  teachPerMember: { min: 1, max: 1_000_000, default: DEFAULT_QUOTAS.teachPerMember, integer: true },
  teachCharsPerMember: { min: 1, max: 100_000_000, default: DEFAULT_QUOTAS.teachCharsPerMember, integer: true },
  teachPerServer: { min: 1, max: 10_000_000, default: DEFAULT_QUOTAS.teachPerServer, integer: true },
  teachCharsPerServer: { min: 1, max: 1_000_000_000, default: DEFAULT_QUOTAS.teachCharsPerServer, integer: true },
  messagesPerServer: { min: 1, max: 100_000_000, default: DEFAULT_QUOTAS.messagesPerServer, integer: true },
} as const;

export const TOKEN_HELP =
  'get one at https://discord.com/developers/applications → your app → Bot → Reset Token, and put it in .env as DISCORD_TOKEN=...';

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

export interface ConfigOptions {
  /** 'trainer' (npm run trainer): no Discord token is read or needed. Default 'bot'. */
  role?: 'bot' | 'trainer';
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

interface Bounds {
  min: number;
  max: number;
  integer: boolean;
}

/**
 * A numeric variable: its value, or `fallback` when unset — or when bad, after adding one problem line (whole
 * number or number, and the range).
 */
function numberValue(env: Env, name: string, bounds: Bounds, fallback: number, problems: string[], unit = ''): number {
  const text = value(env, name);
  if (text === undefined) return fallback;
  const shape = bounds.integer ? /^\d+$/ : /^\d+(?:\.\d+)?$|^\.\d+$/;
  const n = Number(text);
  if (shape.test(text) && n >= bounds.min && n <= bounds.max) return n;
  problems.push(
    `${name} must be ${bounds.integer ? 'a whole number' : 'a number'} from ${bounds.min} to ${bounds.max}${unit} (got ${JSON.stringify(text)})`,
  );
  return fallback;
}

/** SHARDS as given: undefined when unset or empty (no sharding). Throws on anything but "auto" or a whole number ≥ 1. */
export function parseShards(value: string | undefined): 'auto' | number | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (v === 'auto') return 'auto';
  if (/^[1-9]\d*$/.test(v) && Number(v) <= 1000) return Number(v);
  throw new Error(`SHARDS must be "auto" or a whole number from 1 to 1000, not ${JSON.stringify(v)}`);
}

/**
 * SHARD_COUNT and SHARD_IDS ("0-3", "4,5,6-7"): this host runs those of SHARD_COUNT shards (all of them without
 * SHARD_IDS). Undefined when SHARD_COUNT is unset. Throws with a one-line message.
 */
export function parseShardHosting(
  countText: string | undefined,
  idsText: string | undefined,
  shardsSet: boolean,
): { count: number; ids: number[] | undefined } | undefined {
  const c = countText?.trim();
  const i = idsText?.trim();
  if (!c) {
    if (i) throw new Error('SHARD_IDS needs SHARD_COUNT (the total number of shards over every host)');
    return undefined;
  }
  if (shardsSet) throw new Error('set SHARDS (one host) or SHARD_COUNT with SHARD_IDS (several hosts), not both');
  if (!/^[1-9]\d*$/.test(c) || Number(c) > 1000)
    throw new Error(`SHARD_COUNT must be a whole number from 1 to 1000, not ${JSON.stringify(c)}`);
  const count = Number(c);
  if (!i) return { count, ids: undefined };
  const ids: number[] = [];
  for (const part of i.split(',').map((p) => p.trim())) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    const from = Number(m?.[1]);
    const to = Number(m?.[2] ?? m?.[1]);
    if (!m || from > to || to >= count)
      throw new Error(
        `SHARD_IDS must be shard numbers or ranges from 0 to ${count - 1}, like 0-3 or 4,5,6-7 (not ${JSON.stringify(part)})`,
      );
    for (let id = from; id <= to; id++) {
      if (ids.includes(id)) throw new Error(`SHARD_IDS names shard ${id} twice`);
      ids.push(id);
    }
  }
  return { count, ids };
}

type MultiHost = Pick<
  Config,
  'modelStore' | 'modelCacheDir' | 's3' | 'trainerMode' | 'modelReconcileSeconds' | 'trainStalledSeconds'
>;

/** MODEL_STORE_URL and the S3 settings, TRAINER_MODE and the reconcile and stalled-job intervals. */
function multiHostSettings(
  env: Env,
  storageKind: 'sqlite' | 'redis' | undefined,
  modelsDir: string,
  problems: string[],
): MultiHost {
  let modelStore: ModelStoreLocation = { kind: 'file', dir: modelsDir };
  try {
    modelStore = parseModelStoreUrl(value(env, 'MODEL_STORE_URL'), modelsDir);
  } catch (error) {
    problems.push(`MODEL_STORE_URL ${(error as Error).message}`);
  }
  if (modelStore.kind === 's3' && storageKind === 'sqlite')
    problems.push('MODEL_STORE_URL=s3://… needs STORAGE_URL=redis://… (the version pointers live in Redis)');
  const endpoint = value(env, 'S3_ENDPOINT');
  if (endpoint !== undefined && !/^https?:\/\/[^/\s]+/.test(endpoint))
    problems.push(`S3_ENDPOINT must be an http(s) URL such as http://127.0.0.1:9000 (got ${JSON.stringify(endpoint)})`);
  const pathStyleText = value(env, 'S3_FORCE_PATH_STYLE')?.toLowerCase();
  if (pathStyleText !== undefined && pathStyleText !== 'true' && pathStyleText !== 'false')
    problems.push(`S3_FORCE_PATH_STYLE must be true or false (got ${JSON.stringify(pathStyleText)})`);
  const region = value(env, 'AWS_REGION') ?? (endpoint !== undefined ? 'us-east-1' : undefined);
  if (modelStore.kind === 's3' && region === undefined)
    problems.push('MODEL_STORE_URL=s3://… needs AWS_REGION (or S3_ENDPOINT for an S3-compatible server)');
  const modeText = value(env, 'TRAINER_MODE')?.toLowerCase() ?? (storageKind === 'redis' ? 'queue' : 'fork');
  if (modeText !== 'fork' && modeText !== 'queue')
    problems.push(`TRAINER_MODE must be fork or queue (got ${JSON.stringify(env.TRAINER_MODE)})`);
  else if (modeText === 'queue' && storageKind === 'sqlite')
    problems.push('TRAINER_MODE=queue needs STORAGE_URL=redis://… (the training queue lives in Redis)');
  const S = SETTINGS;
  return {
    modelStore,
    modelCacheDir: value(env, 'MODEL_CACHE_DIR') ?? DEFAULT_MODEL_CACHE_DIR,
    s3: {
      endpoint,
      forcePathStyle: pathStyleText === undefined ? endpoint !== undefined : pathStyleText === 'true',
      region: region ?? 'us-east-1',
    },
    trainerMode: modeText === 'queue' ? 'queue' : 'fork',
    modelReconcileSeconds: numberValue(
      env,
      'MODEL_RECONCILE_SECONDS',
      S.modelReconcileSeconds,
      S.modelReconcileSeconds.default,
      problems,
      ' seconds',
    ),
    trainStalledSeconds: numberValue(
      env,
      'TRAIN_STALLED_SECONDS',
      S.trainStalledSeconds,
      S.trainStalledSeconds.default,
      problems,
      ' seconds',
    ),
  };
}

/** A Discord bot token is three dot-separated base64url parts (user id, timestamp, HMAC). */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const SNOWFLAKE = /^\d{1,20}$/;

/**
 * Reads and checks the configuration. Throws ConfigError listing every missing or bad variable, one line each.
 */
export function parseConfig(env: Env, options: ConfigOptions = {}): Config {
  const problems: string[] = [];

  let discordToken = options.role === 'trainer' ? '' : (value(env, 'DISCORD_TOKEN')?.replace(/^Bot\s+/i, '') ?? '');
  if (options.role === 'trainer') {
    // A trainer host never talks to Discord: it gets no token.
  } else if (discordToken === '') {
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
    problems.push(
      `DISCORD_API_URL must be an http(s) URL such as ${DEFAULT_API_URL} (got ${JSON.stringify(discordApiUrl)})`,
    );
  }

  const levelText = value(env, 'LOG_LEVEL')?.toLowerCase() ?? DEFAULT_LOG_LEVEL;
  let logLevel: LogLevel = DEFAULT_LOG_LEVEL;
  if ((LOG_LEVELS as readonly string[]).includes(levelText)) logLevel = levelText as LogLevel;
  else problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(env.LOG_LEVEL)})`);

  const devGuildId = value(env, 'DEV_GUILD_ID');
  if (devGuildId !== undefined && !SNOWFLAKE.test(devGuildId)) {
    problems.push(
      `DEV_GUILD_ID must be a server id (digits only; right-click the server → Copy Server ID) (got ${JSON.stringify(devGuildId)})`,
    );
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
    if (!isDir)
      problems.push(
        `MODEL_DIR ${JSON.stringify(modelDir)} is not a folder (resolved to ${full}); train a model with npm run train or point MODEL_DIR at one`,
      );
  }

  const backendText = value(env, 'BABBLE_BACKEND')?.toLowerCase();
  let backend: BackendName | undefined;
  if (backendText !== undefined) {
    if ((BACKEND_CHOICES as readonly string[]).includes(backendText)) backend = backendText as BackendName;
    else
      problems.push(
        `BABBLE_BACKEND must be one of ${BACKEND_CHOICES.join(', ')} or unset (got ${JSON.stringify(env.BABBLE_BACKEND)})`,
      );
  }

  const storageUrl = value(env, 'STORAGE_URL') ?? DEFAULT_STORAGE_URL;
  let storageKind: 'sqlite' | 'redis' | undefined;
  try {
    storageKind = parseStorageUrl(storageUrl, options.cwd ?? process.cwd()).kind;
  } catch (error) {
    problems.push(`STORAGE_URL ${(error as Error).message}`);
  }

  // In a shard process discord.js's ShardingManager sets SHARDS to that shard's ids (and SHARDING_MANAGER): it is
  // one shard then, not a manager, and the manager has checked the operator's SHARDS already.
  let shards: 'auto' | number | undefined;
  let shardList: number[] | undefined;
  if (value(env, 'SHARDING_MANAGER') === undefined) {
    try {
      shards = parseShards(env.SHARDS);
    } catch (error) {
      problems.push((error as Error).message);
    }
    try {
      const hosted = parseShardHosting(env.SHARD_COUNT, env.SHARD_IDS, shards !== undefined);
      if (hosted) [shards, shardList] = [hosted.count, hosted.ids];
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (shards !== undefined && storageKind !== undefined && storageKind !== 'redis') {
    const name = value(env, 'SHARDS') === undefined ? 'SHARD_COUNT' : 'SHARDS';
    problems.push(
      `${name} needs STORAGE_URL=redis://… (the shards share the stored text, the training lock and model swaps there)`,
    );
  }

  const retentionText = value(env, 'RETENTION_DAYS');
  let retentionDays = DEFAULT_RETENTION_DAYS;
  if (retentionText !== undefined) {
    const n = Number(retentionText);
    if (/^\d+$/.test(retentionText) && n >= 1 && n <= MAX_RETENTION_DAYS) retentionDays = n;
    else
      problems.push(
        `RETENTION_DAYS must be a whole number of days from 1 to ${MAX_RETENTION_DAYS} (got ${JSON.stringify(retentionText)})`,
      );
  }

  const modelsDir = value(env, 'MODELS_DIR') ?? DEFAULT_MODELS_DIR;
  try {
    if (!statSync(path.resolve(options.cwd ?? process.cwd(), modelsDir)).isDirectory()) {
      problems.push(
        `MODELS_DIR ${JSON.stringify(modelsDir)} is a file, not a folder; point it at a folder (it is created when missing)`,
      );
    }
  } catch {
    // missing: created when the first version is saved
  }

  const S = SETTINGS;
  const modelVersionsKept = numberValue(
    env,
    'MODEL_VERSIONS_KEPT',
    S.modelVersionsKept,
    S.modelVersionsKept.default,
    problems,
    ' versions',
  );
  const modelCacheSize = numberValue(
    env,
    'MODEL_CACHE_SIZE',
    S.modelCacheSize,
    S.modelCacheSize.default,
    problems,
    ' models',
  );
  const trainConcurrency = numberValue(
    env,
    'TRAIN_CONCURRENCY',
    S.trainConcurrency,
    S.trainConcurrency.default,
    problems,
    ' trainings at once',
  );
  const before = problems.length;
  const trainMaxMinutes = numberValue(
    env,
    'TRAIN_MAX_MINUTES',
    S.trainMinutes,
    S.trainMaxMinutes.default,
    problems,
    ' minutes',
  );
  let trainDefaultMinutes = numberValue(
    env,
    'TRAIN_DEFAULT_MINUTES',
    S.trainMinutes,
    S.trainDefaultMinutes.default,
    problems,
    ' minutes',
  );
  // Unset, the default follows a smaller maximum; set, it must fit under it.
  if (problems.length === before && trainDefaultMinutes > trainMaxMinutes) {
    if (value(env, 'TRAIN_DEFAULT_MINUTES') !== undefined) {
      problems.push(
        `TRAIN_DEFAULT_MINUTES (${trainDefaultMinutes}) must not be more than TRAIN_MAX_MINUTES (${trainMaxMinutes})`,
      );
    } else {
      trainDefaultMinutes = trainMaxMinutes;
    }
  }
  const trainMaxHeapMb = numberValue(
    env,
    'TRAIN_MAX_HEAP_MB',
    S.trainMaxHeapMb,
    S.trainMaxHeapMb.default,
    problems,
    ' MB',
  );
  const trainGateTolerance = numberValue(
    env,
    'TRAIN_GATE_TOLERANCE',
    S.trainGateTolerance,
    S.trainGateTolerance.default,
    problems,
    ' bits per character',
  );
  const trainMinLines = numberValue(
    env,
    'TRAIN_MIN_LINES',
    S.trainMinLines,
    S.trainMinLines.default,
    problems,
    ' lines',
  );

  const ownersText = value(env, 'BOT_OWNER_IDS');
  const botOwnerIds =
    ownersText === undefined
      ? []
      : [
          ...new Set(
            ownersText
              .split(',')
              .map((id) => id.trim())
              .filter((id) => id !== ''),
          ),
        ];
  const badOwners = botOwnerIds.filter((id) => !SNOWFLAKE.test(id));
  if (badOwners.length > 0) {
    problems.push(
      `BOT_OWNER_IDS must be user ids separated by commas (digits only; right-click a user → Copy User ID) (not ids: ${badOwners.map((id) => JSON.stringify(id)).join(', ')})`,
    );
  }

  const rateLimits: ReplyLimits = {
    userReplies: numberValue(
      env,
      'RATE_LIMIT_USER_REPLIES',
      S.rateUserReplies,
      S.rateUserReplies.default,
      problems,
      ' replies (0: no limit)',
    ),
    userSeconds: numberValue(
      env,
      'RATE_LIMIT_USER_SECONDS',
      S.rateUserSeconds,
      S.rateUserSeconds.default,
      problems,
      ' seconds',
    ),
    serverReplies: numberValue(
      env,
      'RATE_LIMIT_SERVER_REPLIES',
      S.rateServerReplies,
      S.rateServerReplies.default,
      problems,
      ' replies (0: no limit)',
    ),
    serverSeconds: numberValue(
      env,
      'RATE_LIMIT_SERVER_SECONDS',
      S.rateServerSeconds,
      S.rateServerSeconds.default,
      problems,
      ' seconds',
    ),
  };

  const filterText = value(env, 'OUTPUT_FILTER')?.toLowerCase() ?? 'on';
  if (filterText !== 'on' && filterText !== 'off') {
    problems.push(`OUTPUT_FILTER must be on or off (got ${JSON.stringify(env.OUTPUT_FILTER)})`);
  }
  const outputFilter = filterText !== 'off';
  const trainGateMaxFlagged = numberValue(
    env,
    'TRAIN_GATE_MAX_FLAGGED',
    S.trainGateMaxFlagged,
    S.trainGateMaxFlagged.default,
    problems,
    ' (a share of the samples)',
  );

  const trainDailyMinutes = numberValue(
    env,
    'TRAIN_DAILY_MINUTES',
    S.trainDailyMinutes,
    S.trainDailyMinutes.default,
    problems,
    ' minutes (0: no limit)',
  );
  const trainDefaultEpochs = numberValue(
    env,
    'TRAIN_DEFAULT_EPOCHS',
    S.trainDefaultEpochs,
    S.trainDefaultEpochs.default,
    problems,
    ' epochs (0: no limit)',
  );
  const trainCooldownMinutes = numberValue(
    env,
    'TRAIN_COOLDOWN_MINUTES',
    S.trainCooldownMinutes,
    S.trainCooldownMinutes.default,
    problems,
    ' minutes',
  );

  const purgeAfterDays = numberValue(
    env,
    'PURGE_AFTER_DAYS',
    S.purgeAfterDays,
    S.purgeAfterDays.default,
    problems,
    ' days',
  );
  const erasureJournal = value(env, 'ERASURE_JOURNAL') ?? DEFAULT_ERASURE_JOURNAL;
  const q = (k: keyof Quotas) => [S[k], S[k].default, problems] as const;
  const quotas: Quotas = {
    teachPerMember: numberValue(env, 'TEACH_MAX_PER_MEMBER', ...q('teachPerMember'), ' texts'),
    teachCharsPerMember: numberValue(env, 'TEACH_MAX_CHARS_PER_MEMBER', ...q('teachCharsPerMember'), ' characters'),
    teachPerServer: numberValue(env, 'TEACH_MAX_PER_SERVER', ...q('teachPerServer'), ' texts'),
    teachCharsPerServer: numberValue(env, 'TEACH_MAX_CHARS_PER_SERVER', ...q('teachCharsPerServer'), ' characters'),
    messagesPerServer: numberValue(env, 'COLLECT_MAX_MESSAGES', ...q('messagesPerServer'), ' messages'),
  };

  const hosts = multiHostSettings(env, storageKind, modelsDir, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    ...hosts,
    shardList,
    discordToken,
    discordApiUrl,
    logLevel,
    devGuildId,
    modelDir,
    backend,
    storageUrl,
    retentionDays,
    modelsDir,
    modelVersionsKept,
    modelCacheSize,
    trainConcurrency,
    trainMaxMinutes,
    trainDefaultMinutes,
    trainDefaultEpochs,
    trainMaxHeapMb,
    trainGateTolerance,
    trainMinLines,
    botOwnerIds,
    rateLimits,
    shards,
    outputFilter,
    trainGateMaxFlagged,
    trainDailyMinutes,
    trainCooldownMinutes,
    purgeAfterDays,
    erasureJournal,
    quotas,
  };
}
