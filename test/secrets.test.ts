/**
 * Secrets: a known, syntactically valid test token never shows in what the bot writes (stdout logs at trace level,
 * stderr, crash output) while things go wrong — a failing REST call, a throwing command, an unhandled rejection,
 * a 401 mid-run, a crash, a 401 at start-up on a second run, start-up REST failures, a malformed token — nor in the
 * trainer child's environment.
 */
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv, runTraining, TrainingError } from '../src/training/trainer.js';
import type { TrainJob } from '../src/training/trainer-protocol.js';
import { startFakeDiscord, type FakeDiscord } from './fake-discord/index.js';
import { ROOT, startEntryProcess, type EntryProcess } from './helpers/entry-process.js';

const ID_PART = 'MTIzNDU2Nzg5MDEyMzQ1Njc4'; // base64 of 123456789012345678
const TIME_PART = 'GabcDe';
const HMAC_PART = 'Zq9Xw8Ce7Vr6Bt5Ny4Mu3Li2Ko1Jp0HaGsFdSaQw';
const TOKEN = `${ID_PART}.${TIME_PART}.${HMAC_PART}`;
const PRELOAD = path.join(ROOT, 'test/helpers/fault-preload.ts');

/** The whole token in the forms it could leak in. */
const WHOLE = [
  TOKEN,
  Buffer.from(TOKEN).toString('base64'),
  Buffer.from(TOKEN).toString('base64url'),
  encodeURIComponent(TOKEN),
];

/** Which of `secrets` occur in `text`. */
function leaked(text: string, secrets: readonly string[]): string[] {
  return secrets.filter((s) => text.includes(s));
}

function output(p: EntryProcess): string {
  return `${p.stdout()}\n${p.stderr()}`;
}

interface Runs {
  serving: EntryProcess;
  servingExit: { code: number | null; signal: NodeJS.Signals | null };
  resetToken: EntryProcess;
  gatewayDown: EntryProcess;
  malformed: EntryProcess;
  crash: EntryProcess;
}

const fakes: FakeDiscord[] = [];
let runs: Runs;

async function failingServingRun(): Promise<{
  p: EntryProcess;
  exit: { code: number | null; signal: NodeJS.Signals | null };
}> {
  const fake = await startFakeDiscord({ token: TOKEN });
  fakes.push(fake);
  const p = startEntryProcess({
    env: { DISCORD_TOKEN: TOKEN, DISCORD_API_URL: fake.apiUrl, LOG_LEVEL: 'trace' },
    preload: [PRELOAD],
  });
  await p.waitForLog((l) => l.msg === 'serving');
  const errorsLogged = (msg: string) => p.logs.filter((l) => l.msg === msg).length;
  const mention = () => fake.sendMessage({ content: `<@${fake.botUser.id}> cookie?` });

  // A REST call that keeps failing (5xx past discord.js's retries).
  fake.failNext('create_message', { status: 500 }, { times: 4 });
  mention();
  await p.waitForLog(() => errorsLogged('mention reply failed') >= 1, 20_000);
  // A command that throws: Discord refuses its reply.
  fake.failNext(
    (r) =>
      r.operationId === 'create_interaction_response' &&
      (r.body as { data?: { embeds?: unknown } }).data?.embeds !== undefined,
    {
      status: 400,
      body: { message: 'Invalid Form Body', code: 50035 },
    },
  );
  fake.sendInteraction({ data: { name: 'help' } });
  await p.waitForLog((l) => l.msg === 'command failed', 20_000);
  // An unhandled rejection: logged, and the bot keeps serving.
  p.child.kill('SIGUSR2');
  await p.waitForLog((l) => String(l.msg).startsWith('unhandled rejection'), 20_000);
  // A 401 mid-run: the bot stops for good with the token message.
  fake.failNext('create_message', { status: 401 });
  mention();
  const exit = await p.exited;
  return { p, exit };
}

/** A bot that crashes (an uncaught exception) while serving at trace level. */
async function crashRun(): Promise<EntryProcess> {
  const fake = await startFakeDiscord({ token: TOKEN });
  fakes.push(fake);
  const p = startEntryProcess({
    env: { DISCORD_TOKEN: TOKEN, DISCORD_API_URL: fake.apiUrl, LOG_LEVEL: 'trace' },
    preload: [PRELOAD],
  });
  await p.waitForLog((l) => l.msg === 'serving');
  p.child.kill('SIGHUP');
  await p.exited;
  return p;
}

beforeAll(async () => {
  // A second run after the token was reset: Discord answers 401.
  const resetFake = await startFakeDiscord({
    token: 'OTk5OTk5OTk5OTk5OTk5OTk5.Hzzzzz.another-token-that-discord-now-expects0',
  });
  // Start-up REST failures: GET /gateway/bot keeps answering 502.
  const downFake = await startFakeDiscord({ token: TOKEN });
  downFake.failNext('get_bot_gateway', { status: 502 }, { times: 20 });
  fakes.push(resetFake, downFake);
  const resetToken = startEntryProcess({
    env: { DISCORD_TOKEN: TOKEN, DISCORD_API_URL: resetFake.apiUrl, LOG_LEVEL: 'trace' },
  });
  const gatewayDown = startEntryProcess({
    env: { DISCORD_TOKEN: TOKEN, DISCORD_API_URL: downFake.apiUrl, LOG_LEVEL: 'trace' },
  });
  // A token pasted with junk after it: refused by the configuration check.
  const malformed = startEntryProcess({ env: { DISCORD_TOKEN: `${TOKEN} oops`, LOG_LEVEL: 'trace' } });
  const [serving, crash] = await Promise.all([
    failingServingRun(),
    crashRun(),
    resetToken.exited,
    gatewayDown.exited,
    malformed.exited,
  ]);
  runs = { serving: serving.p, servingExit: serving.exit, resetToken, gatewayDown, malformed, crash };
}, 90_000);

