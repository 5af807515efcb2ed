/**
 * /retrain: the definition, the messages it builds, and its behaviour through the real discord.js client and the
 * fake Discord with a scripted training manager — permissions re-checked, deferred at once, edits throttled, the
 * final result with the loss chart attached, posted in the channel once the interaction token has expired.
 */
import { ApplicationCommandOptionType, Client, Events, GatewayIntentBits } from 'discord.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import retrain, {
  CHART_NAME,
  finalMessage,
  formatDuration,
  progressBar,
  progressEmbed,
  retrainOptionsProblem,
  type RetrainCommandDeps,
} from '../src/discord/commands/retrain.js';
import type { CommandContext } from '../src/discord/command.js';
import { SETTINGS } from '../src/config.js';
import { silentLogger } from '../src/log.js';
import { lossChartPng, PNG_SIGNATURE } from '../src/service/loss-chart.js';
import type { GateResult, RetrainOutcome } from '../src/service/retrain.js';
import type { ProgressFigures } from '../src/training/trainer-protocol.js';
import { option, startFakeDiscord, subcommand, type FakeDiscord, type RecordedRequest } from './fake-discord/index.js';
import { ScriptedManager } from './helpers/scripted-retrain.js';

const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.GfAkE0.fake-token-for-retrain-tests';
const MANAGE_GUILD = (1n << 5n).toString();
const OWNER = '300000000000000001';

const PROGRESS: ProgressFigures = {
  step: 2,
  totalSteps: 10,
  epoch: 0.25,
  loss: 1.234,
  etaSeconds: 75,
  charsPerSecond: 12_345,
  elapsedSeconds: 3,
  sample: 'me want pizza',
};
const GATE: GateResult = {
  pass: true,
  reasons: [],
  server: { before: 3.1, after: 2.4, ok: true },
  base: { before: 1.6, after: 1.62, ok: true },
  samples: {
    wordShare: 0.9,
    nonEmpty: 1,
    shortShare: 1,
    parrotShare: 0,
    ok: true,
    texts: ['me want pizza', 'gg mama'],
  },
  notes: [],
  tolerance: 0.05,
  baseTolerance: 0.15,
};
const TRAINED = {
  previous: 'base',
  gate: GATE,
  heldOut: { before: { server: 3.1, base: 1.6 }, after: { server: 2.4, base: 1.62 } },
  steps: 120,
  seconds: 95,
  chart: lossChartPng([
    { step: 1, loss: 2 },
    { step: 2, loss: 1.5 },
  ]),
  lossCurve: [
    { step: 1, loss: 2 },
    { step: 2, loss: 1.5 },
  ],
  trainingLines: 321,
  strength: 'normal' as const,
  serverShare: 0.5,
  uptake: {
    newWords: [
      { word: 'gg', count: 40 },
      { word: 'raid', count: 12 },
    ],
    samples: 120,
    newWordShare: 0.25,
    perSeed: [],
    used: [
      { word: 'gg', count: 21 },
      { word: 'raid', count: 9 },
    ],
    knownWordShare: 0.97,
    openings: [],
    temperature: 0.7,
    examples: [],
  },
};
const SWAPPED: RetrainOutcome = { status: 'swapped', version: 3, ...TRAINED };
const REJECTED: RetrainOutcome = {
  status: 'rejected',
  keptAs: '/x/rejected-1',
  ...TRAINED,
  gate: {
    ...GATE,
    pass: false,
    reasons: ['worse on the held-out baby corpus: 2.000 bits/char, was 1.600 (tolerance 0.05)'],
  },
};

