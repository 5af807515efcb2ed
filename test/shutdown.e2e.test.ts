/**
 * Graceful shutdown through the real entry point (`node dist/src/main.js`, as `npm start` runs it; the node process
 * is signalled itself: npm would not pass the signal on) against the fake Discord: a /babble whose reply Discord holds back with a 429 is still
 * delivered after SIGTERM, a command arriving while stopping is told the bot is restarting, and the process exits
 * 0 well within 10 s; a reply held back longer than the deadline allows is given up and the bot still exits 0 in
 * time; a second signal exits at once. The hard deadline itself (exit 1 with a fatal line) is checked on
 * armShutdownDeadline, since nothing in a healthy bot takes that long.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { armShutdownDeadline, SHUTDOWN_DEADLINE_MS } from '../src/bot.js';
import { RESTARTING } from '../src/discord/app.js';
import { createLogger } from '../src/log.js';
import { option, startFakeDiscord, type FakeDiscord, type RecordedRequest } from './fake-discord/index.js';
import { startEntryProcess, type EntryProcess } from './helpers/entry-process.js';

const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.GfAkE0.fake-token-for-shutdown-tests';
const modelsDir = mkdtempSync(path.join(tmpdir(), 'babble-shutdown-models-'));
const fakes: FakeDiscord[] = [];
const bots: EntryProcess[] = [];

afterAll(async () => {
  for (const b of bots) b.child.kill('SIGKILL');
  for (const f of fakes) await f.close();
  rmSync(modelsDir, { recursive: true, force: true });
});

async function serving(): Promise<{ fake: FakeDiscord; bot: EntryProcess }> {
  const fake = await startFakeDiscord({ token: TOKEN });
  fakes.push(fake);
  const bot = startEntryProcess({ env: { DISCORD_TOKEN: TOKEN, DISCORD_API_URL: fake.apiUrl, MODELS_DIR: modelsDir } });
  bots.push(bot);
  await bot.waitForLog((l) => l.msg === 'serving');
  return { fake, bot };
}

const callbackOf = (token: string) => (r: RecordedRequest) =>
  r.operationId === 'create_interaction_response' && r.params.interaction_token === token;

/** Sends /babble with a known token, its first reply refused by Discord with a 429 of `retryAfter` s; resolves once that 429 was given. */
async function heldBackBabble(fake: FakeDiscord, retryAfter: number): Promise<string> {
  const token = `fake-interaction-${randomBytes(24).toString('base64url')}`;
  fake.failNext(callbackOf(token), { status: 429, retryAfter });
  fake.sendInteraction({
    token,
    data: { name: 'babble', options: [option('seed', 'good night'), option('length', 20), option('rng', 7)] },
  });
  await fake.waitForRequest((r) => callbackOf(token)(r) && r.injected === 'rate-limit', 30_000);
  return token;
}

const timeOf = (line: Record<string, unknown> | undefined) => Date.parse(String(line?.time));

describe('SIGTERM through the real entry point', () => {
  it('delivers a reply held back by a 429 after the signal, tells a new command it is restarting, and exits 0 within 10 s', async () => {
    const { fake, bot } = await serving();
    const token = await heldBackBabble(fake, 2.5);

    const signalledAt = Date.now();
    bot.child.kill('SIGTERM');
    await bot.waitForLog((l) => l.msg === 'stopping', 5000);
    const late = fake.sendInteraction({ data: { name: 'help' } });
    const restarting = await fake.waitForRequest(callbackOf(late.token), 5000);
    expect(restarting.body).toMatchObject({
      type: 4,
      data: { content: RESTARTING, flags: 64, allowed_mentions: { parse: [] } },
    });

    const delivered = await fake.waitForRequest((r) => callbackOf(token)(r) && r.status < 300, SHUTDOWN_DEADLINE_MS);
    expect(delivered.at).toBeGreaterThan(signalledAt);
    expect((delivered.body as { data: { content: string } }).data.content.startsWith('good night')).toBe(true);

    const exit = await bot.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - signalledAt).toBeLessThan(SHUTDOWN_DEADLINE_MS);
    expect(bot.logs.find((l) => l.msg === 'finishing the replies in progress')?.inFlight).toBeGreaterThanOrEqual(1);
    expect(bot.logs.some((l) => l.msg === 'replies in progress finished')).toBe(true);
    const loggedOut = bot.logs.find((l) => l.msg === 'logged out');
    expect(timeOf(loggedOut)).toBeGreaterThanOrEqual(delivered.at - 5);
    expect(bot.logs.some((l) => l.msg === 'stopped')).toBe(true);
    expect(bot.logs.filter((l) => (l.level as number) >= 50)).toEqual([]);
    expect(bot.stderr()).toBe('');
    // One successful callback for the held-back /babble: delivered once.
    expect(fake.requests.filter((r) => callbackOf(token)(r) && r.status < 300)).toHaveLength(1);
    fake.assertNoViolations();
  }, 90_000);

  it('gives up on a reply held back past the deadline, logs it, logs out and still exits 0 within 10 s', async () => {
    const { fake, bot } = await serving();
    await heldBackBabble(fake, 30);
    const signalledAt = Date.now();
    bot.child.kill('SIGTERM');
    const exit = await bot.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - signalledAt).toBeLessThan(SHUTDOWN_DEADLINE_MS);
    expect(bot.logs.find((l) => l.msg === 'gave up waiting for replies in progress')).toMatchObject({ inFlight: 1 });
    expect(bot.logs.some((l) => l.msg === 'logged out')).toBe(true);
  }, 90_000);

  it('exits 1 at once on a second signal, saying so', async () => {
    const { fake, bot } = await serving();
    await heldBackBabble(fake, 30);
    bot.child.kill('SIGTERM');
    await bot.waitForLog((l) => l.msg === 'stopping', 5000);
    const secondAt = Date.now();
    bot.child.kill('SIGINT');
    const exit = await bot.exited;
    expect(exit.code).toBe(1);
    expect(exit.at - secondAt).toBeLessThan(2000);
    expect(bot.logs.some((l) => l.msg === 'second signal: exiting now without finishing')).toBe(true);
  }, 90_000);
});

describe('armShutdownDeadline', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function capture() {
    const lines: Record<string, unknown>[] = [];
    return {
      lines,
      log: createLogger('info', {
        write: (s: string) => {
          lines.push(JSON.parse(s) as Record<string, unknown>);
        },
      }),
    };
  }

  it('logs one fatal line and exits 1 when the stop overruns the deadline', async () => {
    const { lines, log } = capture();
    const exits: number[] = [];
    vi.useFakeTimers();
    armShutdownDeadline(30, log, (code) => exits.push(code));
    vi.advanceTimersByTime(29);
    expect(exits).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(exits).toEqual([1]);
    expect(lines).toEqual([
      expect.objectContaining({ level: 60, msg: 'stopping took longer than 0.03 s: exiting now', deadlineMs: 30 }),
    ]);
  });

  it('does nothing once cancelled', async () => {
    const { lines, log } = capture();
    const exits: number[] = [];
    vi.useFakeTimers();
    armShutdownDeadline(30, log, (code) => exits.push(code)).cancel();
    vi.advanceTimersByTime(60_000);
    expect(exits).toEqual([]);
    expect(lines).toEqual([]);
  });
});