afterAll(async () => {
  for (const p of [runs?.serving, runs?.resetToken, runs?.gatewayDown, runs?.malformed, runs?.crash])
    p?.child.kill('SIGKILL');
  await Promise.all(fakes.map((f) => f.close()));
});

describe('the token in what the bot writes', () => {
  it('the runs did fail the ways intended, with trace-level logs', () => {
    const { serving, servingExit, resetToken, gatewayDown, malformed, crash } = runs;
    expect(serving.logs.some((l) => l.msg === 'discord.js debug')).toBe(true);
    expect(servingExit.code).toBe(1);
    expect(serving.logs.some((l) => String(l.msg).startsWith('unhandled rejection'))).toBe(true);
    expect(serving.logs.find((l) => l.level === 60)?.msg).toMatch(/rejected DISCORD_TOKEN/);
    expect(
      serving.logs.filter((l) => l.msg === 'mention reply failed').map((l) => (l.err as { message?: string }).message),
    ).toEqual([expect.stringMatching(/500|Internal Server Error/), expect.stringMatching(/401/)]);
    expect(crash.child.exitCode).not.toBe(0);
    expect(crash.stderr()).toMatch(/injected crash \(fault-preload\)/);
    expect(resetToken.logs.find((l) => l.level === 60)?.msg).toMatch(/rejected DISCORD_TOKEN/);
    expect(gatewayDown.logs.find((l) => l.level === 60)?.msg).toMatch(/Could not log in to Discord/);
    expect(malformed.child.exitCode).toBe(1);
    expect(malformed.stderr()).toMatch(/DISCORD_TOKEN does not look like a bot token/);
  });

  it.each(['serving', 'crash', 'resetToken', 'gatewayDown', 'malformed'] as const)(
    '%s: neither the token nor its secret part appears in stdout or stderr',
    (run) => {
      expect(leaked(output(runs[run]), [...WHOLE, HMAC_PART])).toEqual([]);
    },
  );

  // discord.js logs "Provided token: <id>.<timestamp>.*****" at debug level; startBot redacts it.
  it('serving: not even the id and timestamp parts of the token appear', () => {
    expect(leaked(output(runs.serving), [ID_PART, TIME_PART])).toEqual([]);
  });
});

describe("the token in the trainer child's environment", () => {
  const work = mkdtempSync(path.join(tmpdir(), 'babble-secrets-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('childEnv passes no variable whose value holds the token, however it is named in the parent', () => {
    const parent = {
      PATH: '/usr/bin',
      HOME: '/home/b',
      DISCORD_TOKEN: TOKEN,
      BOT_TOKEN: TOKEN,
      DISCORD_BOT_SECRET: TOKEN,
      DiscordToken: TOKEN,
      npm_config__auth: TOKEN,
    };
    const env = childEnv(parent, { BABBLE_BACKEND: 'cpu', DISCORD_TOKEN: TOKEN, Api_Key: TOKEN });
    expect(leaked(Object.entries(env).flat().join('\n'), [...WHOLE, ID_PART, HMAC_PART])).toEqual([]);
    expect(env.PATH).toBe('/usr/bin');
    expect(env.BABBLE_BACKEND).toBe('cpu');
  });

  // childEnv also drops any value that holds a secret-named parent variable's value.
  it('childEnv drops the token even when a caller passes it under an innocent name', () => {
    const env = childEnv({ PATH: '/usr/bin', DISCORD_TOKEN: TOKEN }, { BABBLE_DISCORD: TOKEN });
    expect(leaked(Object.values(env).join('\n'), [TOKEN])).toEqual([]);
  });

  it('a trainer forked by runTraining while DISCORD_TOKEN is set has no trace of it in its environment (/proc/<pid>/environ)', async () => {
    const saved = process.env.DISCORD_TOKEN;
    process.env.DISCORD_TOKEN = TOKEN;
    const controller = new AbortController();
    let environ = '';
    const job: TrainJob = {
      baseModelDir: path.join(ROOT, 'models/base'),
      outDir: path.join(work, 'out'),
      version: 'secrets',
      trainingLines: ['me want cookie', 'me like ball'],
      baseCorpusLines: ['hi mama', 'no nap'],
      heldOut: { server: [], base: [] },
      batchSize: 2,
      workers: 1,
      maxSteps: 1,
      progressIntervalMs: 0,
    };
    try {
      const run = runTraining(job, {
        signal: controller.signal,
        graceMs: 500,
        onReady: ({ pid }) => {
          environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
          controller.abort();
        },
      });
      await run.catch((error: unknown) => {
        if (!(error instanceof TrainingError) || error.kind !== 'cancelled') throw error;
      });
    } finally {
      if (saved === undefined) delete process.env.DISCORD_TOKEN;
      else process.env.DISCORD_TOKEN = saved;
    }
    expect(environ.split('\0')).toContain('BABBLE_TRAINER_CHILD=1');
    expect(leaked(environ, [...WHOLE, ID_PART, HMAC_PART])).toEqual([]);
  }, 30_000);
});
