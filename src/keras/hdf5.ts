/**
 * Reading HDF5 files (Keras weights) from memory with h5wasm (the HDF5 C library compiled to WebAssembly; no native
 * build). HDF5 errors are thrown (h5wasm's throwing handler) instead of printed, and become `ImportError`s that
 * name the file and HDF5's own last reason (e.g. "truncated file: eof = 20000, … stored_eof = 43792").
 */
import h5wasm from 'h5wasm/node';
import { ImportError } from './errors.js';

type H5Module = Awaited<typeof h5wasm.ready>;

let module: Promise<H5Module> | undefined;

function h5(): Promise<H5Module> {
  module ??= h5wasm.ready.then((m) => {
    m.activate_throwing_error_handler();
    return m;
  });
  return module;
}

/** The most specific line of an HDF5 error stack ("…H5F__super_read(): truncated file: …"), or the message. */
function hdf5Reason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const lines = [...text.matchAll(/#\d+: .*? in [\w]+\(\): (.*)$/gm)].map((m) => m[1]!.trim());
  return lines.at(-1) ?? text.split('\n')[0]!.trim();
}

/** A float32 array read from a dataset, with its shape. */
export interface Variable {
  shape: number[];
  values: Float32Array;
}

let counter = 0;

/** An open in-memory HDF5 file. Close it. */
export class Hdf5Reader {
  readonly #file: InstanceType<typeof h5wasm.File>;
  readonly #path: string;
  readonly #module: H5Module;
  /** The name used in messages, e.g. 'model.weights.h5'. */
  readonly name: string;

  private constructor(m: H5Module, file: InstanceType<typeof h5wasm.File>, path: string, name: string) {
    this.#module = m;
    this.#file = file;
    this.#path = path;
    this.name = name;
  }

  static async open(bytes: Uint8Array, name: string): Promise<Hdf5Reader> {
    const m = await h5();
    const path = `/babble-import-${process.pid}-${++counter}.h5`;
    m.FS!.writeFile(path, bytes);
    try {
      return new Hdf5Reader(m, new h5wasm.File(path, 'r'), path, name);
    } catch (err) {
      m.FS!.unlink(path);
      throw new ImportError('corrupt', `${name} is not a readable HDF5 file (${hdf5Reason(err)})`);
    }
  }

  #get(path: string): unknown {
    try {
      return this.#file.get(path);
    } catch (err) {
      throw new ImportError('corrupt', `${this.name}: cannot read ${path} (${hdf5Reason(err)})`);
    }
  }

  has(path: string): boolean {
    const entity = this.#get(path);
    return entity !== null && entity !== undefined;
  }

  /** Child names of a group ([] when it is not a group). */
  keys(path: string): string[] {
    const entity = this.#get(path);
    return entity instanceof h5wasm.Group ? entity.keys() : [];
  }

  /** A string attribute of the root or of a group/dataset, or undefined. */
  stringAttr(path: string, attr: string): string | undefined {
    const entity = path === '/' ? this.#file : this.#get(path);
    if (!(entity instanceof h5wasm.Group) && !(entity instanceof h5wasm.Dataset)) return undefined;
    try {
      const value = entity.attrs[attr]?.value;
      return typeof value === 'string' ? value : undefined;
    } catch (err) {
      throw new ImportError('corrupt', `${this.name}: cannot read attribute ${attr} of ${path} (${hdf5Reason(err)})`);
    }
  }

  /** A list-of-strings attribute (e.g. Keras 2's weight_names), or undefined. */
  stringListAttr(path: string, attr: string): string[] | undefined {
    const entity = this.#get(path);
    if (!(entity instanceof h5wasm.Group)) return undefined;
    const value = entity.attrs[attr]?.value;
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
    return typeof value === 'string' ? [value] : undefined;
  }

  /** Names of the datasets under a group, recursively, as paths relative to it. */
  datasets(path: string): string[] {
    const out: string[] = [];
    const walk = (rel: string) => {
      const full = rel === '' ? path : `${path}/${rel}`;
      const entity = this.#get(full);
      if (entity instanceof h5wasm.Dataset) out.push(rel);
      else if (entity instanceof h5wasm.Group) for (const k of entity.keys()) walk(rel === '' ? k : `${rel}/${k}`);
    };
    walk('');
    return out;
  }

  /** A dataset as float32 values (float32 or float64 stored), or undefined when there is none at `path`. */
  variable(path: string): Variable | undefined {
    const entity = this.#get(path);
    if (entity === null || entity === undefined) return undefined;
    if (!(entity instanceof h5wasm.Dataset))
      throw new ImportError('variable', `${this.name}: ${path} is not a dataset`);
    let value: unknown;
    let shape: number[];
    try {
      shape = [...(entity.shape ?? [])];
      value = entity.value;
    } catch (err) {
      throw new ImportError('corrupt', `${this.name}: cannot read ${path} (${hdf5Reason(err)})`);
    }
    if (value instanceof Float32Array) return { shape, values: Float32Array.from(value) };
    if (value instanceof Float64Array) return { shape, values: Float32Array.from(value) };
    throw new ImportError('variable', `${this.name}: ${path} holds ${entity.dtype} values, expected floats`);
  }

  close(): void {
    try {
      this.#file.close();
    } finally {
      this.#module.FS!.unlink(this.#path);
    }
  }
}
