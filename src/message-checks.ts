/**
 * Checks for messages that cross a process boundary (the trainer child's IPC, the training queue's jobs): small
 * combinators that refuse, with a ProtocolError naming the path, a missing or mistyped field, an unknown extra
 * field, and a string or array over its bound.
 */

/** Longest string field accepted. */
export const MAX_STRING = 100_000;

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

export type Check = (value: unknown, path: string) => void;

export function fail(path: string, what: string): never {
  throw new ProtocolError(`${path} ${what}`);
}

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export const str: Check = (v, p) => {
  if (typeof v !== 'string') fail(p, 'must be a string');
  if (v.length > MAX_STRING) fail(p, `is longer than ${MAX_STRING} characters`);
};
export const nonEmptyStr: Check = (v, p) => {
  str(v, p);
  if ((v as string).length === 0) fail(p, 'must not be empty');
};
export const finite: Check = (v, p) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(p, 'must be a finite number');
};
export const nonNegative: Check = (v, p) => {
  finite(v, p);
  if ((v as number) < 0) fail(p, 'must be ≥ 0');
};
export const positive: Check = (v, p) => {
  finite(v, p);
  if ((v as number) <= 0) fail(p, 'must be > 0');
};
export const count: Check = (v, p) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(p, 'must be an integer ≥ 0');
};
export const positiveInt: Check = (v, p) => {
  count(v, p);
  if ((v as number) < 1) fail(p, 'must be an integer ≥ 1');
};
export const nullableFinite: Check = (v, p) => {
  if (v !== null) finite(v, p);
};
/** An array of at most `limits.items` strings, each a valid string field, of at most `limits.chars` in all. */
export const stringArray =
  (limits: { items: number; chars: number }): Check =>
  (v, p) => {
    if (!Array.isArray(v)) fail(p, 'must be an array of strings');
    if (v.length > limits.items) fail(p, `has more than ${limits.items} entries`);
    let chars = 0;
    v.forEach((s, i) => {
      str(s, `${p}[${i}]`);
      chars += (s as string).length;
    });
    if (chars > limits.chars) fail(p, `has more than ${limits.chars} characters in all`);
  };
export const oneOf =
  (...allowed: readonly unknown[]): Check =>
  (v, p) => {
    if (!allowed.includes(v)) fail(p, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
  };
export const literal =
  (want: string): Check =>
  (v, p) => {
    if (v !== want) fail(p, `must be ${JSON.stringify(want)}`);
  };

export interface Field {
  check: Check;
  optional?: boolean;
}

/** Checks an object's fields: every required one present, each valid, and no field that is not listed. */
export function object(fields: Record<string, Field | Check>): Check {
  return (v, p) => {
    if (!isRecord(v)) fail(p, 'must be an object');
    for (const key of Object.keys(v)) if (!(key in fields)) fail(`${p}.${key}`, 'is not a known field');
    for (const [key, spec] of Object.entries(fields)) {
      const f = typeof spec === 'function' ? { check: spec } : spec;
      if (!(key in v) || v[key] === undefined) {
        if (!f.optional) fail(`${p}.${key}`, 'is missing');
        continue;
      }
      f.check(v[key], `${p}.${key}`);
    }
  };
}

export const opt = (check: Check): Field => ({ check, optional: true });
