/**
 * The three files a Keras model comes in, read into one shape: the Sequential layer list and the weight variables
 * of each layer in Keras order (Embedding: embeddings; LSTM: kernel, recurrent_kernel, bias; Dense: kernel, bias).
 *
 * - Keras 3 `.keras`: a zip (fflate: in memory, stored or deflated entries) of config.json, metadata.json and
 *   model.weights.h5, whose variables are `layers/<name>/vars/<i>` (an LSTM's `layers/<name>/cell/vars/<i>`).
 * - Keras 2 `.h5`: the root attribute model_config (JSON) and `model_weights/<layer>`, each with the attribute
 *   weight_names (`<layer>/lstm_cell/kernel:0`, or `<layer>/kernel:0` in older files).
 * - TensorFlow.js layers format: model.json (`modelTopology`, `weightsManifest`) and its weight shards beside it.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { crc32 } from 'node:zlib';
import { unzipSync } from 'fflate';
import { ImportError } from './errors.js';
import { Hdf5Reader, type Variable } from './hdf5.js';

export type KerasFormat = 'keras3' | 'keras2-h5' | 'tfjs-layers';

export interface KerasLayer {
  className: string;
  config: Record<string, unknown>;
}

/** What the weight at position `index` of a layer is called, for messages and lookups. */
export const ROLES: Record<string, readonly string[]> = {
  Embedding: ['embeddings'],
  LSTM: ['kernel', 'recurrent_kernel', 'bias'],
  Dense: ['kernel', 'bias'],
};

export interface KerasModelFile {
  format: KerasFormat;
  kerasVersion: string | null;
  /** The bytes the source sha256 is taken of (the .keras / .h5 file, or model.json). */
  bytes: Uint8Array;
  /** Sequential's layers, InputLayer included when the file lists one. */
  layers: KerasLayer[];
  /** The weight `index` of `layer` (by Keras order), with where it lives for messages; undefined values = missing. */
  variable(layer: KerasLayer, index: number): { where: string; value: Variable | undefined };
  close(): void;
}

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
const HDF5_MAGIC = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(data: Uint8Array, magic: readonly number[]): boolean {
  return magic.every((b, i) => data[i] === b);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ImportError('format', `${where} is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
}

/** The layer list of a Sequential model config (Keras 3 and 2 put it under config.layers; Keras 2.2 as config). */
function sequentialLayers(config: unknown, where: string): KerasLayer[] {
  const root = isRecord(config) && isRecord(config.model_config) ? config.model_config : config;
  if (!isRecord(root)) throw new ImportError('format', `${where} holds no model config`);
  if (root.class_name !== 'Sequential') {
    throw new ImportError(
      'architecture',
      `${where} holds a ${JSON.stringify(root.class_name)} model; only Sequential models are imported`,
    );
  }
  const raw = Array.isArray(root.config) ? root.config : isRecord(root.config) ? root.config.layers : undefined;
  if (!Array.isArray(raw)) throw new ImportError('format', `${where} has no layer list`);
  return raw.map((l, i) => {
    if (!isRecord(l) || typeof l.class_name !== 'string' || !isRecord(l.config)) {
      throw new ImportError('format', `${where}: layer ${i} has no class_name/config`);
    }
    return { className: l.class_name, config: l.config };
  });
}

function layerName(layer: KerasLayer): string {
  return String(layer.config.name);
}

function roleOf(layer: KerasLayer, index: number): string {
  return ROLES[layer.className]?.[index] ?? `#${index}`;
}

/**
 * The CRC-32 the zip's central directory records for each entry (fflate inflates but does not check them). Only
 * what the check needs: the end-of-central-directory record and the fixed fields of each directory entry.
 */
function recordedCrcs(bytes: Uint8Array): Map<string, number> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let end = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      end = i;
      break;
    }
  }
  const crcs = new Map<string, number>();
  if (end < 0) return crcs;
  const count = view.getUint16(end + 10, true);
  let at = view.getUint32(end + 16, true);
  for (let n = 0; n < count && at + 46 <= bytes.length && view.getUint32(at, true) === 0x02014b50; n++) {
    const nameLength = view.getUint16(at + 28, true);
    const name = new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLength));
    crcs.set(name, view.getUint32(at + 16, true));
    at += 46 + nameLength + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
  }
  return crcs;
}

