/**
 * End to end: the real entry point (`node dist/src/main.js`, as `npm start` runs it) as a child process, with the
 * real generation service and model, against the fake Discord.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands } from '../src/discord/commands/index.js';
import { OOPS } from '../src/discord/router.js';
import { saveModel } from '../src/model/store.js';
import { DEFAULT_VOCAB, normalize } from '../src/model/vocab.js';
import { initWeights } from '../src/model/weights.js';
import { startEntryProcess, type EntryProcess } from './helpers/entry-process.js';
import { option, startFakeDiscord, subcommand, type FakeDiscord, type RecordedRequest } from './fake-discord/index.js';
import { withAnyErrorId } from './helpers/error-id.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.GfAkE0.fake-token-for-e2e-tests';

let modelDir = path.join(ROOT, 'models/base');
let tempModelDir: string | undefined;
/** Per-server data of the bot processes (kept across their restarts, removed at the end). */
const storageDir = mkdtempSync(path.join(tmpdir(), 'babble-e2e-storage-'));

type BotProcess = EntryProcess;

/** Starts the real entry point with only the variables given (nothing inherited, so no real token leaks in). */
function startBotProcess(env: Record<string, string>): BotProcess {
  return startEntryProcess({
    env: {
      MODEL_DIR: modelDir,
      STORAGE_URL: `sqlite://${path.join(storageDir, 'babble.sqlite')}`,
      MODELS_DIR: path.join(storageDir, 'models'),
      ...env,
    },
  });
}

function isMessageBody(r: RecordedRequest): boolean {
  if (r.operationId === 'create_interaction_response') {
    const data = (r.body as { data?: Record<string, unknown> } | undefined)?.data;
    return data !== undefined && (data.content !== undefined || data.embeds !== undefined);
  }
  return [
    'update_original_webhook_message',
    'execute_webhook',
    'update_webhook_message',
    'create_message',
    'update_message',
  ].includes(r.operationId ?? '');
}

function messageBody(r: RecordedRequest): Record<string, unknown> {
  const body = r.body as Record<string, unknown>;
  return r.operationId === 'create_interaction_response' ? (body.data as Record<string, unknown>) : body;
}

const running = new Set<BotProcess>();
function track(p: BotProcess): BotProcess {
  running.add(p);
  void p.exited.then(() => running.delete(p));
  return p;
}

beforeAll(async () => {
  if (!existsSync(path.join(modelDir, 'meta.json'))) {
    tempModelDir = mkdtempSync(path.join(tmpdir(), 'babble-e2e-model-'));
    modelDir = tempModelDir;
    await saveModel(modelDir, initWeights(DEFAULT_VOCAB.size, 1), DEFAULT_VOCAB, {
      version: 'e2e-untrained',
      corpus: { sha256: '', chars: 0 },
      training: { note: 'untrained weights made by the e2e test' },
    });
  }
}, 120_000);

afterAll(() => {
  for (const p of running) p.child.kill('SIGKILL');
  if (tempModelDir) rmSync(tempModelDir, { recursive: true, force: true });
  rmSync(storageDir, { recursive: true, force: true });
});

