/**
 * The original script's `<model>_chars.npy`: `np.save(path, {'chars': [...], 'char_to_idx': {...}, 'idx_to_char':
 * {...}, 'seq_length': N})`. np.save stores a 0-d object array, which it pickles whole (protocol 3; numpy 2 may use
 * 4): `numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b')`, then BUILD with the state
 * `(1, (), numpy.dtype('O8', False, True), False, [the dict])`.
 *
 * This is not Python's unpickler: it never imports or calls anything. It reads the opcodes such a file uses into
 * plain values, recognises those three numpy names only as markers of that one shape, and refuses every other
 * opcode (floats, sets, objects, extensions…) and every other global (os.system…), naming it.
 */
import { ImportError } from './errors.js';

/** A plain value read from the pickle. Dicts keep their keys' types (str or int). */
export type PlainValue = string | number | boolean | null | Uint8Array | PlainValue[] | PlainTuple | PlainDict;
export class PlainTuple {
  constructor(readonly items: PlainValue[]) {}
}
export class PlainDict {
  readonly entries = new Map<string | number, PlainValue>();
}

/** The only globals recognised, and what they stand for. */
const GLOBALS: Record<string, 'reconstruct' | 'ndarray' | 'dtype'> = {
  'numpy.core.multiarray._reconstruct': 'reconstruct',
  'numpy._core.multiarray._reconstruct': 'reconstruct',
  'numpy.ndarray': 'ndarray',
  'numpy.dtype': 'dtype',
};

class Global {
  constructor(readonly kind: 'reconstruct' | 'ndarray' | 'dtype') {}
}
class NpArray {
  shape: number[] | undefined;
  dtype: string | undefined;
  items: PlainValue[] | undefined;
}
class NpDtype {
  constructor(readonly descr: string) {}
}
class Mark {}

type Item = PlainValue | Global | NpArray | NpDtype | Mark;

const MARK = new Mark();

const OPCODE_NAMES: Record<number, string> = {
  70: 'FLOAT',
  71: 'BINFLOAT',
  73: 'INT',
  76: 'LONG',
  139: 'LONG4',
  143: 'EMPTY_SET',
  144: 'ADDITEMS',
  145: 'FROZENSET',
  146: 'NEWOBJ_EX',
  129: 'NEWOBJ',
  111: 'OBJ',
  105: 'INST',
  80: 'PERSID',
  81: 'BINPERSID',
  130: 'EXT1',
  131: 'EXT2',
  132: 'EXT4',
  83: 'STRING',
  84: 'BINSTRING',
  85: 'SHORT_BINSTRING',
  86: 'UNICODE',
  150: 'BYTEARRAY8',
  151: 'NEXT_BUFFER',
  152: 'READONLY_BUFFER',
  48: 'POP',
  49: 'DUP',
  50: 'POP_MARK',
  103: 'GET',
  112: 'PUT',
  100: 'DICT',
  108: 'LIST',
  142: 'BINBYTES8',
};

function refuse(what: string): never {
  throw new ImportError(
    'pickle',
    `vocabulary pickle: ${what}; only lists, dicts, str, int (and numpy's own array wrapper) are accepted`,
  );
}

