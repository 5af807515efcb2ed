/**
 * The interaction router's one error boundary, in-process: throwing command modules against the real discord.js
 * client and the fake Discord.
 */
import { SlashCommandBuilder } from 'discord.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBot, type RunningBot } from '../src/discord/app.js';
import type { Command } from '../src/discord/command.js';
import helpCommand from '../src/discord/commands/help.js';
import { OOPS, STORAGE_TROUBLE, userMessage } from '../src/discord/router.js';
import { StorageError } from '../src/storage/kv.js';
import { createLogger } from '../src/log.js';
import type { GenerationService } from '../src/service/types.js';
import { startFakeDiscord, type FakeDiscord } from './fake-discord/index.js';
import { memoryCollection } from './helpers/collection.js';
import { errorIdOf, withAnyErrorId } from './helpers/error-id.js';

const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.GfAkE0.fake-token-for-router-tests';

class InvalidRequestError extends Error {
  override name = 'InvalidRequestError';
}

function command(name: string, execute: Command['execute']): Command {
  return { data: new SlashCommandBuilder().setName(name).setDescription(`test ${name}`).toJSON(), execute };
}

const throwing: Command[] = [
  command('throw-now', async () => {
    throw new Error('boom before replying');
  }),
  command('throw-deferred', async (i) => {
    await i.deferReply();
    throw new Error('boom after deferring');
  }),
  command('throw-replied', async (i) => {
    await i.reply({ content: 'first part', allowedMentions: { parse: [] } });
    throw new Error('boom after replying');
  }),
  command('refused', async () => {
    throw new InvalidRequestError('length must be a whole number from 1 to 1000.');
  }),
  command('leaky', async (i) => {
    await i.deferReply();
    throw new Error('ENOENT: open /srv/babble/var/secret.json (password=hunter2)');
  }),
  command('store-down', async () => {
    throw new StorageError('write', new Error('SQLITE_BUSY: database is locked'));
  }),
  {
    ...command('pressy', async () => undefined),
    button: async (i) => {
      if (i.customId === 'pressy:boom') throw new Error('boom in a button');
      await i.update({ content: `pressed ${i.customId}`, components: [], allowedMentions: { parse: [] } });
    },
  },
  helpCommand,
];

const stub: GenerationService = {
  babble: async (r) => r.seed,
  reply: async () => 'goo',
  info: () => ({
    version: 't',
    created: '',
    trainingChars: 0,
    corpusSha256: '',
    vocabSize: 1,
    parameters: 0,
    training: {},
  }),
};

let fake: FakeDiscord;
let bot: RunningBot;
const logLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  fake = await startFakeDiscord({ token: TOKEN });
  const log = createLogger('info', {
    write: (s: string) => {
      logLines.push(JSON.parse(s) as Record<string, unknown>);
    },
  });
  bot = await startBot({
    collection: await memoryCollection(),
    token: TOKEN,
    apiUrl: fake.apiUrl,
    service: stub,
    log,
    commands: throwing,
  });
});

afterAll(async () => {
  await bot?.stop();
  await fake?.close();
});

