/**
 * RSS with the base model and N more loaded, measured in a fresh child process (bench/rss-child.ts).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';

export interface RssFigures {
  backend: string;
  models: number;
  /** After the backend is initialised, before any model. */
  rssBaselineMb: number;
  /** With the base model only. */
  rssAfterBaseMb: number;
  /** With all models, before a gc. */
  rssNoGcMb: number;
  /** With all models, after a full gc. */
  rssMb: number;
  heapUsedMb: number;
  externalMb: number;
  arrayBuffersMb: number;
}

/** The child's JSON line (the last non-empty line of stdout), checked. */
export function parseRssOutput(stdout: string): RssFigures {
  const last = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .pop();
  if (last === undefined) throw new Error('rss child printed nothing');
  const o = JSON.parse(last) as Record<string, unknown>;
  for (const k of [
    'models',
    'rssBaselineMb',
    'rssAfterBaseMb',
    'rssNoGcMb',
    'rssMb',
    'heapUsedMb',
    'externalMb',
    'arrayBuffersMb',
  ]) {
    if (typeof o[k] !== 'number' || !Number.isFinite(o[k])) throw new Error(`rss child: ${k} missing`);
  }
  if (typeof o.backend !== 'string') throw new Error('rss child: backend missing');
  return o as unknown as RssFigures;
}

export function measureRss(opts: { root: string; modelDir: string; copies: number }): Promise<RssFigures> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', path.join('bench', 'rss-child.ts'), opts.modelDir, String(opts.copies)],
      // Only what the child needs: no token or other secrets passed on.
      {
        cwd: opts.root,
        timeout: 120_000,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          BABBLE_BACKEND: process.env.BABBLE_BACKEND ?? '',
        },
      },
      (error, stdout, stderr) => {
        if (error)
          reject(
            new Error(
              `rss child failed: ${error.message.split('\n')[0]}; ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
            ),
          );
        else {
          try {
            resolve(parseRssOutput(stdout));
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        }
      },
    );
  });
}
