/**
 * permissions.ts: which permissions each message needs (and the invite that grants them), and every place that
 * sends, refused by the fake Discord with 50013/50001 while the real discord.js client runs the bot (startBot):
 * the member who asked is told which permission is missing in which channel, the log gets one line per channel
 * and hour, and the bot keeps working.
 */
import { DiscordAPIError, type Client } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { startBot, type RunningBot } from '../src/discord/app.js';
import { CHART_NAME } from '../src/discord/commands/retrain.js';
import {
  describeRefusal,
  invitePermissionNames,
  invitePermissions,
  inviteUrl,
  permissionsNeeded,
  RefusalLog,
  refusalText,
  SENDS,
  type Refusal,
} from '../src/discord/permissions.js';
import { createLogger, type Logger } from '../src/log.js';
import type { CollectionService } from '../src/service/collection.js';
import { lossChartPng } from '../src/service/loss-chart.js';
import type { RetrainOutcome } from '../src/service/retrain.js';
import type { GenerationService } from '../src/service/types.js';
import {
  denyBotPermissions,
  option,
  Permission,
  permissionFault,
  startFakeDiscord,
  subcommand,
  type FakeDiscord,
  type RecordedRequest,
} from './fake-discord/index.js';
import { memoryCollection } from './helpers/collection.js';
import { ScriptedManager } from './helpers/scripted-retrain.js';

const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.GfAkE0.fake-token-for-permission-tests';
const MANAGER = { permissions: (1n << 5n).toString() };
const REFUSAL_LOG = 'missing permissions in a channel';

describe('what each message needs', () => {
  it('a channel message needs View Channel, Send Messages, and Embed Links, Attach Files, Read Message History', () => {
    expect(permissionsNeeded({ via: 'channel' })).toEqual(['ViewChannel', 'SendMessages']);
    expect(permissionsNeeded({ via: 'channel', reply: true })).toEqual([
      'ViewChannel',
      'SendMessages',
      'ReadMessageHistory',
    ]);
    expect(permissionsNeeded({ via: 'channel', embeds: true, files: true })).toEqual([
      'ViewChannel',
      'SendMessages',
      'EmbedLinks',
      'AttachFiles',
    ]);
  });

  it('an interaction answer needs no channel access, only Embed Links and Attach Files for what it carries', () => {
    expect(permissionsNeeded({ via: 'interaction' })).toEqual([]);
    expect(permissionsNeeded(SENDS.retrainResult.shape)).toEqual(['EmbedLinks', 'AttachFiles']);
  });

  it('the invite asks for exactly those five permissions: 117760', () => {
    expect(invitePermissionNames()).toEqual([
      'ViewChannel',
      'SendMessages',
      'EmbedLinks',
      'AttachFiles',
      'ReadMessageHistory',
    ]);
    // 1024 + 2048 + 16384 + 32768 + 65536, from Discord's documented bit positions 10, 11, 14, 15, 16
    expect(invitePermissions()).toBe(117_760n);
    const url = new URL(inviteUrl('123456789012345678'));
    expect(url.origin + url.pathname).toBe('https://discord.com/oauth2/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: '123456789012345678',
      scope: 'bot applications.commands',
      permissions: '117760',
    });
  });

  it('names the channel and the permissions in one sentence', () => {
    expect(refusalText({ channelId: '42', missing: ['SendMessages', 'AttachFiles'] })).toBe(
      "I can't post in <#42>: I need Send Messages and Attach Files there.",
    );
    expect(refusalText({ channelId: '42', missing: ['ViewChannel', 'SendMessages', 'ReadMessageHistory'] })).toBe(
      "I can't post in <#42>: I need View Channel, Send Messages and Read Message History there.",
    );
  });
});

