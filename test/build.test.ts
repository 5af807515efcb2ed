/**
 * scripts/build.mjs, start.mjs and prepare.mjs: `npm start` compiles only when a source is newer than its output,
 * and an install without TypeScript neither builds nor fails. Run on small projects in temporary folders (copies of
 * the three scripts, a fake dist/src/main.js), never on this checkout's dist/.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findTsc, staleReasons } from '../scripts/build.mjs';

const run = promisify(execFile);
const SCRIPTS = path.resolve(import.meta.dirname, '..', 'scripts');
const T0 = new Date('2026-01-01T00:00:00Z');
const later = (s: number) => new Date(T0.getTime() + s * 1000);

let dir: string;

async function put(rel: string, text: string, at: Date): Promise<void> {
  const file = path.join(dir, rel);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
  await utimes(file, at, at);
}

/** A project whose dist/ was built after its sources: main.ts and model/x.ts, their outputs, the two tsconfigs. */
async function builtProject(): Promise<void> {
  await put('src/main.ts', 'export {};', T0);
  await put('src/model/x.ts', 'export {};', T0);
  await put('src/types.d.ts', 'export {};', later(100)); // declarations have no output
  await put('tsconfig.json', '{}', T0);
  await put('tsconfig.build.json', '{}', T0);
  await put('dist/src/main.js', "console.log('bot ran as ' + process.argv[1]);", later(10));
  await put('dist/src/model/x.js', '', later(10));
  await put('package.json', '{ "type": "module" }', T0);
  await mkdir(path.join(dir, 'scripts'));
  for (const s of ['build.mjs', 'start.mjs', 'prepare.mjs'])
    await copyFile(path.join(SCRIPTS, s), path.join(dir, 'scripts', s));
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'babble-build-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('staleReasons', () => {
  it('is empty when every source has an output at least as new', async () => {
    await builtProject();
    expect(staleReasons(dir)).toEqual([]);
  });

  it('names a source newer than its output, a source without output, and a newer tsconfig', async () => {
    await builtProject();
    await put('src/model/x.ts', 'export const x = 1;', later(20));
    await put('src/new.ts', 'export {};', T0);
    await put('tsconfig.build.json', '{ }', later(30));
    expect(staleReasons(dir).sort()).toEqual([
      'dist/src/new.js is missing',
      'src/model/x.ts is newer than dist/src/model/x.js',
      'tsconfig.build.json is newer than dist/src/',
    ]);
  });

  it('says everything is missing before the first build, in at most `limit` lines', async () => {
    await builtProject();
    await rm(path.join(dir, 'dist'), { recursive: true });
    for (let i = 0; i < 8; i++) await put(`src/m${i}.ts`, '', T0);
    const reasons = staleReasons(dir, 3);
    expect(reasons).toHaveLength(4);
    expect(reasons[3]).toBe('… and 7 more');
  });
});

describe('npm start (scripts/start.mjs) and prepare (scripts/prepare.mjs) without TypeScript', () => {
  it('finds no compiler in a project without node_modules', async () => {
    await builtProject();
    expect(findTsc(dir)).toBeUndefined();
    expect(findTsc(path.resolve(SCRIPTS, '..'))).toMatch(/typescript/);
  });

  it('start runs dist/src/main.js at once when the build is fresh, as that script', async () => {
    await builtProject();
    const { stdout, stderr } = await run(process.execPath, ['scripts/start.mjs'], { cwd: dir });
    expect(stdout.trim()).toBe(`bot ran as ${path.join(dir, 'dist', 'src', 'main.js')}`);
    expect(stderr).toBe('');
  });

  it('start refuses to run a stale build it cannot rebuild, saying why', async () => {
    await builtProject();
    await put('src/main.ts', 'export const changed = 1;', later(20));
    const failed = await run(process.execPath, ['scripts/start.mjs'], { cwd: dir }).then(
      () => null,
      (e: unknown) => e as { code: number; stdout: string; stderr: string },
    );
    expect(failed).not.toBeNull();
    expect(failed!.code).toBe(1);
    expect(failed!.stdout).toBe(''); // the bot did not run
    expect(failed!.stderr).toMatch(/src\/main\.ts is newer than dist\/src\/main\.js.*TypeScript is not installed/);
  });

  it('prepare neither builds nor fails without TypeScript, fresh or stale', async () => {
    await builtProject();
    await expect(run(process.execPath, ['scripts/prepare.mjs'], { cwd: dir })).resolves.toMatchObject({ stderr: '' });
    await rm(path.join(dir, 'dist'), { recursive: true });
    const { stderr } = await run(process.execPath, ['scripts/prepare.mjs'], { cwd: dir });
    expect(stderr).toMatch(/TypeScript is not installed, so it was not built/);
  });
});
