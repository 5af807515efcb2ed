/**
 * Quotas (service/collection/quotas.ts): /teach capped per member and per server, in texts and characters, with a
 * clear message; collected messages capped per server, the oldest dropped first; /teach spends from the reply
 * rate limiter (through the fake Discord and the real bot adapter).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startBot, type RunningBot } from '../src/discord/app.js';
import { createLogger } from '../src/log.js';
import { createReplyLimiter, memoryCounters } from '../src/service/rate-limiter.js';
import type { GenerationService } from '../src/service/types.js';
import { option, startFakeDiscord, type FakeDiscord } from './fake-discord/index.js';
import { memoryCollection } from './helpers/collection.js';
import { C, closeStores, G, msg, setup, U } from './helpers/collection-setup.js';

const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.GfAkE0.fake-token-for-babble-tests';
const STUB: GenerationService = {
  babble: async () => 'me want',
  reply: async () => 'me want',
  info: () => ({
    version: 't',
    created: '',
    trainingChars: 0,
    corpusSha256: '',
    vocabSize: 1,
    parameters: 1,
    training: {},
  }),
} as never;
let fake: FakeDiscord | undefined;
let bot: RunningBot | undefined;
afterEach(async () => {
  await bot?.stop();
  bot = undefined;
  await fake?.close();
  fake = undefined;
  await closeStores();
});

const quotas = { teachPerMember: 3, teachCharsPerMember: 40, teachPerServer: 5, teachCharsPerServer: 1000 };

describe('/teach quotas', () => {
  it('caps the texts of one member, then their characters, and says so', async () => {
    const { collection } = await setup({ quotas });
    for (let i = 0; i < 3; i++) await collection.teach(G, U, String(10 + i), `word ${i}`);
    await expect(collection.teach(G, U, '13', 'one more')).rejects.toThrow(
      /all it can take from one person here: at most 3 texts and 40 characters \(you have 3 texts, 18 characters\)/,
    );
    // Another member still may; characters count too.
    await collection.teach(G, '3001', '20', 'a'.repeat(30));
    await expect(collection.teach(G, '3001', '21', 'b'.repeat(11))).rejects.toMatchObject({
      name: 'InvalidRequestError',
    });
    expect((await collection.trainingText(G)).length).toBe(4);
    // /forget makes room again.
    await collection.forget(G, U);
    await collection.optIn(G, U);
    await collection.teach(G, U, '14', 'back again');
  });

  it('caps a whole server, whoever teaches', async () => {
    const { collection } = await setup({ quotas });
    for (let i = 0; i < 5; i++) await collection.teach(G, String(3001 + i), String(10 + i), `word ${i}`);
    await expect(collection.teach(G, '3100', '20', 'hello')).rejects.toThrow(
      /all the taught words this server can give it: at most 5 texts/,
    );
    // Another server is not affected.
    await collection.teach('1001', '3100', '21', 'hello');
  });
});

describe('collected messages per server', () => {
  it('keeps at most the cap, dropping the oldest first (and their index entries)', async () => {
    const { collection, store } = await setup({ quotas: { messagesPerServer: 10 } });
    await collection.setChannel(G, C, true, '1');
    for (let i = 0; i < 25; i++) {
      const createdAt = Date.UTC(2025, 0, 1) + i * 1000;
      await collection.collect(msg({ id: String(100 + i), createdAt, content: `line ${i}` }));
    }
    const text = await collection.trainingText(G);
    expect(text).toEqual(Array.from({ length: 10 }, (_, i) => `line ${15 + i}`));
    expect((await collection.privacy(G, U)).messages).toBe(10);
    let index = 0;
    for await (const page of store.scan(`g:${G}:u:`)) index += page.length;
    expect(index).toBe(10);
  });
});

describe('/teach through the rate limiter', () => {
  it('spends from the reply budget: past it the member is told to wait, and nothing is stored', async () => {
    fake = await startFakeDiscord({ token: TOKEN });
    const log = createLogger('silent');
    const collection = await memoryCollection();
    const limiter = createReplyLimiter({
      counters: memoryCounters({ userReplies: 2, userSeconds: 60, serverReplies: 0, serverSeconds: 60 }),
      log,
    });
    bot = await startBot({ collection, token: TOKEN, apiUrl: fake.apiUrl, service: STUB, log, limiter });
    const answers: string[] = [];
    let guildId = '';
    for (let i = 0; i < 3; i++) {
      const sent = fake.sendInteraction({ data: { name: 'teach', options: [option('text', `me want cake ${i}`)] } });
      const cb = await fake.waitForRequest(
        (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === sent.token,
      );
      answers.push((cb.body as { data: { content: string } }).data.content);
      guildId = String(sent.payload.guild_id);
    }
    expect(answers[0]).toMatch(/^Thank you!/);
    expect(answers[1]).toMatch(/^Thank you!/);
    expect(answers[2]).toMatch(/^The baby needs a nap — try again in \d+ s\.$/);
    expect(await collection.trainingText(guildId)).toEqual(['me want cake 0', 'me want cake 1']);
    fake.assertNoViolations();
  });
});