describe('reading a refusal', () => {
  const noCache = { channels: { cache: new Map() }, user: null } as unknown as Client;
  const refusal = (code: number, url: string, json: unknown) =>
    new DiscordAPIError({ code, message: 'Missing Permissions' }, code, 403, 'POST', url, { body: json, files: [] });

  it('without computed permissions, names what the refused message needed, in the channel its URL names', () => {
    const error = refusal(50013, 'https://discord.com/api/v10/channels/77/messages', {
      content: 'x',
      embeds: [{}],
      message_reference: { message_id: '1' },
    });
    expect(describeRefusal(error, { client: noCache, channelId: '5', guildId: 'g' })).toEqual({
      code: 50013,
      channelId: '77',
      guildId: 'g',
      missing: ['ViewChannel', 'SendMessages', 'EmbedLinks', 'ReadMessageHistory'],
      computed: false,
    });
  });

  it('reads an interaction answer from its callback data, and ignores every other error', () => {
    const url = 'https://discord.com/api/v10/interactions/1/tok/callback';
    const error = refusal(50013, url, { type: 4, data: { embeds: [{}] } });
    expect(describeRefusal(error, { client: noCache, channelId: '5', guildId: null })?.missing).toEqual(['EmbedLinks']);
    const target = { client: noCache, channelId: '5', guildId: null };
    expect(describeRefusal(refusal(10008, url, {}), target)).toBeUndefined();
    expect(describeRefusal(new Error('Missing Permissions'), target)).toBeUndefined();
  });
});

describe('the refusal log', () => {
  it('logs a channel once an hour, each channel on its own', () => {
    const lines: string[] = [];
    let now = 1_000_000;
    const log = new RefusalLog({ warn: (_fields: object, message: string) => void lines.push(message) } as never, {
      now: () => now,
    });
    const refusal = (channelId: string): Refusal => ({
      code: 50013,
      channelId,
      guildId: '1',
      missing: ['SendMessages'],
      computed: true,
    });
    expect(log.note(refusal('a'))).toBe(true);
    now += 59 * 60_000;
    expect(log.note(refusal('a'))).toBe(false);
    expect(log.note(refusal('b'))).toBe(true);
    now += 60_000;
    expect(log.note(refusal('a'))).toBe(true);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(
      `${REFUSAL_LOG} (logged once an hour per channel): I can't post in <#a>: I need Send Messages there.`,
    );
  });
});