describe('definition', () => {
  it('has start and cancel, server only, Manage Server by default, fractional minutes bounded by the most TRAIN_MAX_MINUTES may be', () => {
    const data = retrain.data as unknown as Record<string, unknown>;
    expect(data.name).toBe('retrain');
    expect(data.default_member_permissions).toBe(MANAGE_GUILD);
    expect(data.contexts).toEqual([0]);
    const subs = retrain.data.options as unknown as {
      name: string;
      type: number;
      options: { name: string; type: number; min_value?: number; max_value?: number }[];
    }[];
    expect(subs.map((s) => [s.name, s.type])).toEqual([
      ['start', ApplicationCommandOptionType.Subcommand],
      ['cancel', ApplicationCommandOptionType.Subcommand],
    ]);
    expect(subs[0]!.options.find((o) => o.name === 'minutes')).toMatchObject({
      type: ApplicationCommandOptionType.Number,
      min_value: SETTINGS.trainMinutes.min,
      max_value: SETTINGS.trainMinutes.max,
    });
  });

  it('re-checks the option bounds against the configured TRAIN_MAX_MINUTES', () => {
    expect(retrainOptionsProblem({}, 30)).toBeUndefined();
    expect(retrainOptionsProblem({ minutes: 30, epochs: 0.1 }, 30)).toBeUndefined();
    expect(retrainOptionsProblem({ minutes: 0.2 }, 30)).toBeUndefined();
    expect(retrainOptionsProblem({ minutes: 31 }, 30)).toMatch(/^minutes .*0\.1 to 30 on this bot.*31/);
    expect(retrainOptionsProblem({ minutes: 0.05 }, 30)).toMatch(/^minutes/);
    expect(retrainOptionsProblem({ minutes: Number.NaN }, 30)).toMatch(/^minutes/);
    expect(retrainOptionsProblem({ minutes: 0 }, 30)).toMatch(/^minutes/);
    expect(retrainOptionsProblem({ epochs: 0 }, 30)).toMatch(/^epochs/);
    expect(retrainOptionsProblem({ epochs: 101 }, 30)).toMatch(/^epochs/);
  });
});

