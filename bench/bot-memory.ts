/**
 * RSS of the REAL bot with the base model and `servers` server models loaded: `servers` guilds in the fake Discord,
 * each with its own version 1 committed through the registry (registry.tempDir → a copy of the base model's
 * files → registry.commit, the layout the bot serves from: MODELS_DIR/<guild>/1/ + `current`), the real entry point
 * (bench/discord.ts startBotChild) with MODEL_CACHE_SIZE = servers + 1, then one /babble in each guild (each loads
 * that guild's model into the cache), then the bot's VmRSS and VmHWM from /proc/<pid>/status and its heap
 * figures from the loop probe. Afterwards `/model info` in every guild checks that each served its own version 1.
 */
import { copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRegistry } from '../src/service/registry.js';
import {
  makeGuild,
  option,
  startFakeDiscord,
  subcommand,
  type FakeDiscord,
  type RecordedRequest,
} from '../test/fake-discord/index.js';
import { startBotChild, stopBotChild, TOKEN, type BotChild, type BotEntry, type ProbeReading } from './discord.js';

export interface BotMemoryFigures {
  servers: number;
  /** VmRSS after every server babbled once (all models loaded). */
  rssMb: number;
  /** VmHWM: the peak RSS of the bot's life so far. */
  peakRssMb: number;
  /** VmRSS once serving, before any server model was loaded (discord.js with every guild + the base model). */
  rssServingMb: number;
  /** (rssMb − rssServingMb) / servers. */
  perServerModelMb: number;
  heapUsedMb: number;
  externalMb: number;
  arrayBuffersMb: number;
  /** Guilds whose /babble was answered, and whose /model info says version 1. */
  answered: number;
  ownVersion: number;
  /** How the bot was run. */
  entry: string;
}

/** VmRSS and VmHWM (MB) from the text of /proc/<pid>/status. */
export function parseProcStatus(text: string): { rssMb: number; hwmMb: number } {
  const kb = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
    if (!m) throw new Error(`/proc status: no ${name}`);
    return Number(m[1]) / 1024;
  };
  return { rssMb: kb('VmRSS'), hwmMb: kb('VmHWM') };
}

async function procStatus(pid: number): Promise<{ rssMb: number; hwmMb: number }> {
  return parseProcStatus(await readFile(`/proc/${pid}/status`, 'utf8'));
}

/** Commits a copy of the model in `modelDir` as the next version of each scope. */
export async function prepareServerVersions(
  modelsDir: string,
  modelDir: string,
  scopes: readonly string[],
): Promise<void> {
  const registry = createRegistry({ root: modelsDir });
  await registry.init();
  const files = await readdir(modelDir);
  for (const scope of scopes) {
    const tmp = await registry.tempDir(scope);
    for (const f of files) await copyFile(path.join(modelDir, f), path.join(tmp, f));
    await registry.commit(scope, tmp, { note: "bench: a copy of the base model as this server's own version" });
  }
}

async function answerOf(fake: FakeDiscord, token: string): Promise<RecordedRequest> {
  const cb = await fake.waitForRequest(
    (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === token,
    30_000,
  );
  if ((cb.body as { type?: number }).type !== 5) return cb;
  return fake.waitForRequest(
    (r) => r.operationId === 'update_original_webhook_message' && r.params.webhook_token === token,
    30_000,
  );
}

export async function measureBotMemory(opts: {
  root: string;
  modelDir: string;
  servers: number;
  log: (line: string) => void;
  entry: BotEntry;
}): Promise<BotMemoryFigures> {
  const work = await mkdtemp(path.join(tmpdir(), 'babble-bench-bot-memory-'));
  const guilds = Array.from({ length: opts.servers }, (_, i) => makeGuild({ name: `Server ${i + 1}` }));
  const fake = await startFakeDiscord({ token: TOKEN, guilds });
  let bot: BotChild | undefined;
  try {
    const modelsDir = path.join(work, 'models');
    const t = performance.now();
    await prepareServerVersions(
      modelsDir,
      opts.modelDir,
      guilds.map((g) => g.id),
    );
    opts.log(`  ${opts.servers} server versions committed in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    bot = startBotChild(opts.entry, {
      DISCORD_TOKEN: TOKEN,
      DISCORD_API_URL: fake.apiUrl,
      MODEL_DIR: path.resolve(opts.modelDir),
      STORAGE_URL: `sqlite://${path.join(work, 'babble.sqlite')}`,
      MODELS_DIR: modelsDir,
      MODEL_CACHE_SIZE: String(opts.servers + 1),
      LOG_LEVEL: 'info',
    });
    const pid = bot.child.pid!;
    await bot.waitForLog((l) => l.msg === 'serving', 120_000);
    await sleep(1000);
    const serving = await procStatus(pid);
    let answered = 0;
    for (const [i, g] of guilds.entries()) {
      const { token } = fake.sendInteraction({
        guild_id: g.id,
        data: { name: 'babble', options: [option('seed', 'me want'), option('rng', i + 1)] },
      });
      const reply = await answerOf(fake, token);
      if (reply.status < 300) answered++;
    }
    await sleep(1000);
    const loaded = await procStatus(pid);
    const probe = await bot.ask<ProbeReading>({ probe: 'read' }, 5_000);
    let ownVersion = 0;
    for (const g of guilds) {
      const { token } = fake.sendInteraction({
        guild_id: g.id,
        data: { name: 'model', options: [subcommand('info')] },
      });
      const body = (await answerOf(fake, token)).body as {
        data?: { embeds?: { fields?: { name: string; value: string }[] }[] };
        embeds?: { fields?: { name: string; value: string }[] }[];
      };
      const embeds = body.data?.embeds ?? body.embeds ?? [];
      if (embeds[0]?.fields?.find((f) => f.name === 'Version')?.value === '1') ownVersion++;
    }
    return {
      servers: opts.servers,
      rssMb: loaded.rssMb,
      peakRssMb: loaded.hwmMb,
      rssServingMb: serving.rssMb,
      perServerModelMb: (loaded.rssMb - serving.rssMb) / opts.servers,
      heapUsedMb: probe.heapUsedMb,
      externalMb: probe.externalMb,
      arrayBuffersMb: probe.arrayBuffersMb,
      answered,
      ownVersion,
      entry: bot.entry,
    };
  } finally {
    await stopBotChild(bot);
    await fake.close();
    await rm(work, { recursive: true, force: true });
  }
}
