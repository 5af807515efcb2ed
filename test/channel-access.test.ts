/**
 * Private channels and /collect set, through the real discord.js client and the fake Discord: collection is not
 * switched on in a channel the member asking cannot view, nor in one the bot cannot read; no notice is posted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBot, type RunningBot } from '../src/discord/app.js';
import { silentLogger } from '../src/log.js';
import { createCollectionService, type CollectionService } from '../src/service/collection.js';
import type { GenerationService, ModelInfo } from '../src/service/types.js';
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
} from './fake-discord/index.js';

const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.GfAkE0.fake-token-for-channel-access';
const MANAGER = (BigInt(DEFAULT_MEMBER_PERMISSIONS) | (1n << 5n)).toString();
const BOT_ID = '5500000000000000055';
const VIEW = 1n << 10n;
const HISTORY = 1n << 16n;
const SEND = 1n << 11n;

describe('/collect set and private channels', () => {
  let fake: FakeDiscord;
  let bot: RunningBot;
  let store: KvStore;
  let collection: CollectionService;
  let guild: FakeGuild;
  const channel = (name: string) => guild.channels.find((c) => c.name === name)!.id;

  beforeAll(async () => {
    const id = '6600000000000000066';
    const botCanRead = { id: BOT_ID, type: 1, allow: String(VIEW | HISTORY | SEND), deny: '0' };
    guild = makeGuild({
      id,
      channels: [
        { name: 'open' },
        // Hidden from @everyone (the member asking), open to the bot.
        { name: 'staff', permission_overwrites: [{ id, type: 0, allow: '0', deny: String(VIEW) }, botCanRead] },
        // The bot may not view it.
        { name: 'no-bot', permission_overwrites: [{ id: BOT_ID, type: 1, allow: '0', deny: String(VIEW) }] },
        // The bot may view it but not read its history.
        { name: 'no-history', permission_overwrites: [{ id: BOT_ID, type: 1, allow: '0', deny: String(HISTORY) }] },
      ],
    });
    fake = await startFakeDiscord({ token: TOKEN, guilds: [guild], botUserId: BOT_ID });
    store = await openStore('sqlite://:memory:');
    collection = createCollectionService({ store });
    const info = () => ({ version: 's' }) as ModelInfo;
    const service = { babble: async () => 'x', reply: async () => 'x', info } satisfies GenerationService;
    bot = await startBot({ token: TOKEN, apiUrl: fake.apiUrl, service, collection, log: silentLogger() });
  });
  afterAll(async () => {
    await bot?.stop();
    await fake?.close();
    collection?.close();
    await store?.close();
  });

  async function collect(channelId: string): Promise<string> {
    const { token } = fake.sendInteraction({
      member: { permissions: MANAGER },
      data: {
        name: 'collect',
        options: [subcommand('set', [option('channel', channelId, 7), option('enabled', true)])],
        resolved: { channels: { [channelId]: { id: channelId, name: 'c', type: 0, permissions: MANAGER } } },
      },
    });
    const edit = await fake.waitForRequest(
      (r) => r.operationId === 'update_original_webhook_message' && r.params.webhook_token === token,
    );
    return (edit.body as { content: string }).content;
  }

  const noticePosted = (channelId: string) =>
    fake.requests.some((r) => r.operationId === 'create_message' && r.params.channel_id === channelId);

  it('refuses a channel the member asking cannot view', async () => {
    expect(await collect(channel('staff'))).toMatch(/^You can't view <#\d+> yourself.*collection stays off/);
    expect(noticePosted(channel('staff'))).toBe(false);
  });

  it('refuses a channel the bot cannot view, and one whose history it cannot read', async () => {
    for (const name of ['no-bot', 'no-history']) {
      const answer = await collect(channel(name));
      expect(answer, name).toMatch(/^I can't read <#\d+> \(I need View Channel and Read Message History there\)/);
      expect(noticePosted(channel(name))).toBe(false);
    }
    expect(await collection.channels(guild.id)).toEqual([]);
  });

  it('still switches collection on in a channel both can read', async () => {
    expect(await collect(channel('open'))).toMatch(/^Collection is on in/);
    expect((await collection.channels(guild.id)).map((c) => c.channelId)).toEqual([channel('open')]);
  });
});
