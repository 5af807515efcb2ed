/**
 * /model rollback and the history in /model info: the history lines, and a rollback through the real discord.js
 * client and the fake Discord against a real registry and model cache.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Events, GatewayIntentBits, SlashCommandBuilder } from 'discord.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  executeRollback,
  historyFields,
  modelInfoWithHistory,
  rollbackSubcommand,
} from '../src/discord/commands/model-history.js';
import { EMBED_LIMITS, embedLength } from '../src/discord/message-rules.js';
import { loadModel, saveModel, type LoadedModel } from '../src/model/store.js';
import { createModelCache, type ModelCache } from '../src/service/model-cache.js';
import { createRegistry, type History, type ModelRegistry } from '../src/service/registry.js';
import type { RetrainManager } from '../src/service/retrain.js';
import { option, startFakeDiscord, subcommand, type FakeDiscord } from './fake-discord/index.js';

const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.GfAkE0.fake-token-for-history-tests';
const MANAGE_GUILD = (1n << 5n).toString();

const HISTORY: History = {
  current: 2,
  versions: [
    {
      version: 2,
      dir: '/m/2',
      complete: true,
      record: {
        format: 'babble-version',
        version: 2,
        scope: '1',
        committed: '2025-11-25T12:00:00.000Z',
        details: {
          requestedBy: '42',
          heldOut: { before: { server: 3.1, base: 1.6 }, after: { server: 2.5, base: 1.61 } },
        },
      },
    },
    { version: 1, dir: '/m/1', complete: false, problem: 'weights.bin is truncated' },
  ],
  rejected: [
    {
      name: 'rejected-20251125T130000000Z-abc123',
      dir: '/m/r',
      details: { reasons: ['worse on the held-out baby corpus'] },
    },
  ],
};

describe('history', () => {
  it('lists versions newest first with who, when and figures, marks the serving one and damaged ones, then the rejected', () => {
    const [versions, rejected] = historyFields(HISTORY);
    const lines = versions!.value.split('\n');
    expect(lines[0]).toMatch(
      /^\*\*2\*\* \*\*\(talking now\)\*\* · <t:1764072000:R> by <@42> · server 3\.100→2\.500, corpus 1\.600→1\.610/,
    );
    expect(lines[1]).toMatch(/^\*\*1\*\*.*damaged/);
    expect(lines[2]).toBe('**0** (the base model)');
    expect(rejected!.value).toMatch(/<t:1764075600:R>: worse on the held-out baby corpus/);
  });

  it("states each retrained version's strength and server share", () => {
    const details = { ...HISTORY.versions[0]!.record!.details, strength: 'strong', serverShare: 0.75 };
    const withShare: History = {
      ...HISTORY,
      versions: [{ ...HISTORY.versions[0]!, record: { ...HISTORY.versions[0]!.record!, details } }],
    };
    expect(historyFields(withShare)[0]!.value.split('\n')[0]).toMatch(
      /by <@42> · strong, 75% server text · server 3\.100→2\.500/,
    );
  });

  it('marks the base when it serves, and /model info stays within embed limits with a long history', () => {
    expect(historyFields({ current: 0, versions: [], rejected: [] })[0]!.value).toBe(
      '**0** (the base model) **(talking now)**',
    );
    const many: History = {
      ...HISTORY,
      versions: Array.from({ length: 200 }, (_, i) => ({ ...HISTORY.versions[0]!, version: i + 1 })),
    };
    const embed = modelInfoWithHistory(
      { version: '2', created: '', trainingChars: 1, corpusSha256: '', vocabSize: 49, parameters: 1, training: {} },
      many,
    );
    expect(embedLength(embed)).toBeLessThanOrEqual(EMBED_LIMITS.total);
    for (const f of embed.fields ?? []) expect(f.value.length).toBeLessThanOrEqual(EMBED_LIMITS.fieldValue);
  });

  it('rollbackSubcommand adds a version option from 0', () => {
    const data = new SlashCommandBuilder()
      .setName('model')
      .setDescription('m')
      .addSubcommand(rollbackSubcommand)
      .toJSON();
    expect(data.options).toEqual([
      expect.objectContaining({
        name: 'rollback',
        options: [expect.objectContaining({ name: 'version', min_value: 0 })],
      }),
    ]);
  });
});

describe('/model rollback through Discord', () => {
  let fake: FakeDiscord;
  let client: Client;
  let base: LoadedModel;
  let work: string;
  let registry: ModelRegistry;
  let models: ModelCache;
  let guildId = '';
  const failures: unknown[] = [];
  let running: Set<string>;
  let n = 0;

  beforeAll(async () => {
    base = await loadModel('models/base');
    work = await mkdtemp(join(tmpdir(), 'babble-history-'));
    fake = await startFakeDiscord({ token: TOKEN });
    client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: fake.apiUrl } });
    client.on(Events.InteractionCreate, (interaction) => {
      if (!interaction.isChatInputCommand()) return;
      const manager = {
        get: (scope: string) => (running.has(scope) ? ({} as never) : undefined),
      } as unknown as RetrainManager;
      executeRollback(interaction, { registry, models, manager }).catch((err: unknown) => failures.push(err));
    });
    const ready = new Promise((r) => client.once(Events.ClientReady, r));
    await client.login(TOKEN);
    await ready;
  });
  afterAll(async () => {
    await client?.destroy();
    await fake?.close();
    await rm(work, { recursive: true, force: true });
  });
  beforeEach(() => {
    registry = createRegistry({ root: join(work, `root-${n++}`) });
    models = createModelCache({ registry, baseDir: 'models/base' });
    running = new Set();
  });

  async function commitFor(guild: string, tag: string): Promise<number> {
    const tmp = await registry.tempDir(guild);
    await saveModel(tmp, base.weights, base.vocab, {
      version: tag,
      corpus: { sha256: '', chars: 0 },
      training: { tag },
    });
    const c = await registry.commit(guild, tmp, {});
    models.install(guild, c.version, c.model);
    return c.version;
  }

  function rollback(version?: number, member: Record<string, unknown> = { permissions: MANAGE_GUILD }) {
    const sent = fake.sendInteraction({
      data: {
        name: 'model',
        options: [subcommand('rollback', version === undefined ? [] : [option('version', version)])],
      },
      member,
    });
    guildId = (sent.payload as { guild_id: string }).guild_id;
    return sent;
  }
  const answer = async (token: string) => {
    const r = await fake.waitForRequest(
      (q) =>
        (q.operationId === 'update_original_webhook_message' && q.params.webhook_token === token) ||
        (q.operationId === 'create_interaction_response' &&
          q.params.interaction_token === token &&
          (q.body as { type: number }).type === 4),
    );
    return JSON.stringify(r.body);
  };

  it('rolls back to the previous version, swaps it into the cache, and then to the base', async () => {
    const probe = rollback(); // learns the fake guild's id; nothing to roll back yet
    expect(await answer(probe.token)).toMatch(/nothing to roll back to/);
    await commitFor(guildId, 'a');
    await commitFor(guildId, 'b');
    expect((await models.modelFor(guildId)).version).toBe(2);
    const back = rollback();
    expect(await answer(back.token)).toMatch(/version 1 is talking/);
    expect((await models.modelFor(guildId)).version).toBe(1);
    expect((await registry.resolve(guildId))?.version).toBe(1);
    const toBase = rollback(0);
    expect(await answer(toBase.token)).toMatch(/base model is talking/);
    expect((await models.modelFor(guildId)).label).toBe('base');
    expect(failures).toEqual([]);
    fake.assertNoViolations();
  });

  it('refuses members without Manage Server, unknown versions, and rollbacks during a training', async () => {
    const probe = rollback(5);
    expect(await answer(probe.token)).toMatch(/no version 5/);
    await commitFor(guildId, 'a');
    const denied = rollback(undefined, { permissions: '0' });
    expect(await answer(denied.token)).toMatch(/Manage Server/);
    running.add(guildId);
    const busy = rollback();
    expect(await answer(busy.token)).toMatch(/training .* is running/);
    expect((await registry.resolve(guildId))?.version).toBe(1);
  });
});
