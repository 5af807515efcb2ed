/**
 * Memory: 100,000 MESSAGE_CREATE from 100,000 different people, in a channel without collection, to the bot's
 * Discord side in a process of its own (test/helpers/memory-bot.ts) → its resident memory stays flat between
 * 10,000 and 100,000 messages, and discord.js's user and member caches stay within CACHE_LIMITS (without the
 * limits, each would hold an entry per person: 100,000).
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CACHE_LIMITS } from '../src/discord/app.js';
import { makeGuild, startFakeDiscord, type FakeDiscord, type FakeGuild } from './fake-discord/index.js';
import { ROOT } from './helpers/entry-process.js';
import type { MemoryBotReply, MemoryBotRequest } from './helpers/memory-bot.js';

const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.GfAkE0.fake-token-for-memory-tests';
const WARM = 10_000;
const TOTAL = 100_000;
const BATCH = 2_000;
const MB = 1024 * 1024;

let fake: FakeDiscord;
let guild: FakeGuild;
let child: ChildProcess;
const replies: MemoryBotReply[] = [];
const waiters = new Set<() => void>();

function ask<T extends MemoryBotReply['type']>(
  type: T & MemoryBotRequest['type'],
  timeoutMs = 30_000,
): Promise<Extract<MemoryBotReply, { type: T }>> {
  return new Promise((resolve, reject) => {
    const before = replies.length;
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`no ${type} reply from the bot within ${timeoutMs} ms`));
    }, timeoutMs);
    const check = () => {
      const found = replies.slice(before).find((r) => r.type === type);
      if (!found) return;
      waiters.delete(check);
      clearTimeout(timer);
      resolve(found as Extract<MemoryBotReply, { type: T }>);
    };
    waiters.add(check);
    child.send({ type } satisfies MemoryBotRequest);
  });
}

function messageFrom(i: number): Record<string, unknown> {
  const now = new Date().toISOString();
  return {
    id: String(7_000_000_000_000_000_000n + BigInt(i)),
    channel_id: guild.channels[0]!.id,
    guild_id: guild.id,
    type: 0,
    content: `hello number ${i}`,
    author: {
      id: String(6_000_000_000_000_000_000n + BigInt(i)),
      username: `person${i}`,
      discriminator: '0',
      global_name: `Person ${i}`,
      avatar: null,
    },
    member: { roles: [], joined_at: now, deaf: false, mute: false, flags: 0, nick: null },
    timestamp: now,
    edited_timestamp: null,
    tts: false,
    mention_everyone: false,
    mentions: [],
    mention_roles: [],
    attachments: [],
    embeds: [],
    pinned: false,
  };
}

/** Dispatches messages from..to-1 in batches, waiting for the bot to have seen each batch (no backlog builds up). */
async function sendMessages(from: number, to: number): Promise<void> {
  for (let start = from; start < to; start += BATCH) {
    const end = Math.min(to, start + BATCH);
    for (let i = start; i < end; i++) fake.dispatch('MESSAGE_CREATE', messageFrom(i));
    for (;;) {
      const { seen } = await ask('count');
      if (seen >= end) break;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

beforeAll(async () => {
  guild = makeGuild();
  fake = await startFakeDiscord({ token: TOKEN, guilds: [guild] });
  child = fork(path.join(ROOT, 'test/helpers/memory-bot.ts'), [], {
    cwd: ROOT,
    execArgv: ['--expose-gc', '--import', 'tsx'],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      DISCORD_TOKEN: TOKEN,
      DISCORD_API_URL: fake.apiUrl,
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  child.on('message', (reply: MemoryBotReply) => {
    replies.push(reply);
    for (const w of [...waiters]) w();
  });
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (replies.some((r) => r.type === 'ready')) {
        waiters.delete(check);
        resolve();
      }
    };
    waiters.add(check);
    child.once('exit', (code) => reject(new Error(`the memory bot exited (${code}) before it was ready`)));
  });
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.send({ type: 'stop' } satisfies MemoryBotRequest);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  await fake?.close();
});

describe('100,000 messages from different people', () => {
  it('keep the bot’s resident memory flat and its user and member caches within their limits', async () => {
    await sendMessages(0, WARM);
    const warm = await ask('measure');
    await sendMessages(WARM, TOTAL);
    const after = await ask('measure');

    expect(after.seen).toBe(TOTAL);
    expect(after.users).toBeLessThanOrEqual(CACHE_LIMITS.users);
    expect(after.members).toBeLessThanOrEqual(CACHE_LIMITS.membersPerServer);
    const growth = { rssMb: (after.rss - warm.rss) / MB, heapMb: (after.heapUsed - warm.heapUsed) / MB };
    expect(growth.rssMb, JSON.stringify({ warm, after })).toBeLessThan(30);
    expect(growth.heapMb, JSON.stringify({ warm, after })).toBeLessThan(10);
  }, 120_000);
});
