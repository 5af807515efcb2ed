/**
 * Start-up time of the bot as people start it: `npm start` (and, not judged, `node dist/src/main.js`, what a process
 * manager runs) launched as a child process against the fake Discord in the bench process, one start after the other.
 * Per start: launch (just before the spawn) → the fake receives IDENTIFY on the gateway, and launch → the reply of
 * a /babble sent as soon as IDENTIFY arrived carries its text (the type-4 callback, or the edit after a type-5
 * defer) — the first moment a member gets an answer. Each start gets a fresh fake, an empty SQLite file and models
 * folder; the process group is stopped with SIGTERM and awaited before the next start.
 *
 * dist/ is brought up to date before the first start (scripts/build.mjs), so `npm start` does not compile: the
 * figure is the start of a built bot, as after `npm ci` (prepare) or any start after the first.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build, findTsc, staleReasons } from '../scripts/build.mjs';
import { option, startFakeDiscord } from '../test/fake-discord/index.js';
import { parseSelfStat, TICKS_PER_SECOND } from './contention.js';
import { NO_RATE_LIMITS, ReplyTracker, TOKEN } from './discord.js';
import { summarize, type Summary } from './stats.js';

export interface StartCommand {
  label: string;
  file: string;
  args: string[];
}

/** What `npm start` runs, and what the README tells a process manager to run. */
export const START_COMMANDS: readonly StartCommand[] = [
  { label: 'npm start', file: 'npm', args: ['start'] },
  { label: 'node dist/src/main.js', file: process.execPath, args: ['dist/src/main.js'] },
];

export interface OneStart {
  identifyMs: number;
  firstBabbleMs: number;
  /** CPU time (user + system) the started processes had used when IDENTIFY arrived (null: no /proc). */
  cpuAtIdentifyMs: number | null;
}

/**
 * CPU milliseconds used so far by a process group (npm, its shell and the bot under `npm start`),
 * from /proc; the wall-clock figures depend on what else runs, this much less. Null when /proc is unreadable.
 */
export function groupCpuMs(pgid: number): number | null {
  let ticks = 0;
  try {
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      } catch {
        continue; // exited meanwhile
      }
      const pgrp = Number(
        stat
          .slice(stat.lastIndexOf(')') + 2)
          .trim()
          .split(/\s+/)[2],
      );
      if (pgrp === pgid) ticks += parseSelfStat(stat);
    }
  } catch {
    return null;
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}

export interface StartupRuns {
  command: string;
  starts: OneStart[];
  identifyMs: Summary;
  firstBabbleMs: Summary;
  cpuAtIdentifyMs: Summary | null;
}

export interface StartupFigures {
  /** Seconds spent compiling before the first start because dist/ was out of date (null: it was not). */
  buildSeconds: number | null;
  runs: StartupRuns[];
}

async function startOnce(root: string, modelDir: string, command: StartCommand): Promise<OneStart> {
  const fake = await startFakeDiscord({ token: TOKEN });
  const work = await mkdtemp(path.join(tmpdir(), 'babble-bench-start-'));
  const tracker = new ReplyTracker(fake);
  let stderr = '';
  const started = performance.now();
  const child = spawn(command.file, command.args, {
    cwd: root,
    // Nothing inherited but PATH and HOME (npm needs them): no real token can leak in. Its own process group, so
    // that SIGTERM reaches the bot under npm too (npm does not pass it on).
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      DEV_GUILD_ID: '',
      BABBLE_BACKEND: process.env.BABBLE_BACKEND ?? '',
      ...NO_RATE_LIMITS,
      DISCORD_TOKEN: TOKEN,
      DISCORD_API_URL: fake.apiUrl,
      MODEL_DIR: path.resolve(modelDir),
      MODELS_DIR: path.join(work, 'models'),
      STORAGE_URL: `sqlite://${path.join(work, 'babble.sqlite')}`,
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout!.resume();
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-2000);
  });
  // Done when the process exited and the bot (which may outlive npm) closed the output it inherited.
  const gone = Promise.all([
    new Promise<void>((resolve) => child.once('exit', () => resolve())),
    new Promise<void>((resolve) => child.stdout!.once('close', () => resolve())),
  ]);
  const exitedEarly = gone.then(() => {
    throw new Error(`${command.label} exited before answering; stderr: ${stderr}`);
  });
  exitedEarly.catch(() => undefined);
  try {
    await Promise.race([fake.waitForGatewayPayload((p) => p.op === 2, 60_000), exitedEarly]);
    const identifyMs = performance.now() - started;
    const cpuAtIdentifyMs = child.pid === undefined ? null : groupCpuMs(child.pid);
    const { token } = fake.sendInteraction({
      data: { name: 'babble', options: [option('seed', 'me want'), option('rng', 1)] },
    });
    tracker.sentAt.set(token, performance.now());
    await Promise.race([
      fake.waitFor(
        () => {
          tracker.scan();
          return tracker.doneAt.has(token) || tracker.failed > 0 || tracker.ephemeral > 0;
        },
        60_000,
        'the first /babble answered',
      ),
      exitedEarly,
    ]);
    const done = tracker.doneAt.get(token);
    if (done === undefined)
      throw new Error(
        `the first /babble was not answered with a babble (failed ${tracker.failed}, ephemeral ${tracker.ephemeral})`,
      );
    return { identifyMs, firstBabbleMs: done - started, cpuAtIdentifyMs };
  } finally {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    const timer = setTimeout(() => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 15_000);
    await gone;
    clearTimeout(timer);
    await fake.close();
    await rm(work, { recursive: true, force: true });
  }
}

export async function measureStartup(opts: {
  root: string;
  modelDir: string;
  starts: number;
  log: (line: string) => void;
}): Promise<StartupFigures> {
  let buildSeconds: number | null = null;
  const stale = staleReasons(opts.root);
  if (stale.length > 0) {
    const tsc = findTsc(opts.root);
    if (tsc === undefined) throw new Error(`dist/ is out of date (${stale[0]}) and TypeScript is not installed`);
    opts.log(`  dist/ is out of date (${stale[0]}): building first, not timed`);
    const t = performance.now();
    build(opts.root, tsc);
    buildSeconds = (performance.now() - t) / 1000;
  }
  const runs: StartupRuns[] = [];
  for (const command of START_COMMANDS) {
    const starts: OneStart[] = [];
    for (let i = 0; i < opts.starts; i++) {
      const one = await startOnce(opts.root, opts.modelDir, command);
      opts.log(
        `  ${command.label} #${i + 1}: IDENTIFY after ${Math.round(one.identifyMs)} ms, first /babble answered after ${Math.round(one.firstBabbleMs)} ms; CPU ${one.cpuAtIdentifyMs ?? '?'} ms at IDENTIFY`,
      );
      starts.push(one);
    }
    runs.push({
      command: command.label,
      starts,
      identifyMs: summarize(starts.map((s) => s.identifyMs)),
      firstBabbleMs: summarize(starts.map((s) => s.firstBabbleMs)),
      cpuAtIdentifyMs: starts.every((s) => s.cpuAtIdentifyMs !== null)
        ? summarize(starts.map((s) => s.cpuAtIdentifyMs!))
        : null,
    });
  }
  return { buildSeconds, runs };
}