describe('npm start against the fake Discord', () => {
  let fake: FakeDiscord;
  let bot: BotProcess;

  beforeAll(async () => {
    fake = await startFakeDiscord({ token: TOKEN });
  });
  afterAll(async () => {
    await fake?.close();
  });

  function callback(token: string) {
    return fake.waitForRequest(
      (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === token,
      20_000,
    );
  }

  it('loads the model, logs the backend, logs in and registers the commands on first start', async () => {
    bot = track(startBotProcess({ DISCORD_TOKEN: TOKEN, DISCORD_API_URL: fake.apiUrl }));
    await bot.waitForLog((l) => l.msg === 'serving');
    const backend = bot.logs.find((l) => String(l.msg).startsWith('tfjs backend:'));
    expect(backend?.backend).toMatch(/^(node|wasm|cpu)$/);
    expect(bot.logs.some((l) => l.msg === 'logged in' && l.userId === fake.botUser.id)).toBe(true);
    expect(bot.logs.some((l) => l.msg === 'commands registered (definitions changed)')).toBe(true);
    const puts = fake.requests.filter((r) => r.operationId === 'bulk_set_application_commands');
    expect(puts).toHaveLength(1);
    expect(
      fake
        .getCommands()
        .map((c) => c.name)
        .sort(),
    ).toEqual(commands.map((c) => c.data.name).sort());
  });

  it('/babble replies with text that starts with the normalised seed, within 2,000 characters', async () => {
    const seed = 'Me WANT Cookie!';
    const { token } = fake.sendInteraction({
      data: { name: 'babble', options: [option('seed', seed), option('rng', 42)] },
    });
    const cb = await callback(token);
    const body = cb.body as { type: number; data?: { content: string } };
    let content: string;
    if (body.type === 5) {
      const edit = await fake.waitForRequest(
        (r) => r.operationId === 'update_original_webhook_message' && r.params.webhook_token === token,
        20_000,
      );
      content = (edit.body as { content: string }).content;
    } else {
      expect(body.type).toBe(4);
      content = body.data!.content;
    }
    expect(content.startsWith(normalize(seed))).toBe(true);
    expect(content.length).toBeLessThanOrEqual(2000);
  });

  it('/babble with length 1000 and a 500-character seed stays within 2,000 characters', async () => {
    const seed = 'ba '.repeat(166) + 'ba';
    const { token } = fake.sendInteraction({
      data: { name: 'babble', options: [option('seed', seed), option('length', 1000), option('temperature', 1.5, 10)] },
    });
    const cb = await callback(token);
    const body = cb.body as { type: number; data?: { content: string } };
    const content =
      body.type === 5
        ? (
            (
              await fake.waitForRequest(
                (r) => r.operationId === 'update_original_webhook_message' && r.params.webhook_token === token,
                20_000,
              )
            ).body as { content: string }
          ).content
        : body.data!.content;
    expect(content.startsWith(normalize(seed))).toBe(true);
    expect(content.length).toBeLessThanOrEqual(2000);
  });

  it('answers a mention with a reply that pings nobody', async () => {
    const said = fake.sendMessage({ content: `<@${fake.botUser.id}> do you want a cookie?` });
    const reply = await fake.waitForRequest(
      (r) =>
        r.operationId === 'create_message' &&
        (r.body as { message_reference?: { message_id?: string } }).message_reference?.message_id === said.id,
      20_000,
    );
    const body = reply.body as { content: string; allowed_mentions: unknown };
    expect(body.content.length).toBeGreaterThan(0);
    expect(body.content.length).toBeLessThanOrEqual(2000);
    expect(body.allowed_mentions).toEqual({ parse: [], replied_user: false });
  });

  it('/help answers with an ephemeral embed', async () => {
    const { token } = fake.sendInteraction({ data: { name: 'help' } });
    const cb = await callback(token);
    expect(cb.body).toMatchObject({
      type: 4,
      data: { flags: 64, embeds: [expect.objectContaining({ title: expect.any(String) })] },
    });
  });

  it('/model info answers with an ephemeral embed about the loaded model: the base, in a server without versions', async () => {
    const { token } = fake.sendInteraction({ data: { name: 'model', options: [subcommand('info')] } });
    const cb = await callback(token);
    expect(cb.body).toMatchObject({ type: 4, data: { flags: 64 } });
    const embed = (cb.body as { data: { embeds: { fields: { name: string; value: string }[] }[] } }).data.embeds[0]!;
    const field = (name: string) => embed.fields.find((f) => f.name === name)?.value;
    const meta = (await import(path.join(modelDir, 'meta.json'), { with: { type: 'json' } })) as {
      default: { corpus: { chars: number } };
    };
    expect(field('Version')).toBe('base');
    expect(field('Training text')).toContain(`${meta.default.corpus.chars.toLocaleString('en-US')} characters`);
    expect(field('Versions (/model rollback version:N)')).toBe('**0** (the base model) **(talking now)**');
  });

  it('opens the storage given by STORAGE_URL and stores what /teach gives it', async () => {
    expect(bot.logs.some((l) => l.msg === 'storage open' && l.kind === 'sqlite' && l.retentionDays === 90)).toBe(true);
    const { token } = fake.sendInteraction({ data: { name: 'teach', options: [option('text', 'Kitty go MEOW')] } });
    const cb = await callback(token);
    expect(cb.body).toMatchObject({ type: 4, data: { flags: 64 } });
    expect((cb.body as { data: { content: string } }).data.content).toContain('kitty go meow');
  });

  it('refuses an out-of-range option with an ephemeral message', async () => {
    const { token } = fake.sendInteraction({
      data: { name: 'babble', options: [option('seed', 'hi'), option('length', 5000)] },
    });
    const cb = await callback(token);
    expect(cb.body).toMatchObject({ type: 4, data: { flags: 64 } });
    expect((cb.body as { data: { content: string } }).data.content).toMatch(/^length .*1 to 1000/);
  });

  it('survives a failing handler: the user gets the short error, the log the stack, and the bot keeps serving', async () => {
    // Discord refusing the reply makes the /help handler throw inside the router.
    fake.failNext(
      (r) =>
        r.operationId === 'create_interaction_response' &&
        (r.body as { data?: { embeds?: unknown } }).data?.embeds !== undefined,
      {
        status: 400,
        body: { message: 'Invalid Form Body', code: 50035 },
      },
    );
    const { token } = fake.sendInteraction({ data: { name: 'help' } });
    const oops = await fake.waitForRequest(
      (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === token && r.status < 300,
      20_000,
    );
    expect(oops.body).toMatchObject({ type: 4, data: { content: withAnyErrorId(OOPS), flags: 64 } });
    const failed = await bot.waitForLog((l) => l.msg === 'command failed' && l.command === 'help');
    expect(String((failed.err as { stack?: string }).stack)).toContain('Invalid Form Body');

    const again = fake.sendInteraction({ data: { name: 'help' } });
    const cb = await callback(again.token);
    expect(cb.status).toBeLessThan(300);
    expect(bot.child.exitCode).toBeNull();
  });

  /** The text of a /babble answer, direct or deferred then edited. */
  async function babbleAnswer(token: string): Promise<{ content: string; flags: number | undefined }> {
    const cb = await callback(token);
    const body = cb.body as { type: number; data?: { content: string; flags?: number } };
    if (body.type === 4) return { content: body.data!.content, flags: body.data!.flags };
    const edit = await fake.waitForRequest(
      (r) => r.operationId === 'update_original_webhook_message' && r.params.webhook_token === token,
      20_000,
    );
    return { content: (edit.body as { content: string }).content, flags: undefined };
  }

  it('never logs what people said at info level: mentions, /babble seeds, /teach texts, nor the body of a reply Discord refused', async () => {
    const MARKER = 'zqxjmarkerzqxj';
    const user = { id: '7700000000000000077', username: 'marker' };
    const said = fake.sendMessage({ author: user, content: `<@${fake.botUser.id}> ${MARKER} want cookie` });
    await fake.waitForRequest(
      (r) =>
        r.operationId === 'create_message' &&
        (r.body as { message_reference?: { message_id?: string } }).message_reference?.message_id === said.id,
      20_000,
    );
    const seeded = fake.sendInteraction({
      user,
      data: { name: 'babble', options: [option('seed', `${MARKER} go`), option('rng', 3)] },
    });
    expect((await babbleAnswer(seeded.token)).content).toContain(MARKER);
    const taught = fake.sendInteraction({
      user,
      data: { name: 'teach', options: [option('text', `${MARKER} go meow`)] },
    });
    await callback(taught.token);
    // Discord refuses the reply: the error is logged, but not the text that was being sent.
    fake.failNext((r) => r.operationId === 'create_interaction_response' && JSON.stringify(r.body).includes(MARKER), {
      status: 400,
      body: { message: 'Invalid Form Body', code: 50035 },
    });
    const refused = fake.sendInteraction({
      user,
      data: { name: 'babble', options: [option('seed', `${MARKER} again`), option('rng', 4)] },
    });
    await bot.waitForLog((l) => l.msg === 'command failed' && l.interaction === refused.id, 20_000);
    expect(bot.logs.some((l) => l.msg === 'mention answered' && l.message === said.id)).toBe(true);
    expect(bot.logs.some((l) => l.msg === 'command done' && l.command === 'teach' && l.user === user.id)).toBe(true);

    expect(JSON.stringify(bot.logs)).not.toContain(MARKER);
    expect(bot.stderr()).not.toContain(MARKER);
    // Nor an interaction token (they are in the URLs of failed calls).
    for (const token of [seeded.token, taught.token, refused.token])
      expect(JSON.stringify(bot.logs)).not.toContain(token);
  });

  it('gives a person past RATE_LIMIT_USER_REPLIES (default 6 a minute) the ephemeral nap message instead of a babble', async () => {
    const user = { id: '8800000000000000088', username: 'hasty' };
    const answers: Array<{ content: string; flags: number | undefined }> = [];
    for (let i = 0; i < 7; i++) {
      const { token } = fake.sendInteraction({
        user,
        data: { name: 'babble', options: [option('seed', 'more'), option('length', 5), option('rng', i)] },
      });
      answers.push(await babbleAnswer(token));
    }
    expect(answers.slice(0, 6).every((a) => a.content.startsWith('more') && a.flags !== 64)).toBe(true);
    expect(answers[6]!.flags).toBe(64);
    expect(answers[6]!.content).toMatch(/^The baby needs a nap — try again in \d+ s\.$/);
    expect(bot.logs.some((l) => l.msg === 'rate limits' && l.store === 'memory' && l.userReplies === 6)).toBe(true);
    // The log line may land just after the reply reached the fake: wait for it, then count.
    await bot.waitForLog((l) => l.msg === 'rate limited' && l.user === user.id, 5_000);
    expect(bot.logs.filter((l) => l.msg === 'rate limited' && l.user === user.id)).toHaveLength(1);
  });

  it('sent only spec-valid requests, and every message it sent pings nobody', () => {
    fake.assertNoViolations();
    const bodies = fake.requests.filter(isMessageBody);
    expect(bodies.length).toBeGreaterThanOrEqual(7);
    for (const r of bodies)
      expect(messageBody(r).allowed_mentions, `${r.method} ${r.path}`).toMatchObject({ parse: [] });
  });

  it('exits 0 on SIGTERM after logging out', async () => {
    bot.child.kill('SIGTERM');
    const { code } = await bot.exited;
    expect(code).toBe(0);
    expect(bot.logs.some((l) => l.msg === 'logged out')).toBe(true);
  });

  it('does not register again on a second start with unchanged definitions', async () => {
    const second = track(startBotProcess({ DISCORD_TOKEN: TOKEN, DISCORD_API_URL: fake.apiUrl }));
    await second.waitForLog((l) => l.msg === 'serving');
    expect(second.logs.some((l) => l.msg === 'commands unchanged, not registering')).toBe(true);
    expect(fake.requests.filter((r) => r.operationId === 'bulk_set_application_commands')).toHaveLength(1);
    expect(fake.requests.filter((r) => r.operationId === 'list_application_commands')).toHaveLength(2);
    // What was stored before the restart is still there.
    const { token } = fake.sendInteraction({ data: { name: 'privacy' } });
    const cb = await callback(token);
    const fields = (cb.body as { data: { embeds: Array<{ fields: Array<{ name: string; value: string }> }> } }).data
      .embeds[0]!.fields;
    expect(fields.find((f) => f.name === 'Texts you taught (/teach)')?.value).toBe('1');
    second.child.kill('SIGINT');
    expect((await second.exited).code).toBe(0);
    fake.assertNoViolations();
  });
});

describe('npm start refusing to run', () => {
  it('exits 1 with one line saying where to get a token when DISCORD_TOKEN is missing', async () => {
    const p = track(startBotProcess({}));
    const { code } = await p.exited;
    expect(code).toBe(1);
    const lines = p
      .stderr()
      .split('\n')
      .filter((l) => l.trim() !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('DISCORD_TOKEN');
    expect(lines[0]).toContain('https://discord.com/developers/applications');
    expect(p.logs).toEqual([]);
  });

  it('exits 1 saying so when the storage of STORAGE_URL cannot be reached', async () => {
    const p = track(
      startBotProcess({
        DISCORD_TOKEN: TOKEN,
        DISCORD_API_URL: 'http://127.0.0.1:1/api',
        STORAGE_URL: 'redis://127.0.0.1:1',
      }),
    );
    const { code } = await p.exited;
    expect(code).toBe(1);
    const fatal = p.logs.find((l) => l.level === 60);
    expect(String(fatal?.msg)).toMatch(/could not open the storage at STORAGE_URL: .*redis:\/\/127\.0\.0\.1:1/);
  });

  it('exits non-zero with a clear message, without retrying, when Discord rejects the token', async () => {
    const fake = await startFakeDiscord({ token: TOKEN });
    try {
      const p = track(startBotProcess({ DISCORD_TOKEN: 'MTEx.wrong.token', DISCORD_API_URL: fake.apiUrl }));
      const { code } = await p.exited;
      expect(code).not.toBe(0);
      const fatal = p.logs.find((l) => l.level === 60);
      expect(String(fatal?.msg)).toMatch(/rejected DISCORD_TOKEN.*Reset Token/);
      expect(fake.requests.filter((r) => r.operationId === 'get_bot_gateway')).toHaveLength(1);
      expect(fake.identifies).toBe(0);
    } finally {
      await fake.close();
    }
  });

  it('exits non-zero saying to enable the Message Content Intent when the gateway closes with 4014', async () => {
    const fake = await startFakeDiscord({ token: TOKEN });
    try {
      const p = track(startBotProcess({ DISCORD_TOKEN: TOKEN, DISCORD_API_URL: fake.apiUrl }));
      await p.waitForLog((l) => l.msg === 'serving');
      const identifies = fake.identifies;
      fake.closeGateway(4014, 'Disallowed intent(s).');
      const { code } = await p.exited;
      expect(code).not.toBe(0);
      const fatal = p.logs.find((l) => l.level === 60);
      expect(String(fatal?.msg)).toContain('4014');
      expect(String(fatal?.msg)).toContain('Message Content Intent');
      expect(fake.identifies).toBe(identifies);
      fake.assertNoViolations();
    } finally {
      await fake.close();
    }
  });
});
