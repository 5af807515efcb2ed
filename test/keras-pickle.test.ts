import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImportError } from '../src/keras/errors.js';
import { readCharsNpy, readPickle } from '../src/keras/pickle.js';

const FIXTURES = join(import.meta.dirname, 'fixtures/keras');
const read = async (name: string) => new Uint8Array(await readFile(join(FIXTURES, name)));

/** A pickle: PROTO 3, then `body`, then STOP. */
const pickle = (...body: number[]) => Uint8Array.of(0x80, 3, ...body, 0x2e);

function refusedWith(fn: () => unknown, message: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ImportError);
  expect((err as ImportError).message).toMatch(message);
}

describe('readCharsNpy', () => {
  it('reads the dict np.save writes (protocol 3) and the same pickled with protocol 4', async () => {
    const expected = JSON.parse(await readFile(join(FIXTURES, 'expected.json'), 'utf8')) as { chars: string[] };
    for (const file of ['k3_two_chars.npy', 'protocol4_chars.npy']) {
      const v = readCharsNpy(await read(file), file);
      expect(v.chars).toEqual(expected.chars);
      expect(v.seqLength).toBe(10);
    }
  });

  it('refuses a file that is not a .npy', () => {
    refusedWith(() => readCharsNpy(Uint8Array.of(1, 2, 3), 'x.npy'), /x\.npy is not a \.npy file/);
  });

  it('refuses the float pickle by opcode, the command by its global', async () => {
    const float = await read('refuse_float_chars.npy');
    refusedWith(() => readCharsNpy(float, 'f.npy'), /opcode BINFLOAT at byte \d+ is not allowed/);
    const shell = await read('refuse_shell_chars.npy');
    refusedWith(() => readCharsNpy(shell, 's.npy'), /global posix\.system is not allowed/);
  });

  it('refuses a numeric array saved as .npy', () => {
    const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
    const bytes = Uint8Array.from([0x93, ...Buffer.from('NUMPY'), 1, 0, header.length, 0, ...Buffer.from(header)]);
    refusedWith(() => readCharsNpy(bytes, 'a.npy'), /descr <f4, shape \(3,\)\), expected one pickled object/);
  });
});

describe('readPickle', () => {
  it('reads lists, dicts, str and int without numpy around them', () => {
    // {'a': [1, 'b']}
    const v = readPickle(pickle(0x7d, 0x28, 0x8c, 1, 0x61, 0x5d, 0x28, 0x4b, 1, 0x8c, 1, 0x62, 0x65, 0x75));
    expect(v).toMatchObject({ entries: new Map([['a', [1, 'b']]]) });
  });

  it('refuses sets, objects and truncated data', () => {
    refusedWith(() => readPickle(pickle(0x8f)), /opcode EMPTY_SET/);
    refusedWith(
      () => readPickle(pickle(0x63, ...Buffer.from('builtins\neval\n'))),
      /global builtins\.eval is not allowed/,
    );
    refusedWith(() => readPickle(Uint8Array.of(0x80, 3, 0x8c, 9, 0x61)), /truncated at byte 4/);
  });
});
