/**
 * A private redis-server (the Debian package .ci/run installs) on a free port, for tests that stop and restart
 * Redis: start, stop (SHUTDOWN NOSAVE: an outage), start again on the same port (empty, unless `persist`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

export interface LocalRedis {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function ping(port: number): boolean {
  return spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout?.trim() === 'PONG';
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server did not ${what}`);
}

/** Whether redis-server is installed here. */
export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

/**
 * `persist`: append-only file in `persist` (a folder), fsynced every write, so a restart keeps every key — as a
 * production Redis should be set up (README) — instead of starting empty.
 */
export async function startLocalRedis(options: { persist?: string } = {}): Promise<LocalRedis> {
  const port = await freePort();
  const durability = options.persist
    ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', options.persist]
    : ['--appendonly', 'no'];
  const launch = async () => {
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...durability, '--daemonize', 'yes'],
      { stdio: 'ignore' },
    );
    await new Promise((resolve) => child.once('exit', resolve));
    await waitFor(() => ping(port), 'start');
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      spawnSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave']);
      await waitFor(() => !ping(port), 'stop');
    },
    start: launch,
  };
}
