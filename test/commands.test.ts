/**
 * The slash command modules: their definitions (bounds included), the handler's own checks, and what each one
 * sends, through the real discord.js client and the fake Discord with a stub service.
 */
import { ApplicationCommandOptionType, ChannelType, InteractionContextType, PermissionFlagsBits } from 'discord.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startBot, type RunningBot } from '../src/discord/app.js';
import babble from '../src/discord/commands/babble.js';
import { helpEmbed, PRIVACY_SUMMARY } from '../src/discord/commands/help.js';
import { commands } from '../src/discord/commands/index.js';
import { modelInfoEmbed } from '../src/discord/commands/model.js';
import { EMBED_LIMITS, embedLength } from '../src/discord/message-rules.js';
import { silentLogger } from '../src/log.js';
import { TEACH_MAX_LENGTH } from '../src/service/collection.js';
import { BABBLE_BOUNDS } from '../src/service/babble-rules.js';
import { SETTING_LIMITS } from '../src/service/settings.js';
import type { BabbleRequest, GenerationService, ModelInfo } from '../src/service/types.js';
import { option, startFakeDiscord, subcommand, type FakeDiscord } from './fake-discord/index.js';
import { memoryCollection } from './helpers/collection.js';

const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.GfAkE0.fake-token-for-command-tests';

const INFO: ModelInfo = {
  version: 'base',
  created: '2025-11-25T12:00:00.000Z',
  trainingChars: 1_234_567,
  corpusSha256: 'c0ffee'.repeat(10) + 'abcd',
  vocabSize: 49,
  parameters: 234_417,
  training: { steps: 1500, finalLoss: 1.234567, bitsPerChar: 1.78, command: 'npm run train' },
};

