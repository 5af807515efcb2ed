/**
 * /wordfilter and the word filter end to end: the real discord.js client against the fake Discord, a stub
 * generator that emits a server's blocked word (and obfuscated variants) or a swear word, and the real store.
 * A blocked babble or mention reply is never sent: the baby says it has no words instead.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startBot, type RunningBot } from '../src/discord/app.js';
import { silentLogger } from '../src/log.js';
import { createBlockedWords } from '../src/service/blocked-words.js';
import { createCollectionService } from '../src/service/collection.js';
import { createModeration, NO_WORDS } from '../src/service/moderation.js';
import { createOutputFilter } from '../src/service/output-filter.js';
import type { GenerationService, ModelInfo } from '../src/service/types.js';
import type { KvStore } from '../src/storage/kv.js';
import { openStore } from '../src/storage/open.js';
import { option, startFakeDiscord, subcommand, type FakeDiscord } from './fake-discord/index.js';
import { sentBodies } from './helpers/sent-bodies.js';

const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.GfAkE0.fake-token-for-wordfilter';
const MANAGE_GUILD = (1n << 5n).toString();

describe('/wordfilter and blocked babbles through Discord', () => {
  let fake: FakeDiscord;
  let bot: RunningBot;
  let store: KvStore;
  /** What the stub generator says next, in turn (the last for ever). */
  let script: string[] = [];
  let generated = 0;

  const next = async () => script[Math.min(generated++, script.length - 1)]!;
  const service: GenerationService = { babble: next, reply: next, info: () => ({ version: 'stub' }) as ModelInfo };

  beforeAll(async () => {
    fake = await startFakeDiscord({ token: TOKEN });
    store = await openStore('sqlite://:memory:');
    const moderation = createModeration({ filter: createOutputFilter(), words: createBlockedWords(store) });
    bot = await startBot({
      collection: createCollectionService({ store }),
      token: TOKEN,
      apiUrl: fake.apiUrl,
      service,
      log: silentLogger(),
      deferAfterMs: 500,
      moderation,
    });
  });
  afterAll(async () => {
    await bot?.stop();
    await fake?.close();
    await store?.close();
  });
  beforeEach(() => {
    generated = 0;
  });

  const callback = (token: string) =>
    fake.waitForRequest((r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === token);
  const babble = () => fake.sendInteraction({ data: { name: 'babble', options: [option('seed', 'me want')] } }).token;
  const content = (cb: { body: unknown }) => (cb.body as { data: { content: string } }).data.content;
  const wordfilter = (sub: string, word?: string, permissions = MANAGE_GUILD) =>
    fake.sendInteraction({
      data: { name: 'wordfilter', options: [subcommand(sub, word === undefined ? [] : [option('word', word)])] },
      member: { permissions },
    });

  it('lets a manager block a word, and lists it (as a spoiler, only to them)', async () => {
    const add = await callback(wordfilter('add', 'Pickle').token);
    expect(add.body).toMatchObject({ type: 4, data: { flags: 64, content: expect.stringMatching(/^Blocked/) } });
    const list = await callback(wordfilter('list').token);
    expect(content(list)).toContain('||pickle||');
    expect(content(list)).toContain('built-in list of swear words and slurs is on');
  });

  it('refuses a member without Manage Server, and a word that is not one word of letters', async () => {
    expect(content(await callback(wordfilter('add', 'cookie', '0').token))).toMatch(/Manage Server/);
    expect(content(await callback(wordfilter('add', 'two words').token))).toMatch(/one word of 2 to 32 letters/);
    expect(content(await callback(wordfilter('list').token))).not.toContain('cookie');
  });

  it('never sends a babble holding a blocked word or an obfuscated variant: the baby has no words', async () => {
    await callback(wordfilter('add', 'pickle').token);
    const before = fake.requests.length;
    script = ['me want pickle', 'me want p1ckle', 'me want PICKLES', 'me want piiickle', 'me want ball'];
    const cb = await callback(babble());
    expect(content(cb)).toBe(NO_WORDS);
    const sent = JSON.stringify(sentBodies(fake.requests.slice(before)).map((s) => s.body));
    expect(sent).not.toMatch(/p[i1]+ckle/i);
  });

  it('sends the first clean babble when a retry comes out clean', async () => {
    script = ['me want sh1t', 'me want ball'];
    const cb = await callback(babble());
    expect(content(cb)).toBe('me want ball');
  });

  it('screens mention replies the same way', async () => {
    script = ['you fuuuck'];
    const before = fake.requests.length;
    fake.sendMessage({ content: `<@${fake.botUser.id}> hi baby` });
    const reply = await fake.waitForRequest((r) => r.operationId === 'create_message' && r.seq > before);
    expect((reply.body as { content: string }).content).toBe(NO_WORDS);
  });

  it('removes a word: the baby may say it again', async () => {
    expect(content(await callback(wordfilter('remove', 'pickle').token))).toBe('Unblocked.');
    script = ['me want pickle'];
    const cb = await callback(babble());
    expect(content(cb)).toBe('me want pickle');
  });
});