describe('sends refused by Discord', () => {
  let fake: FakeDiscord | undefined;
  let bot: RunningBot | undefined;

  afterEach(async () => {
    await bot?.stop();
    bot = undefined;
    await fake?.close();
    fake = undefined;
  });

  function captureLog(): { log: Logger; lines: Record<string, unknown>[] } {
    const lines: Record<string, unknown>[] = [];
    const log = createLogger('debug', {
      write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>),
    });
    return { log, lines };
  }

  const service: GenerationService = {
    babble: async (req) => `${req.seed} cookie`,
    reply: async () => 'me see kitty',
    info: () => ({
      version: 't',
      created: '',
      trainingChars: 0,
      corpusSha256: '',
      vocabSize: 1,
      parameters: 1,
      training: {},
    }),
  };

  interface Setup {
    fake: FakeDiscord;
    bot: RunningBot;
    lines: Record<string, unknown>[];
    channelId: string;
    guildId: string;
    collection: CollectionService;
    manager: ScriptedManager;
  }

  async function setup(options: { tokenLifetimeMs?: number; collect?: boolean } = {}): Promise<Setup> {
    fake = await startFakeDiscord({ token: TOKEN });
    const guild = fake.guilds[0]!;
    const channelId = guild.channels[0]!.id;
    const collection = await memoryCollection({ random: () => 0 });
    if (options.collect) {
      await collection.setChannel(guild.id, channelId, true, '1');
      await collection.updateSettings(guild.id, { replyChance: 100, cooldownSeconds: 0 });
    }
    const manager = new ScriptedManager();
    const { log, lines } = captureLog();
    bot = await startBot({
      collection,
      token: TOKEN,
      apiUrl: fake.apiUrl,
      service,
      log,
      retrain: {
        manager,
        ownerIds: [],
        maxMinutes: 30,
        editIntervalMs: 0,
        ...(options.tokenLifetimeMs !== undefined ? { tokenLifetimeMs: options.tokenLifetimeMs } : {}),
      },
    });
    return { fake, bot, lines, channelId, guildId: guild.id, collection, manager };
  }

  const refusalLines = (s: Setup) => s.lines.filter((l) => String(l.msg).startsWith(REFUSAL_LOG));
  const errorLines = (s: Setup) => s.lines.filter((l) => Number(l.level) >= 50);
  const idle = (s: Setup) => s.fake.waitFor(() => s.bot.inFlight() === 0, 5000, 'bot idle');
  const refused = (r: RecordedRequest) => r.status === 403;

  /** /babble still answers: the bot keeps working. */
  async function stillBabbles(s: Setup): Promise<void> {
    const { token } = s.fake.sendInteraction({ data: { name: 'babble', options: [option('seed', 'me want')] } });
    const cb = await s.fake.waitForRequest(
      (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === token,
    );
    expect(cb.status).toBe(204);
    expect((cb.body as { data: { content: string } }).data.content).toBe('me want cookie');
  }

  it('a mention reply without Read Message History: logged once per channel, not per mention', async () => {
    const s = await setup();
    denyBotPermissions(s.fake, s.channelId, Permission.ReadMessageHistory);
    for (let i = 0; i < 2; i++) s.fake.sendMessage({ content: `<@${s.fake.botUser.id}> hi ${i}` });
    await s.fake.waitFor(
      () => s.fake.requests.filter((r) => r.operationId === 'create_message' && refused(r)).length === 2,
    );
    await idle(s);
    expect(refusalLines(s)).toHaveLength(1);
    expect(refusalLines(s)[0]).toMatchObject({
      level: 40,
      channel: s.channelId,
      guild: s.guildId,
      code: 50013,
      missing: ['ReadMessageHistory'],
      computed: true,
      send: 'mentionReply',
    });
    expect(String(refusalLines(s)[0]!.msg)).toContain(`I need Read Message History there`);
    expect(errorLines(s)).toEqual([]);
    await stillBabbles(s);
  });

  it('an unprompted reply without Send Messages: logged once, the message is still collected', async () => {
    const s = await setup({ collect: true });
    denyBotPermissions(s.fake, s.channelId, Permission.SendMessages);
    const message = s.fake.sendMessage({ content: 'me want cookie' });
    await s.fake.waitFor(() => s.fake.requests.some((r) => r.operationId === 'create_message' && refused(r)));
    await idle(s);
    expect(refusalLines(s)).toHaveLength(1);
    expect(refusalLines(s)[0]).toMatchObject({ missing: ['SendMessages'], code: 50013, send: 'unpromptedReply' });
    expect(errorLines(s)).toEqual([]);
    const report = await s.collection.privacy(s.guildId, String((message.author as { id: string }).id));
    expect(report.messages).toBe(1);
  });

  function collectSet(s: Setup, enabled: boolean) {
    const channel = s.fake.guilds[0]!.channels[0]!;
    return s.fake.sendInteraction({
      member: MANAGER,
      data: {
        name: 'collect',
        options: [subcommand('set', [option('channel', channel.id, 7), option('enabled', enabled)])],
        resolved: {
          channels: { [channel.id]: { id: channel.id, name: channel.name, type: 0, permissions: MANAGER.permissions } },
        },
      },
    });
  }

  async function answerOf(s: Setup, token: string): Promise<string> {
    await idle(s);
    const edit = await s.fake.waitForRequest(
      (r) =>
        r.operationId === 'update_original_webhook_message' && r.params.webhook_token === token && r.status === 200,
    );
    return (edit.body as { content: string }).content;
  }

  it('/collect set: a refused notice tells the admin the missing permission; collection stays off', async () => {
    const s = await setup();
    denyBotPermissions(s.fake, s.channelId, Permission.SendMessages);
    const { token } = collectSet(s, true);
    expect(await answerOf(s, token)).toBe(
      `I can't post in <#${s.channelId}>: I need Send Messages there. ` +
        'The notice must go up first, so collection stays off.',
    );
    expect(await s.collection.channels(s.guildId)).toEqual([]);
    expect(refusalLines(s)).toHaveLength(1);
    expect(refusalLines(s)[0]).toMatchObject({ missing: ['SendMessages'], send: 'collectionNotice' });
    await stillBabbles(s);
  });

  it('/collect set in a channel the bot cannot see: refused before posting, naming what the bot lacks', async () => {
    const s = await setup();
    denyBotPermissions(s.fake, s.channelId, Permission.ViewChannel | Permission.SendMessages);
    const { token } = collectSet(s, true);
    expect(await answerOf(s, token)).toMatch(new RegExp(`^I can't read <#${s.channelId}>`));
    expect(await s.collection.channels(s.guildId)).toEqual([]);
  });

  it('/collect set whose notice Discord refuses (50001) names View Channel and Send Messages; collection stays off', async () => {
    const s = await setup();
    s.fake.failNext(
      (r) => r.operationId === 'create_message' && r.params.channel_id === s.channelId,
      permissionFault(50001),
    );
    const { token } = collectSet(s, true);
    expect(await answerOf(s, token)).toMatch(
      new RegExp(`^I can't post in <#${s.channelId}>: I need View Channel and Send Messages there\\.`),
    );
    expect(refusalLines(s)[0]).toMatchObject({
      code: 50001,
      computed: false,
      missing: ['ViewChannel', 'SendMessages'],
    });
    expect(await s.collection.channels(s.guildId)).toEqual([]);
  });

  it('/collect set off: collection stops even when the stop notice is refused; the admin is told why', async () => {
    const s = await setup({ collect: true });
    denyBotPermissions(s.fake, s.channelId, Permission.SendMessages);
    const { token } = collectSet(s, false);
    expect(await answerOf(s, token)).toBe(
      `Collection is off in <#${s.channelId}>. Nothing new is stored there. ` +
        `(I couldn't say so in the channel. I can't post in <#${s.channelId}>: I need Send Messages there.)`,
    );
    expect(await s.collection.channels(s.guildId)).toEqual([]);
    expect(refusalLines(s)).toHaveLength(1);
  });

  it('an embed (/help) without Embed Links: the member gets an ephemeral sentence instead of "Oops"', async () => {
    const s = await setup();
    denyBotPermissions(s.fake, s.channelId, Permission.EmbedLinks);
    const { token } = s.fake.sendInteraction({ data: { name: 'help' } });
    await s.fake.waitFor(() => s.fake.requests.filter((r) => r.params.interaction_token === token).length === 2);
    await idle(s);
    const [first, second] = s.fake.requests.filter((r) => r.params.interaction_token === token);
    expect(first!.status).toBe(403);
    expect(second!.status).toBe(204);
    expect((second!.body as { data: unknown }).data).toMatchObject({
      content: `I can't post in <#${s.channelId}>: I need Embed Links there.`,
      flags: 64,
      allowed_mentions: { parse: [] },
    });
    expect(refusalLines(s)).toHaveLength(1);
    expect(errorLines(s)).toEqual([]);
  });

  const SWAPPED: RetrainOutcome = {
    status: 'swapped',
    version: 3,
    previous: 'base',
    gate: {
      pass: true,
      reasons: [],
      notes: [],
      tolerance: 0.05,
      server: { before: 3, after: 2, ok: true },
      base: { before: 1.6, after: 1.6, ok: true },
      samples: { wordShare: 1, nonEmpty: 1, shortShare: 1, parrotShare: 0, ok: true, texts: ['me want pizza'] },
      baseTolerance: 0.15,
    },
    heldOut: { before: { server: 3, base: 1.6 }, after: { server: 2, base: 1.6 } },
    steps: 10,
    seconds: 5,
    chart: lossChartPng([
      { step: 1, loss: 2 },
      { step: 2, loss: 1.5 },
    ]),
    lossCurve: [
      { step: 1, loss: 2 },
      { step: 2, loss: 1.5 },
    ],
    trainingLines: 30,
    strength: 'normal',
    serverShare: 0.5,
    uptake: null,
  };

  function retrainStart(s: Setup) {
    return s.fake.sendInteraction({ member: MANAGER, data: { name: 'retrain', options: [subcommand('start')] } });
  }
  const editsOf = (s: Setup, token: string) =>
    s.fake.requests.filter(
      (r) => r.operationId === 'update_original_webhook_message' && r.params.webhook_token === token,
    );

  it('/retrain without Embed Links and Attach Files: the admin is told, training goes on', async () => {
    const s = await setup();
    denyBotPermissions(s.fake, s.channelId, Permission.EmbedLinks | Permission.AttachFiles);
    const { token } = retrainStart(s);
    await s.fake.waitFor(() => s.manager.jobs.size === 1 && editsOf(s, token).length === 2);
    const [progress, told] = editsOf(s, token);
    expect(progress!.status).toBe(403);
    expect(told!.status).toBe(200);
    expect((told!.body as { content: string }).content).toBe(
      `I can't post in <#${s.channelId}>: I need Embed Links there. ` +
        'The training goes on; I will say here how it ended.',
    );
    s.manager.jobs.get(s.guildId)!.emit({
      type: 'progress',
      progress: {
        step: 1,
        totalSteps: 2,
        epoch: 0.5,
        loss: 1,
        etaSeconds: 1,
        charsPerSecond: 1,
        elapsedSeconds: 1,
        sample: 'me',
      },
    });
    s.manager.jobs.get(s.guildId)!.finish(SWAPPED);
    // The reply was already answered (the sentence above), so the result's refusal comes as an ephemeral follow-up.
    const toldResult = await s.fake.waitForRequest(
      (r) => r.operationId === 'execute_webhook' && r.params.webhook_token === token,
    );
    await idle(s);
    const result = editsOf(s, token)[2]!;
    expect(result.status).toBe(403);
    expect(result.files.map((f) => f.filename)).toEqual([CHART_NAME]);
    expect(toldResult.body).toMatchObject({
      content:
        `I can't post in <#${s.channelId}>: I need Embed Links and Attach Files there. ` +
        'The result: New model: version 3 is talking now.',
      flags: 64,
    });
    expect(refusalLines(s)).toHaveLength(1); // the same channel within the hour
    expect(errorLines(s)).toEqual([]);
    await stillBabbles(s);
  });

  it('/retrain result posted after the token expired, without Attach Files: logged, nobody to tell', async () => {
    const s = await setup({ tokenLifetimeMs: 0 });
    denyBotPermissions(s.fake, s.channelId, Permission.AttachFiles);
    retrainStart(s);
    await s.fake.waitFor(() => s.manager.jobs.size === 1);
    s.manager.jobs.get(s.guildId)!.finish(SWAPPED);
    const post = await s.fake.waitForRequest(
      (r) => r.operationId === 'create_message' && r.params.channel_id === s.channelId,
    );
    expect(post.status).toBe(403);
    await idle(s);
    expect(refusalLines(s)).toHaveLength(1);
    expect(refusalLines(s)[0]).toMatchObject({ missing: ['AttachFiles'], computed: true, send: 'retrainPost' });
    expect(errorLines(s)).toEqual([]);
  });

  it('a refusal the computed permissions cannot explain falls back to what the message needed', async () => {
    const s = await setup();
    s.fake.failNext(
      (r) => r.operationId === 'update_original_webhook_message' && r.files.length > 0,
      permissionFault(50013),
    );
    const { token } = retrainStart(s);
    await s.fake.waitFor(() => s.manager.jobs.size === 1 && editsOf(s, token).length === 1);
    s.manager.jobs.get(s.guildId)!.finish(SWAPPED);
    const told = await s.fake.waitForRequest(
      (r) => r.operationId === 'execute_webhook' && r.params.webhook_token === token,
    );
    await idle(s);
    expect(editsOf(s, token)[1]!.status).toBe(403);
    expect((told.body as { content: string }).content).toMatch(
      new RegExp(`^I can't post in <#${s.channelId}>: I need Embed Links and Attach Files there\\. The result: `),
    );
    expect(refusalLines(s)[0]).toMatchObject({ computed: false, missing: ['EmbedLinks', 'AttachFiles'] });
  });
});
