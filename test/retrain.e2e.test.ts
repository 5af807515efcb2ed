/**
 * /retrain end to end: the real entry point (`node dist/src/main.js`, as `npm start` runs it) with the real model,
 * storage, trainer child (the compiled trainer-child.js, with its compiled gradient worker) and registry, against
 * the fake Discord. A server manager switches collection on, members talk, someone teaches, the manager retrains
 * for 0.2 minutes: the deferred reply shows progress, then the result with the loss chart. The server then babbles
 * with the new version — exactly what that version generates — while another server still babbles byte for byte
 * as before; rollbacks swap back and forth. Then the bot is killed with SIGKILL during a retrain (its trainer goes
 * too; the restart removes the half-written folder and serves the last complete version) and stopped with SIGTERM
 * during one (exit 0, nothing swapped).
 */
import { startEntryProcess, type EntryProcess } from './helpers/entry-process.js';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BabyLanguageModel } from '../src/model/baby.js';
import { serviceForModel } from '../src/service/generation.js';
import { PNG_SIGNATURE } from '../src/service/loss-chart.js';
import {
  DEFAULT_MEMBER_PERMISSIONS,
  makeGuild,
  option,
  startFakeDiscord,
  subcommand,
  type FakeDiscord,
  type RecordedRequest,
} from './fake-discord/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.GfAkE0.fake-token-for-retrain-e2e';
const MANAGER = (BigInt(DEFAULT_MEMBER_PERMISSIONS) | (1n << 5n)).toString(); // + Manage Server
const BASE_DIR = path.join(ROOT, 'models/base');
const MEMBERS = [
  { id: '5100000000000000001', username: 'ann' },
  { id: '5100000000000000002', username: 'bo' },
  { id: '5100000000000000003', username: 'cy' },
];
/** What the members of the nursery server say: their own words (pizza, squad, raid…) in baby talk. */
const SAID = Array.from(
  { length: 36 },
  (_, i) =>
    [
      'me want pizza',
      'pizza night with the squad',
      'who want play games',
      'me love the raid',
      'gg everyone',
      'doggy want pizza too',
      'see you in voice chat',
      'me sleepy after raid',
      'pizza is yummy',
    ][i % 9]! + (i >= 9 ? ` ${['again', 'now', 'please'][Math.floor(i / 9) - 1]}` : ''),
);
const BABBLE = { seed: 'me want', rng: 7 };

const work = mkdtempSync(path.join(tmpdir(), 'babble-retrain-e2e-'));
const modelsDir = path.join(work, 'models');
const ENV = {
  DISCORD_TOKEN: TOKEN,
  MODEL_DIR: BASE_DIR,
  STORAGE_URL: `sqlite://${path.join(work, 'babble.sqlite')}`,
  MODELS_DIR: modelsDir,
  LOG_LEVEL: 'debug',
  TRAIN_MAX_MINUTES: '2',
  TRAIN_DEFAULT_MINUTES: '0.2',
  TRAIN_MIN_LINES: '20',
  // Several retrains of one server in a few minutes: no cooldown between them (the budget has its own tests).
  TRAIN_COOLDOWN_MINUTES: '0',
  // Seven babbles and a /teach (which spends from the same budget) by one member within a minute.
  RATE_LIMIT_USER_REPLIES: '20',
};

type Bot = EntryProcess;

const bots = new Set<Bot>();

/** The real entry point with only the variables given (PATH and HOME aside, nothing is inherited). */
function startBot(apiUrl: string): Bot {
  const bot = startEntryProcess({ env: { ...ENV, DISCORD_API_URL: apiUrl } });
  bots.add(bot);
  void bot.exited.then(() => bots.delete(bot));
  return bot;
}