async function readKeras3(bytes: Uint8Array, file: string): Promise<KerasModelFile> {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes);
  } catch (err) {
    throw new ImportError(
      'corrupt',
      `${file} is not a readable zip (${err instanceof Error ? err.message : String(err)})`,
    );
  }
  const crcs = recordedCrcs(bytes);
  for (const [name, data] of Object.entries(entries)) {
    const recorded = crcs.get(name);
    if (recorded === undefined || crc32(data) !== recorded) {
      throw new ImportError('corrupt', `${file} is not a readable zip (${name} fails its CRC-32 check)`);
    }
  }
  const need = (name: string) => {
    const e = entries[name];
    if (!e)
      throw new ImportError(
        'format',
        `${file} has no ${name} (a Keras 3 .keras file holds config.json, metadata.json and model.weights.h5)`,
      );
    return e;
  };
  const text = (name: string) => new TextDecoder().decode(need(name));
  const layers = sequentialLayers(parseJson(text('config.json'), `${file}: config.json`), `${file}: config.json`);
  const metadata = parseJson(text('metadata.json'), `${file}: metadata.json`);
  const kerasVersion = isRecord(metadata) && typeof metadata.keras_version === 'string' ? metadata.keras_version : null;
  const h5 = await Hdf5Reader.open(need('model.weights.h5'), `${file}: model.weights.h5`);
  return {
    format: 'keras3',
    kerasVersion,
    bytes,
    layers,
    variable(layer, index) {
      const where = `layers/${layerName(layer)}/${layer.className === 'LSTM' ? 'cell/' : ''}vars/${index}`;
      return { where: `model.weights.h5 ${where} (${roleOf(layer, index)})`, value: h5.variable(where) };
    },
    close: () => h5.close(),
  };
}

async function readKeras2(bytes: Uint8Array, file: string): Promise<KerasModelFile> {
  const h5 = await Hdf5Reader.open(bytes, file);
  try {
    const configText = h5.stringAttr('/', 'model_config');
    if (configText === undefined)
      throw new ImportError('format', `${file} has no model_config attribute (a weights-only .h5 cannot be imported)`);
    const layers = sequentialLayers(parseJson(configText, `${file}: model_config`), `${file}: model_config`);
    const kerasVersion = h5.stringAttr('/', 'keras_version') ?? null;
    const root = h5.has('model_weights') ? 'model_weights' : '';
    return {
      format: 'keras2-h5',
      kerasVersion,
      bytes,
      layers,
      variable(layer, index) {
        const group = root ? `${root}/${layerName(layer)}` : layerName(layer);
        const role = roleOf(layer, index);
        const names = h5.has(group) ? (h5.stringListAttr(group, 'weight_names') ?? h5.datasets(group)) : [];
        const found = names.find((n) => n === `${role}:0` || n.endsWith(`/${role}:0`));
        const where = found ? `${group}/${found}` : `${group}/…/${role}:0`;
        return { where, value: found ? h5.variable(`${group}/${found}`) : undefined };
      },
      close: () => h5.close(),
    };
  } catch (err) {
    h5.close();
    throw err;
  }
}

interface ManifestEntry {
  name: string;
  shape: number[];
  offset: number;
}

