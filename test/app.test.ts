/**
 * The Discord adapter started in-process (startBot) with a stub service, the real discord.js client and the fake
 * Discord: login, command registration, no pings anywhere, and clear fatal errors.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import {
  CACHE_LIMITS,
  explainCloseCode,
  explainLoginError,
  FatalBotError,
  RESTARTING,
  startBot,
  type RunningBot,
} from '../src/discord/app.js';
import { commands } from '../src/discord/commands/index.js';
import { createLogger, type Logger } from '../src/log.js';
import type { ModelSource } from '../src/discord/command.js';
import { COMMAND_NOTICES, createReplyLimiter, memoryCounters, type ReplyLimits } from '../src/service/rate-limiter.js';
import type { GenerationService, ModelInfo } from '../src/service/types.js';
import { makeGuild, option, startFakeDiscord, type FakeDiscord, type RecordedRequest } from './fake-discord/index.js';
import { memoryCollection } from './helpers/collection.js';

const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.GfAkE0.fake-token-for-babble-tests';
const PINGY = 'hi @everyone and <@&123> and <@456> @here';

const INFO: ModelInfo = {
  version: 'test',
  created: '2025-01-01T00:00:00Z',
  trainingChars: 1234,
  corpusSha256: 'ab'.repeat(32),
  vocabSize: 48,
  parameters: 1000,
  training: { steps: 10 },
};

function stubService(text = PINGY): GenerationService & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    babble: async (req) => {
      calls.push(`babble:${req.seed}`);
      return `${req.seed} ${text}`;
    },
    reply: async (prompt) => {
      calls.push(`reply:${prompt}`);
      return text;
    },
    info: () => INFO,
  };
}

function captureLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('debug', {
    write: (s: string) => {
      lines.push(JSON.parse(s) as Record<string, unknown>);
    },
  });
  return { log, lines };
}

/** Message bodies the bot sent: interaction callbacks (data), webhook edits/follow-ups and channel messages. */
function sentBodies(fake: FakeDiscord): { request: RecordedRequest; body: Record<string, unknown> }[] {
  const out: { request: RecordedRequest; body: Record<string, unknown> }[] = [];
  for (const r of fake.requests) {
    const body = r.body as Record<string, unknown> | undefined;
    if (!body) continue;
    if (r.operationId === 'create_interaction_response') {
      const data = body.data as Record<string, unknown> | undefined;
      if (data && (data.content !== undefined || data.embeds !== undefined)) out.push({ request: r, body: data });
    } else if (
      [
        'update_original_webhook_message',
        'execute_webhook',
        'update_webhook_message',
        'create_message',
        'update_message',
      ].includes(r.operationId ?? '')
    ) {
      out.push({ request: r, body });
    }
  }
  return out;
}

let fake: FakeDiscord | undefined;
let bot: RunningBot | undefined;

afterEach(async () => {
  await bot?.stop();
  bot = undefined;
  await fake?.close();
  fake = undefined;
});

