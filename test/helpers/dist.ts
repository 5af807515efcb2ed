/**
 * The compiled tree the end-to-end tests run (`node dist/src/main.js`, as `npm start` does), and whether it is as
 * new as the sources. `npm test` compiles first (`tsc -p tsconfig.json`); a vitest run alone goes through
 * `ensureFreshDist` (vitest's globalSetup): when a source under src/ or test/helpers/ is newer than its output, or
 * the output is missing, it compiles the same way, and fails with a message naming the stale file if that did not
 * help.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DIST = path.join(ROOT, 'dist');
/** Source folders whose outputs a test process runs: the bot, and the modules tests preload into it. */
const RUN_SOURCES = ['src', 'test/helpers'];

/** The compiled counterpart in `distDir` of a TypeScript file of this repository (absolute or ROOT-relative). */
export function compiledPath(source: string, distDir: string = DIST): string {
  const rel = path.relative(ROOT, path.resolve(ROOT, source));
  if (rel.startsWith('..')) throw new Error(`compiledPath: ${source} is outside the repository`);
  return path.join(distDir, rel.replace(/\.ts$/, '.js'));
}

function tsFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

/** Sources (ROOT-relative) whose compiled output in `distDir` is missing or older than they are. */
export function staleSources(distDir: string = DIST, folders: readonly string[] = RUN_SOURCES): string[] {
  const stale: string[] = [];
  for (const folder of folders) {
    for (const file of tsFiles(path.join(ROOT, folder))) {
      const out = compiledPath(file, distDir);
      if (!existsSync(out) || statSync(out).mtimeMs < statSync(file).mtimeMs) stale.push(path.relative(ROOT, file));
    }
  }
  return stale;
}

const COMPILE = 'tsc -p tsconfig.json';

/** vitest globalSetup: compiles as `npm test` does when dist/ is stale; throws a clear message if it stays stale. */
export function ensureFreshDist(): void {
  const before = staleSources();
  if (before.length === 0) return;
  const some = before.slice(0, 3).join(', ');
  process.stderr.write(`dist/ is older than ${before.length} source(s) (${some}…): ${COMPILE} (as npm test does)\n`);
  const tsc = createRequire(path.join(ROOT, 'package.json')).resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'pipe', timeout: 300_000 });
  } catch (error) {
    // Type errors still emit JavaScript; `npm test` (tsc first) is where they fail the run.
    const out = String((error as { stdout?: Buffer }).stdout ?? '')
      .trim()
      .split('\n')
      .slice(0, 5)
      .join('\n');
    process.stderr.write(`${COMPILE} reported errors (the end-to-end tests run what it emitted):\n${out}\n`);
  }
  const after = staleSources();
  if (after.length > 0) {
    throw new Error(
      `dist/ is stale for ${after.join(', ')} even after ${COMPILE}: the end-to-end tests run the compiled bot ` +
        `(node dist/src/main.js); run npx ${COMPILE} and look at its errors`,
    );
  }
}

export default ensureFreshDist;
