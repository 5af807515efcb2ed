/**
 * The bot's Discord side (startBot: the real discord.js client with the bot's cache settings, the real collection
 * service over an in-memory store, a stub generation service) in a child process of its own, so that its memory
 * can be measured apart from the fake Discord's. Run with `--expose-gc --import tsx`; talks over IPC:
 *   → { type: 'count' }    ← { type: 'count', seen }
 *   → { type: 'measure' }  ← { type: 'measure', seen, rss, heapUsed, users, members } (after two full GCs)
 *   → { type: 'stop' }     stops the bot and exits 0.
 * Sends { type: 'ready', userId } once logged in. Needs DISCORD_TOKEN and DISCORD_API_URL in its environment.
 */
import { startBot } from '../../src/discord/app.js';
import { silentLogger } from '../../src/log.js';
import type { GenerationService } from '../../src/service/types.js';
import { memoryCollection } from './collection.js';

export type MemoryBotRequest = { type: 'count' } | { type: 'measure' } | { type: 'stop' };
export type MemoryBotReply =
  | { type: 'ready'; userId: string }
  | { type: 'count'; seen: number }
  | { type: 'measure'; seen: number; rss: number; heapUsed: number; users: number; members: number };

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc || !process.send) throw new Error('run me with --expose-gc as a forked child');

const service: GenerationService = {
  babble: async (req) => req.seed,
  reply: async () => 'goo',
  info: () => ({
    version: 'memory',
    created: '',
    trainingChars: 0,
    corpusSha256: '',
    vocabSize: 1,
    parameters: 0,
    training: {},
  }),
};

const bot = await startBot({
  token: process.env.DISCORD_TOKEN ?? '',
  apiUrl: process.env.DISCORD_API_URL ?? '',
  service,
  collection: await memoryCollection(),
  log: silentLogger(),
});
let seen = 0;
bot.client.on('messageCreate', () => {
  seen += 1;
});
const send = (reply: MemoryBotReply) => process.send!(reply);

process.on('message', (request: MemoryBotRequest) => {
  if (request.type === 'count') send({ type: 'count', seen });
  else if (request.type === 'measure') {
    // Let pending handlers settle, then collect twice (weak references and finalizers need a second pass).
    setTimeout(() => {
      gc();
      gc();
      const { rss, heapUsed } = process.memoryUsage();
      const members = bot.client.guilds.cache.reduce((n, g) => n + g.members.cache.size, 0);
      send({ type: 'measure', seen, rss, heapUsed, users: bot.client.users.cache.size, members });
    }, 200);
  } else if (request.type === 'stop') {
    void bot.stop({ drainMs: 1000 }).finally(() => process.exit(0));
  }
});
send({ type: 'ready', userId: bot.userId });