describe('startBot', () => {
  it('logs in with only the intents it uses and registers the commands on first start', async () => {
    fake = await startFakeDiscord({ token: TOKEN });
    const { log } = captureLog();
    bot = await startBot({
      collection: await memoryCollection(),
      token: TOKEN,
      apiUrl: fake.apiUrl,
      service: stubService(),
      log,
    });
    expect(bot.userId).toBe(fake.botUser.id);
    expect(bot.applicationId).toBe(fake.applicationId);
    expect(fake.sessions()[0]!.intents).toBe((1 << 0) | (1 << 9) | (1 << 15)); // Guilds, GuildMessages, MessageContent
    expect(bot.commandSync?.action).toBe('registered');
    expect(fake.requests.filter((r) => r.operationId === 'bulk_set_application_commands')).toHaveLength(1);
    expect(fake.getCommands().map((c) => c.name)).toEqual(commands.map((c) => c.data.name));
    fake.assertNoViolations();
  });

  it('does not register again when the registered commands already match, and says so in the log', async () => {
    fake = await startFakeDiscord({ token: TOKEN });
    const first = await startBot({
      collection: await memoryCollection(),
      token: TOKEN,
      apiUrl: fake.apiUrl,
      service: stubService(),
      log: captureLog().log,
    });
    await first.stop();
    const { log, lines } = captureLog();
    bot = await startBot({
      collection: await memoryCollection(),
      token: TOKEN,
      apiUrl: fake.apiUrl,
      service: stubService(),
      log,
    });
    expect(bot.commandSync?.action).toBe('unchanged');
    expect(fake.requests.filter((r) => r.operationId === 'bulk_set_application_commands')).toHaveLength(1);
    expect(fake.requests.filter((r) => r.operationId === 'list_application_commands')).toHaveLength(2);
    expect(lines.some((l) => String(l.msg).includes('commands unchanged'))).toBe(true);
  });

  it('registers to DEV_GUILD_ID instead of globally when given one', async () => {
    fake = await startFakeDiscord({ token: TOKEN });
    const guildId = fake.guilds[0]!.id;
    bot = await startBot({
      collection: await memoryCollection(),
      token: TOKEN,
      apiUrl: fake.apiUrl,
      devGuildId: guildId,
      service: stubService(),
      log: captureLog().log,
    });
    expect(bot.commandSync).toMatchObject({ action: 'registered', scope: `guild ${guildId}` });
    expect(fake.getCommands(guildId)).toHaveLength(commands.length);
    expect(fake.getCommands()).toHaveLength(0);
  });

  it('never pings: /babble replies, deferred edits and mention replies all carry allowed_mentions parse []', async () => {
    fake = await startFakeDiscord({ token: TOKEN });
    const service = stubService();
    // deferAfterMs 0 would race the stub; use a slow babble for the deferred case instead.
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slowService: GenerationService = {
      ...service,
      babble: async (req) => {
        if (req.seed === 'slow') await gate;
        return service.babble(req);
      },
    };
    bot = await startBot({
      collection: await memoryCollection(),
      token: TOKEN,
      apiUrl: fake.apiUrl,
      service: slowService,
      log: captureLog().log,
      deferAfterMs: 50,
    });

    const fast = fake.sendInteraction({ data: { name: 'babble', options: [option('seed', 'fast')] } });
    const reply = await fake.waitForRequest(
      (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === fast.token,
    );
    expect(reply.body).toMatchObject({ type: 4, data: { content: `fast ${PINGY}`, allowed_mentions: { parse: [] } } });

    const slow = fake.sendInteraction({ data: { name: 'babble', options: [option('seed', 'slow')] } });
    const deferred = await fake.waitForRequest(
      (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === slow.token,
    );
    expect(deferred.body).toMatchObject({ type: 5 });
    release();
    const edit = await fake.waitForRequest(
      (r) => r.operationId === 'update_original_webhook_message' && r.params.webhook_token === slow.token,
    );
    expect(edit.body).toMatchObject({ content: `slow ${PINGY}`, allowed_mentions: { parse: [] } });

    const said = fake.sendMessage({ content: `<@${fake.botUser.id}> want a cookie?` });
    const mention = await fake.waitForRequest(
      (r) =>
        r.operationId === 'create_message' &&
        (r.body as { message_reference?: { message_id?: string } }).message_reference?.message_id === said.id,
    );
    expect(mention.body).toMatchObject({ content: PINGY, allowed_mentions: { parse: [], replied_user: false } });
    expect(service.calls).toContain('reply:want a cookie?');

    const bodies = sentBodies(fake);
    expect(bodies.length).toBeGreaterThanOrEqual(3);
    for (const { body } of bodies) expect(body.allowed_mentions).toMatchObject({ parse: [] });
    fake.assertNoViolations();
  });

  it("babbles, answers mentions and chimes in with each server's own model, and with the base in DMs", async () => {
    const a = makeGuild({ name: 'A' });
    const b = makeGuild({ name: 'B' });
    const discord = await startFakeDiscord({ token: TOKEN, guilds: [a, b] });
    fake = discord;
    const asked: (string | null)[] = [];
    const labelled = (label: string): GenerationService => ({
      babble: async (req) => `${req.seed} from ${label}`,
      reply: async () => `reply from ${label}`,
      info: () => ({ ...INFO, version: label }),
    });
    const models: ModelSource = {
      serviceFor: async (guildId) => {
        asked.push(guildId);
        return labelled(guildId === a.id ? 'model-a' : guildId === b.id ? 'model-b' : 'base');
      },
      install: () => undefined,
    };
    const collection = await memoryCollection({ random: () => 0 });
    const channelB = b.channels[0]!.id;
    await collection.setChannel(b.id, channelB, true, '1');
    await collection.updateSettings(b.id, { replyChance: 100, cooldownSeconds: 0 });
    bot = await startBot({ collection, token: TOKEN, apiUrl: discord.apiUrl, models, log: captureLog().log });

    const babbleIn = async (where: { guild_id?: string; dm?: boolean }) => {
      const sent = discord.sendInteraction({ ...where, data: { name: 'babble', options: [option('seed', 'hi')] } });
      const cb = await discord.waitForRequest(
        (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === sent.token,
      );
      return (cb.body as { data: { content: string } }).data.content;
    };
    expect(await babbleIn({ guild_id: a.id })).toBe('hi from model-a');
    expect(await babbleIn({ guild_id: b.id })).toBe('hi from model-b');
    expect(await babbleIn({ dm: true })).toBe('hi from base');

    const mention = fake.sendMessage({ guild_id: a.id, content: `<@${fake.botUser.id}> hello` });
    const mentionReply = await fake.waitForRequest(
      (r) =>
        r.operationId === 'create_message' &&
        (r.body as { message_reference?: { message_id?: string } }).message_reference?.message_id === mention.id,
    );
    expect(mentionReply.body).toMatchObject({ content: 'reply from model-a' });

    const chat = fake.sendMessage({ guild_id: b.id, channel_id: channelB, content: 'me want cookie' });
    const unprompted = await fake.waitForRequest(
      (r) =>
        r.operationId === 'create_message' &&
        (r.body as { message_reference?: { message_id?: string } }).message_reference?.message_id === chat.id,
    );
    expect(unprompted.body).toMatchObject({
      content: 'reply from model-b',
      allowed_mentions: { parse: [], replied_user: false },
    });
    expect(asked).toEqual([a.id, b.id, null, a.id, b.id]);
    fake.assertNoViolations();
  });

  it('does not answer bots, itself, webhooks, or messages that do not mention it', async () => {
    fake = await startFakeDiscord({ token: TOKEN });
    const service = stubService();
    bot = await startBot({
      collection: await memoryCollection(),
      token: TOKEN,
      apiUrl: fake.apiUrl,
      service,
      log: captureLog().log,
    });
    const mention = `<@${fake.botUser.id}> hello`;
    fake.sendMessage({ content: mention, author: { id: '3300000000000000003', username: 'otherbot', bot: true } });
    fake.sendMessage({ content: mention, webhook_id: '4400000000000000004' });
    fake.sendMessage({ content: 'no mention here' });
    const marker = fake.sendMessage({ content: `<@${fake.botUser.id}> last` });
    await fake.waitForRequest(
      (r) =>
        r.operationId === 'create_message' &&
        (r.body as { message_reference?: { message_id?: string } }).message_reference?.message_id === marker.id,
    );
    expect(service.calls).toEqual(['reply:last']);
    expect(fake.requests.filter((r) => r.operationId === 'create_message')).toHaveLength(1);
  });

  it('rejects a wrong token with a clear message and does not retry', async () => {
    fake = await startFakeDiscord({ token: TOKEN });
    const attempt = startBot({
      collection: await memoryCollection(),
      token: 'MTEx.wrong.token',
      apiUrl: fake.apiUrl,
      service: stubService(),
      log: captureLog().log,
    });
    await expect(attempt).rejects.toBeInstanceOf(FatalBotError);
    await expect(attempt).rejects.toThrow(/rejected DISCORD_TOKEN.*Reset Token/);
    expect(fake.requests.filter((r) => r.operationId === 'get_bot_gateway')).toHaveLength(1);
    expect(fake.identifies).toBe(0);
  });

  it('stops for good on gateway close 4014 and says to enable the Message Content Intent', async () => {
    fake = await startFakeDiscord({ token: TOKEN });
    const fatal: FatalBotError[] = [];
    bot = await startBot({
      collection: await memoryCollection(),
      token: TOKEN,
      apiUrl: fake.apiUrl,
      service: stubService(),
      log: captureLog().log,
      onFatal: (e) => fatal.push(e),
    });
    fake.closeGateway(4014, 'Disallowed intent(s).');
    await fake.waitFor(() => fatal.length > 0, 5000, 'onFatal');
    expect(fatal).toHaveLength(1);
    expect(fatal[0]!.closeCode).toBe(4014);
    expect(fatal[0]!.message).toContain('Message Content Intent');
    expect(fatal[0]!.message).toContain('https://discord.com/developers/applications');
    const identifies = fake.identifies;
    await new Promise((r) => setTimeout(r, 1500));
    expect(fake.identifies).toBe(identifies); // no reconnect loop
  });
});

function limiterFor(limits: Partial<ReplyLimits>, log: Logger) {
  return createReplyLimiter({
    counters: memoryCounters({ userReplies: 0, userSeconds: 60, serverReplies: 0, serverSeconds: 60, ...limits }),
    log,
  });
}

/** The fake Discord and a bot on a stub service under these reply limits; its log lines kept. */
async function startLimited(limits: Partial<ReplyLimits>) {
  const started = await startFakeDiscord({ token: TOKEN });
  fake = started;
  const service = stubService();
  const { log, lines } = captureLog();
  bot = await startBot({
    collection: await memoryCollection(),
    token: TOKEN,
    apiUrl: started.apiUrl,
    service,
    log,
    limiter: limiterFor(limits, log),
  });
  return { fake: started, service, lines };
}

const repliedTo = (messageId: string) => (r: RecordedRequest) =>
  r.operationId === 'create_message' &&
  (r.body as { message_reference?: { message_id?: string } }).message_reference?.message_id === messageId;

describe('rate limits', () => {
  it("answers a /babble past the user's budget with an ephemeral nap message, without generating", async () => {
    const { fake, service } = await startLimited({ userReplies: 2 });
    const answers: Record<string, unknown>[] = [];
    for (let i = 0; i < 3; i++) {
      const { token } = fake.sendInteraction({ data: { name: 'babble', options: [option('seed', `try ${i}`)] } });
      const cb = await fake.waitForRequest(
        (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === token,
      );
      answers.push(cb.body as Record<string, unknown>);
    }
    expect(answers.slice(0, 2)).toMatchObject([
      { type: 4, data: { content: `try 0 ${PINGY}` } },
      { type: 4, data: { content: `try 1 ${PINGY}` } },
    ]);
    const nap = answers[2] as { type: number; data: { content: string; flags: number; allowed_mentions: unknown } };
    expect(nap.type).toBe(4);
    expect(nap.data.flags).toBe(64);
    expect(nap.data.content).toMatch(/^The baby needs a nap — try again in \d+ s\.$/);
    expect(nap.data.allowed_mentions).toEqual({ parse: [] });
    expect(service.calls).toEqual(['babble:try 0', 'babble:try 1']);
    // Another person still has their budget.
    const other = fake.sendInteraction({
      user: { id: '5500000000000000055', username: 'other' },
      data: { name: 'babble', options: [option('seed', 'me too')] },
    });
    const cb = await fake.waitForRequest(
      (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === other.token,
    );
    expect(cb.body).toMatchObject({ type: 4, data: { content: `me too ${PINGY}` } });
    fake.assertNoViolations();
  });

  it('tells a member pressing /babble and /teach past the budget COMMAND_NOTICES times a window, then leaves the flood unanswered and off the info log', async () => {
    const { fake, service, lines } = await startLimited({ userReplies: 1 });
    const tokens: string[] = [];
    for (let i = 0; i < 9; i++) {
      const data =
        i % 2 === 0
          ? { name: 'babble', options: [option('seed', `try ${i}`)] }
          : { name: 'teach', options: [option('text', `me want ${i}`)] };
      tokens.push(fake.sendInteraction({ data }).token);
    }
    const { requests } = fake;
    const answered = (token: string) =>
      requests.some((r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === token);
    await fake.waitFor(
      () =>
        lines.filter((l) => l.msg === 'command left unanswered').length === 9 - 1 - COMMAND_NOTICES &&
        tokens.filter(answered).length === 1 + COMMAND_NOTICES,
      10_000,
      'the flood handled',
    );
    expect(answered(tokens[0]!)).toBe(true);
    expect(tokens.filter(answered)).toHaveLength(1 + COMMAND_NOTICES);
    const naps = sentBodies(fake).filter((b) => String(b.body.content).startsWith('The baby needs a nap'));
    expect(naps).toHaveLength(COMMAND_NOTICES);
    expect(service.calls).toEqual(['babble:try 0']);
    const INFO = 30;
    const unanswered = lines.filter(
      (l) => l.msg === 'command left unanswered' || (l.msg === 'rate limited' && l.told === false),
    );
    expect(unanswered).toHaveLength(2 * (9 - 1 - COMMAND_NOTICES));
    expect(unanswered.every((l) => (l.level as number) < INFO)).toBe(true);
    // Another member is answered as usual.
    const other = fake.sendInteraction({
      user: { id: '5500000000000000056', username: 'other' },
      data: { name: 'babble', options: [option('seed', 'me too')] },
    });
    const cb = await fake.waitForRequest(
      (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === other.token,
    );
    expect(cb.body).toMatchObject({ type: 4, data: { content: `me too ${PINGY}` } });
    fake.assertNoViolations();
  });

  it('answers a burst of mentions while the budget lasts, then with one nap reply for the whole window, never one per message', async () => {
    const { fake, service, lines } = await startLimited({ userReplies: 2 });
    const said = Array.from({ length: 8 }, (_, i) =>
      fake!.sendMessage({ content: `<@${fake!.botUser.id}> cookie ${i}?` }),
    );
    await fake.waitFor(
      () => lines.filter((l) => l.msg === 'mention answered' || l.msg === 'rate limited').length >= said.length,
      10_000,
      'every mention handled',
    );
    const replies = fake.requests.filter((r) => r.operationId === 'create_message');
    const bodies = replies.map((r) => r.body as { content: string; allowed_mentions: unknown });
    expect(bodies.filter((b) => b.content === PINGY)).toHaveLength(2);
    const naps = bodies.filter((b) => b.content.startsWith('The baby needs a nap'));
    expect(naps).toHaveLength(1);
    expect(naps[0]!.allowed_mentions).toEqual({ parse: [], replied_user: false });
    expect(replies).toHaveLength(3);
    expect(service.calls.filter((c) => c.startsWith('reply:'))).toHaveLength(2);
    expect(lines.filter((l) => l.msg === 'rate limited' && l.told === true && l.level === 30)).toHaveLength(1);
    expect(lines.filter((l) => l.msg === 'rate limited' && l.told === false && l.level === 20)).toHaveLength(5);
    fake.assertNoViolations();
  });

  it("skips unprompted replies past the server's budget, silently", async () => {
    const guild = makeGuild();
    fake = await startFakeDiscord({ token: TOKEN, guilds: [guild] });
    const service = stubService();
    const { log, lines } = captureLog();
    const collection = await memoryCollection({ random: () => 0 });
    const channel = guild.channels[0]!.id;
    await collection.setChannel(guild.id, channel, true, '1');
    await collection.updateSettings(guild.id, { replyChance: 100, cooldownSeconds: 0 });
    bot = await startBot({
      collection,
      token: TOKEN,
      apiUrl: fake.apiUrl,
      service,
      log,
      limiter: limiterFor({ serverReplies: 1 }, log),
    });
    const first = fake.sendMessage({ channel_id: channel, content: 'me want cookie' });
    await fake.waitForRequest(repliedTo(String(first.id)));
    for (const [i, id] of ['6600000000000000061', '6600000000000000062', '6600000000000000063'].entries()) {
      fake.sendMessage({ channel_id: channel, content: `more words ${i}`, author: { id, username: `kid${i}` } });
    }
    await fake.waitFor(() => lines.filter((l) => l.msg === 'rate limited').length >= 3, 10_000, 'three refusals');
    expect(lines.filter((l) => l.msg === 'rate limited').map((l) => [l.kind, l.scope, l.told])).toEqual(
      Array(3).fill(['unprompted', 'server', false]),
    );
    expect(fake.requests.filter((r) => r.operationId === 'create_message')).toHaveLength(1);
    expect(service.calls).toEqual(['reply:me want cookie']);
  });
});

describe('stopping', () => {
  it('finishes a reply in progress, tells a new command the bot is restarting, leaves new mentions, then logs out', async () => {
    fake = await startFakeDiscord({ token: TOKEN });
    const service = stubService();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let started: () => void = () => undefined;
    const babbling = new Promise<void>((r) => {
      started = r;
    });
    const slow: GenerationService = {
      ...service,
      babble: async (req) => {
        started();
        await gate;
        return service.babble(req);
      },
    };
    const { log, lines } = captureLog();
    const running = await startBot({
      collection: await memoryCollection(),
      token: TOKEN,
      apiUrl: fake.apiUrl,
      service: slow,
      log,
      deferAfterMs: 60_000,
    });
    bot = running;

    const inProgress = fake.sendInteraction({ data: { name: 'babble', options: [option('seed', 'slow one')] } });
    await babbling;
    expect(running.inFlight()).toBe(1);
    const stopping = running.stop({ drainMs: 20_000 });

    const late = fake.sendInteraction({ data: { name: 'help' } });
    const restarting = await fake.waitForRequest(
      (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === late.token,
    );
    expect(restarting.body).toMatchObject({
      type: 4,
      data: { content: RESTARTING, flags: 64, allowed_mentions: { parse: [] } },
    });
    const mention = fake.sendMessage({ content: `<@${fake.botUser.id}> still there?` });

    release();
    const reply = await fake.waitForRequest(
      (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === inProgress.token,
    );
    expect(reply.body).toMatchObject({ type: 4, data: { content: `slow one ${PINGY}` } });
    await stopping;
    const loggedOut = lines.findIndex((l) => l.msg === 'logged out');
    expect(loggedOut).toBeGreaterThan(lines.findIndex((l) => l.msg === 'command done' && l.command === 'babble'));
    expect(fake.requests.some(repliedTo(String(mention.id)))).toBe(false);
    expect(service.calls.filter((c) => c.startsWith('reply:'))).toEqual([]);
    fake.assertNoViolations();
  });

  it('gives up on a reply that takes longer than drainMs, says so, and logs out anyway', async () => {
    fake = await startFakeDiscord({ token: TOKEN });
    const service = stubService();
    let started: () => void = () => undefined;
    const babbling = new Promise<void>((r) => {
      started = r;
    });
    const stuck: GenerationService = {
      ...service,
      babble: () => {
        started();
        return new Promise<string>(() => undefined);
      },
    };
    const { log, lines } = captureLog();
    const running = await startBot({
      collection: await memoryCollection(),
      token: TOKEN,
      apiUrl: fake.apiUrl,
      service: stuck,
      log,
      deferAfterMs: 60_000,
    });
    bot = running;
    fake.sendInteraction({ data: { name: 'babble', options: [option('seed', 'never')] } });
    await babbling;
    await running.stop({ drainMs: 300 });
    expect(lines.find((l) => l.msg === 'gave up waiting for replies in progress')).toMatchObject({
      inFlight: 1,
      level: 40,
    });
    expect(lines.some((l) => l.msg === 'logged out')).toBe(true);
  });
});

describe('caches', () => {
  it('keeps at most CACHE_LIMITS users and members, and always the bot itself', async () => {
    const guild = makeGuild();
    fake = await startFakeDiscord({ token: TOKEN, guilds: [guild] });
    const { log } = captureLog();
    bot = await startBot({
      collection: await memoryCollection(),
      token: TOKEN,
      apiUrl: fake.apiUrl,
      service: stubService(),
      log,
    });
    const n = CACHE_LIMITS.users + 200;
    let seen = 0;
    bot.client.on('messageCreate', () => {
      seen++;
    });
    for (let i = 0; i < n; i++) {
      fake.dispatch('MESSAGE_CREATE', {
        id: String(9_000_000_000_000_000_000n + BigInt(i)),
        channel_id: guild.channels[0]!.id,
        guild_id: guild.id,
        type: 0,
        content: 'hi',
        author: {
          id: String(8_000_000_000_000_000_000n + BigInt(i)),
          username: `kid${i}`,
          discriminator: '0',
          global_name: null,
          avatar: null,
        },
        member: { roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0 },
        timestamp: new Date().toISOString(),
        edited_timestamp: null,
        tts: false,
        mention_everyone: false,
        mentions: [],
        mention_roles: [],
        attachments: [],
        embeds: [],
        pinned: false,
      });
    }
    await fake.waitFor(() => seen >= n, 30_000, 'every message seen');
    const cachedGuild = bot.client.guilds.cache.get(guild.id)!;
    expect(bot.client.users.cache.size).toBeLessThanOrEqual(CACHE_LIMITS.users);
    expect(cachedGuild.members.cache.size).toBeLessThanOrEqual(CACHE_LIMITS.membersPerServer);
    expect(bot.client.users.cache.has(bot.userId)).toBe(true);
    expect(cachedGuild.members.cache.has(bot.userId)).toBe(true);
    // The latest author is cached (the oldest ones were dropped).
    expect(bot.client.users.cache.has(String(8_000_000_000_000_000_000n + BigInt(n - 1)))).toBe(true);
  });
});

/**
 * A bare Discord that refuses at IDENTIFY with `closeCode`, as the real one does for disallowed intents (4014)
 * or a bad token (4004). The fake Discord answers IDENTIFY with READY, so it can't show this path.
 */
async function refusingDiscord(
  closeCode: number,
): Promise<{ apiUrl: string; identifies: () => number; close: () => Promise<void> }> {
  let identifies = 0;
  const server: Server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url?.startsWith('/api/v10/gateway/bot')) {
      const { port } = server.address() as AddressInfo;
      res.end(
        JSON.stringify({
          url: `ws://127.0.0.1:${port}`,
          shards: 1,
          session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 },
        }),
      );
    } else {
      res.statusCode = 404;
      res.end(JSON.stringify({ message: '404: Not Found', code: 0 }));
    }
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => {
    ws.send(JSON.stringify({ op: 10, d: { heartbeat_interval: 45_000 }, s: null, t: null }));
    ws.on('message', (raw: Buffer) => {
      const payload = JSON.parse(raw.toString()) as { op: number };
      if (payload.op === 2) {
        identifies++;
        ws.close(closeCode, 'refused');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    apiUrl: `http://127.0.0.1:${port}/api`,
    identifies: () => identifies,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('refusals at IDENTIFY', () => {
  it('fails start-up at once, with the Message Content Intent hint, when IDENTIFY is refused with 4014', async () => {
    const refusing = await refusingDiscord(4014);
    try {
      const attempt = startBot({
        collection: await memoryCollection(),
        token: TOKEN,
        apiUrl: refusing.apiUrl,
        service: stubService(),
        log: captureLog().log,
      });
      await expect(attempt).rejects.toMatchObject({ name: 'FatalBotError', closeCode: 4014 });
      await expect(attempt).rejects.toThrow(/"Message Content Intent"/);
      await new Promise((r) => setTimeout(r, 1000));
      expect(refusing.identifies()).toBe(1);
    } finally {
      await refusing.close();
    }
  });

  it('fails start-up at once, saying the token was rejected, when IDENTIFY is refused with 4004', async () => {
    const refusing = await refusingDiscord(4004);
    try {
      const attempt = startBot({
        collection: await memoryCollection(),
        token: TOKEN,
        apiUrl: refusing.apiUrl,
        service: stubService(),
        log: captureLog().log,
      });
      await expect(attempt).rejects.toMatchObject({ name: 'FatalBotError', closeCode: 4004 });
      await expect(attempt).rejects.toThrow(/DISCORD_TOKEN.*Reset Token/);
      await new Promise((r) => setTimeout(r, 1000));
      expect(refusing.identifies()).toBe(1);
    } finally {
      await refusing.close();
    }
  });
});

describe('explaining failures', () => {
  it('says where to enable the intent for 4014, and where to reset the token for 4004', () => {
    expect(explainCloseCode(4014)).toContain('"Message Content Intent"');
    expect(explainCloseCode(4014)).toContain('https://discord.com/developers/applications');
    expect(explainCloseCode(4004)).toContain('Reset Token');
  });

  it('tells an unreachable Discord apart from a rejected token', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(explainLoginError(refused, undefined, 'http://127.0.0.1:1/api')).toMatch(
      /Could not log in to Discord at http:\/\/127\.0\.0\.1:1\/api: connect ECONNREFUSED/,
    );
    expect(explainLoginError(Object.assign(new Error('x'), { status: 401 }), undefined, 'u')).toMatch(
      /rejected DISCORD_TOKEN/,
    );
  });
});
