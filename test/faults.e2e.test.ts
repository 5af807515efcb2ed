/**
 * Gateway and REST faults, injected by the fake Discord.
 *
 * Where: resumes, re-identifies, zombie detection, 429s and 5xx run in-process (startBot with the real model, the
 * real discord.js client and the fake Discord): that is all of the code that handles them (main() adds only
 * exiting), each case starts in well under a second instead of several, and the fake sees every REST try. The
 * fatal closes (4004, 4014) run through the real entry point, because "one clear exit" is a property of the
 * process: its exit code, its output, and that nothing reconnects after it.
 */
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startBot, type RunningBot } from '../src/discord/app.js';
import { OOPS } from '../src/discord/router.js';
import { createLogger, type Logger } from '../src/log.js';
import { createGenerationService, type LoadedGenerationService } from '../src/service/generation.js';
import {
  option,
  startFakeDiscord,
  type FakeDiscord,
  type RecordedRequest,
  type SentInteraction,
} from './fake-discord/index.js';
import { ROOT, startEntryProcess, type EntryExit, type EntryProcess } from './helpers/entry-process.js';
import { memoryCollection } from './helpers/collection.js';
import { bodyProblems, sentBodies } from './helpers/sent-bodies.js';
import { withAnyErrorId } from './helpers/error-id.js';

const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.GfAkE0.fake-token-for-fault-tests';

let service: LoadedGenerationService;
let fake: FakeDiscord | undefined;
let bot: RunningBot | undefined;
let logLines: Record<string, unknown>[] = [];
const crashes: unknown[] = [];
const onCrash = (reason: unknown) => crashes.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onCrash);
  service = await createGenerationService({ modelDir: 'models/base' });
}, 60_000);

afterAll(() => {
  service?.close();
  process.off('unhandledRejection', onCrash);
});

afterEach(async () => {
  await bot?.stop();
  bot = undefined;
  if (fake) {
    // Whatever the fault, every request the bot made was spec-valid and every message it sent pings nobody.
    fake.assertNoViolations();
    for (const sent of sentBodies(fake.requests)) expect(bodyProblems(sent), sent.request.path).toEqual([]);
    expect(fake.internalErrors).toEqual([]);
    await fake.close();
  }
  fake = undefined;
  expect(crashes).toEqual([]);
});

function captureLog(): Logger {
  logLines = [];
  return createLogger('debug', {
    write: (s: string) => {
      logLines.push(JSON.parse(s) as Record<string, unknown>);
    },
  });
}

async function start(): Promise<{ fake: FakeDiscord; bot: RunningBot }> {
  fake = await startFakeDiscord({ token: TOKEN });
  bot = await startBot({
    token: TOKEN,
    apiUrl: fake.apiUrl,
    service,
    collection: await memoryCollection(),
    log: captureLog(),
  });
  return { fake, bot };
}

function babble(f: FakeDiscord, seed: string, token?: string): SentInteraction {
  return f.sendInteraction({
    ...(token ? { token } : {}),
    data: { name: 'babble', options: [option('seed', seed), option('rng', 7)] },
  });
}

