/**
 * Fuzz, end to end in-process: 10,000 hostile /babble seeds and channel messages (Unicode of every plane, lone
 * surrogates, bidi, control and zero-width characters, mentions, markdown, code blocks, up to 10,000 characters)
 * through startBot with the real generation service and model, the real discord.js client and the fake Discord.
 * Promises: no crash (no unhandled rejection or exception, no error logged, still answering after), every message
 * it sends pings nobody and has at most 2,000 characters, every REST request is valid per Discord's spec, every
 * /babble and mention is answered exactly once, and out-of-range options get a clear ephemeral error.
 *
 * The generator is seeded: FUZZ_SEED=<n> npx vitest run test/fuzz.e2e.test.ts reproduces a run; a failure
 * prints the case number and its input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBot, type RunningBot } from '../src/discord/app.js';
import { BABBLE_BOUNDS } from '../src/service/babble-rules.js';
import { createLogger, type Logger } from '../src/log.js';
import { normalize } from '../src/model/vocab.js';
import type { CollectionService } from '../src/service/collection.js';
import { createGenerationService, type LoadedGenerationService } from '../src/service/generation.js';
import { NO_WORDS } from '../src/service/moderation.js';
import { makeGuild, option, startFakeDiscord, type FakeDiscord, type RecordedRequest } from './fake-discord/index.js';
import { memoryCollection } from './helpers/collection.js';
import { fuzzString, pick, randInt, seededRand, type Rand } from './helpers/fuzz-text.js';
import { bodyProblems, sentBodies } from './helpers/sent-bodies.js';

const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.GfAkE0.fake-token-for-fuzz-tests';
const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 7_2025);
const TOTAL = 10_000;
const IN_FLIGHT = 50;

interface BabbleOptionsSent {
  seed: string;
  temperature?: number;
  length?: number;
  rng?: number;
}

type Case =
  | { n: number; kind: 'babble'; token: string; options: BabbleOptionsSent; problem: boolean }
  | { n: number; kind: 'message'; id: string; content: string; channel: string; expectReply: boolean };

/** What the bounds documented for /babble say about these options (independent of the bot's own check). */
function outOfRange(o: BabbleOptionsSent): boolean {
  const b = BABBLE_BOUNDS;
  const bad = (v: number | undefined, min: number, max: number, integer: boolean) =>
    v !== undefined && (v < min || v > max || (integer && !Number.isInteger(v)));
  return (
    o.seed.trim().length === 0 ||
    o.seed.length > b.seedMaxLength ||
    bad(o.temperature, b.temperature.min, b.temperature.max, false) ||
    bad(o.length, b.length.min, b.length.max, true) ||
    bad(o.rng, b.rng.min, b.rng.max, true)
  );
}

function babbleOptions(rand: Rand, ids: readonly string[]): BabbleOptionsSent {
  const o: BabbleOptionsSent = {
    seed: rand() < 0.03 ? fuzzString(rand, 10_000, { ids }) : fuzzString(rand, BABBLE_BOUNDS.seedMaxLength, { ids }),
  };
  const wild = rand() < 0.08; // an option Discord would have refused
  if (rand() < 0.4)
    o.temperature = wild && rand() < 0.4 ? pick(rand, [5, -0.5, 2.0001, 1e9, -1e-9]) : Math.round(rand() * 200) / 100;
  if (rand() < 0.4)
    o.length =
      wild && rand() < 0.4
        ? pick(rand, [0, -1, 1001, 1.5, 2 ** 40])
        : rand() < 0.9
          ? randInt(rand, 1, 120)
          : randInt(rand, 1, 1000);
  if (rand() < 0.4)
    o.rng = wild && rand() < 0.4 ? pick(rand, [-1, 2 ** 31, 0.5, -(2 ** 53)]) : randInt(rand, 0, 2 ** 31 - 1);
  return o;
}

function babbleData(o: BabbleOptionsSent) {
  const options = [option('seed', o.seed)];
  if (o.temperature !== undefined) options.push(option('temperature', o.temperature, 10));
  if (o.length !== undefined) options.push(option('length', o.length, 4));
  if (o.rng !== undefined) options.push(option('rng', o.rng, 4));
  return { name: 'babble', options };
}