/** Polls `cond` until it returns something truthy. */
async function until<T>(cond: () => T | undefined | false, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function logLine(bot: Bot, pred: (l: Record<string, unknown>) => boolean, what: string, timeoutMs = 60_000, nth = 1) {
  return until(
    () => {
      if (bot.child.exitCode !== null || bot.child.signalCode !== null)
        throw new Error(`bot exited before ${what}: ${bot.stderr()}`);
      return bot.logs.filter(pred)[nth - 1];
    },
    `${what}; logs: ${JSON.stringify(bot.logs.slice(-20))}`,
    timeoutMs,
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function tempFolders(scope: string): string[] {
  const dir = path.join(modelsDir, scope);
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith('.tmp-')) : [];
}

/** What a model folder generates for a /babble request, computed here, outside the bot. */
async function offlineBabble(dir: string): Promise<string> {
  const service = serviceForModel(await BabyLanguageModel.load(dir), { name: 'wasm', reason: 'test', skipped: [] });
  return service.babble({ ...BABBLE, temperature: 0.5 });
}

type Embed = {
  title?: string;
  description?: string;
  fields?: { name: string; value: string }[];
  image?: { url?: string };
};
const bodyOf = (r: RecordedRequest) => r.body as { content?: string; embeds?: Embed[]; allowed_mentions?: unknown };

afterAll(() => {
  for (const b of bots) b.child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

describe('/retrain through the real bot', () => {
  const nursery = makeGuild({ name: 'Nursery', channels: [{ name: 'general' }, { name: 'chat' }] });
  const other = makeGuild({ name: 'Elsewhere' });
  const chat = nursery.channels[1]!;
  let fake: FakeDiscord;
  let bot: Bot;
  let before: { nursery: string; other: string };
  let version1Babble: string;
  let retrainToken = '';

  beforeAll(async () => {
    fake = await startFakeDiscord({ token: TOKEN, guilds: [nursery, other] });
  });
  afterAll(async () => {
    await fake?.close();
  });

  const callback = (token: string) =>
    fake.waitForRequest(
      (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === token,
      30_000,
    );
  const edits = (token: string) =>
    fake.requests.filter(
      (r) => r.operationId === 'update_original_webhook_message' && r.params.webhook_token === token,
    );

  /** The answer's message: the callback's data, or the first edit after a deferral. */
  async function answer(token: string): Promise<{ content?: string; embeds?: Embed[] }> {
    const cb = await callback(token);
    const body = cb.body as { type: number; data?: { content?: string; embeds?: Embed[] } };
    if (body.type === 4) return body.data ?? {};
    const edit = await fake.waitForRequest(
      (r) => r.operationId === 'update_original_webhook_message' && r.params.webhook_token === token,
      30_000,
    );
    return bodyOf(edit);
  }
  function command(
    guildId: string,
    name: string,
    options: ReturnType<typeof option>[],
    manager = false,
    extra: Record<string, unknown> = {},
  ) {
    return fake.sendInteraction({
      guild_id: guildId,
      ...(manager ? { member: { permissions: MANAGER } } : {}),
      data: { name, options, ...extra },
    });
  }
  const babbleIn = async (guildId: string) =>
    (await answer(command(guildId, 'babble', [option('seed', BABBLE.seed), option('rng', BABBLE.rng)]).token)).content!;
  const versionIn = async (guildId: string) =>
    (await answer(command(guildId, 'model', [subcommand('info')]).token)).embeds![0]!.fields!.find(
      (f) => f.name === 'Version',
    )!.value;
  const retrain = (minutes: number) =>
    command(nursery.id, 'retrain', [subcommand('start', [option('minutes', minutes, 10)])], true);

  it('starts, and collects what members say once a manager switched collection on', async () => {
    bot = startBot(fake.apiUrl);
    await logLine(bot, (l) => l.msg === 'serving', 'serving');
    const on = command(
      nursery.id,
      'collect',
      [subcommand('set', [option('channel', chat.id, 7), option('enabled', true)])],
      true,
      {
        resolved: { channels: { [chat.id]: { id: chat.id, name: chat.name, type: 0, permissions: MANAGER } } },
      },
    );
    expect((await answer(on.token)).content).toMatch(/Collection is on/);
    SAID.forEach((content, i) => {
      fake.sendMessage({ guild_id: nursery.id, channel_id: chat.id, content, author: MEMBERS[i % MEMBERS.length] });
    });
    await until(
      () => bot.logs.filter((l) => l.msg === 'message collected' && l.outcome === 'collected').length >= SAID.length,
      'every message collected',
    );
    const taught = command(nursery.id, 'teach', [option('text', 'Me love pizza and the SQUAD!')]);
    expect((await answer(taught.token)).content).toContain('me love pizza and the squad!');

    before = { nursery: await babbleIn(nursery.id), other: await babbleIn(other.id) };
    expect(before.nursery).toBe(await offlineBabble(BASE_DIR));
    expect(before.other).toBe(before.nursery); // both on the shipped model
    expect(await versionIn(nursery.id)).toBe('base');
  }, 120_000);

  it('/retrain start minutes:0.2 defers, shows progress at most every 5 s, then the result with the loss chart', async () => {
    const started = Date.now();
    const { token } = retrain(0.2);
    retrainToken = token;
    expect((await callback(token)).body).toMatchObject({ type: 5 });

    // The trainer child runs without the Discord token (what it reports, and what the kernel says).
    const ready = await logLine(bot, (l) => l.msg === 'trainer child ready', 'the trainer child');
    expect(ready.envKeys).not.toContain('DISCORD_TOKEN');
    expect((ready.envKeys as string[]).filter((k) => /token|secret/i.test(k))).toEqual([]);
    const environ = `/proc/${ready.pid as number}/environ`;
    if (existsSync(environ)) {
      const vars = readFileSync(environ, 'utf8').split('\0');
      expect(vars.some((v) => v.startsWith('DISCORD_TOKEN='))).toBe(false);
      expect(vars.some((v) => v.includes(TOKEN))).toBe(false);
    }
    // ...and it is the compiled child, as in production: plain node, no tsx loader.
    const cmdline = `/proc/${ready.pid as number}/cmdline`;
    if (existsSync(cmdline)) {
      const argv = readFileSync(cmdline, 'utf8')
        .split('\0')
        .filter((a) => a !== '');
      expect(argv.at(-1)).toBe(path.join(ROOT, 'dist/src/training/trainer-child.js'));
      expect(argv.join(' ')).not.toMatch(/tsx/);
    }

    const final = await fake.waitForRequest(
      (r) =>
        r.operationId === 'update_original_webhook_message' &&
        r.params.webhook_token === token &&
        /^(New model|Kept the old model|Training did not finish|Training cancelled)/.test(
          bodyOf(r).embeds?.[0]?.title ?? '',
        ),
      120_000,
    );
    const result = bodyOf(final).embeds![0]!;
    expect(result.title, JSON.stringify(result)).toMatch(/^New model: version 1 is talking now/);
    expect(result.fields!.find((f) => f.name.startsWith('Held-out'))!.value).toMatch(
      /Server messages: \d\.\d{3} → \d\.\d{3} bits\/char/,
    );
    expect(result.image?.url).toBe('attachment://loss.png');
    expect(final.files.map((f) => [f.filename, f.contentType])).toEqual([['loss.png', 'image/png']]);
    expect(final.files[0]!.data.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);

    const all = edits(token);
    const progress = all.filter((e) => bodyOf(e).embeds?.[0]?.fields?.some((f) => f.name === 'Step'));
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(bodyOf(progress[0]!).embeds![0]!.description).toMatch(/^[█░]{20} \d+%$/);
    const fields = Object.fromEntries(bodyOf(progress[0]!).embeds![0]!.fields!.map((f) => [f.name, f.value]));
    expect(fields.Step).toMatch(/^\d+ \/ \d+ \(epoch \d+\.\d\d\)$/);
    expect(fields.Loss).toMatch(/^\d+\.\d{3}$/);
    expect(fields['Time left']).toMatch(/^about /);
    const throttled = all.slice(0, all.indexOf(final));
    for (let i = 1; i < throttled.length; i++)
      expect(throttled[i]!.at - throttled[i - 1]!.at).toBeGreaterThanOrEqual(4000);
    console.log(
      `retrain: ${((Date.now() - started) / 1000).toFixed(1)} s from /retrain to the result, ${all.length} edits (${progress.length} with progress)`,
    );
  }, 180_000);

  it('the server babbles with the new version, exactly as that version generates; the other server as before', async () => {
    const v1 = path.join(modelsDir, nursery.id, '1');
    // trained by two threads: the compiled child's own and its compiled gradient worker (train-worker.js)
    expect(JSON.parse(readFileSync(path.join(v1, 'meta.json'), 'utf8')).training).toMatchObject({ workers: 2 });
    version1Babble = await offlineBabble(v1);
    expect(await babbleIn(nursery.id)).toBe(version1Babble);
    expect(await babbleIn(other.id)).toBe(before.other);
    expect(await versionIn(nursery.id)).toBe('1');
    expect(await versionIn(other.id)).toBe('base');
    const info = await answer(command(nursery.id, 'model', [subcommand('info')]).token);
    expect(info.embeds![0]!.fields!.find((f) => f.name.startsWith('Versions'))!.value).toMatch(
      /^\*\*1\*\* \*\*\(talking now\)\*\* .* by <@\d+>/,
    );
  }, 60_000);

  it('/model rollback swaps back to the base, and rollback version:1 forward again', async () => {
    const back = await answer(command(nursery.id, 'model', [subcommand('rollback')], true).token);
    expect(back.content).toBe('Rolled back: the base model is talking in this server now.');
    expect(await babbleIn(nursery.id)).toBe(before.nursery);
    expect(await versionIn(nursery.id)).toBe('base');
    const forward = await answer(
      command(nursery.id, 'model', [subcommand('rollback', [option('version', 1)])], true).token,
    );
    expect(forward.content).toBe('Rolled back: version 1 is talking in this server now.');
    expect(await babbleIn(nursery.id)).toBe(version1Babble);
  }, 60_000);

  it('killed with SIGKILL during a retrain: the trainer goes too; the restart removes its folder and serves version 1', async () => {
    const { token } = retrain(2);
    await callback(token);
    const ready = await logLine(bot, (l) => l.msg === 'trainer child ready', 'the second trainer child', 60_000, 2);
    const left = tempFolders(nursery.id);
    expect(left).toHaveLength(1);
    const trainer = ready.pid as number;
    expect(alive(trainer)).toBe(true);
    bot.child.kill('SIGKILL');
    expect((await bot.exited).signal).toBe('SIGKILL');
    await until(() => !alive(trainer), 'the orphaned trainer to exit', 15_000);
    expect(tempFolders(nursery.id)).toEqual(left); // nobody cleaned up yet

    bot = startBot(fake.apiUrl);
    await logLine(bot, (l) => l.msg === 'serving', 'serving after the restart');
    const removed = bot.logs.find((l) => typeof l.msg === 'string' && l.msg.includes('unfinished model folder'));
    expect(removed?.removed).toEqual([path.join(modelsDir, nursery.id, left[0]!)]);
    expect(tempFolders(nursery.id)).toEqual([]);
    expect(await versionIn(nursery.id)).toBe('1');
    expect(await babbleIn(nursery.id)).toBe(version1Babble);
    expect(await babbleIn(other.id)).toBe(before.other);
    expect(edits(token).some((e) => JSON.stringify(e.body).includes('talking now'))).toBe(false);
  }, 180_000);

  it('stopped with SIGTERM during a retrain: the trainer is stopped, nothing is swapped, exit 0', async () => {
    const { token } = retrain(2);
    await callback(token);
    const ready = await logLine(bot, (l) => l.msg === 'trainer child ready', 'a trainer child');
    bot.child.kill('SIGTERM');
    expect((await bot.exited).code).toBe(0);
    expect(bot.logs.some((l) => l.msg === 'stopping the training (nothing is swapped)')).toBe(true);
    expect(bot.logs.some((l) => l.msg === 'logged out')).toBe(true);
    await until(() => !alive(ready.pid as number), 'the trainer to exit', 10_000);
    expect(
      readdirSync(path.join(modelsDir, nursery.id))
        .filter((n) => !n.startsWith('current'))
        .sort(),
    ).toEqual(['1']);
    expect(JSON.parse(readFileSync(path.join(modelsDir, nursery.id, 'current'), 'utf8'))).toMatchObject({ version: 1 });
  }, 120_000);

  it('sent only spec-valid requests, and every message it sent pings nobody', () => {
    fake.assertNoViolations();
    expect(fake.internalErrors).toEqual([]);
    const messages = fake.requests.filter((r) =>
      r.operationId === 'create_interaction_response'
        ? (r.body as { data?: { content?: unknown; embeds?: unknown } }).data?.content !== undefined ||
          (r.body as { data?: { embeds?: unknown } }).data?.embeds !== undefined
        : [
            'update_original_webhook_message',
            'execute_webhook',
            'update_webhook_message',
            'create_message',
            'update_message',
          ].includes(r.operationId ?? ''),
    );
    expect(messages.length).toBeGreaterThanOrEqual(20);
    for (const r of messages) {
      const body =
        r.operationId === 'create_interaction_response'
          ? (r.body as { data: Record<string, unknown> }).data
          : (r.body as Record<string, unknown>);
      expect(body.allowed_mentions, `${r.method} ${r.path}`).toMatchObject({ parse: [] });
    }
    expect(edits(retrainToken).length).toBeGreaterThanOrEqual(3);
  });
});
