/**
 * Collection through Discord: the real discord.js client and bot (startBot) against the fake Discord, with a
 * SQLite store in a temporary folder and a stub generation service. Gateway events (messages, edits, deletes of
 * uncached messages, bulk deletes, the bot leaving a server or a server outage) and the member and manager
 * commands (/collect, /teach, /privacy, /optout, /optin, /forget with its buttons, /settings).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBot, type RunningBot } from '../src/discord/app.js';
import { editedContent, isHuman, toIncoming, type MessageLike } from '../src/discord/collector.js';
import { STORAGE_TROUBLE } from '../src/discord/router.js';
import { createLogger } from '../src/log.js';
import { createCollectionService, type CollectionService } from '../src/service/collection.js';
import type { BabbleRequest, GenerationService } from '../src/service/types.js';
import type { KvStore } from '../src/storage/kv.js';
import { openStore } from '../src/storage/open.js';
import {
  DEFAULT_MEMBER_PERMISSIONS,
  makeGuild,
  option,
  startFakeDiscord,
  subcommand,
  type FakeDiscord,
  type FakeGuild,
  type RecordedRequest,
} from './fake-discord/index.js';
import { withAnyErrorId } from './helpers/error-id.js';

const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.GfAkE0.fake-token-for-collector-tests';
const MANAGER = (BigInt(DEFAULT_MEMBER_PERMISSIONS) | (1n << 5n)).toString(); // + Manage Server
const OTHER = { id: '4400000000000000044', username: 'other' };

let dir: string;
let file: string;
let fake: FakeDiscord;
let bot: RunningBot;
let store: KvStore;
let collection: CollectionService;
let guild: FakeGuild;
let general: string;
let nursery: string;
const logLines: Record<string, unknown>[] = [];
const replies: Array<{ prompt: string; temperature: number | undefined }> = [];
const babbles: BabbleRequest[] = [];

const service: GenerationService = {
  babble: async (req) => {
    babbles.push(req);
    return req.seed;
  },
  reply: async (prompt, options) => {
    replies.push({ prompt, temperature: options?.temperature });
    return 'goo goo @everyone';
  },
  info: () => ({
    version: 't',
    created: '',
    trainingChars: 0,
    corpusSha256: '',
    vocabSize: 1,
    parameters: 0,
    training: {},
  }),
};

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'babble-collector-'));
  file = path.join(dir, 'babble.sqlite');
  store = await openStore(`sqlite://${file}`, { busyTimeoutMs: 100 });
  collection = createCollectionService({ store, random: () => 0.5, retryInitialMs: 60_000 });
  guild = makeGuild({ name: 'Nursery', channels: [{ name: 'general' }, { name: 'nursery' }] });
  general = guild.channels[0]!.id;
  nursery = guild.channels[1]!.id;
  fake = await startFakeDiscord({ token: TOKEN, guilds: [guild] });
  const log = createLogger('debug', {
    write: (s: string) => {
      logLines.push(JSON.parse(s) as Record<string, unknown>);
    },
  });
  bot = await startBot({ token: TOKEN, apiUrl: fake.apiUrl, service, collection, log });
});

afterAll(async () => {
  await bot?.stop();
  await fake?.close();
  collection?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

function callback(token: string): Promise<RecordedRequest> {
  return fake.waitForRequest(
    (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === token,
  );
}

/** The text of an interaction's answer: the callback's content, or the edit after a deferral. */
async function answer(token: string): Promise<string> {
  const cb = await callback(token);
  const body = cb.body as { type: number; data?: { content?: string } };
  if (body.type === 5 || body.type === 6) {
    const edit = await fake.waitForRequest(
      (r) => r.operationId === 'update_original_webhook_message' && r.params.webhook_token === token,
    );
    return (edit.body as { content: string }).content;
  }
  return body.data?.content ?? '';
}

function command(
  name: string,
  options: Record<string, unknown>[] = [],
  extra: { manager?: boolean; user?: typeof OTHER; resolved?: unknown } = {},
) {
  return fake.sendInteraction({
    ...(extra.user ? { user: extra.user } : {}),
    ...(extra.manager ? { member: { permissions: MANAGER } } : {}),
    data: { name, options, ...(extra.resolved ? { resolved: extra.resolved } : {}) },
  });
}

function collect(channelId: string, enabled: boolean, manager = true) {
  const channel = guild.channels.find((c) => c.id === channelId)!;
  return command('collect', [subcommand('set', [option('channel', channelId, 7), option('enabled', enabled)])], {
    manager,
    resolved: { channels: { [channelId]: { id: channelId, name: channel.name, type: 0, permissions: MANAGER } } },
  });
}

