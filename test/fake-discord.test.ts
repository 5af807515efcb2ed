import zlib from 'node:zlib';
import {
  ButtonInteraction,
  ChatInputCommandInteraction,
  Client,
  Events,
  GatewayIntentBits,
  PermissionFlagsBits,
} from 'discord.js';
import type { Interaction, Message } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { makeGuild, option, startFakeDiscord, subcommand } from './fake-discord/index.js';
import type { FakeDiscord, FakeDiscordOptions } from './fake-discord/index.js';

const TOKEN = 'fake-token.abc.def';

const clients: Client[] = [];
const fakes: FakeDiscord[] = [];
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.terminate();
  for (const client of clients.splice(0)) await client.destroy();
  for (const fake of fakes.splice(0)) await fake.close();
});

async function startFake(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  const fake = await startFakeDiscord({ token: TOKEN, ...options });
  fakes.push(fake);
  return fake;
}

function newClient(fake: FakeDiscord, intents: GatewayIntentBits[] = [GatewayIntentBits.Guilds]): Client {
  const client = new Client({ intents, rest: { api: fake.apiUrl } });
  clients.push(client);
  return client;
}

async function readyClient(fake: FakeDiscord, intents?: GatewayIntentBits[]): Promise<Client> {
  const client = newClient(fake, intents);
  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  await client.login(TOKEN);
  await ready;
  return client;
}

function nextInteraction(client: Client): Promise<Interaction> {
  return new Promise((resolve) => client.once(Events.InteractionCreate, resolve));
}

function nextMessage(client: Client): Promise<Message> {
  return new Promise((resolve) => client.once(Events.MessageCreate, resolve));
}