describe('command definitions', () => {
  it('has one module per name, each with a description', () => {
    const names = commands.map((c) => c.data.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual([
      'babble',
      'help',
      'model',
      'teach',
      'privacy',
      'optout',
      'optin',
      'forget',
      'collect',
      'settings',
      'retrain',
      'wordfilter',
    ]);
    for (const c of commands) expect(c.data.description.length).toBeGreaterThan(0);
  });

  it('declares the /babble bounds in the definition', () => {
    const opts = Object.fromEntries(
      (babble.data.options ?? []).map((o) => [o.name, o as unknown as Record<string, unknown>]),
    );
    expect(opts.seed).toMatchObject({ type: ApplicationCommandOptionType.String, required: true, max_length: 500 });
    expect(opts.temperature).toMatchObject({ type: ApplicationCommandOptionType.Number, min_value: 0, max_value: 2 });
    expect(opts.length).toMatchObject({ type: ApplicationCommandOptionType.Integer, min_value: 1, max_value: 1000 });
    expect(opts.rng).toMatchObject({
      type: ApplicationCommandOptionType.Integer,
      min_value: 0,
      max_value: 2 ** 31 - 1,
    });
  });

  it('takes its option limits from the babble rules', () => {
    const opts = Object.fromEntries(
      (babble.data.options ?? []).map((o) => [o.name, o as unknown as Record<string, unknown>]),
    );
    expect(opts.seed).toMatchObject({ max_length: BABBLE_BOUNDS.seedMaxLength });
    for (const key of ['temperature', 'length', 'rng'] as const) {
      expect(opts[key]).toMatchObject({ min_value: BABBLE_BOUNDS[key].min, max_value: BABBLE_BOUNDS[key].max });
    }
  });

  it('keeps /collect, /settings, /retrain and /wordfilter to Manage Server by default, and the per-server commands to servers', () => {
    const byName = Object.fromEntries(commands.map((c) => [c.data.name, c.data]));
    for (const name of ['collect', 'settings', 'retrain', 'wordfilter'])
      expect(byName[name]!.default_member_permissions).toBe(PermissionFlagsBits.ManageGuild.toString());
    for (const name of ['teach', 'privacy', 'optout', 'optin', 'forget', 'model'])
      expect(byName[name]!.default_member_permissions ?? null).toBeNull();
    for (const name of [
      'collect',
      'settings',
      'teach',
      'privacy',
      'optout',
      'optin',
      'forget',
      'retrain',
      'wordfilter',
    ]) {
      expect(byName[name]!.contexts).toEqual([InteractionContextType.Guild]);
    }
    const collectOptions = (byName.collect!.options ?? []) as unknown as Array<{
      name: string;
      options?: Array<Record<string, unknown>>;
    }>;
    expect(collectOptions.map((o) => o.name)).toEqual(['set', 'status']);
    expect(collectOptions[0]!.options).toEqual([
      expect.objectContaining({
        name: 'channel',
        type: ApplicationCommandOptionType.Channel,
        required: true,
        channel_types: [ChannelType.GuildText, ChannelType.GuildAnnouncement],
      }),
      expect.objectContaining({ name: 'enabled', type: ApplicationCommandOptionType.Boolean, required: true }),
    ]);
    expect(byName.teach!.options).toEqual([
      expect.objectContaining({ name: 'text', required: true, max_length: TEACH_MAX_LENGTH }),
    ]);
  });

  it('declares the /settings bounds the service enforces', () => {
    const settings = commands.find((c) => c.data.name === 'settings')!;
    const opts = Object.fromEntries(
      (settings.data.options ?? []).map((o) => [o.name, o as unknown as Record<string, unknown>]),
    );
    expect(opts['reply-chance']).toMatchObject({
      type: ApplicationCommandOptionType.Integer,
      min_value: SETTING_LIMITS.replyChance.min,
      max_value: SETTING_LIMITS.replyChance.max,
    });
    expect(opts.cooldown).toMatchObject({
      type: ApplicationCommandOptionType.Integer,
      min_value: SETTING_LIMITS.cooldownSeconds.min,
      max_value: SETTING_LIMITS.cooldownSeconds.max,
    });
    expect(opts.temperature).toMatchObject({
      type: ApplicationCommandOptionType.Number,
      min_value: SETTING_LIMITS.temperature.min,
      max_value: SETTING_LIMITS.temperature.max,
    });
    expect(SETTING_LIMITS.temperature.max).toBeLessThanOrEqual(BABBLE_BOUNDS.temperature.max);
  });

  it('gives /model an info and a rollback subcommand (the rollback is re-checked for Manage Server in its handler)', () => {
    const model = commands.find((c) => c.data.name === 'model')!;
    expect(model.data.options).toEqual([
      expect.objectContaining({ type: ApplicationCommandOptionType.Subcommand, name: 'info' }),
      expect.objectContaining({
        type: ApplicationCommandOptionType.Subcommand,
        name: 'rollback',
        options: [
          expect.objectContaining({ name: 'version', type: ApplicationCommandOptionType.Integer, min_value: 0 }),
        ],
      }),
    ]);
  });
});

describe('embeds', () => {
  it('/help explains the commands and the privacy summary within embed limits', () => {
    const embed = helpEmbed();
    const text = JSON.stringify(embed);
    for (const c of commands) expect(text).toContain(`/${c.data.name}`);
    expect(text).toContain('Mention');
    expect(embed.fields?.find((f) => f.name === 'Privacy')?.value).toBe(PRIVACY_SUMMARY);
    for (const control of ['/collect', '/privacy', '/optout', '/forget']) expect(PRIVACY_SUMMARY).toContain(control);
    expect(embedLength(embed)).toBeLessThanOrEqual(EMBED_LIMITS.total);
  });

  it('/model info shows version, date, training text and figures from the service', () => {
    const embed = modelInfoEmbed(INFO);
    const byName = Object.fromEntries((embed.fields ?? []).map((f) => [f.name, f.value]));
    expect(byName.Version).toBe('base');
    expect(byName.Trained).toContain(`<t:${Date.parse(INFO.created) / 1000}:`);
    expect(byName['Training text']).toContain('1,234,567 characters');
    expect(byName.Size).toContain('234,417 parameters');
    expect(byName['Training figures']).toContain('steps: 1,500');
    expect(byName['Training figures']).toContain('finalLoss: 1.235');
    expect(byName['Training figures']).toContain('command: npm run train');
  });

  it('/model info says where an imported model came from', () => {
    const source = {
      file: 'baby_language_model.keras',
      sha256: 'ab'.repeat(32),
      format: 'keras3',
      kerasVersion: '3.3.3',
      window: 40,
    };
    const byName = Object.fromEntries((modelInfoEmbed({ ...INFO, source }).fields ?? []).map((f) => [f.name, f.value]));
    expect(byName['Imported from']).toBe(
      'baby_language_model.keras (Keras 3.3.3, keras3), sha256 abababababab…, window of 40 characters',
    );
    expect(Object.keys(Object.fromEntries((modelInfoEmbed(INFO).fields ?? []).map((f) => [f.name, 1])))).not.toContain(
      'Imported from',
    );
  });

  it('/model info stays within embed limits however big the training record is', () => {
    const training = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`figure${i}`, 'x'.repeat(50)]));
    const embed = modelInfoEmbed({ ...INFO, training, version: 'v'.repeat(400) });
    expect(embed.title!.length).toBeLessThanOrEqual(EMBED_LIMITS.title);
    for (const f of embed.fields ?? []) expect(f.value.length).toBeLessThanOrEqual(EMBED_LIMITS.fieldValue);
    expect(embedLength(embed)).toBeLessThanOrEqual(EMBED_LIMITS.total);
  });
});