function callbacks(f: FakeDiscord, token: string): RecordedRequest[] {
  return f.requests.filter(
    (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === token,
  );
}

function callbackOk(f: FakeDiscord, token: string, timeoutMs = 15_000): Promise<RecordedRequest> {
  return f.waitForRequest(
    (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === token && r.status < 300,
    timeoutMs,
  );
}

function repliesTo(f: FakeDiscord, messageId: string): RecordedRequest[] {
  return f.requests.filter(
    (r) =>
      r.operationId === 'create_message' &&
      (r.body as { message_reference?: { message_id?: string } }).message_reference?.message_id === messageId,
  );
}

/** Each interaction got exactly one accepted callback, and it carries the babble of its seed. */
async function expectAnsweredOnce(f: FakeDiscord, sent: { token: string; seed: string }[]): Promise<void> {
  for (const s of sent) await callbackOk(f, s.token);
  for (const s of sent) {
    const ok = callbacks(f, s.token).filter((r) => r.status < 300);
    expect(ok, s.seed).toHaveLength(1);
    expect((ok[0]!.body as { data?: { content?: string } }).data?.content).toMatch(new RegExp(`^${s.seed}`));
  }
}

function sendBatch(f: FakeDiscord, label: string, n: number): { token: string; seed: string }[] {
  return Array.from({ length: n }, (_, i) => {
    const seed = `${label} ${i}`;
    return { seed, token: babble(f, seed).token };
  });
}

describe('gateway faults (in-process)', () => {
  it('a dropped connection: RESUMEs (no new IDENTIFY) and answers, once each, the interactions sent while it was down', async () => {
    const { fake: f } = await start();
    f.dropConnection();
    const sent = sendBatch(f, 'drop', 5);
    const said = f.sendMessage({ content: `<@${f.botUser.id}> cookie?` });
    const seqAfterSending = f.sessions()[0]!.seq;
    await expectAnsweredOnce(f, sent);
    await f.waitFor(() => repliesTo(f, String(said.id)).length > 0, 10_000, 'mention reply');
    expect(repliesTo(f, String(said.id))).toHaveLength(1);
    expect(f.identifies).toBe(1);
    expect(f.resumes).toBe(1);
    // They came as the RESUME replay: the client resumed from before them.
    const resume = f.gatewayReceived.find((p) => p.op === 6)!;
    expect((resume.d as { seq: number }).seq).toBeLessThanOrEqual(seqAfterSending - 6);
    expect(logLines.find((l) => l.msg === 'gateway resumed')?.replayed).toBeGreaterThanOrEqual(6);
  });

  it('op 7 RECONNECT: RESUMEs and answers the interactions sent meanwhile, once each', async () => {
    const { fake: f } = await start();
    f.requestReconnect();
    const sent = sendBatch(f, 'reconnect', 5);
    await f.waitFor(() => f.resumes === 1, 10_000, 'resume');
    sent.push(...sendBatch(f, 'after', 2));
    await expectAnsweredOnce(f, sent);
    expect(f.identifies).toBe(1);
  });

  it('a non-fatal close code (4000 unknown error): RESUMEs and serves', async () => {
    const { fake: f } = await start();
    f.closeGateway(4000, 'unknown error');
    const sent = sendBatch(f, 'close', 3);
    await expectAnsweredOnce(f, sent);
    expect(f.identifies).toBe(1);
    expect(f.resumes).toBe(1);
  });

  it('a resumable invalid session (op 9, true): RESUMEs and answers what was sent meanwhile', async () => {
    const { fake: f } = await start();
    f.invalidateSession(true);
    const sent = sendBatch(f, 'resumable', 3);
    await expectAnsweredOnce(f, sent);
    expect(f.identifies).toBe(1);
    expect(f.resumes).toBe(1);
  });

  it('a non-resumable invalid session (op 9, false): IDENTIFIEs again with a new session and serves', async () => {
    const { fake: f, bot: b } = await start();
    const firstSession = f.sessions()[0]!.id;
    // discord.js says a shard is ready once READY and the GUILD_CREATEs it waits for are processed
    const ready = new Promise<void>((resolve) => b.client.once('shardReady', () => resolve()));
    f.invalidateSession(false);
    // discord.js waits ~5 s before a second IDENTIFY within 5 s of the first.
    await f.waitFor(() => f.identifies === 2 && f.sessions().some((s) => s.connected), 15_000, 're-identify');
    expect(f.sessions().map((s) => s.id)).not.toContain(firstSession);
    await ready;
    const sent = sendBatch(f, 'fresh', 3);
    await expectAnsweredOnce(f, sent);
    expect(b.client.isReady()).toBe(true);
  }, 30_000);

  it('a stalled gateway (no heartbeat ACKs): discord.js drops the zombie connection, RESUMEs, and serves', async () => {
    const { fake: f } = await start();
    const connections = f.gatewayConnections;
    f.stallGateway();
    const during = sendBatch(f, 'stalled', 2);
    await f.waitFor(() => f.gatewayConnections > connections && f.resumes >= 1, 15_000, 'zombie reconnect');
    const after = sendBatch(f, 'unstalled', 2);
    await expectAnsweredOnce(f, [...during, ...after]);
    expect(f.identifies).toBe(1);
  }, 30_000);
});

describe('REST faults (in-process)', () => {
  it('a 429 with retry_after on the interaction callback: delivered once, after the wait', async () => {
    const { fake: f } = await start();
    const token = 'fault-429-callback';
    f.failNext((r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === token, {
      status: 429,
      retryAfter: 1,
    });
    babble(f, 'wait', token);
    await callbackOk(f, token);
    const tries = callbacks(f, token);
    expect(tries.map((r) => (r.status < 300 ? 'ok' : r.status))).toEqual([429, 'ok']);
    expect(tries[1]!.at - tries[0]!.at).toBeGreaterThanOrEqual(950);
    // (No 'rate limited' log line here: @discordjs/rest's BurstHandler, used for interaction callbacks, emits no
    // rateLimited event; only the debug channel mentions it.)
  });

  it('a 429 with retry_after on a channel message (mention reply): delivered once, after the wait', async () => {
    const { fake: f } = await start();
    f.failNext('create_message', { status: 429, retryAfter: 1 });
    const said = f.sendMessage({ content: `<@${f.botUser.id}> want a ball?` });
    await f.waitFor(() => repliesTo(f, String(said.id)).some((r) => r.status < 300), 10_000, 'mention reply');
    const tries = repliesTo(f, String(said.id));
    expect(tries.map((r) => (r.status < 300 ? 'ok' : r.status))).toEqual([429, 'ok']);
    expect(tries[1]!.at - tries[0]!.at).toBeGreaterThanOrEqual(950);
    expect(logLines.some((l) => l.msg === 'rate limited' && (l.retryAfter as number) >= 1000)).toBe(true);
  });

  it('a global 429 on a channel message: delivered once, after the wait', async () => {
    const { fake: f } = await start();
    f.failNext('create_message', { status: 429, retryAfter: 1, global: true });
    const said = f.sendMessage({ content: `<@${f.botUser.id}> nap time` });
    await f.waitFor(() => repliesTo(f, String(said.id)).some((r) => r.status < 300), 10_000, 'mention reply');
    expect(repliesTo(f, String(said.id)).map((r) => (r.status < 300 ? 'ok' : r.status))).toEqual([429, 'ok']);
  });

  it('5xx on the interaction callback and on a channel message: discord.js retries and each is delivered once', async () => {
    const { fake: f } = await start();
    const token = 'fault-5xx-callback';
    const onCallback = (r: RecordedRequest) =>
      r.operationId === 'create_interaction_response' && r.params.interaction_token === token;
    f.failNext(onCallback, { status: 500 });
    f.failNext(onCallback, { status: 502 });
    f.failNext('create_message', { status: 503 });
    f.failNext('create_message', { status: 500 });
    babble(f, 'retry', token);
    const said = f.sendMessage({ content: `<@${f.botUser.id}> hello` });
    await callbackOk(f, token);
    await f.waitFor(() => repliesTo(f, String(said.id)).some((r) => r.status < 300), 10_000, 'mention reply');
    expect(callbacks(f, token).map((r) => (r.status < 300 ? 'ok' : r.status))).toEqual([500, 502, 'ok']);
    expect(repliesTo(f, String(said.id)).map((r) => (r.status < 300 ? 'ok' : r.status))).toEqual([503, 500, 'ok']);
    expect(logLines.filter((l) => (l.level as number) >= 50)).toEqual([]);
  });

  // @discordjs/rest drops the token after a 401, so startBot stops for good instead of half-working.
  it('a 401 on an authenticated REST call after start-up stops the bot with the token message, like close 4004', async () => {
    fake = await startFakeDiscord({ token: TOKEN });
    const fatal: Error[] = [];
    bot = await startBot({
      token: TOKEN,
      apiUrl: fake.apiUrl,
      service,
      collection: await memoryCollection(),
      log: captureLog(),
      onFatal: (e) => fatal.push(e),
    });
    fake.failNext('create_message', { status: 401 });
    fake.sendMessage({ content: `<@${fake.botUser.id}> want a ball?` });
    await fake.waitFor(() => fake!.requests.some((r) => r.status === 401), 5000, '401');
    await vi.waitFor(() => expect(fatal).not.toHaveLength(0), { timeout: 5000 });
    expect(fatal.map((e) => e.message)).toEqual([expect.stringMatching(/DISCORD_TOKEN/)]);
  });

  it("5xx beyond discord.js's 3 retries: the user gets the short error, the log the failure, and the bot keeps serving", async () => {
    const { fake: f } = await start();
    const token = 'fault-5xx-forever';
    f.failNext(
      (r) =>
        r.operationId === 'create_interaction_response' &&
        r.params.interaction_token === token &&
        (r.body as { data?: { flags?: number } }).data?.flags !== 64,
      { status: 500 },
      { times: 10 },
    );
    babble(f, 'doomed', token);
    await callbackOk(f, token);
    const tries = callbacks(f, token);
    expect(tries.map((r) => (r.status < 300 ? 'ok' : r.status))).toEqual([500, 500, 500, 500, 'ok']);
    expect(tries.at(-1)!.body).toMatchObject({ type: 4, data: { content: withAnyErrorId(OOPS), flags: 64 } });
    expect(logLines.some((l) => l.msg === 'command failed' && l.command === 'babble')).toBe(true);
    await expectAnsweredOnce(f, sendBatch(f, 'later', 1));
  });
});

describe('through the real entry point', () => {
  const runs = new Map<
    number,
    { fake: FakeDiscord; p: EntryProcess; identifies: number; connections: number; closedAt: number }
  >();
  let rejection:
    | { fake: FakeDiscord; p: EntryProcess; logged: boolean; aliveAfter: boolean; answered: boolean; exit: EntryExit }
    | undefined;

  async function fatalCloseRun(code: number): Promise<void> {
    const f = await startFakeDiscord({ token: TOKEN });
    const p = startEntryProcess({ env: { DISCORD_TOKEN: TOKEN, DISCORD_API_URL: f.apiUrl } });
    await p.waitForLog((l) => l.msg === 'serving');
    const run = { fake: f, p, identifies: f.identifies, connections: f.gatewayConnections, closedAt: Date.now() };
    runs.set(code, run);
    f.closeGateway(code, code === 4004 ? 'Authentication failed.' : 'Disallowed intent(s).');
    await p.exited;
    await new Promise((r) => setTimeout(r, 300)); // anything that would reconnect would have by now
  }

  /** SIGUSR2 makes test/helpers/fault-preload.ts leave a promise rejection unhandled inside the bot. */
  async function unhandledRejectionRun(): Promise<void> {
    const f = await startFakeDiscord({ token: TOKEN });
    const p = startEntryProcess({
      env: { DISCORD_TOKEN: TOKEN, DISCORD_API_URL: f.apiUrl },
      preload: [path.join(ROOT, 'test/helpers/fault-preload.ts')],
    });
    await p.waitForLog((l) => l.msg === 'serving');
    p.child.kill('SIGUSR2');
    const logged = await p
      .waitForLog((l) => String(l.msg).startsWith('unhandled rejection'), 10_000)
      .then(
        () => true,
        () => false,
      );
    await Promise.race([p.exited, new Promise((r) => setTimeout(r, 1000))]);
    const aliveAfter = p.child.exitCode === null && p.child.signalCode === null;
    let answered = false;
    if (aliveAfter) {
      const { token } = babble(f, 'still here');
      answered = await callbackOk(f, token).then(
        () => true,
        () => false,
      );
      p.child.kill('SIGTERM');
    }
    rejection = { fake: f, p, logged, aliveAfter, answered, exit: await p.exited };
  }

  beforeAll(async () => {
    // All at once: each start-up loads TensorFlow.js and the model.
    await Promise.all([fatalCloseRun(4004), fatalCloseRun(4014), unhandledRejectionRun()]);
  }, 90_000);

  afterAll(async () => {
    for (const { fake: f, p } of [...runs.values(), ...(rejection ? [rejection] : [])]) {
      p.child.kill('SIGKILL');
      await f.close();
    }
  });
  it.each([
    [4004, /DISCORD_TOKEN.*4004.*Reset Token/],
    [4014, /4014.*"Message Content Intent"/],
  ])(
    'close %i after start-up: exits non-zero at once with one fatal message, nothing on stderr, and no reconnect',
    async (code, says) => {
      const run = runs.get(code)!;
      const { code: exitCode, at } = await run.p.exited;
      expect(exitCode).not.toBe(0);
      expect(exitCode).not.toBeNull();
      expect(at - run.closedAt).toBeLessThan(10_000);
      const fatal = run.p.logs.filter((l) => (l.level as number) >= 60);
      expect(fatal).toHaveLength(1);
      expect(String(fatal[0]!.msg)).toMatch(says);
      // Besides the fatal line, only the one "gateway closed for good" error naming the code.
      const errors = run.p.logs.filter((l) => l.level === 50);
      expect(errors.map((l) => [l.msg, l.code])).toEqual([['gateway closed for good', code]]);
      expect(run.p.stderr()).toBe('');
      expect(run.fake.identifies).toBe(run.identifies);
      expect(run.fake.gatewayConnections).toBe(run.connections);
      expect(run.fake.resumes).toBe(0);
    },
  );

  // tfjs-backend-wasm's Emscripten glue installs process listeners that rethrow; initBackend removes them.
  it('an unhandled rejection is logged and the bot keeps serving (bot.ts: "the bot keeps running")', () => {
    const r = rejection!;
    expect(r.logged).toBe(true);
    expect(r.aliveAfter, `exit ${r.exit.code}; stderr ${r.p.stderr().length} chars`).toBe(true);
    expect(r.answered).toBe(true);
    expect(r.exit.code).toBe(0);
  });
});
