/**
 * End to end: a model imported from the original Keras script served as the base model by the compiled bot
 * (`MODEL_DIR=<imported folder>`, as the README says), against the fake Discord: /babble generates the way the
 * original does (window mode, greedy at temperature 0) and /model info says where the model came from.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importKerasModel } from '../src/keras/import.js';
import { option, startFakeDiscord, subcommand, type FakeDiscord } from './fake-discord/index.js';
import { ROOT, startEntryProcess, type EntryProcess } from './helpers/entry-process.js';

const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.GfAkE0.fake-token-for-e2e-tests';
const FIXTURES = path.join(ROOT, 'test/fixtures/keras');

interface Expected {
  models: { k3_two: { greedy: { seed: string; text: string }[] } };
}

const work = mkdtempSync(path.join(tmpdir(), 'babble-keras-serving-'));
let fake: FakeDiscord;
let bot: EntryProcess | undefined;

beforeAll(async () => {
  await importKerasModel({
    file: path.join(FIXTURES, 'k3_two.keras'),
    out: path.join(work, 'imported'),
    overwrite: true,
  });
  fake = await startFakeDiscord({ token: TOKEN });
  bot = startEntryProcess({
    env: {
      DISCORD_TOKEN: TOKEN,
      DISCORD_API_URL: fake.apiUrl,
      MODEL_DIR: path.join(work, 'imported'),
      STORAGE_URL: `sqlite://${path.join(work, 'babble.sqlite')}`,
      MODELS_DIR: path.join(work, 'models'),
    },
  });
  await bot.waitForLog((l) => l.msg === 'serving', 60_000);
}, 120_000);

afterAll(async () => {
  bot?.child.kill('SIGKILL');
  await bot?.exited;
  await fake?.close();
  rmSync(work, { recursive: true, force: true });
});

function replyText(token: string): Promise<string> {
  return fake
    .waitForRequest(
      (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === token,
      20_000,
    )
    .then(async (cb) => {
      const body = cb.body as { type: number; data?: { content: string } };
      if (body.type !== 5) return body.data?.content ?? '';
      const edit = await fake.waitForRequest(
        (r) => r.operationId === 'update_original_webhook_message' && r.params.webhook_token === token,
        20_000,
      );
      return (edit.body as { content: string }).content;
    });
}

describe('an imported Keras model served by the bot', () => {
  it('/babble at temperature 0 says what the original generate_text returns with argmax', async () => {
    const expected = JSON.parse(readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')) as Expected;
    const greedy = expected.models.k3_two.greedy[0]!;
    const options = [option('seed', greedy.seed), option('temperature', 0, 10), option('length', 50), option('rng', 1)];
    const { token } = fake.sendInteraction({ data: { name: 'babble', options } });
    expect(await replyText(token)).toBe(greedy.text.trimEnd());
  });

  it('/model info names the Keras file it came from', async () => {
    const { token } = fake.sendInteraction({ data: { name: 'model', options: [subcommand('info')] } });
    const cb = await fake.waitForRequest(
      (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === token,
      20_000,
    );
    const embed = (cb.body as { data: { embeds: { fields: { name: string; value: string }[] }[] } }).data.embeds[0]!;
    const source = embed.fields.find((f) => f.name === 'Imported from')?.value;
    expect(source).toMatch(/^k3_two\.keras \(Keras 3\.3\.3, keras3\), sha256 [0-9a-f]{12}…, window of 10 characters$/);
  });
});