/** Indexes the fake's requests as they arrive: answers by interaction token and replies by message id. */
class Answers {
  private cursor = 0;
  readonly callbacks = new Map<string, RecordedRequest[]>();
  readonly edits = new Map<string, RecordedRequest[]>();
  readonly replies = new Map<string, RecordedRequest[]>();
  constructor(private readonly fake: FakeDiscord) {}

  update(): void {
    const all = this.fake.requests;
    for (; this.cursor < all.length; this.cursor++) {
      const r = all[this.cursor]!;
      const add = (map: Map<string, RecordedRequest[]>, key: string | undefined) => {
        if (key === undefined) return;
        const list = map.get(key) ?? [];
        list.push(r);
        map.set(key, list);
      };
      if (r.operationId === 'create_interaction_response') add(this.callbacks, r.params.interaction_token);
      else if (r.operationId === 'update_original_webhook_message') add(this.edits, r.params.webhook_token);
      else if (r.operationId === 'create_message')
        add(
          this.replies,
          (r.body as { message_reference?: { message_id?: string } } | undefined)?.message_reference?.message_id,
        );
    }
  }

  /** The text the user finally sees for an interaction, once it is there. */
  babbleContent(token: string): { content: string; flags: number | undefined } | undefined {
    const cb = this.callbacks.get(token)?.find((r) => r.status < 300);
    if (!cb) return undefined;
    const body = cb.body as { type: number; data?: { content?: string; flags?: number } };
    if (body.type === 4) return { content: body.data?.content ?? '', flags: body.data?.flags };
    const edit = this.edits.get(token)?.find((r) => r.status < 300);
    return edit ? { content: (edit.body as { content?: string }).content ?? '', flags: undefined } : undefined;
  }

  done(c: Case): boolean {
    if (c.kind === 'babble') return this.babbleContent(c.token) !== undefined;
    return !c.expectReply || (this.replies.get(c.id)?.length ?? 0) > 0;
  }
}

function describeCase(c: Case): string {
  return c.kind === 'babble'
    ? `case ${c.n} (FUZZ_SEED=${FUZZ_SEED}) /babble ${JSON.stringify(c.options).slice(0, 600)}`
    : `case ${c.n} (FUZZ_SEED=${FUZZ_SEED}) message in ${c.channel} ${JSON.stringify(c.content).slice(0, 600)}`;
}

let fake: FakeDiscord;
let bot: RunningBot;
let service: LoadedGenerationService;
let collection: CollectionService;
const logLines: Record<string, unknown>[] = [];
const crashes: unknown[] = [];
const onCrash = (reason: unknown) => crashes.push(reason);
let collectChannel = '';

function captureLog(): Logger {
  return createLogger('warn', {
    write: (s: string) => {
      logLines.push(JSON.parse(s) as Record<string, unknown>);
    },
  });
}

beforeAll(async () => {
  process.on('unhandledRejection', onCrash);
  process.on('uncaughtException', onCrash);
  fake = await startFakeDiscord({
    token: TOKEN,
    guilds: [makeGuild({ channels: [{ name: 'general' }, { name: 'nursery' }, { name: 'play' }, { name: 'nap' }] })],
  });
  service = await createGenerationService({ modelDir: 'models/base' });
  collection = await memoryCollection();
  const guild = fake.guilds[0]!;
  collectChannel = guild.channels[1]!.id;
  // One channel collects and answers every human message unprompted, so the collector is fuzzed too.
  await collection.setChannel(guild.id, collectChannel, true, fake.defaultUser.id);
  await collection.updateSettings(guild.id, { replyChance: 100, cooldownSeconds: 0 });
  bot = await startBot({ token: TOKEN, apiUrl: fake.apiUrl, service, collection, log: captureLog() });
  // discord.js holds every REST request except interaction callbacks to Discord's global 50 requests/s, so
  // 5,000 channel replies alone would take 100 s. The fake has no such limit: lift the client-side cap (a public
  // @discordjs/rest option) so the fuzz runs at test speed. The 429 handling is covered in faults.e2e.test.ts.
  bot.client.rest.options.globalRequestsPerSecond = 100_000;
}, 60_000);

afterAll(async () => {
  await bot?.stop();
  await fake?.close();
  collection?.close();
  service?.close();
  process.off('unhandledRejection', onCrash);
  process.off('uncaughtException', onCrash);
});

