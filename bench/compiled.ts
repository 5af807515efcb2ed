/**
 * The project compiled by tsc (the `npm run build` compiler and tsconfig) into a temporary folder, to run the bot as
 * `npm start` runs it (`node dist/src/main.js`, test/helpers/entry-process.ts with `distDir`) from the sources as
 * they are now, whatever state dist/ is in. The folder gets a copy of package.json (ESM) and a symlink to the
 * project's node_modules so that packages resolve as from the project. Type errors do not stop the build (tsc emits
 * anyway; they do not change the emitted JavaScript); a missing src/main.js does.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface CompiledBot {
  /** The compiled tree: <dir>/src/main.js, <dir>/bench/loop-probe.js… */
  dir: string;
  seconds: number;
  remove(): Promise<void>;
}

export async function compileProject(root: string): Promise<CompiledBot> {
  const dir = await mkdtemp(path.join(tmpdir(), 'babble-bench-dist-'));
  const started = performance.now();
  try {
    const tsc = createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc');
    await new Promise<void>((resolve) => {
      execFile(
        process.execPath,
        [
          tsc,
          '-p',
          path.join(root, 'tsconfig.json'),
          '--outDir',
          dir,
          '--sourceMap',
          'false',
          '--declaration',
          'false',
        ],
        { cwd: root, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
        () => resolve(),
      );
    });
    if (!existsSync(path.join(dir, 'src', 'main.js')) || !existsSync(path.join(dir, 'bench', 'loop-probe.js'))) {
      throw new Error('tsc did not emit src/main.js and bench/loop-probe.js');
    }
    await copyFile(path.join(root, 'package.json'), path.join(dir, 'package.json'));
    await symlink(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    return {
      dir,
      seconds: (performance.now() - started) / 1000,
      remove: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
