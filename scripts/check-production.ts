/**
 * npx tsx scripts/check-production.ts <folder>
 *
 * Checks a production install made as the README's "Production" section says (.ci/run makes one in a fresh clone):
 * no dev dependencies in <folder> (no TypeScript), the compiled bot present, and the bot started the way the README
 * tells a process manager to start it (PRODUCTION_COMMAND, in <folder>) against the fake Discord of this checkout:
 * it reaches READY ("serving"), answers a /babble, and on SIGTERM to that process stops and exits 0 within its
 * shutdown deadline. Prints one line per step; exits 1 on the first failure.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ReplyTracker, TOKEN } from '../bench/discord.js';
import { SHUTDOWN_DEADLINE_MS } from '../src/bot.js';
import { option, startFakeDiscord } from '../test/fake-discord/index.js';
import { startEntryProcess } from '../test/helpers/entry-process.js';

/** What the README tells a process manager to run, in the install folder. */
const PRODUCTION_COMMAND = ['node', 'dist/src/main.js'] as const;

const say = (line: string) => process.stdout.write(`${line}\n`);

async function check(dir: string): Promise<void> {
  if (existsSync(path.join(dir, 'node_modules', 'typescript')))
    throw new Error(`${dir} still has TypeScript: the dev dependencies were not left out`);
  if (!existsSync(path.join(dir, 'node_modules', 'discord.js')))
    throw new Error(`${dir} has no node_modules/discord.js: not installed`);
  if (!existsSync(path.join(dir, 'dist', 'src', 'main.js')))
    throw new Error(`${dir} has no dist/src/main.js: not built`);
  say(`ok: ${dir} has the runtime dependencies and dist/, and no dev dependencies`);

  const fake = await startFakeDiscord({ token: TOKEN });
  const work = await mkdtemp(path.join(tmpdir(), 'babble-production-'));
  // PRODUCTION_COMMAND in the install folder: node dist/src/main.js there, with its own node_modules.
  const bot = startEntryProcess({
    cwd: dir,
    distDir: path.join(dir, 'dist'),
    env: {
      DISCORD_TOKEN: TOKEN,
      DISCORD_API_URL: fake.apiUrl,
      MODEL_DIR: path.join(dir, 'models', 'base'),
      STORAGE_URL: `sqlite://${path.join(work, 'babble.sqlite')}`,
      MODELS_DIR: path.join(work, 'models'),
      LOG_LEVEL: 'info',
    },
  });
  try {
    await bot.waitForLog((l) => l.msg === 'serving', 60_000);
    say(`ok: \`${PRODUCTION_COMMAND.join(' ')}\` in ${dir} is serving (READY from the fake Discord)`);

    const tracker = new ReplyTracker(fake);
    const { token } = fake.sendInteraction({
      data: { name: 'babble', options: [option('seed', 'me want'), option('rng', 1)] },
    });
    tracker.sentAt.set(token, performance.now());
    await fake.waitFor(
      () => {
        tracker.scan();
        return tracker.doneAt.has(token) || tracker.failed > 0 || tracker.ephemeral > 0;
      },
      30_000,
      'the /babble answered',
    );
    if (!tracker.doneAt.has(token)) throw new Error('the /babble was not answered with a babble');
    say('ok: it answered a /babble');

    const signalled = Date.now();
    bot.child.kill('SIGTERM');
    const timer = setTimeout(() => bot.child.kill('SIGKILL'), SHUTDOWN_DEADLINE_MS + 5_000);
    const { code } = await bot.exited;
    clearTimeout(timer);
    const ms = Date.now() - signalled;
    if (code !== 0) throw new Error(`after SIGTERM it exited with ${code} (stderr: ${bot.stderr().slice(-500)})`);
    if (!bot.logs.some((l) => l.msg === 'stopped'))
      throw new Error('after SIGTERM it exited 0 without its "stopped" log line');
    say(`ok: SIGTERM stopped it gracefully in ${ms} ms, exit code 0`);
    if (fake.violations.length > 0)
      throw new Error(`${fake.violations.length} request(s) broke Discord's OpenAPI description`);
  } finally {
    if (bot.child.exitCode === null && bot.child.signalCode === null) {
      bot.child.kill('SIGKILL');
      await bot.exited;
    }
    await fake.close();
    await rm(work, { recursive: true, force: true });
  }
}

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: npx tsx scripts/check-production.ts <folder of a production install>\n');
  process.exitCode = 2;
} else {
  check(path.resolve(dir)).then(
    () => say('production install: all checks passed'),
    (error: unknown) => {
      process.stderr.write(
        `production install check FAILED: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