async function settle(answers: Answers, batch: readonly Case[], timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    answers.update();
    const missing = batch.filter((c) => !answers.done(c));
    if (missing.length === 0) return;
    if (crashes.length > 0) throw new Error(`crashed: ${String(crashes[0])}`);
    if (Date.now() > until)
      throw new Error(
        `no answer within ${timeoutMs} ms to ${missing.length} case(s):\n${missing.slice(0, 5).map(describeCase).join('\n')}`,
      );
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe(`fuzzed input through the real bot (FUZZ_SEED=${FUZZ_SEED})`, () => {
  it('answers each out-of-range /babble option with a clear ephemeral error naming the option', async () => {
    const cases: { options: BabbleOptionsSent; names: RegExp }[] = [
      { options: { seed: 'a'.repeat(BABBLE_BOUNDS.seedMaxLength + 1) }, names: /^seed is too long.*500/ },
      { options: { seed: '𝕳'.repeat(5000) }, names: /^seed is too long.*500/ },
      { options: { seed: '   \n\t ' }, names: /^seed must not be empty/ },
      { options: { seed: 'hi', temperature: 5 }, names: /^temperature .*0 to 2/ },
      { options: { seed: 'hi', temperature: -0.01 }, names: /^temperature .*0 to 2/ },
      { options: { seed: 'hi', length: 0 }, names: /^length .*1 to 1000/ },
      { options: { seed: 'hi', length: 1001 }, names: /^length .*1 to 1000/ },
      { options: { seed: 'hi', length: 2.5 }, names: /^length must be a whole number/ },
      { options: { seed: 'hi', rng: -1 }, names: /^rng .*0 to 2147483647/ },
      { options: { seed: 'hi', rng: 2 ** 31 }, names: /^rng .*0 to 2147483647/ },
    ];
    const sent = cases.map((c) => ({ ...c, token: fake.sendInteraction({ data: babbleData(c.options) }).token }));
    for (const c of sent) {
      const cb = await fake.waitForRequest(
        (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === c.token,
        10_000,
      );
      expect(cb.body, JSON.stringify(c.options).slice(0, 80)).toMatchObject({
        type: 4,
        data: { flags: 64, allowed_mentions: { parse: [] } },
      });
      expect((cb.body as { data: { content: string } }).data.content).toMatch(c.names);
    }
  });

  it('answers options Discord would never send (no seed, wrong types, unknown options) with an ephemeral message', async () => {
    const odd = [
      [],
      [option('seed', 42, 4)],
      [option('seed', 'hi'), option('temperature', 'hot', 10)],
      [option('seed', 'hi'), option('length', '12', 4)],
      [option('seed', 'hi'), option('length', 7, 3)],
      [option('seed', 'hi'), option('bogus', 1)],
    ];
    const tokens = odd.map((options) => fake.sendInteraction({ data: { name: 'babble', options } }).token);
    for (const token of tokens) {
      const cb = await fake.waitForRequest(
        (r) =>
          r.operationId === 'create_interaction_response' && r.params.interaction_token === token && r.status < 300,
        10_000,
      );
      const body = cb.body as { type: number; data?: { flags?: number } };
      // The unknown option is ignored (a normal babble); everything else is refused, only to the asker.
      if (token !== tokens.at(-1))
        expect(body, JSON.stringify(odd[tokens.indexOf(token)])).toMatchObject({ type: 4, data: { flags: 64 } });
      else expect(body.type).toBe(4);
    }
    expect(crashes).toEqual([]);
  });

  it(`survives ${TOTAL.toLocaleString('en')} fuzzed /babble seeds and messages: all answered once, none pings, none over 2,000 characters, all spec-valid`, async () => {
    const rand = seededRand(FUZZ_SEED);
    const guild = fake.guilds[0]!;
    const channels = guild.channels.map((c) => c.id);
    const ids = [bot.userId, fake.defaultUser.id, guild.id, ...channels, ...guild.roles.map((r) => r.id)];
    const answers = new Answers(fake);
    const cases: Case[] = [];
    const firstLogLine = logLines.length;
    const started = Date.now();

    for (let first = 0; first < TOTAL; first += IN_FLIGHT) {
      const batch: Case[] = [];
      for (let n = first; n < Math.min(TOTAL, first + IN_FLIGHT); n++) {
        if (rand() < 0.5) {
          const options = babbleOptions(rand, ids);
          const { token } = fake.sendInteraction({ dm: rand() < 0.1, data: babbleData(options) });
          batch.push({ n, kind: 'babble', token, options, problem: outOfRange(options) });
        } else {
          let content = fuzzString(rand, rand() < 0.05 ? 10_000 : 2_000, { ids });
          const mention = rand() < 0.85;
          if (mention) {
            const at = randInt(rand, 0, content.length);
            content = content.slice(0, at) + pick(rand, [`<@${bot.userId}>`, `<@!${bot.userId}>`]) + content.slice(at);
          }
          // A DM never reaches the bot: it does not ask for the DirectMessages intent.
          const dm = rand() < 0.1;
          const channel = dm ? 'dm' : pick(rand, channels);
          const message = dm ? fake.sendMessage({ content, dm }) : fake.sendMessage({ content, channel_id: channel });
          const mentioned = new RegExp(`<@!?${bot.userId}>`).test(content);
          batch.push({
            n,
            kind: 'message',
            id: String(message.id),
            content,
            channel,
            expectReply: !dm && (mentioned || channel === collectChannel),
          });
        }
      }
      cases.push(...batch);
      await settle(answers, batch, 30_000);
    }
    // Messages that should get no reply: give stragglers a moment to show up, then count.
    await new Promise((r) => setTimeout(r, 300));
    answers.update();
    const elapsed = Date.now() - started;

    const failures: string[] = [];
    let babbles = 0;
    let refused = 0;
    let messages = 0;
    for (const c of cases) {
      if (c.kind === 'babble') {
        babbles++;
        const callbacks = answers.callbacks.get(c.token) ?? [];
        if (callbacks.filter((r) => r.status < 300).length !== 1)
          failures.push(`${describeCase(c)}: ${callbacks.length} callbacks`);
        const answer = answers.babbleContent(c.token)!;
        if (c.problem) {
          refused++;
          if (answer.flags !== 64 || !/^(seed|temperature|length|rng) /.test(answer.content))
            failures.push(`${describeCase(c)}: not a clear ephemeral error: ${JSON.stringify(answer)}`);
        } else {
          const seed = normalize(c.options.seed);
          if (answer.flags === 64) failures.push(`${describeCase(c)}: refused valid options: ${answer.content}`);
          // A babble that trips the word filter (its seed may) is never sent: the baby has no words instead.
          else if (
            seed.trim() !== '' &&
            answer.content !== NO_WORDS &&
            !answer.content.startsWith(seed.slice(0, 1999))
          ) {
            failures.push(`${describeCase(c)}: reply does not start with the normalised seed`);
          }
        }
      } else {
        messages++;
        const replies = answers.replies.get(c.id)?.length ?? 0;
        if (replies !== (c.expectReply ? 1 : 0))
          failures.push(`${describeCase(c)}: ${replies} replies, expected ${c.expectReply ? 1 : 0}`);
      }
    }
    for (const sent of sentBodies(fake.requests)) {
      const problems = bodyProblems(sent);
      if (problems.length > 0)
        failures.push(`#${sent.request.seq} ${sent.request.method} ${sent.request.path}: ${problems.join('; ')}`);
    }
    console.info(
      `fuzz: ${TOTAL} cases (${babbles} /babble of which ${refused} out of range, ${messages} messages) in ${elapsed} ms, FUZZ_SEED=${FUZZ_SEED}`,
    );

    expect(crashes).toEqual([]);
    expect(failures.slice(0, 20)).toEqual([]);
    expect(
      logLines
        .slice(firstLogLine)
        .filter((l) => (l.level as number) >= 50)
        .slice(0, 5),
    ).toEqual([]);
    expect(fake.internalErrors).toEqual([]);
    expect(fake.unhandled.map((r) => `${r.method} ${r.path}`)).toEqual([]);
    fake.assertNoViolations();
    expect(refused).toBeGreaterThan(100);
  }, 120_000);

  it('still answers after the fuzz, on the same gateway session', async () => {
    const { token } = fake.sendInteraction({ data: babbleData({ seed: 'me want cookie', rng: 1 }) });
    const cb = await fake.waitForRequest(
      (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === token,
      10_000,
    );
    expect(cb.body).toMatchObject({ type: 4, data: { content: expect.stringMatching(/^me want cookie/) } });
    expect(fake.identifies).toBe(1);
    expect(crashes).toEqual([]);
  });
});
