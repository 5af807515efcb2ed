import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fsyncDir, isErrno, writeFileDurable } from '../src/durable-file.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'babble-durable-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('durable files', () => {
  it('writes text and bytes, replacing what was there, and fsyncs the folder', async () => {
    const path = join(dir, 'a.json');
    await writeFileDurable(path, 'first');
    await writeFileDurable(path, '{"second":true}');
    expect(await readFile(path, 'utf8')).toBe('{"second":true}');
    await writeFileDurable(join(dir, 'b.bin'), Uint8Array.of(1, 2, 3));
    expect([...(await readFile(join(dir, 'b.bin')))]).toEqual([1, 2, 3]);
    await expect(fsyncDir(dir)).resolves.toBeUndefined();
  });

  it('rejects with the system error for a folder that is not there', async () => {
    const error: unknown = await writeFileDurable(join(dir, 'missing', 'x'), 'x').catch((e: unknown) => e);
    expect(isErrno(error, 'ENOENT')).toBe(true);
    expect(isErrno(await fsyncDir(join(dir, 'missing')).catch((e: unknown) => e), 'ENOENT')).toBe(true);
    expect(isErrno(new Error('plain'), 'ENOENT')).toBe(false);
  });
});