/** Reads a pickle into plain values without executing anything. */
export function readPickle(data: Uint8Array): Item {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const text = new TextDecoder('utf-8', { fatal: true });
  const stack: Item[] = [];
  const memo = new Map<number, Item>();
  let pos = 0;
  const need = (n: number) => {
    if (pos + n > data.length) throw new ImportError('pickle', `vocabulary pickle: truncated at byte ${pos}`);
  };
  const u8 = () => {
    need(1);
    return data[pos++]!;
  };
  const u16 = () => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = () => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = () => {
    need(4);
    const v = view.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(data.length))
      throw new ImportError('pickle', `vocabulary pickle: length ${v} at byte ${pos - 8} is past the end`);
    return Number(v);
  };
  const bytes = (n: number) => {
    need(n);
    const b = data.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const str = (n: number) => {
    const b = bytes(n);
    try {
      return text.decode(b);
    } catch {
      return refuse(`invalid UTF-8 in a string at byte ${pos - n}`);
    }
  };
  const line = () => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) throw new ImportError('pickle', `vocabulary pickle: truncated at byte ${pos}`);
    const s = str(end - pos);
    pos = end + 1;
    return s;
  };
  const pop = (): Item => {
    if (stack.length === 0) refuse(`stack underflow at byte ${pos}`);
    return stack.pop()!;
  };
  const popMark = (): Item[] => {
    let k = stack.length - 1;
    while (k >= 0 && stack[k] !== MARK) k--;
    if (k < 0) refuse(`no MARK before byte ${pos}`);
    const items = stack.splice(k);
    return items.slice(1);
  };
  const top = (): Item => {
    if (stack.length === 0) refuse(`stack underflow at byte ${pos}`);
    return stack[stack.length - 1]!;
  };
  const plain = (v: Item): PlainValue => {
    if (v instanceof Global || v instanceof NpArray || v instanceof NpDtype || v instanceof Mark)
      refuse(`a numpy object inside the data at byte ${pos}`);
    return v as PlainValue;
  };
  const setItems = (dict: Item, items: Item[]) => {
    if (!(dict instanceof PlainDict)) refuse(`SETITEM(S) on a non-dict at byte ${pos}`);
    if (items.length % 2 !== 0) refuse(`odd SETITEMS at byte ${pos}`);
    for (let k = 0; k < items.length; k += 2) {
      const key = items[k];
      if (typeof key !== 'string' && typeof key !== 'number')
        refuse(`a dict key that is not str or int at byte ${pos}`);
      dict.entries.set(key, plain(items[k + 1]!));
    }
  };
  const global = (name: string): Global => {
    const kind = GLOBALS[name];
    if (!kind) refuse(`global ${name} is not allowed (nothing is imported or called)`);
    return new Global(kind);
  };

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80:
        u8();
        break; // PROTO
      case 0x95:
        u64();
        break; // FRAME
      case 0x2e: {
        // STOP
        const result = pop();
        if (stack.length !== 0) refuse('values left on the stack at STOP');
        return result;
      }
      case 0x28:
        stack.push(MARK);
        break;
      case 0x7d:
        stack.push(new PlainDict());
        break; // EMPTY_DICT
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST
      case 0x29:
        stack.push(new PlainTuple([]));
        break; // EMPTY_TUPLE
      case 0x61: {
        const v = pop();
        const l = top();
        if (!Array.isArray(l)) refuse(`APPEND on a non-list at byte ${at}`);
        l.push(plain(v));
        break;
      }
      case 0x65: {
        const items = popMark();
        const l = top();
        if (!Array.isArray(l)) refuse(`APPENDS on a non-list at byte ${at}`);
        l.push(...items.map(plain));
        break;
      }
      case 0x73: {
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      } // SETITEM
      case 0x75: {
        const items = popMark();
        setItems(top(), items);
        break;
      } // SETITEMS
      // Tuples may hold numpy markers (_reconstruct's arguments, the array state's dtype); lists and dicts may not.
      case 0x74:
        stack.push(new PlainTuple(popMark() as PlainValue[]));
        break; // TUPLE
      case 0x85: {
        const a = pop();
        stack.push(new PlainTuple([a] as PlainValue[]));
        break;
      }
      case 0x86: {
        const b = pop();
        const a = pop();
        stack.push(new PlainTuple([a, b] as PlainValue[]));
        break;
      }
      case 0x87: {
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(new PlainTuple([a, b, c] as PlainValue[]));
        break;
      }
      case 0x4a:
        stack.push(i32());
        break; // BININT
      case 0x4b:
        stack.push(u8());
        break; // BININT1
      case 0x4d:
        stack.push(u16());
        break; // BININT2
      case 0x8a: {
        // LONG1
        const n = u8();
        const b = bytes(n);
        let v = 0n;
        for (let k = n - 1; k >= 0; k--) v = (v << 8n) | BigInt(b[k]!);
        if (n > 0 && b[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
          refuse(`an integer too large at byte ${at}`);
        stack.push(Number(v));
        break;
      }
      case 0x58:
        stack.push(str(u32()));
        break; // BINUNICODE
      case 0x8c:
        stack.push(str(u8()));
        break; // SHORT_BINUNICODE
      case 0x8d:
        stack.push(str(u64()));
        break; // BINUNICODE8
      case 0x43:
        stack.push(Uint8Array.from(bytes(u8())));
        break; // SHORT_BINBYTES
      case 0x42:
        stack.push(Uint8Array.from(bytes(u32())));
        break; // BINBYTES
      case 0x4e:
        stack.push(null);
        break;
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x71:
        memo.set(u8(), top());
        break; // BINPUT
      case 0x72:
        memo.set(u32(), top());
        break; // LONG_BINPUT
      case 0x94:
        memo.set(memo.size, top());
        break; // MEMOIZE
      case 0x68:
      case 0x6a: {
        // BINGET, LONG_BINGET
        const k = op === 0x68 ? u8() : u32();
        if (!memo.has(k)) refuse(`memo ${k} read before it was written at byte ${at}`);
        stack.push(memo.get(k)!);
        break;
      }
      case 0x63: {
        const mod = line();
        const name = line();
        stack.push(global(`${mod}.${name}`));
        break;
      } // GLOBAL
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const mod = pop();
        if (typeof name !== 'string' || typeof mod !== 'string') refuse(`STACK_GLOBAL without names at byte ${at}`);
        stack.push(global(`${mod}.${name}`));
        break;
      }
      case 0x52: {
        // REDUCE: only _reconstruct(ndarray, (0,), b'b') and dtype(descr, False, True)
        const args = pop();
        const fn = pop();
        if (!(fn instanceof Global) || !(args instanceof PlainTuple))
          refuse(`REDUCE of something other than numpy's array or dtype at byte ${at}`);
        if (fn.kind === 'reconstruct') {
          const [cls] = args.items as unknown as Item[];
          if (!(cls instanceof Global) || cls.kind !== 'ndarray')
            refuse(`_reconstruct of something other than numpy.ndarray at byte ${at}`);
          stack.push(new NpArray());
        } else if (fn.kind === 'dtype') {
          const [descr] = args.items;
          if (typeof descr !== 'string') refuse(`numpy.dtype without a type string at byte ${at}`);
          stack.push(new NpDtype(descr));
        } else {
          refuse(`calling numpy.ndarray directly at byte ${at}`);
        }
        break;
      }
      case 0x62: {
        // BUILD: only an array's or a dtype's state
        const state = pop();
        const target = top();
        if (!(state instanceof PlainTuple)) refuse(`BUILD with a state that is not a tuple at byte ${at}`);
        if (target instanceof NpDtype) break; // byte order, flags: nothing to keep for an object dtype
        if (!(target instanceof NpArray)) refuse(`BUILD on something other than a numpy array at byte ${at}`);
        const [, shape, dtype, , items] = state.items as unknown as Item[];
        if (!(shape instanceof PlainTuple) || !shape.items.every((d) => typeof d === 'number'))
          refuse(`an array shape that is not a tuple of ints at byte ${at}`);
        if (!(dtype instanceof NpDtype)) refuse(`an array without a dtype at byte ${at}`);
        target.shape = shape.items as number[];
        target.dtype = dtype.descr;
        target.items = Array.isArray(items) ? items : undefined;
        break;
      }
      default:
        refuse(`opcode ${OPCODE_NAMES[op] ?? `0x${op.toString(16).padStart(2, '0')}`} at byte ${at} is not allowed`);
    }
  }
}