describe('messages', () => {
  it('progressBar and formatDuration', () => {
    expect(progressBar(0.5, 10)).toBe('█████░░░░░ 50%');
    expect(progressBar(2, 4)).toBe('████ 100%');
    expect(progressBar(Number.NaN, 4)).toBe('░░░░ 0%');
    expect(formatDuration(42)).toBe('42 s');
    expect(formatDuration(75)).toBe('1 min 15 s');
    expect(formatDuration(3 * 3600 + 120)).toBe('3 h 2 min');
  });

  it('shows the queue position while waiting, and step, loss, ETA and a sample while training', () => {
    expect(progressEmbed('1', { position: 3 }).description).toMatch(/position 3 in the queue/);
    const e = progressEmbed('1', { progress: PROGRESS });
    expect(e.description).toContain('20%');
    const fields = Object.fromEntries((e.fields ?? []).map((f) => [f.name, f.value]));
    expect(fields.Step).toBe('2 / 10 (epoch 0.25)');
    expect(fields.Loss).toBe('1.234');
    expect(fields['Time left']).toBe('about 1 min 15 s');
    expect(fields['The baby says']).toBe('`me want pizza`');
  });

  it('reports a swap with the figures, samples and the chart; a refusal with the reasons; failures and cancels plainly', () => {
    const swapped = finalMessage('1', SWAPPED);
    expect(swapped.embeds[0]!.title).toMatch(/version 3 is talking now/);
    expect(JSON.stringify(swapped.embeds)).toMatch(/3\.100 → 2\.400.*1\.600 → 1\.620/);
    expect(JSON.stringify(swapped.embeds)).toContain('me want pizza');
    expect(swapped.embeds[0]!.image?.url).toBe(`attachment://${CHART_NAME}`);
    expect(swapped.chart?.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    const rejected = finalMessage('1', REJECTED);
    expect(rejected.embeds[0]!.title).toMatch(/Kept the old model/);
    expect(rejected.embeds[0]!.description).toMatch(/worse on the held-out baby corpus/);
    expect(
      finalMessage('1', { status: 'failed', reason: 'The trainer stopped.', errorId: '0badc0de' }).embeds[0]!
        .description,
    ).toMatch(/^The trainer stopped\. \(error id 0badc0de\)[\s\S]*Nothing changed/);
    expect(finalMessage('base', { status: 'cancelled' }).embeds[0]!.description).toMatch(/shared base model/);
    expect(finalMessage('1', { status: 'cancelled' }).chart).toBeUndefined();
  });

  it("states the server's share and lists the new words the model uses, how often, over how many babbles", () => {
    const text = JSON.stringify(finalMessage('1', SWAPPED).embeds);
    expect(text).toContain("normal strength: 50% of the training text was this server's");
    expect(text).toMatch(
      /\*\*gg\*\* ×21, \*\*raid\*\* ×9 in 120 babbles at temperature 0\.7: 25% of them use a new word/,
    );
    expect(JSON.stringify(finalMessage('1', REJECTED).embeds)).toContain("50% of the training text was this server's");
    const unused = JSON.stringify(
      finalMessage('1', { ...SWAPPED, uptake: { ...TRAINED.uptake, used: [], newWordShare: 0 } }).embeds,
    );
    expect(unused).toMatch(/Not used yet in 120 babbles.*gg, raid/);
    const base = JSON.stringify(
      finalMessage('base', { ...SWAPPED, strength: null, serverShare: null, uptake: null }).embeds,
    );
    expect(base).not.toMatch(/strength|new words/);
  });

  it('offers gentle, normal (the default) and strong with their shares', () => {
    const subs = retrain.data.options as unknown as {
      name: string;
      options: { name: string; choices?: { name: string; value: string }[] }[];
    }[];
    expect(subs[0]!.options.find((o) => o.name === 'strength')?.choices).toEqual([
      { name: 'gentle (25% server text)', value: 'gentle' },
      { name: 'normal (50% server text, default)', value: 'normal' },
      { name: 'strong (75% server text)', value: 'strong' },
    ]);
  });
});

describe('/retrain through Discord', () => {
  let fake: FakeDiscord;
  let client: Client;
  let manager: ScriptedManager;
  let deps: RetrainCommandDeps;
  /** Without the retrain context (a bot that doesn't train). */
  let off = false;
  /** The server settings in the context (none: the default temperature). */
  let settings: Pick<CommandContext['collection'], 'getSettings'> | undefined;
  const failures: unknown[] = [];

  beforeAll(async () => {
    fake = await startFakeDiscord({ token: TOKEN });
    client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: fake.apiUrl } });
    client.on(Events.InteractionCreate, (interaction) => {
      if (!interaction.isChatInputCommand()) return;
      const context = {
        log: silentLogger(),
        ...(settings ? { collection: settings } : {}),
        ...(off ? {} : { retrain: deps }),
      } as CommandContext;
      retrain.execute(interaction, context).catch((err: unknown) => failures.push(err));
    });
    const ready = new Promise((r) => client.once(Events.ClientReady, r));
    await client.login(TOKEN);
    await ready;
  });
  afterAll(async () => {
    await client?.destroy();
    await fake?.close();
  });
  beforeEach(() => {
    manager = new ScriptedManager();
    deps = { manager, ownerIds: [OWNER], maxMinutes: 30, editIntervalMs: 60_000, log: silentLogger() };
    off = false;
    settings = undefined;
    failures.length = 0;
    fake.clearRecords();
  });

  const admin = { permissions: MANAGE_GUILD };
  const start = (
    options: ReturnType<typeof option>[] = [],
    member: Record<string, unknown> = admin,
    user?: { id: string },
  ) =>
    fake.sendInteraction({
      data: { name: 'retrain', options: [subcommand('start', options)] },
      member,
      ...(user ? { user } : {}),
    });
  const callback = (token: string) =>
    fake.waitForRequest((r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === token);
  const edits = (token: string) =>
    fake.requests.filter(
      (r) => r.operationId === 'update_original_webhook_message' && r.params.webhook_token === token,
    );
  const nthEdit = (token: string, n: number) =>
    fake.waitFor(() => edits(token).length >= n, 5000).then(() => edits(token)[n - 1]!);
  const bodyOf = (r: RecordedRequest) =>
    r.body as {
      content?: string;
      embeds?: { title?: string; description?: string; fields?: { name: string; value: string }[] }[];
      allowed_mentions?: unknown;
    };

  it('refuses a member without Manage Server, ephemerally, without starting anything', async () => {
    const { token } = start([], { permissions: '0' });
    const cb = await callback(token);
    expect(cb.body).toMatchObject({ type: 4, data: { flags: 64, allowed_mentions: { parse: [] } } });
    expect(JSON.stringify(cb.body)).toMatch(/Manage Server/);
    expect(manager.starts).toEqual([]);
  });

  it('only lets bot owners retrain the shared base model', async () => {
    const refused = start([option('model', 'base')]);
    expect(JSON.stringify((await callback(refused.token)).body)).toMatch(/Only the bot's owners/);
    expect(manager.starts).toEqual([]);
    const allowed = start([option('model', 'base')], { permissions: '0' }, { id: OWNER });
    expect((await callback(allowed.token)).body).toMatchObject({ type: 5 });
    await fake.waitFor(() => manager.starts.length > 0, 5000);
    expect(manager.starts).toEqual([expect.objectContaining({ scope: 'base', requestedBy: OWNER })]);
    manager.jobs.get('base')!.finish({ status: 'cancelled' });
    await nthEdit(allowed.token, 2);
  });

  it('refuses a server past its training budget, saying when it may train; owners are exempt', async () => {
    const at = Date.UTC(2026, 11, 3, 9, 30);
    const asked: Array<[string, number]> = [];
    deps = {
      ...deps,
      defaultMinutes: 5,
      budget: {
        check: async (scope, minutes) => {
          asked.push([scope, minutes]);
          return { allowed: false, why: 'daily', at };
        },
      },
    };
    const refused = await callback(start().token);
    expect(refused.body).toMatchObject({ type: 4, data: { flags: 64, allowed_mentions: { parse: [] } } });
    expect(JSON.stringify(refused.body)).toContain(`can start <t:${at / 1000}:R>`);
    expect(asked).toEqual([[expect.any(String), 5]]);
    expect(manager.starts).toEqual([]);
    const owner = start([], { permissions: MANAGE_GUILD }, { id: OWNER });
    expect((await callback(owner.token)).body).toMatchObject({ type: 5 });
    await fake.waitFor(() => manager.starts.length > 0, 5000);
    expect(asked).toHaveLength(1);
    manager.jobs.get(manager.starts[0]!.scope)!.finish({ status: 'cancelled' });
    await nthEdit(owner.token, 2);
  });

  it('defers at once, edits at most once per interval, and ends with the figures and the chart attached', async () => {
    const { token, payload } = start([
      option('minutes', 3, ApplicationCommandOptionType.Number),
      option('epochs', 2, ApplicationCommandOptionType.Number),
    ]);
    expect((await callback(token)).body).toMatchObject({ type: 5 });
    const first = await nthEdit(token, 1);
    expect(bodyOf(first).embeds![0]!.description).toMatch(/Starting/);
    await fake.waitFor(() => manager.starts.length > 0, 5000);
    expect(manager.starts).toEqual([
      { scope: (payload as { guild_id: string }).guild_id, minutes: 3, epochs: 2, requestedBy: expect.any(String) },
    ]);
    const job = [...manager.jobs.values()][0]!;
    for (let i = 1; i <= 5; i++) job.emit({ type: 'progress', progress: { ...PROGRESS, step: i } });
    job.finish(SWAPPED);
    const last = await nthEdit(token, 2);
    expect(edits(token)).toHaveLength(2); // the five progress events fell inside one interval
    expect(bodyOf(last).embeds![0]!.title).toMatch(/version 3 is talking now/);
    expect(bodyOf(last).allowed_mentions).toEqual({ parse: [] });
    expect(last.files.map((f) => f.filename)).toEqual([CHART_NAME]);
    expect(last.files[0]!.data.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(failures).toEqual([]);
    fake.assertNoViolations();
  });

  it('shows progress in the edits when the interval allows, and the queue position while waiting', async () => {
    deps.editIntervalMs = 0;
    manager.status = 'queued';
    const { token } = start();
    const first = await nthEdit(token, 1);
    expect(bodyOf(first).embeds![0]!.description).toMatch(/position 2 in the queue/);
    const job = [...manager.jobs.values()][0]!;
    job.emit({ type: 'started' });
    job.emit({ type: 'progress', progress: { ...PROGRESS, step: 7 } });
    await fake.waitFor(() => edits(token).some((e) => JSON.stringify(e.body).includes('7 / 10')), 5000);
    job.finish(REJECTED);
    await fake.waitFor(() => edits(token).some((e) => JSON.stringify(e.body).includes('Kept the old model')), 5000);
    for (const e of edits(token)) expect(bodyOf(e).allowed_mentions).toEqual({ parse: [] });
  });

  it('posts the result in the channel when the interaction token has expired', async () => {
    deps.now = () => Date.now() + 20 * 60_000;
    const { token, payload } = start();
    await callback(token);
    await fake.waitFor(() => manager.jobs.size > 0, 5000);
    const job = [...manager.jobs.values()][0]!;
    job.emit({ type: 'progress', progress: PROGRESS });
    job.finish(SWAPPED);
    const post = await fake.waitForRequest((r) => r.operationId === 'create_message');
    expect(post.params.channel_id).toBe((payload as { channel_id: string }).channel_id);
    expect(bodyOf(post).content).toMatch(/^<@\d+>, your \/retrain finished/);
    expect(bodyOf(post).allowed_mentions).toEqual({ parse: [] });
    expect(post.files.map((f) => f.filename)).toEqual([CHART_NAME]);
    expect(edits(token)).toHaveLength(0);
  });

  it('tells a second caller that a training is already running', async () => {
    const first = start();
    await callback(first.token);
    const second = start();
    const edit = await nthEdit(second.token, 1);
    expect(bodyOf(edit).content).toMatch(/already running.*\/retrain cancel/);
    [...manager.jobs.values()][0]!.finish({ status: 'cancelled' });
  });

  it('refuses more minutes than TRAIN_MAX_MINUTES allows, ephemerally, and takes fractions within it', async () => {
    deps.maxMinutes = 2;
    const over = start([option('minutes', 3, ApplicationCommandOptionType.Number)]);
    const cb = await callback(over.token);
    expect(cb.body).toMatchObject({ type: 4, data: { flags: 64, allowed_mentions: { parse: [] } } });
    expect(JSON.stringify(cb.body)).toMatch(/minutes must be a number from 0\.1 to 2 on this bot/);
    expect(manager.starts).toEqual([]);
    const fraction = start([option('minutes', 0.5)]);
    expect((await callback(fraction.token)).body).toMatchObject({ type: 5 });
    await fake.waitFor(() => manager.starts.length > 0, 5000);
    expect(manager.starts).toEqual([expect.objectContaining({ minutes: 0.5 })]);
    [...manager.jobs.values()][0]!.finish({ status: 'cancelled' });
    await nthEdit(fraction.token, 2);
  });

  it("passes the strength and the server's temperature on to the training", async () => {
    settings = { getSettings: async () => ({ replyChance: 0, cooldownSeconds: 30, temperature: 0.8 }) };
    const strong = start([option('strength', 'strong')]);
    expect((await callback(strong.token)).body).toMatchObject({ type: 5 });
    await fake.waitFor(() => manager.starts.length > 0, 5000);
    expect(manager.starts).toEqual([expect.objectContaining({ strength: 'strong', temperature: 0.8 })]);
    [...manager.jobs.values()][0]!.finish({ status: 'cancelled' });
    await nthEdit(strong.token, 2);
  });

  it('says retraining is off when the bot has no training manager', async () => {
    off = true;
    const { token } = start();
    const cb = await callback(token);
    expect(cb.body).toMatchObject({ type: 4, data: { flags: 64, allowed_mentions: { parse: [] } } });
    expect(JSON.stringify(cb.body)).toMatch(/switched off/);
  });

  it("/retrain cancel asks the manager to stop the server's run", async () => {
    const { token, payload } = fake.sendInteraction({
      data: { name: 'retrain', options: [subcommand('cancel')] },
      member: admin,
    });
    const cb = await callback(token);
    expect(manager.cancels).toEqual([(payload as { guild_id: string }).guild_id]);
    expect(cb.body).toMatchObject({ type: 4, data: { flags: 64, allowed_mentions: { parse: [] } } });
    expect(JSON.stringify(cb.body)).toMatch(/No training/);
  });
});