async function readTfjs(path: string, bytes: Uint8Array): Promise<KerasModelFile> {
  const file = basename(path);
  const doc = parseJson(new TextDecoder().decode(bytes), file);
  if (!isRecord(doc) || !isRecord(doc.modelTopology) || !Array.isArray(doc.weightsManifest)) {
    throw new ImportError(
      'format',
      `${file} is not a TensorFlow.js layers model (needs modelTopology and weightsManifest)`,
    );
  }
  const topo = doc.modelTopology;
  const layers = sequentialLayers(topo, `${file}: modelTopology`);
  const kerasVersion = typeof topo.keras_version === 'string' ? topo.keras_version : null;
  const entries: ManifestEntry[] = [];
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const group of doc.weightsManifest) {
    if (!isRecord(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new ImportError('format', `${file}: a weightsManifest group has no paths/weights`);
    }
    const start = offset;
    for (const p of group.paths) {
      if (typeof p !== 'string' || p !== basename(p))
        throw new ImportError('format', `${file}: weight path ${JSON.stringify(p)} is not a file beside it`);
      let shard: Uint8Array;
      try {
        shard = await readFile(join(dirname(path), p));
      } catch {
        throw new ImportError('corrupt', `${file}: weight shard ${p} is missing`);
      }
      chunks.push(shard);
      offset += shard.byteLength;
    }
    let at = start;
    for (const w of group.weights) {
      if (
        !isRecord(w) ||
        typeof w.name !== 'string' ||
        !Array.isArray(w.shape) ||
        !w.shape.every((d) => Number.isInteger(d) && d >= 0)
      ) {
        throw new ImportError('format', `${file}: a weightsManifest entry has no name/shape`);
      }
      if (w.dtype !== 'float32' || w.quantization !== undefined) {
        throw new ImportError(
          'variable',
          `${file}: weight ${w.name} is stored as ${JSON.stringify(w.dtype)}` +
            `${w.quantization ? ' (quantized)' : ''}; only float32 is imported`,
        );
      }
      const shape = w.shape as number[];
      entries.push({ name: w.name, shape, offset: at });
      at += shape.reduce((a, b) => a * b, 1) * 4;
    }
    if (at > offset)
      throw new ImportError(
        'corrupt',
        `${file}: the weight shards hold ${offset - start} bytes, the manifest needs ${at - start}`,
      );
  }
  const data = new Uint8Array(offset);
  let o = 0;
  for (const c of chunks) {
    data.set(c, o);
    o += c.byteLength;
  }
  const view = new DataView(data.buffer);
  return {
    format: 'tfjs-layers',
    kerasVersion,
    bytes,
    layers,
    variable(layer, index) {
      const role = roleOf(layer, index);
      const prefix = `${layerName(layer)}/`;
      const e = entries.find(
        (m) => m.name.startsWith(prefix) && (m.name === `${prefix}${role}` || m.name.endsWith(`/${role}`)),
      );
      const where = e ? `${file} weight ${e.name}` : `${file} weight ${prefix}…/${role}`;
      if (!e) return { where, value: undefined };
      const n = e.shape.reduce((a, b) => a * b, 1);
      const values = new Float32Array(n);
      for (let i = 0; i < n; i++) values[i] = view.getFloat32(e.offset + 4 * i, true);
      return { where, value: { shape: e.shape, values } };
    },
    close: () => undefined,
  };
}

/** Opens a .keras zip, a Keras 2 .h5, or a tfjs model.json (or a folder holding one), judged by content. */
export async function openKerasModel(path: string): Promise<KerasModelFile> {
  let file = resolve(path);
  try {
    if ((await stat(file)).isDirectory()) file = join(file, 'model.json');
  } catch {
    throw new ImportError('format', `${path} does not exist`);
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch {
    throw new ImportError('format', `${file} cannot be read`);
  }
  const name = basename(file);
  if (startsWith(bytes, ZIP_MAGIC)) return readKeras3(bytes, name);
  if (startsWith(bytes, HDF5_MAGIC)) return readKeras2(bytes, name);
  if (bytes[0] === 0x7b) return readTfjs(file, bytes); // '{'
  throw new ImportError('format', `${name} is neither a .keras zip, a Keras 2 .h5 file nor a TensorFlow.js model.json`);
}