/** The object a `.npy` holding one pickled Python object contains (np.save of a dict). */
export function readObjectNpy(data: Uint8Array, file: string): PlainValue {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
  if (data.length < 10 || !magic.every((b, i) => data[i] === b)) {
    throw new ImportError('vocabulary', `${file} is not a .npy file (no \\x93NUMPY magic)`);
  }
  const major = data[6]!;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const headerLength =
    major === 1 ? view.getUint16(8, true) : major === 2 || major === 3 ? view.getUint32(8, true) : -1;
  if (headerLength < 0) throw new ImportError('vocabulary', `${file}: .npy version ${major} is not known`);
  const start = major === 1 ? 10 : 12;
  if (start + headerLength > data.length) throw new ImportError('vocabulary', `${file}: the .npy header is cut short`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(data.subarray(start, start + headerLength));
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1]?.trim();
  if (descr !== '|O' || shape !== '') {
    throw new ImportError(
      'vocabulary',
      `${file} holds an array (descr ${descr ?? '?'}, shape (${shape ?? '?'})), ` +
        `expected one pickled object (descr '|O', shape ())`,
    );
  }
  const result = readPickle(data.subarray(start + headerLength));
  if (
    !(result instanceof NpArray) ||
    result.dtype !== 'O8' ||
    result.shape?.length !== 0 ||
    result.items?.length !== 1
  ) {
    throw new ImportError('vocabulary', `${file}: the pickle is not numpy's 0-d object array`);
  }
  return result.items[0]!;
}

export interface PickledVocabulary {
  chars: string[];
  seqLength: number | undefined;
}

/** The original script's vocabulary dict, checked: chars, char_to_idx and idx_to_char agree. */
export function readCharsNpy(data: Uint8Array, file: string): PickledVocabulary {
  const dict = readObjectNpy(data, file);
  const bad = (what: string) => new ImportError('vocabulary', `${file}: ${what}`);
  if (!(dict instanceof PlainDict)) throw bad('holds no dict');
  const chars = dict.entries.get('chars');
  if (!Array.isArray(chars) || !chars.every((c) => typeof c === 'string' && [...c].length === 1)) {
    throw bad("'chars' is not a list of single characters");
  }
  const list = chars as string[];
  if (new Set(list).size !== list.length) throw bad("'chars' lists a character twice");
  const toIdx = dict.entries.get('char_to_idx');
  if (toIdx !== undefined) {
    if (
      !(toIdx instanceof PlainDict) ||
      toIdx.entries.size !== list.length ||
      list.some((c, i) => toIdx.entries.get(c) !== i)
    ) {
      throw bad("'char_to_idx' does not agree with 'chars'");
    }
  }
  const toChar = dict.entries.get('idx_to_char');
  if (toChar !== undefined) {
    if (
      !(toChar instanceof PlainDict) ||
      toChar.entries.size !== list.length ||
      list.some((c, i) => toChar.entries.get(i) !== c)
    ) {
      throw bad("'idx_to_char' does not agree with 'chars'");
    }
  }
  const seq = dict.entries.get('seq_length');
  if (seq !== undefined && (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 1))
    throw bad("'seq_length' is not a positive integer");
  return { chars: list, seqLength: seq as number | undefined };
}
