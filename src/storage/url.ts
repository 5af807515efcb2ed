/**
 * STORAGE_URL: `sqlite://relative/file.sqlite`, `sqlite:///absolute/file.sqlite` (embedded, the default) or
 * `redis://host:port` / `rediss://…`. Parsing only (no database driver is loaded here).
 */
import path from 'node:path';

export const DEFAULT_STORAGE_URL = 'sqlite://var/babble.sqlite';
/** Prepended to every key Babble writes. */
export const DEFAULT_KEY_PREFIX = 'babble:';

/**
 * A storage URL as it may be shown (errors, logs): a password in it — `user:password@`, or a `password=` query
 * parameter — replaced by `***`, whether or not the rest of the URL parses.
 */
export function redactStorageUrl(url: string): string {
  const query = (text: string) => text.replace(/([?&]password=)[^&#]*/gi, '$1***');
  const m = /^([a-z][a-z0-9+.-]*:\/\/)(.*)$/is.exec(url);
  if (!m) return query(url);
  const [, scheme, rest] = m as unknown as [string, string, string];
  // The user part ends at the last "@" (a password may hold "/", "?" or "#" when it isn't percent-encoded).
  const at = rest.lastIndexOf('@');
  if (at < 0) return query(url);
  const userinfo = rest.slice(0, at);
  const colon = userinfo.indexOf(':');
  const shown = colon >= 0 ? `${userinfo.slice(0, colon)}:***` : '***';
  return query(`${scheme}${shown}${rest.slice(at)}`);
}

export type StorageLocation = { kind: 'sqlite'; file: string } | { kind: 'redis'; url: string };

/** Parses a STORAGE_URL; throws an Error whose message says what is accepted. */
export function parseStorageUrl(url: string, cwd: string = process.cwd()): StorageLocation {
  const sqlite = /^sqlite:\/\/(.+)$/i.exec(url);
  if (sqlite) {
    const file = sqlite[1]!;
    // sqlite://:memory: is a private in-memory database (gone when closed; tests and trials).
    return { kind: 'sqlite', file: file === ':memory:' ? ':memory:' : path.resolve(cwd, file) };
  }
  if (/^rediss?:\/\//i.test(url)) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error(`not a valid Redis URL: ${JSON.stringify(redactStorageUrl(url))}`);
    }
    if (parsed.hostname === '') throw new Error(`the Redis URL has no host: ${JSON.stringify(redactStorageUrl(url))}`);
    return { kind: 'redis', url };
  }
  throw new Error(
    `must be sqlite://<file> (e.g. ${DEFAULT_STORAGE_URL}, or sqlite:///absolute/path.sqlite) or redis://host:port ` +
      `(got ${JSON.stringify(redactStorageUrl(url))})`,
  );
}

/** The URL without its password, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis://(unparsable url)';
  }
}
