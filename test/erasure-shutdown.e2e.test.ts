/**
 * Through the real entry point (a real process, a real SQLite file): a message delete that the storage cannot
 * apply (the database locked by another connection) when SIGTERM comes is recorded in ERASURE_JOURNAL before the
 * process exits 0, and the next start applies it (issue 12 item 5).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, expect, it } from 'vitest';
import { createCollectionService } from '../src/service/collection.js';
import { openStore } from '../src/storage/open.js';
import { makeGuild, startFakeDiscord, type FakeDiscord } from './fake-discord/index.js';
import { startEntryProcess, type EntryProcess } from './helpers/entry-process.js';

const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.GfAkE0.fake-token-for-erasure-shutdown';
const dir = mkdtempSync(path.join(tmpdir(), 'babble-erasure-shutdown-'));
const file = path.join(dir, 'babble.sqlite');
const journal = path.join(dir, 'pending-erasures.json');
const bots: EntryProcess[] = [];
let fake: FakeDiscord | undefined;

afterAll(async () => {
  for (const b of bots) b.child.kill('SIGKILL');
  await fake?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function texts(guildId: string): Promise<string[]> {
  const store = await openStore(`sqlite://${file}`);
  try {
    return await createCollectionService({ store }).trainingText(guildId);
  } finally {
    await store.close();
  }
}

it('a delete the storage could not apply at SIGTERM is journalled, and applied at the next start', async () => {
  const guild = makeGuild({ channels: [{ name: 'general' }] });
  const channel = guild.channels[0]!.id;
  const message = '7100000000000000071';
  {
    const store = await openStore(`sqlite://${file}`);
    const collection = createCollectionService({ store });
    await collection.setChannel(guild.id, channel, true, '1');
    const said = { guildId: guild.id, channelId: channel, authorId: '7200000000000000072', human: true };
    const now = Date.now();
    await collection.collectMany([{ ...said, createdAt: now, id: message, content: 'delete me later' }]);
    await store.close();
  }
  fake = await startFakeDiscord({ token: TOKEN, guilds: [guild] });
  const env = {
    DISCORD_TOKEN: TOKEN,
    DISCORD_API_URL: fake.apiUrl,
    MODELS_DIR: path.join(dir, 'models'),
    STORAGE_URL: `sqlite://${file}`,
    ERASURE_JOURNAL: journal,
  };
  const first = startEntryProcess({ env });
  bots.push(first);
  await first.waitForLog((l) => l.msg === 'serving', 60_000);

  // Another connection holds the write lock: the bot's delete fails after its busy timeout and waits.
  const locker = new Database(file);
  locker.exec('BEGIN EXCLUSIVE');
  fake.dispatch('MESSAGE_DELETE', { id: message, channel_id: channel, guild_id: guild.id });
  await first.waitForLog((l) => l.msg === 'storage failed: gateway event queued for retry', 30_000);
  first.child.kill('SIGTERM');
  expect((await first.exited).code).toBe(0);
  const recorded = JSON.parse(readFileSync(journal, 'utf8')) as { erasures: unknown[] };
  expect(recorded.erasures).toEqual([{ kind: 'remove', guildId: guild.id, ids: [message] }]);
  locker.exec('COMMIT');
  locker.close();
  expect(await texts(guild.id)).toEqual(['delete me later']);

  const second = startEntryProcess({ env });
  bots.push(second);
  await second.waitForLog((l) => l.msg === 'serving', 60_000);
  second.child.kill('SIGTERM');
  expect((await second.exited).code).toBe(0);
  expect(existsSync(journal)).toBe(false);
  expect(await texts(guild.id)).toEqual([]);
}, 120_000);