describe('commands through Discord', () => {
  let fake: FakeDiscord;
  let bot: RunningBot;
  const requests: BabbleRequest[] = [];
  let gate: Promise<void> | undefined;

  const service: GenerationService = {
    babble: async (req) => {
      requests.push(req);
      if (gate) await gate;
      if (req.seed === 'long') return `long ${'a'.repeat(3000)}`;
      return `${req.seed.toLowerCase()} ba ba`;
    },
    reply: async () => 'goo',
    info: () => INFO,
  };

  beforeAll(async () => {
    fake = await startFakeDiscord({ token: TOKEN });
    bot = await startBot({
      collection: await memoryCollection(),
      token: TOKEN,
      apiUrl: fake.apiUrl,
      service,
      log: silentLogger(),
      deferAfterMs: 200,
    });
  });
  afterAll(async () => {
    await bot?.stop();
    await fake?.close();
  });
  beforeEach(() => {
    requests.length = 0;
    gate = undefined;
  });

  function callback(token: string) {
    return fake.waitForRequest(
      (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === token,
    );
  }

  it('/babble passes the options to the service and replies directly when the text is ready in time', async () => {
    const { token } = fake.sendInteraction({
      data: {
        name: 'babble',
        options: [option('seed', 'Me Want'), option('temperature', 0.7), option('length', 40), option('rng', 7)],
      },
    });
    const cb = await callback(token);
    expect(requests).toEqual([{ seed: 'Me Want', temperature: 0.7, length: 40, rng: 7 }]);
    expect(cb.body).toEqual({
      type: 4,
      data: expect.objectContaining({ content: 'me want ba ba', allowed_mentions: { parse: [] } }),
    });
    expect((cb.body as { data: { flags?: number } }).data.flags ?? 0).toBe(0); // public
  });

  it('/babble defers when the text is not ready in time, then edits the reply', async () => {
    let release: () => void = () => undefined;
    gate = new Promise<void>((r) => {
      release = r;
    });
    const { token } = fake.sendInteraction({ data: { name: 'babble', options: [option('seed', 'slow')] } });
    const cb = await callback(token);
    expect(cb.body).toMatchObject({ type: 5 });
    release();
    const edit = await fake.waitForRequest(
      (r) => r.operationId === 'update_original_webhook_message' && r.params.webhook_token === token,
    );
    expect(edit.body).toMatchObject({ content: 'slow ba ba', allowed_mentions: { parse: [] } });
  });

  it('/babble refuses an out-of-range option with an ephemeral message, without asking the service', async () => {
    const { token } = fake.sendInteraction({
      data: {
        name: 'babble',
        options: [option('seed', 'hi'), option('temperature', 5, ApplicationCommandOptionType.Number)],
      },
    });
    const cb = await callback(token);
    expect(cb.body).toMatchObject({ type: 4, data: { flags: 64, allowed_mentions: { parse: [] } } });
    expect((cb.body as { data: { content: string } }).data.content).toMatch(/^temperature .*0 to 2/);
    expect(requests).toEqual([]);
  });

  it('/babble clamps a reply to 2,000 characters', async () => {
    const { token } = fake.sendInteraction({ data: { name: 'babble', options: [option('seed', 'long')] } });
    const cb = await callback(token);
    const content = (cb.body as { data: { content: string } }).data.content;
    expect(content).toMatch(/^long a+/);
    expect(content.length).toBe(2000);
  });

  it('/help replies with an ephemeral embed', async () => {
    const { token } = fake.sendInteraction({ data: { name: 'help' } });
    const cb = await callback(token);
    expect(cb.body).toMatchObject({
      type: 4,
      data: { flags: 64, embeds: [expect.objectContaining({ title: helpEmbed().title })] },
    });
  });

  it('/help also works in a DM with the bot', async () => {
    const { token } = fake.sendInteraction({ dm: true, data: { name: 'help' } });
    const cb = await callback(token);
    expect(cb.body).toMatchObject({
      type: 4,
      data: { flags: 64, embeds: [expect.objectContaining({ title: helpEmbed().title })] },
    });
  });

  it('/model rollback says there are no versions when the bot serves one fixed model', async () => {
    const { token } = fake.sendInteraction({ data: { name: 'model', options: [subcommand('rollback')] } });
    const cb = await callback(token);
    expect(cb.body).toMatchObject({ type: 4, data: { flags: 64, allowed_mentions: { parse: [] } } });
    expect(JSON.stringify(cb.body)).toMatch(/one fixed model/);
  });

  it('/model info replies with an ephemeral embed of the model info', async () => {
    const { token } = fake.sendInteraction({ data: { name: 'model', options: [subcommand('info')] } });
    const cb = await callback(token);
    expect(cb.body).toMatchObject({ type: 4, data: { flags: 64, embeds: [modelInfoEmbed(INFO)] } });
    fake.assertNoViolations();
  });
});
