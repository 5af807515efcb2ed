import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

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
      const { stdout } = await run(process.execPath, [file], { cwd: root, timeout: 120_000, env: { ...process.env, BABBLE_BACKEND: 'wasm' } });
      const lines = stdout.trim().split('\n');
      expect(lines).toHaveLength(2);
      for (const line of lines) expect(line.startsWith('me want')).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await rm(join(root, 'var', 'example-model'), { recursive: true, force: true });
    }
  });
});
