import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SHUTDOWN_DEADLINE_MS } from '../src/bot.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');

/** The first ```js block under a heading. */
async function readmeBlock(heading: string): Promise<string> {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const at = readme.indexOf(heading);
  expect(at, `README has no "${heading}" section`).toBeGreaterThanOrEqual(0);
  const m = /```js\n([\s\S]*?)```/.exec(readme.slice(at));
  expect(m, `no js block under "${heading}"`).not.toBeNull();
  return m![1]!;
}

describe('README', () => {
  it('the library example runs as written against the built package (import from "babble")', async () => {
    const code = await readmeBlock('### As a library');
    expect(code).toContain("from 'babble'");
    // Inside the repository, so that the package's own name resolves through package.json "exports" to dist/.
    const dir = join(root, 'var', 'readme-test');
    await mkdir(dir, { recursive: true });
    const file = join(dir, 'example.mjs');
    await writeFile(file, code);
    try {
      const { stdout } = await run(process.execPath, [file], {
        cwd: root,
        timeout: 120_000,
        env: { ...process.env, BABBLE_BACKEND: 'wasm' },
      });
      const lines = stdout.trim().split('\n');
      expect(lines).toHaveLength(2);
      for (const line of lines) expect(line.startsWith('me want')).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await rm(join(root, 'var', 'example-model'), { recursive: true, force: true });
    }
  });
});

/** The fenced blocks of one language under a `## ` heading, up to the next one. */
async function sectionBlocks(heading: string, lang: string): Promise<string[]> {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const at = readme.indexOf(`\n${heading}\n`);
  expect(at, `README has no "${heading}" section`).toBeGreaterThanOrEqual(0);
  const rest = readme.slice(at + heading.length + 2);
  const end = rest.search(/^## /m);
  const section = end >= 0 ? rest.slice(0, end) : rest;
  return [...section.matchAll(new RegExp(`\`\`\`${lang}\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]!);
}

describe('README, Production', () => {
  it('installs with npm ci then leaves the dev dependencies out, and runs the bot itself with node', async () => {
    const [install, run] = await sectionBlocks('## Production', 'sh');
    const commands = (block: string | undefined) =>
      (block ?? '')
        .split('\n')
        .map((l) => l.replace(/#.*/, '').trim())
        .filter((l) => l !== '');
    expect(commands(install)).toEqual(['npm ci', 'npm prune --omit=dev']);
    expect(commands(run)).toEqual(['node dist/src/main.js']);
  });

  it('gives a systemd unit that runs that command, signals the bot alone and waits longer than its shutdown deadline', async () => {
    const [unit] = await sectionBlocks('## Production', 'ini');
    expect(unit).toMatch(/^ExecStart=\S*node dist\/src\/main\.js$/m);
    expect(unit).toMatch(/^KillMode=mixed$/m);
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
    const stop = Number(/^TimeoutStopSec=(\d+)$/m.exec(unit ?? '')?.[1]);
    expect(stop * 1000).toBeGreaterThan(SHUTDOWN_DEADLINE_MS);
  });

  it('is what CI runs: .ci/run executes that sh block in a fresh clone and checks the bot started with that command', async () => {
    const ci = await readFile(join(root, '.ci', 'run'), 'utf8');
    expect(ci).toMatch(/awk '\/\^## Production\/.*README\.md/);
    expect(ci).toContain('bash -euo pipefail -c "$install_steps"');
    expect(ci).toContain('scripts/check-production.ts "$work/production"');
    const check = await readFile(join(root, 'scripts', 'check-production.ts'), 'utf8');
    expect(check).toContain("const PRODUCTION_COMMAND = ['node', 'dist/src/main.js'] as const;");
  });
});