async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (ok(value) || Date.now() > until) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const training = () => collection.trainingText(guild.id);
/** Sends a marker message and waits until it is collected: everything sent before it has been handled. */
async function settle(label: string, channelId = nursery): Promise<string[]> {
  fake.sendMessage({ channel_id: channelId, author: OTHER, content: label });
  const text = await eventually(training, (t) => t.includes(label));
  expect(text).toContain(label);
  return text;
}

describe('message facts', () => {
  const base: MessageLike = {
    id: '1',
    guildId: '2',
    channelId: '3',
    content: 'hi',
    createdTimestamp: 5,
    author: { id: '4', bot: false, system: false },
    webhookId: null,
    system: false,
    type: 0,
  };
  it('counts as human only ordinary messages and replies by people', () => {
    expect(isHuman(base, '9')).toBe(true);
    expect(isHuman({ ...base, type: 19 }, '9')).toBe(true);
    expect(isHuman({ ...base, author: { id: '4', bot: true } }, '9')).toBe(false);
    expect(isHuman({ ...base, author: { id: '9', bot: false } }, '9')).toBe(false);
    expect(isHuman({ ...base, webhookId: '7' }, '9')).toBe(false);
    expect(isHuman({ ...base, system: true }, '9')).toBe(false);
    expect(isHuman({ ...base, type: 7 }, '9')).toBe(false); // member joined
    expect(toIncoming({ ...base, guildId: null }, '9')).toBeUndefined();
    expect(toIncoming(base, '9')).toEqual({
      id: '1',
      guildId: '2',
      channelId: '3',
      authorId: '4',
      human: true,
      content: 'hi',
      createdAt: 5,
    });
  });
  it('treats an edit without its text as unknown, not as emptied', () => {
    expect(editedContent({ partial: true, content: null })).toBeNull();
    expect(editedContent({ partial: false, content: '' })).toBe('');
  });
});

