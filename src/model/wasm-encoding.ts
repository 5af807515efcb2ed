/**
 * The WebAssembly binary encoding primitives shared by the modules this project assembles at run time
 * (lstm-step-wasm.ts: the generator's step; wasm-kernels.ts: the trainer's kernels): LEB128 integers, sections and names.
 */
export type Code = number[];

/** Unsigned LEB128 of a 32-bit value. */
export function uleb(n: number): Code {
  const out: Code = [];
  let v = n >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit value. */
export function sleb(n: number): Code {
  const out: Code = [];
  let v = n | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** A module section: id, byte length, content. */
/** The start of every module: the magic `\0asm` and version 1. */
export const WASM_HEADER: readonly number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

export function section(id: number, content: Code): Code {
  return [id, ...uleb(content.length), ...content];
}

/** A name (export or import): UTF-8 bytes with their length. */
export function wasmName(s: string): Code {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
}
