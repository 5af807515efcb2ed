import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { DEFAULT_QUOTAS } from '../src/service/collection/quotas.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BACKEND_CHOICES,
  ConfigError,
  DEFAULT_API_URL,
  DEFAULT_MODELS_DIR,
  DEFAULT_RETENTION_DAYS,
  DEFAULT_STORAGE_URL,
  parseConfig,
  SETTINGS,
} from '../src/config.js';
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
      modelsDir: DEFAULT_MODELS_DIR,
      modelVersionsKept: 3,
      modelCacheSize: 8,
      trainConcurrency: 1,
      trainMaxMinutes: 30,
      trainDefaultMinutes: 5,
      trainDefaultEpochs: 3,
      trainMaxHeapMb: 1024,
      trainGateTolerance: 0.05,
      trainMinLines: 20,
      botOwnerIds: [],
      rateLimits: {
        userReplies: SETTINGS.rateUserReplies.default,
        userSeconds: SETTINGS.rateUserSeconds.default,
        serverReplies: SETTINGS.rateServerReplies.default,
        serverSeconds: SETTINGS.rateServerSeconds.default,
      },
      shards: undefined,
      outputFilter: true,
      trainGateMaxFlagged: 0.1,
      trainDailyMinutes: 60,
      trainCooldownMinutes: 5,
      purgeAfterDays: 7,
      erasureJournal: 'var/pending-erasures.json',
      quotas: DEFAULT_QUOTAS,
      modelStore: { kind: 'file', dir: 'var/models' },
      modelCacheDir: 'var/model-cache',
      s3: { endpoint: undefined, forcePathStyle: false, region: 'us-east-1' },
      trainerMode: 'fork',
      modelReconcileSeconds: 60,
      trainStalledSeconds: 30,
      shardList: undefined,
    });
    expect(SETTINGS.rateUserReplies.default).toBeGreaterThan(0);
    expect(SETTINGS.rateServerReplies.default).toBeGreaterThan(SETTINGS.rateUserReplies.default);
    expect(DEFAULT_STORAGE_URL).toMatch(/^sqlite:\/\/var\//);
    expect(DEFAULT_MODELS_DIR).toBe('var/models');
    expect(DEFAULT_RETENTION_DAYS).toBe(90);
  });

  it('never echoes a STORAGE_URL password in its config errors', () => {
    const urls = [
      'redis://user:s3cretPass@:6379',
      'redis://user:s3cretPass@host:port',
      'postgres://u:s3cretPass@db/x',
      'redis://u:s3cret/Pass@host',
      'redis://s3cretPass@host:x',
      'mysql://h/db?password=s3cretPass',
    ];
    for (const url of urls) {
      const list = problems({ DISCORD_TOKEN: TOKEN, MODEL_DIR: modelDir, STORAGE_URL: url });
      expect(list, url).toEqual([expect.stringMatching(/^STORAGE_URL .*\*\*\*/)]);
      expect(list.join('\n'), url).not.toMatch(/s3cret|Pass/);
    }
  });

  it('reads the word filter settings: OUTPUT_FILTER on or off, TRAIN_GATE_MAX_FLAGGED a share from 0 to 1', () => {
    const base = { DISCORD_TOKEN: TOKEN, MODEL_DIR: modelDir };
    const config = parseConfig({ ...base, OUTPUT_FILTER: 'OFF', TRAIN_GATE_MAX_FLAGGED: '0.25' });
    expect(config).toMatchObject({ outputFilter: false, trainGateMaxFlagged: 0.25 });
    expect(problems({ ...base, OUTPUT_FILTER: 'maybe', TRAIN_GATE_MAX_FLAGGED: '2' })).toEqual([
      'OUTPUT_FILTER must be on or off (got "maybe")',
      'TRAIN_GATE_MAX_FLAGGED must be a number from 0 to 1 (a share of the samples) (got "2")',
    ]);
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
      MODELS_DIR: ' /srv/babble/models ',
      MODEL_VERSIONS_KEPT: '5',
      MODEL_CACHE_SIZE: '2',
      TRAIN_CONCURRENCY: '2',
      TRAIN_MAX_MINUTES: '10',
      TRAIN_DEFAULT_MINUTES: '0.5',
      TRAIN_DEFAULT_EPOCHS: ' 7 ',
      TRAIN_MAX_HEAP_MB: '2048',
      TRAIN_GATE_TOLERANCE: '0.1',
      TRAIN_MIN_LINES: '50',
      BOT_OWNER_IDS: ' 111111111111111111, 222222222222222222 ,111111111111111111',
      RATE_LIMIT_USER_REPLIES: ' 3 ',
      RATE_LIMIT_USER_SECONDS: '20',
      RATE_LIMIT_SERVER_REPLIES: '0',
      RATE_LIMIT_SERVER_SECONDS: '3600',
      OUTPUT_FILTER: ' on ',
      TRAIN_GATE_MAX_FLAGGED: '0',
      TRAIN_DAILY_MINUTES: '0',
      TRAIN_COOLDOWN_MINUTES: '2.5',
      PURGE_AFTER_DAYS: ' 30 ',
      ERASURE_JOURNAL: ' /srv/babble/erasures.json ',
      TEACH_MAX_PER_MEMBER: '7',
      TEACH_MAX_CHARS_PER_MEMBER: '700',
      TEACH_MAX_PER_SERVER: '70',
      TEACH_MAX_CHARS_PER_SERVER: '7000',
      COLLECT_MAX_MESSAGES: '700000',
      MODEL_STORE_URL: ' s3://babble-models/prod/eu ',
      MODEL_CACHE_DIR: ' /srv/babble/cache ',
      S3_ENDPOINT: 'http://127.0.0.1:9000',
      S3_FORCE_PATH_STYLE: 'FALSE',
      AWS_REGION: 'eu-west-1',
      TRAINER_MODE: ' Fork ',
      MODEL_RECONCILE_SECONDS: '5',
      TRAIN_STALLED_SECONDS: '45',
      SHARD_COUNT: '8',
      SHARD_IDS: '4-5, 7',
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
      modelsDir: '/srv/babble/models',
      modelVersionsKept: 5,
      modelCacheSize: 2,
      trainConcurrency: 2,
      trainMaxMinutes: 10,
      trainDefaultMinutes: 0.5,
      trainDefaultEpochs: 7,
      trainMaxHeapMb: 2048,
      trainGateTolerance: 0.1,
      trainMinLines: 50,
      botOwnerIds: ['111111111111111111', '222222222222222222'],
      rateLimits: { userReplies: 3, userSeconds: 20, serverReplies: 0, serverSeconds: 3600 },
      outputFilter: true,
      trainGateMaxFlagged: 0,
      trainDailyMinutes: 0,
      trainCooldownMinutes: 2.5,
      purgeAfterDays: 30,
      erasureJournal: '/srv/babble/erasures.json',
      quotas: {
        teachPerMember: 7,
        teachCharsPerMember: 700,
        teachPerServer: 70,
        teachCharsPerServer: 7000,
        messagesPerServer: 700_000,
      },
      modelStore: { kind: 's3', bucket: 'babble-models', prefix: 'prod/eu' },
      modelCacheDir: '/srv/babble/cache',
      s3: { endpoint: 'http://127.0.0.1:9000', forcePathStyle: false, region: 'eu-west-1' },
      trainerMode: 'fork',
      modelReconcileSeconds: 5,
      trainStalledSeconds: 45,
      shards: 8,
      shardList: [4, 5, 7],
    });
  });

  it('says what is wrong with each multi-host setting, one line each', () => {
    const base = { DISCORD_TOKEN: TOKEN, MODEL_DIR: modelDir };
    expect(problems({ ...base, MODEL_STORE_URL: 's3://babble-models/x' })).toEqual([
      'MODEL_STORE_URL=s3://… needs STORAGE_URL=redis://… (the version pointers live in Redis)',
      'MODEL_STORE_URL=s3://… needs AWS_REGION (or S3_ENDPOINT for an S3-compatible server)',
    ]);
    const redis = { ...base, STORAGE_URL: 'redis://127.0.0.1:6379' };
    expect(parseConfig(redis).trainerMode).toBe('queue');
    expect(problems({ ...base, TRAINER_MODE: 'queue' })).toEqual([
      'TRAINER_MODE=queue needs STORAGE_URL=redis://… (the training queue lives in Redis)',
    ]);
    expect(problems({ ...redis, MODEL_STORE_URL: 'ftp://x', S3_FORCE_PATH_STYLE: 'yes', TRAINER_MODE: 'x' })).toEqual([
      'MODEL_STORE_URL must be file://<folder> or s3://<bucket>/<prefix> (got "ftp://x")',
      'S3_FORCE_PATH_STYLE must be true or false (got "yes")',
      'TRAINER_MODE must be fork or queue (got "x")',
    ]);
    expect(problems({ ...redis, MODEL_STORE_URL: 's3://B/x' })[0]).toMatch(
      /^MODEL_STORE_URL s3:\/\/ needs a bucket name/,
    );
    expect(problems({ ...redis, SHARD_IDS: '0-1' })).toEqual([
      'SHARD_IDS needs SHARD_COUNT (the total number of shards over every host)',
    ]);
    expect(problems({ ...redis, SHARDS: '2', SHARD_COUNT: '4' })).toEqual([
      'set SHARDS (one host) or SHARD_COUNT with SHARD_IDS (several hosts), not both',
    ]);
    expect(problems({ ...redis, SHARD_COUNT: '4', SHARD_IDS: '2-4' })[0]).toMatch(
      /SHARD_IDS must be shard numbers or ranges from 0 to 3/,
    );
    expect(problems({ ...redis, SHARD_COUNT: '4', SHARD_IDS: '1,0-2' })).toEqual(['SHARD_IDS names shard 1 twice']);
    expect(problems({ ...base, SHARD_COUNT: '4' })[0]).toMatch(/needs STORAGE_URL=redis/);
    expect(parseConfig({ ...redis, SHARD_COUNT: '4' })).toMatchObject({ shards: 4, shardList: undefined });
    const trainer = parseConfig({ MODEL_DIR: modelDir, STORAGE_URL: 'redis://h:1' }, { role: 'trainer' });
    expect(trainer.discordToken).toBe('');
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
    const fields = [
      'DISCORD_TOKEN',
      'DISCORD_API_URL',
      'LOG_LEVEL',
      'DEV_GUILD_ID',
      'MODEL_DIR',
      'BABBLE_BACKEND',
      'STORAGE_URL',
      'RETENTION_DAYS',
    ];
    fields.forEach((field, i) => {
      expect(list[i]).toMatch(new RegExp(`^${field} `));
    });
    for (const line of list) expect(line).not.toContain('\n');
  });

  it('resolves a relative MODEL_DIR against the given cwd', () => {
    const config = parseConfig(
      { DISCORD_TOKEN: TOKEN, MODEL_DIR: path.basename(modelDir) },
      { cwd: path.dirname(modelDir) },
    );
    expect(config.modelDir).toBe(path.basename(modelDir));
    expect(() => parseConfig({ DISCORD_TOKEN: TOKEN, MODEL_DIR: path.basename(modelDir) }, { cwd: '/' })).toThrow(
      /MODEL_DIR/,
    );
  });

  it('does not require the model folder when asked not to (command deployment)', () => {
    const config = parseConfig(
      { DISCORD_TOKEN: TOKEN, MODEL_DIR: path.join(modelDir, 'missing') },
      { requireModelDir: false },
    );
    expect(config.modelDir).toBe(path.join(modelDir, 'missing'));
  });

  it('accepts sqlite:// (relative or absolute) and redis:// storage, and whole retention days from 1 to 3650', () => {
    for (const url of [
      'sqlite://var/x.sqlite',
      'sqlite:///tmp/x.sqlite',
      'redis://localhost:6379',
      'rediss://u:p@host:6380/2',
    ]) {
      expect(parseConfig({ DISCORD_TOKEN: TOKEN, MODEL_DIR: modelDir, STORAGE_URL: url }).storageUrl).toBe(url);
    }
    for (const days of ['1', '3650'])
      expect(parseConfig({ DISCORD_TOKEN: TOKEN, MODEL_DIR: modelDir, RETENTION_DAYS: days }).retentionDays).toBe(
        Number(days),
      );
    for (const days of ['3651', '1.5', '-3', 'ninety']) {
      expect(problems({ DISCORD_TOKEN: TOKEN, MODEL_DIR: modelDir, RETENTION_DAYS: days })).toEqual([
        expect.stringMatching(/^RETENTION_DAYS .*1 to 3650/),
      ]);
    }
    expect(problems({ DISCORD_TOKEN: TOKEN, MODEL_DIR: modelDir, STORAGE_URL: 'sqlite:/x' })).toEqual([
      expect.stringMatching(/^STORAGE_URL must be sqlite:/),
    ]);
  });

  it('says what is wrong with each model and training setting, one line each naming the range', () => {
    const list = problems({
      DISCORD_TOKEN: TOKEN,
      MODEL_DIR: modelDir,
      MODEL_VERSIONS_KEPT: '0',
      MODEL_CACHE_SIZE: 'lots',
      TRAIN_CONCURRENCY: '1.5',
      TRAIN_MAX_MINUTES: '121',
      TRAIN_DEFAULT_MINUTES: '0.01',
      TRAIN_MAX_HEAP_MB: '64',
      TRAIN_GATE_TOLERANCE: '-1',
      TRAIN_MIN_LINES: '0',
      BOT_OWNER_IDS: '111111111111111111,@someone,abc',
    });
    const expected = [
      /^MODEL_VERSIONS_KEPT must be a whole number from 1 to 100 versions \(got "0"\)$/,
      /^MODEL_CACHE_SIZE must be a whole number from 1 to 10000 models \(got "lots"\)$/,
      /^TRAIN_CONCURRENCY must be a whole number from 1 to 16 /,
      new RegExp(
        `^TRAIN_MAX_MINUTES must be a number from ${SETTINGS.trainMinutes.min} to ${SETTINGS.trainMinutes.max} minutes`,
      ),
      /^TRAIN_DEFAULT_MINUTES must be a number from 0\.1 /,
      /^TRAIN_MAX_HEAP_MB must be a whole number from 128 to 65536 MB/,
      /^TRAIN_GATE_TOLERANCE must be a number from 0 to 10 bits per character \(got "-1"\)$/,
      /^TRAIN_MIN_LINES must be a whole number from 1 /,
      /^BOT_OWNER_IDS must be user ids separated by commas .*"@someone", "abc"/,
    ];
    expect(list).toHaveLength(expected.length);
    expected.forEach((pattern, i) => {
      expect(list[i]).toMatch(pattern);
    });
  });

  it('says what is wrong with each rate limit setting, one line each naming the range (0 replies: no limit; a window of 0 is refused)', () => {
    const list = problems({
      DISCORD_TOKEN: TOKEN,
      MODEL_DIR: modelDir,
      RATE_LIMIT_USER_REPLIES: '-1',
      RATE_LIMIT_USER_SECONDS: '0',
      RATE_LIMIT_SERVER_REPLIES: '2.5',
      RATE_LIMIT_SERVER_SECONDS: '86401',
    });
    expect(list).toEqual([
      expect.stringMatching(
        /^RATE_LIMIT_USER_REPLIES must be a whole number from 0 to 10000 replies \(0: no limit\) \(got "-1"\)$/,
      ),
      expect.stringMatching(/^RATE_LIMIT_USER_SECONDS must be a whole number from 1 to 86400 seconds \(got "0"\)$/),
      expect.stringMatching(/^RATE_LIMIT_SERVER_REPLIES must be a whole number from 0 to 100000 /),
      expect.stringMatching(/^RATE_LIMIT_SERVER_SECONDS must be a whole number from 1 to 86400 seconds/),
    ]);
  });

  it('keeps TRAIN_DEFAULT_MINUTES within TRAIN_MAX_MINUTES: an unset default follows a smaller maximum, a set one is refused', () => {
    expect(parseConfig({ DISCORD_TOKEN: TOKEN, MODEL_DIR: modelDir, TRAIN_MAX_MINUTES: '2' }).trainDefaultMinutes).toBe(
      2,
    );
    expect(
      problems({ DISCORD_TOKEN: TOKEN, MODEL_DIR: modelDir, TRAIN_MAX_MINUTES: '2', TRAIN_DEFAULT_MINUTES: '3' }),
    ).toEqual(['TRAIN_DEFAULT_MINUTES (3) must not be more than TRAIN_MAX_MINUTES (2)']);
  });

  it('refuses a MODELS_DIR that is a file', () => {
    const file = path.join(modelDir, 'not-a-folder');
    writeFileSync(file, 'x');
    expect(problems({ DISCORD_TOKEN: TOKEN, MODEL_DIR: modelDir, MODELS_DIR: file })).toEqual([
      expect.stringMatching(/^MODELS_DIR .* is a file, not a folder/),
    ]);
    expect(
      parseConfig({ DISCORD_TOKEN: TOKEN, MODEL_DIR: modelDir, MODELS_DIR: path.join(modelDir, 'made-later') })
        .modelsDir,
    ).toBe(path.join(modelDir, 'made-later'));
  });

  it('reads SHARDS with the rest: auto or a whole number on Redis storage, and says what is wrong otherwise', () => {
    const redis = { DISCORD_TOKEN: TOKEN, MODEL_DIR: modelDir, STORAGE_URL: 'redis://127.0.0.1:6379' };
    expect(parseConfig({ ...redis, SHARDS: 'auto' }).shards).toBe('auto');
    expect(parseConfig({ ...redis, SHARDS: ' 4 ' }).shards).toBe(4);
    expect(parseConfig({ ...redis, SHARDS: '' }).shards).toBeUndefined();
    expect(problems({ ...redis, SHARDS: 'lots' })).toEqual([
      'SHARDS must be "auto" or a whole number from 1 to 1000, not "lots"',
    ]);
    expect(problems({ DISCORD_TOKEN: TOKEN, MODEL_DIR: modelDir, SHARDS: '2' })).toEqual([
      expect.stringMatching(/^SHARDS needs STORAGE_URL=redis:\/\//),
    ]);
    // A shard process: discord.js sets SHARDS to its shard ids there (and SHARDING_MANAGER), never checked as ours.
    expect(parseConfig({ ...redis, SHARDING_MANAGER: 'true', SHARDS: '0', SHARD_COUNT: '2' }).shards).toBeUndefined();
    // one run of the checks lists every problem at once
    expect(problems({ MODEL_DIR: modelDir, SHARDS: '0', LOG_LEVEL: 'loud' })).toHaveLength(3);
  });

  it('reads SHARD_COUNT and SHARD_IDS per host (numbers and ranges) and refuses each bad combination in one line', () => {
    const redis = { DISCORD_TOKEN: TOKEN, MODEL_DIR: modelDir, STORAGE_URL: 'redis://127.0.0.1:6379' };
    expect(parseConfig({ ...redis, SHARD_COUNT: '4', SHARD_IDS: '0-1' })).toMatchObject({
      shards: 4,
      shardList: [0, 1],
    });
    expect(parseConfig({ ...redis, SHARD_COUNT: '8', SHARD_IDS: ' 4,5, 6-7 ' }).shardList).toEqual([4, 5, 6, 7]);
    expect(parseConfig({ ...redis, SHARD_COUNT: '2', SHARD_IDS: '' }).shardList).toBeUndefined(); // all of them
    for (const count of ['0', '-1', 'x', '1.5', '1001'])
      expect(problems({ ...redis, SHARD_COUNT: count, SHARD_IDS: '0' })).toEqual([
        `SHARD_COUNT must be a whole number from 1 to 1000, not ${JSON.stringify(count)}`,
      ]);
    for (const [ids, part] of [
      ['4', '4'],
      ['3-1', '3-1'],
      ['a', 'a'],
      ['0,,1', ''],
      ['0-', '0-'],
    ])
      expect(problems({ ...redis, SHARD_COUNT: '4', SHARD_IDS: ids })).toEqual([
        `SHARD_IDS must be shard numbers or ranges from 0 to 3, like 0-3 or 4,5,6-7 (not ${JSON.stringify(part)})`,
      ]);
    expect(problems({ ...redis, SHARD_COUNT: '4', SHARD_IDS: '0-2,2' })).toEqual(['SHARD_IDS names shard 2 twice']);
    expect(problems({ ...redis, SHARD_IDS: '0' })).toEqual([
      'SHARD_IDS needs SHARD_COUNT (the total number of shards over every host)',
    ]);
    expect(problems({ ...redis, SHARDS: 'auto', SHARD_COUNT: '4', SHARD_IDS: '0' })).toEqual([
      'set SHARDS (one host) or SHARD_COUNT with SHARD_IDS (several hosts), not both',
    ]);
    expect(problems({ DISCORD_TOKEN: TOKEN, MODEL_DIR: modelDir, SHARD_COUNT: '4', SHARD_IDS: '0-1' })).toEqual([
      expect.stringMatching(/^SHARD_COUNT needs STORAGE_URL=redis:\/\//),
    ]);
  });

  it('offers the same backend choices as the backend module', () => {
    expect([...BACKEND_CHOICES]).toEqual([...BACKEND_NAMES]);
  });
});