function callback(token: string) {
  return fake.waitForRequest(
    (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === token,
  );
}

describe('interaction router', () => {
  it('answers a handler that throws before replying with a short ephemeral message, and logs the stack', async () => {
    const { token } = fake.sendInteraction({ data: { name: 'throw-now' } });
    const cb = await callback(token);
    expect(cb.body).toMatchObject({
      type: 4,
      data: { content: withAnyErrorId(OOPS), flags: 64, allowed_mentions: { parse: [] } },
    });
    await fake.waitFor(() => logLines.some((l) => l.msg === 'command failed'), 5000, 'log line');
    const line = logLines.find((l) => l.msg === 'command failed' && l.command === 'throw-now')!;
    expect((line.err as { stack: string }).stack).toContain('boom before replying');
    expect(line.level).toBe(50);
  });

  it('edits the deferred reply when the handler throws after deferring', async () => {
    const { token } = fake.sendInteraction({ data: { name: 'throw-deferred' } });
    const edit = await fake.waitForRequest(
      (r) => r.operationId === 'update_original_webhook_message' && r.params.webhook_token === token,
    );
    expect(edit.body).toMatchObject({ content: withAnyErrorId(OOPS), allowed_mentions: { parse: [] } });
  });

  it('sends an ephemeral follow-up when the handler throws after replying', async () => {
    const { token } = fake.sendInteraction({ data: { name: 'throw-replied' } });
    const follow = await fake.waitForRequest(
      (r) => r.operationId === 'execute_webhook' && r.params.webhook_token === token,
    );
    expect(follow.body).toMatchObject({ content: withAnyErrorId(OOPS), flags: 64, allowed_mentions: { parse: [] } });
  });

  it('never shows an error message, path or secret: a fixed text and an error id, details in the log', async () => {
    const { token } = fake.sendInteraction({ data: { name: 'leaky' } });
    const edit = await fake.waitForRequest(
      (r) => r.operationId === 'update_original_webhook_message' && r.params.webhook_token === token,
    );
    const content = (edit.body as { content: string }).content;
    expect(content).toEqual(withAnyErrorId(OOPS));
    const ours = fake.requests.filter((r) => JSON.stringify(r.params).includes(token));
    const sent = JSON.stringify(ours.map((r) => r.body));
    for (const leak of ['ENOENT', '/srv/babble', 'secret', 'hunter2']) expect(sent).not.toContain(leak);
    const line = logLines.find((l) => l.msg === 'command failed' && l.errorId === errorIdOf(content))!;
    expect((line.err as { message: string }).message).toContain('/srv/babble/var/secret.json');
  });

  it("shows the service's own message for a refused request", async () => {
    const { token } = fake.sendInteraction({ data: { name: 'refused' } });
    const cb = await callback(token);
    expect(cb.body).toMatchObject({
      type: 4,
      data: { content: 'length must be a whole number from 1 to 1000.', flags: 64 },
    });
  });

  it('tells the user the storage is failing (not a bug message) when a command hits a StorageError', async () => {
    const { token } = fake.sendInteraction({ data: { name: 'store-down' } });
    const cb = await callback(token);
    expect(cb.body).toMatchObject({
      type: 4,
      data: { content: withAnyErrorId(STORAGE_TROUBLE), flags: 64, allowed_mentions: { parse: [] } },
    });
    expect(userMessage(new Error('x'))).toBeUndefined();
  });

  it("routes a button to its command's button handler by the custom id's first part, in the same error boundary", async () => {
    const ok = await callback(fake.sendButton('pressy:yes').token);
    expect(ok.body).toMatchObject({ type: 7, data: { content: 'pressed pressy:yes', components: [] } });
    const boom = await callback(fake.sendButton('pressy:boom').token);
    expect(boom.body).toMatchObject({
      type: 4,
      data: { content: withAnyErrorId(OOPS), flags: 64, allowed_mentions: { parse: [] } },
    });
    const line = logLines.find((l) => l.msg === 'command failed' && l.button === 'pressy:boom')!;
    expect((line.err as { stack: string }).stack).toContain('boom in a button');
    const stale = await callback(fake.sendButton('gone:confirm').token);
    expect(stale.body).toMatchObject({ type: 4, data: { content: 'That button no longer does anything.', flags: 64 } });
  });

  it('answers an unknown command with an ephemeral message', async () => {
    const { token } = fake.sendInteraction({ data: { name: 'no-such-command' } });
    const cb = await callback(token);
    expect(cb.body).toMatchObject({ type: 4, data: { flags: 64, allowed_mentions: { parse: [] } } });
    expect((cb.body as { data: { content: string } }).data.content).toContain('/no-such-command');
  });

  it('keeps serving after failures: the next command is answered normally', async () => {
    const { token } = fake.sendInteraction({ data: { name: 'help' } });
    const cb = await callback(token);
    expect(cb.body).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(bot.client.isReady()).toBe(true);
    fake.assertNoViolations();
  });
});