describe('fake-discord with the real discord.js client', () => {
  it('logs a client in to clientReady with the configured bot user and guild channels', async () => {
    const guild = makeGuild({ name: 'Nursery', channels: [{ name: 'cribs' }, { name: 'toys' }] });
    const fake = await startFake({ guilds: [guild], botUsername: 'babybot' });
    const client = await readyClient(fake);

    expect(client.user?.id).toBe(fake.botUser.id);
    expect(client.user?.username).toBe('babybot');
    const cached = client.guilds.cache.get(guild.id);
    expect(cached?.name).toBe('Nursery');
    expect(cached?.channels.cache.map((c) => c.name).sort()).toEqual(['cribs', 'toys']);
    expect(cached?.members.me?.id).toBe(fake.botUser.id);
    expect(fake.identifies).toBe(1);
    expect(fake.requests.some((r) => r.operationId === 'get_bot_gateway')).toBe(true);
    fake.assertNoViolations();
  });

  it('rejects login with a wrong token', async () => {
    const fake = await startFake();
    const client = newClient(fake);
    await expect(client.login('not-the-token')).rejects.toThrow(/token/i);
    const gatewayBot = fake.requests.find((r) => r.operationId === 'get_bot_gateway');
    expect(gatewayBot?.status).toBe(401);
    expect(fake.identifies).toBe(0);
  });

  it('closes the gateway with 4004 when IDENTIFY carries a wrong token', async () => {
    const fake = await startFake();
    const ws = new WebSocket(`${fake.gatewayUrl}/?v=10&encoding=json`);
    sockets.push(ws);
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    ws.on('message', (data) => {
      const payload = JSON.parse(String(data)) as { op: number };
      if (payload.op === 10) {
        ws.send(JSON.stringify({ op: 2, d: { token: 'wrong', intents: 1, properties: {} } }));
      }
    });
    expect(await closed).toBe(4004);
  });

  it('delivers a slash command as a ChatInputCommandInteraction with subcommand options and member permissions', async () => {
    const fake = await startFake();
    const client = await readyClient(fake);
    const arrived = nextInteraction(client);
    const sent = fake.sendInteraction({
      data: { name: 'babble', options: [subcommand('say', [option('prompt', 'goo goo'), option('length', 40)])] },
    });
    const interaction = await arrived;

    expect(interaction).toBeInstanceOf(ChatInputCommandInteraction);
    if (!(interaction instanceof ChatInputCommandInteraction)) return;
    expect(interaction.id).toBe(sent.id);
    expect(interaction.commandName).toBe('babble');
    expect(interaction.options.getSubcommand()).toBe('say');
    expect(interaction.options.getString('prompt')).toBe('goo goo');
    expect(interaction.options.getInteger('length')).toBe(40);
    expect(interaction.guildId).toBe(fake.guilds[0]?.id);
    expect(interaction.channelId).toBe(fake.guilds[0]?.channels[0]?.id);
    expect(interaction.user.id).toBe(fake.defaultUser.id);
    expect(interaction.memberPermissions?.has(PermissionFlagsBits.SendMessages)).toBe(true);
    expect(interaction.memberPermissions?.has(PermissionFlagsBits.Administrator)).toBe(false);
  });

  it('lets the test choose member permissions per interaction', async () => {
    const fake = await startFake();
    const client = await readyClient(fake);
    const arrived = nextInteraction(client);
    fake.sendInteraction({ member: { permissions: PermissionFlagsBits.Administrator.toString() } });
    const interaction = await arrived;
    expect(interaction.memberPermissions?.has(PermissionFlagsBits.Administrator)).toBe(true);
  });

  it('records interaction.reply on the callback route without Authorization and finds it valid per spec', async () => {
    const fake = await startFake();
    const client = await readyClient(fake);
    client.on(Events.InteractionCreate, (interaction) => {
      if (interaction.isChatInputCommand()) {
        void interaction.reply({ content: 'ga ga', allowedMentions: { parse: [] } });
      }
    });
    const { id, token } = fake.sendInteraction();
    const request = await fake.waitForRequest((r) => r.operationId === 'create_interaction_response');

    expect(request.params).toEqual({ interaction_id: id, interaction_token: token });
    expect(request.headers.authorization).toBeUndefined();
    expect(request.status).toBe(204);
    expect(request.body).toMatchObject({ type: 4, data: { content: 'ga ga', allowed_mentions: { parse: [] } } });
    expect(fake.getInteraction(id)?.original?.content).toBe('ga ga');
    fake.assertNoViolations();
  });

  it('answers a second callback for one interaction with 40060 like Discord', async () => {
    const fake = await startFake();
    const client = await readyClient(fake);
    const arrived = nextInteraction(client);
    const { id, token } = fake.sendInteraction();
    const interaction = await arrived;
    if (!interaction.isChatInputCommand()) throw new Error('expected a chat input command');
    await interaction.reply({ content: 'one' });

    const again = await fetch(`${fake.apiUrl}/v10/interactions/${id}/${token}/callback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 4, data: { content: 'two' } }),
    });
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ code: 40060 });
    expect(fake.getInteraction(id)?.original?.content).toBe('one');
  });

  it('routes deferReply + editReply to the @original PATCH and returns the edited message', async () => {
    const fake = await startFake();
    const client = await readyClient(fake);
    const arrived = nextInteraction(client);
    const { token } = fake.sendInteraction();
    const interaction = await arrived;
    if (!interaction.isChatInputCommand()) throw new Error('expected a chat input command');

    await interaction.deferReply();
    const edited = await interaction.editReply({ content: 'da da da', allowedMentions: { parse: [] } });

    const patch = await fake.waitForRequest((r) => r.operationId === 'update_original_webhook_message');
    expect(patch.method).toBe('PATCH');
    expect(patch.path).toBe(`/webhooks/${fake.applicationId}/${token}/messages/@original`);
    expect(patch.route).toBe('/webhooks/{webhook_id}/{webhook_token}/messages/@original');
    expect(patch.body).toMatchObject({ content: 'da da da' });
    expect(edited.content).toBe('da da da');
    expect(fake.requests.find((r) => r.operationId === 'create_interaction_response')?.body).toMatchObject({ type: 5 });
    fake.assertNoViolations();
  });

  it('creates a channel message with channel.send and lists it on GET', async () => {
    const fake = await startFake();
    const client = await readyClient(fake);
    const channelId = fake.guilds[0]?.channels[0]?.id ?? '';
    const channel = await client.channels.fetch(channelId);
    if (!channel?.isSendable()) throw new Error('expected a sendable channel');

    const sent = await channel.send({ content: 'bababa', allowedMentions: { parse: [] } });

    expect(sent.content).toBe('bababa');
    expect(sent.author.id).toBe(fake.botUser.id);
    const post = await fake.waitForRequest((r) => r.operationId === 'create_message');
    expect(post.params.channel_id).toBe(channelId);
    expect(post.headers.authorization).toBe(`Bot ${TOKEN}`);
    const fetched = await channel.messages.fetch({ limit: 10 });
    expect(fetched.map((m) => m.content)).toContain('bababa');
    fake.assertNoViolations();
  });

  it('parses multipart uploads: payload_json is validated and file parts are recorded', async () => {
    const fake = await startFake();
    const client = await readyClient(fake);
    const channel = await client.channels.fetch(fake.guilds[0]?.channels[0]?.id ?? '');
    if (!channel?.isSendable()) throw new Error('expected a sendable channel');
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

    const sent = await channel.send({ content: 'look', files: [{ attachment: png, name: 'doodle.png' }] });

    const post = await fake.waitForRequest((r) => r.operationId === 'create_message');
    expect(post.contentType).toBe('multipart');
    expect(post.body).toMatchObject({ content: 'look' });
    expect(post.files).toHaveLength(1);
    expect(post.files[0]).toMatchObject({ field: 'files[0]', filename: 'doodle.png', size: png.length });
    expect(post.files[0]?.data.equals(png)).toBe(true);
    expect(sent.attachments.first()?.name).toBe('doodle.png');
    const download = await fetch(sent.attachments.first()?.url ?? '');
    expect(Buffer.from(await download.arrayBuffer()).equals(png)).toBe(true);
    fake.assertNoViolations();
  });

  it('records a body that breaks the spec as a violation and assertNoViolations reports it', async () => {
    const fake = await startFake();
    const channelId = fake.guilds[0]?.channels[0]?.id ?? '';
    const response = await fetch(`${fake.apiUrl}/v10/channels/${channelId}/messages`, {
      method: 'POST',
      headers: { authorization: `Bot ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ content: 12, embeds: 'nope' }),
    });
    await response.arrayBuffer();

    expect(fake.violations).toHaveLength(1);
    expect(fake.violations[0]?.operationId).toBe('create_message');
    const paths = fake.violations[0]?.errors.map((e) => e.instancePath);
    expect(paths).toContain('/content');
    expect(paths).toContain('/embeds');
    expect(() => fake.assertNoViolations()).toThrow(/create_message/);
  });

  it('accepts numeric strings where the spec wants integers', async () => {
    const fake = await startFake();
    const response = await fetch(`${fake.apiUrl}/v10/applications/${fake.applicationId}/commands`, {
      method: 'PUT',
      headers: { authorization: `Bot ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify([{ name: 'babble', description: 'talk', default_member_permissions: '8' }]),
    });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    fake.assertNoViolations();
  });

  it('records paths the spec does not know as violations and unknown routes as unhandled 404s', async () => {
    const fake = await startFake();
    const response = await fetch(`${fake.apiUrl}/v10/not/a/route`, { headers: { authorization: `Bot ${TOKEN}` } });
    const body = (await response.json()) as { code: number; message: string };
    expect(response.status).toBe(404);
    expect(body).toEqual({ message: '404: Not Found', code: 0 });
    expect(fake.unhandled.map((r) => r.path)).toEqual(['/not/a/route']);
    expect(fake.violations[0]?.errors[0]?.message).toMatch(/not in the spec/);
  });

  it('stores commands from application.commands.set and returns them on GET with ids', async () => {
    const fake = await startFake();
    const client = await readyClient(fake);
    const guildId = fake.guilds[0]?.id ?? '';
    await client.application?.commands.set(
      [{ name: 'babble', description: 'Say something', options: [{ type: 3, name: 'prompt', description: 'Start' }] }],
      guildId,
    );
    const listed = await client.application?.commands.fetch({ guildId });

    expect(listed?.map((c) => c.name)).toEqual(['babble']);
    expect(listed?.first()?.id).toMatch(/^\d+$/);
    expect(fake.getCommands(guildId).map((c) => c.name)).toEqual(['babble']);
    fake.assertNoViolations();
  });

  it('resumes the session after dropConnection and replays events dispatched while disconnected', async () => {
    const fake = await startFake({ heartbeatIntervalMs: 60_000 });
    const client = await readyClient(fake);
    const resumed = new Promise<void>((resolve) => client.once(Events.ShardResume, () => resolve()));
    const arrived = nextInteraction(client);

    fake.dropConnection();
    fake.sendInteraction({ data: { name: 'while-away' } });
    await resumed;
    const interaction = await arrived;

    expect(fake.resumes).toBe(1);
    expect(fake.identifies).toBe(1);
    expect(interaction.isChatInputCommand() && interaction.commandName).toBe('while-away');
    const resume = await fake.waitForGatewayPayload((p) => p.op === 6);
    expect(resume.d).toMatchObject({ token: TOKEN, session_id: fake.sessions()[0]?.id });
  });

  it('makes a client with stalled heartbeat ACKs reconnect and resume', async () => {
    const fake = await startFake({ heartbeatIntervalMs: 300 });
    const client = await readyClient(fake);
    const resumed = new Promise<void>((resolve) => client.once(Events.ShardResume, () => resolve()));
    fake.stallGateway();
    await resumed;
    expect(fake.resumes).toBe(1);
    expect(fake.gatewayConnections).toBe(2);
  });

  it('retries after an injected 429 and records both attempts', async () => {
    const fake = await startFake();
    const client = await readyClient(fake);
    const channel = await client.channels.fetch(fake.guilds[0]?.channels[0]?.id ?? '');
    if (!channel?.isSendable()) throw new Error('expected a sendable channel');
    fake.failNext('create_message', { status: 429, retryAfter: 0.2 });

    const sent = await channel.send('after the limit');

    const attempts = fake.requests.filter((r) => r.operationId === 'create_message');
    expect(attempts.map((r) => r.status)).toEqual([429, 200]);
    expect(attempts[0]?.injected).toBe('rate-limit');
    expect(sent.content).toBe('after the limit');
  });

  it('surfaces injected 500s to the caller once discord.js has used up its retries', async () => {
    const fake = await startFake();
    const client = await readyClient(fake);
    const channel = await client.channels.fetch(fake.guilds[0]?.channels[0]?.id ?? '');
    if (!channel?.isSendable()) throw new Error('expected a sendable channel');
    fake.failNext('POST /channels/{channel_id}/messages', { status: 500 }, { times: 10 });

    await expect(channel.send('never')).rejects.toMatchObject({ status: 500 });

    const attempts = fake.requests.filter((r) => r.operationId === 'create_message');
    expect(attempts.length).toBeGreaterThan(1);
    expect(attempts.every((r) => r.status === 500 && r.injected === 'error')).toBe(true);
    expect(fake.getMessages(channel.id)).toHaveLength(0);
  });

  it('resumes after an op 7 RECONNECT request', async () => {
    const fake = await startFake({ heartbeatIntervalMs: 60_000 });
    const client = await readyClient(fake);
    const resumed = new Promise<void>((resolve) => client.once(Events.ShardResume, () => resolve()));
    fake.requestReconnect();
    await resumed;
    expect(fake.resumes).toBe(1);
    expect(fake.identifies).toBe(1);
  });

  it('delivers user messages with content only when the MessageContent intent is held', async () => {
    const fake = await startFake();
    const withContent = await readyClient(fake, [
      GatewayIntentBits.Guilds,
      GatewayIntentBits.GuildMessages,
      GatewayIntentBits.MessageContent,
    ]);
    const gotFull = nextMessage(withContent);
    const sent = fake.sendMessage({ content: 'hello baby' });
    const full = await gotFull;
    expect(full.id).toBe(sent.id);
    expect(full.content).toBe('hello baby');
    expect(full.author.id).toBe(fake.defaultUser.id);
    await withContent.destroy();

    const fake2 = await startFake();
    const without = await readyClient(fake2, [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages]);
    const gotBlank = nextMessage(without);
    fake2.sendMessage({ content: 'secret' });
    expect((await gotBlank).content).toBe('');
    const gotMention = nextMessage(without);
    fake2.sendMessage({ content: `<@${fake2.botUser.id}> hi` });
    const mention = await gotMention;
    expect(mention.content).toBe(`<@${fake2.botUser.id}> hi`);
    expect(mention.mentions.users.has(fake2.botUser.id)).toBe(true);
  });

  it('delivers a button press as a ButtonInteraction that can update its message', async () => {
    const fake = await startFake();
    const client = await readyClient(fake);
    const arrived = nextInteraction(client);
    fake.sendButton('again');
    const interaction = await arrived;
    expect(interaction).toBeInstanceOf(ButtonInteraction);
    if (!(interaction instanceof ButtonInteraction)) return;
    expect(interaction.customId).toBe('again');
    await interaction.update({ content: 'updated', components: [] });
    const callback = await fake.waitForRequest((r) => r.operationId === 'create_interaction_response');
    expect(callback.body).toMatchObject({ type: 7, data: { content: 'updated' } });
    fake.assertNoViolations();
  });

  it('serves zlib-stream compressed gateway payloads when the client asks for them', async () => {
    const fake = await startFake();
    const ws = new WebSocket(`${fake.gatewayUrl}/?v=10&encoding=json&compress=zlib-stream`);
    sockets.push(ws);
    const inflate = zlib.createInflate();
    const texts: string[] = [];
    const gotReady = new Promise<void>((resolve) => {
      inflate.on('data', (chunk: Buffer) => {
        texts.push(chunk.toString('utf8'));
        if (texts.join('').includes('"t":"READY"')) resolve();
      });
    });
    let identified = false;
    ws.on('message', (data: Buffer) => {
      inflate.write(data, () => {
        if (!identified && texts.join('').includes('"op":10')) {
          identified = true;
          ws.send(JSON.stringify({ op: 2, d: { token: TOKEN, intents: 1, properties: {} } }));
        }
      });
      inflate.flush(zlib.constants.Z_SYNC_FLUSH);
    });
    await gotReady;
    expect(texts.join('')).toContain(fake.botUser.id);
  });
});

describe('fake-discord waits', () => {
  it('sees a condition that comes true without any event of the fake (a callback of the bot, a log line)', async () => {
    const fake = await startFake();
    let done = false;
    setTimeout(() => {
      done = true;
    }, 100);
    await fake.waitFor(() => done, 2000, 'the flag');
    expect(done).toBe(true);
  });
});
