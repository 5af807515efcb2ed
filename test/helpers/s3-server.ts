/**
 * A local S3-compatible server for tests and the bench: s3rver (npm) in its own process
 * (s3-server-process.mjs), so a test can stop it — SIGKILL, an outage — and start it again on the same port and
 * folder with the same objects. Credentials S3RVER/S3RVER, path-style addressing, bucket "babble-models".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const S3_BUCKET = 'babble-models';
const SCRIPT = fileURLToPath(new URL('./s3-server-process.mjs', import.meta.url));

export interface LocalS3 {
  readonly port: number;
  readonly endpoint: string;
  /** The environment a bot or trainer needs to use it (MODEL_STORE_URL with `prefix`, S3_*, AWS_*). */
  env(prefix: string): Record<string, string>;
  /** Kills the server (SIGKILL): requests fail until start(). */
  stop(): Promise<void>;
  /** Starts it again on the same port and folder. */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  close(): Promise<void>;
}

function launch(port: number, dir: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [SCRIPT, String(port), dir, S3_BUCKET], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve({ child, port: (JSON.parse(line) as { port: number }).port });
    });
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}: ${err.trim()}`)));
  });
}

async function kill(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

export async function startLocalS3(): Promise<LocalS3> {
  const dir = await mkdtemp(join(tmpdir(), 'babble-s3-'));
  let { child, port } = await launch(0, dir);
  let current: ChildProcess | undefined = child;
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    port,
    endpoint,
    env: (prefix) => ({
      MODEL_STORE_URL: `s3://${S3_BUCKET}/${prefix}`,
      S3_ENDPOINT: endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    }),
    async stop() {
      await kill(current);
      current = undefined;
    },
    async start() {
      ({ child, port } = await launch(port, dir));
      current = child;
    },
    async close() {
      await kill(current);
      current = undefined;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