describe('collection through Discord', () => {
  it('refuses /collect to a member without Manage Server (re-checked in the handler): no notice, nothing switched on', async () => {
    // Said before collection is on: never collected (the later training set shows it).
    fake.sendMessage({ channel_id: nursery, content: 'too early' });
    const { token } = collect(nursery, true, false);
    expect(await answer(token)).toMatch(/Manage Server/);
    expect(await collection.channels(guild.id)).toEqual([]);
    expect(fake.requests.some((r) => r.operationId === 'create_message' && r.params.channel_id === nursery)).toBe(
      false,
    );
  });

  it('/collect set by a manager posts the notice in the channel, then switches collection on', async () => {
    const { token } = collect(nursery, true);
    const content = await answer(token);
    expect(content).toMatch(/Collection is on in <#\d+>/);
    const notice = await fake.waitForRequest(
      (r) => r.operationId === 'create_message' && r.params.channel_id === nursery,
    );
    const body = notice.body as { content: string; allowed_mentions: unknown };
    for (const control of ['/optout', '/forget', '/privacy', '90 days']) expect(body.content).toContain(control);
    expect(body.allowed_mentions).toEqual({ parse: [] });
    expect((await collection.channels(guild.id)).map((c) => c.channelId)).toEqual([nursery]);
    expect(await answer(collect(nursery, true).token)).toMatch(/already on/);
  });

  it('/collect status lists the channels where collection is on', async () => {
    const { token } = command('collect', [subcommand('status')], { manager: true });
    const cb = await callback(token);
    expect(cb.body).toMatchObject({ type: 4, data: { flags: 64, allowed_mentions: { parse: [] } } });
    expect((cb.body as { data: { content: string } }).data.content).toContain(`<#${nursery}>`);
  });

  it("collects people's messages there, normalised, and not bots', webhooks', the bot's own or other channels'", async () => {
    fake.sendMessage({ channel_id: nursery, content: 'Me want <@123> COOKIE https://x.y' });
    fake.sendMessage({
      channel_id: nursery,
      content: 'beep',
      author: { id: '5500000000000000055', username: 'robot', bot: true },
    });
    fake.sendMessage({ channel_id: nursery, content: 'hook', webhook_id: '6600000000000000066' });
    fake.sendMessage({ channel_id: general, content: 'elsewhere' });
    const text = await settle('marker one');
    expect(text).toEqual(['me want cookie', 'marker one']);
  });

  it('an edit updates a collected message; deletes remove it, also of uncached messages, singly and in bulk', async () => {
    const a = fake.sendMessage({ channel_id: nursery, content: 'first words' });
    const b = fake.sendMessage({ channel_id: nursery, content: 'second words' });
    const c = fake.sendMessage({ channel_id: nursery, content: 'third words' });
    await settle('marker two');
    // The bot keeps no message in memory: these arrive as partials.
    fake.dispatch('MESSAGE_UPDATE', {
      ...a,
      content: 'First words, edited',
      edited_timestamp: new Date().toISOString(),
    });
    await eventually(training, (t) => t.includes('first words, edited'));
    fake.dispatch('MESSAGE_DELETE', { id: b.id, channel_id: nursery, guild_id: guild.id });
    fake.dispatch('MESSAGE_DELETE_BULK', {
      ids: [c.id, '1234567890123456789'],
      channel_id: nursery,
      guild_id: guild.id,
    });
    const text = await eventually(training, (t) => !t.includes('second words') && !t.includes('third words'));
    expect(text).toEqual(['me want cookie', 'marker one', 'first words, edited', 'marker two']);
  });

  it('/teach stores the text for this server and says what the baby heard', async () => {
    const content = await answer(command('teach', [option('text', 'Doggy go WOOF!')]).token);
    expect(content).toContain('doggy go woof!');
    expect(await training()).toContain('doggy go woof!');
  });

  it('/privacy shows what is stored about me: counts, channels, opt-out', async () => {
    const { token } = command('privacy');
    const cb = await callback(token);
    expect(cb.body).toMatchObject({ type: 4, data: { flags: 64 } });
    const fields = (cb.body as { data: { embeds: Array<{ fields: Array<{ name: string; value: string }> }> } }).data
      .embeds[0]!.fields;
    const byName = Object.fromEntries(fields.map((f) => [f.name, f.value]));
    expect(byName['Collected messages']).toBe(`2\n<#${nursery}>: 2`); // "me want cookie" and the edited one
    expect(byName['Texts you taught (/teach)']).toBe('1');
    expect(byName['Collection channels here']).toBe(`<#${nursery}>`);
  });

  it('/optout stops collecting my messages, /optin starts again', async () => {
    expect(await answer(command('optout').token)).toMatch(/no longer stored/);
    fake.sendMessage({ channel_id: nursery, content: 'private thoughts' });
    expect(await settle('marker three')).not.toContain('private thoughts');
    expect(await answer(command('optin').token)).toMatch(/stored again/);
    fake.sendMessage({ channel_id: nursery, content: 'public thoughts' });
    expect(await settle('marker four')).toContain('public thoughts');
  });

  it('/forget asks first: Cancel erases nothing, someone else cannot press it, Erase erases all of mine and opts me out', async () => {
    const me = fake.defaultUser.id;
    const ask = await callback(command('forget').token);
    const data = (
      ask.body as {
        data: { flags: number; components: Array<{ components: Array<{ custom_id: string; label: string }> }> };
      }
    ).data;
    expect(data.flags).toBe(64);
    const ids = data.components[0]!.components.map((b) => b.custom_id);
    expect(ids).toEqual([`forget:confirm:${me}`, `forget:cancel:${me}`]);

    const cancel = await callback(fake.sendButton(`forget:cancel:${me}`).token);
    expect(cancel.body).toMatchObject({ type: 7, data: { content: 'Nothing was erased.', components: [] } });
    expect((await collection.privacy(guild.id, me)).messages).toBe(3);

    const stranger = await callback(fake.sendButton(`forget:confirm:${me}`, { user: OTHER }).token);
    expect(stranger.body).toMatchObject({ type: 4, data: { flags: 64 } });
    expect((await collection.privacy(guild.id, me)).messages).toBe(3);

    const confirm = fake.sendButton(`forget:confirm:${me}`);
    const done = await answer(confirm.token);
    expect(done).toMatch(/erased 3 collected messages and 1 taught text/);
    expect(await collection.privacy(guild.id, me)).toMatchObject({ messages: 0, taught: 0, optedOut: true });
    const left = await training();
    expect(left.filter((t) => !t.startsWith('marker'))).toEqual([]);
  });

  it('/settings is for managers; with reply-chance 100 the baby babbles back unprompted (no pings), with 0 it stops', async () => {
    expect(await answer(command('settings', [option('reply-chance', 100)]).token)).toMatch(/Manage Server/);
    const saved = await answer(
      command('settings', [option('reply-chance', 100), option('cooldown', 0), option('temperature', 1.25)], {
        manager: true,
      }).token,
    );
    expect(saved).toContain('reply-chance: 100 %');
    const said = fake.sendMessage({ channel_id: nursery, author: OTHER, content: 'look a kitty' });
    const reply = await fake.waitForRequest(
      (r) =>
        r.operationId === 'create_message' &&
        (r.body as { message_reference?: { message_id?: string } }).message_reference?.message_id === said.id,
    );
    expect(reply.body).toMatchObject({
      content: 'goo goo @everyone',
      allowed_mentions: { parse: [], replied_user: false },
    });
    expect(replies.at(-1)).toEqual({ prompt: 'look a kitty', temperature: 1.25 });

    // A mention gets the mention reply only (one reply, not two).
    const mention = fake.sendMessage({ channel_id: nursery, author: OTHER, content: `<@${fake.botUser.id}> hi` });
    await fake.waitForRequest(
      (r) =>
        r.operationId === 'create_message' &&
        (r.body as { message_reference?: { message_id?: string } }).message_reference?.message_id === mention.id,
    );
    await settle('marker five');
    const toMention = fake.requests.filter(
      (r) =>
        r.operationId === 'create_message' &&
        (r.body as { message_reference?: { message_id?: string } }).message_reference?.message_id === mention.id,
    );
    expect(toMention).toHaveLength(1);
    expect(replies.filter((r) => r.prompt === 'hi')).toEqual([{ prompt: 'hi', temperature: 1.25 }]);
    // The server's temperature is also /babble's default; an explicit option wins.
    await answer(command('babble', [option('seed', 'me want')]).token);
    await answer(command('babble', [option('seed', 'me want'), option('temperature', 0.1, 10)]).token);
    expect(babbles.slice(-2).map((b) => b.temperature)).toEqual([1.25, 0.1]);

    await answer(command('settings', [option('reply-chance', 0)], { manager: true }).token);
    const quiet = fake.sendMessage({ channel_id: nursery, author: OTHER, content: 'anyone there' });
    await settle('marker six');
    await new Promise((r) => setTimeout(r, 100));
    expect(
      fake.requests.some(
        (r) =>
          (r.body as { message_reference?: { message_id?: string } } | undefined)?.message_reference?.message_id ===
          quiet.id,
      ),
    ).toBe(false);
  });

  it('when the storage fails, a member is told so, and messages wait and are stored once it works', async () => {
    const other = new Database(file);
    other.exec('BEGIN EXCLUSIVE');
    let released = false;
    try {
      const content = await answer(command('teach', [option('text', 'lost words?')], { user: OTHER }).token);
      expect(content).toEqual(withAnyErrorId(STORAGE_TROUBLE));
      fake.sendMessage({ channel_id: nursery, author: OTHER, content: 'waiting words' });
      await fake.waitFor(() => collection.pendingCount() > 0, 5000, 'queued');
      other.exec('COMMIT');
      released = true;
    } finally {
      if (!released) other.exec('COMMIT');
      other.close();
    }
    await collection.retryNow();
    expect(collection.pendingCount()).toBe(0);
    expect(await training()).toContain('waiting words');
    expect(logLines.some((l) => l.msg === 'command failed' && l.command === 'teach' && l.level === 50)).toBe(true);
  });

  it('/collect set off stops collection and says so in the channel', async () => {
    const content = await answer(collect(nursery, false).token);
    expect(content).toMatch(/Collection is off/);
    expect(await collection.channels(guild.id)).toEqual([]);
    const notices = fake.requests.filter(
      (r) =>
        r.operationId === 'create_message' &&
        r.params.channel_id === nursery &&
        String((r.body as { content?: string }).content).includes('stopped'),
    );
    expect(notices).toHaveLength(1);
    fake.sendMessage({ channel_id: nursery, author: OTHER, content: 'after the end' });
    await collection.setChannel(guild.id, general, true, '1');
    expect(await settle('marker seven', general)).not.toContain('after the end');
  });

  it('keeps the data through a server outage, and purges it when the bot is removed from the server', async () => {
    expect((await training()).length).toBeGreaterThan(0);
    fake.removeGuild(guild.id, true);
    await eventually(
      async () => logLines.some((l) => l.msg === 'server unavailable (outage): data kept'),
      (v) => v,
    );
    expect((await training()).length).toBeGreaterThan(0);
    fake.addGuild(guild);
    // The gateway's events are handled in order: once a later message is collected, the server is back.
    await settle('marker eight', general);
    fake.removeGuild(guild.id);
    await eventually(
      async () => logLines.some((l) => l.msg === 'server data purged' && l.guild === guild.id),
      (v) => v,
    );
    expect(await training()).toEqual([]);
    expect(await collection.channels(guild.id)).toEqual([]);
    expect((await collection.getSettings(guild.id)).replyChance).toBe(0);
  });

  it('sent only spec-valid requests, and every message it sent pings nobody', () => {
    fake.assertNoViolations();
    const bodies = fake.requests.filter(
      (r) =>
        ['create_message', 'update_original_webhook_message', 'execute_webhook'].includes(r.operationId ?? '') ||
        (r.operationId === 'create_interaction_response' &&
          (r.body as { data?: { content?: unknown; embeds?: unknown } }).data?.content !== undefined),
    );
    expect(bodies.length).toBeGreaterThan(20);
    for (const r of bodies) {
      const body = (r.operationId === 'create_interaction_response' ? (r.body as { data: unknown }).data : r.body) as {
        allowed_mentions?: unknown;
      };
      expect(body.allowed_mentions, `${r.method} ${r.path}`).toMatchObject({ parse: [] });
    }
  });
});
