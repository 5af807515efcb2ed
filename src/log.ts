/**
 * Structured logs: one JSON line per event on stdout (pino). The level comes from LOG_LEVEL.
 *
 * What people said never reaches the log at info level or above: log lines carry ids (message, user, server,
 * interaction), never message content, and errors are cleaned before they are written — the body of a failed
 * Discord request (`requestBody`: the text that was being sent) is dropped, and kept only at debug and trace.
 * Interaction and webhook tokens in URLs (`/interactions/<id>/<token>/callback`, `/webhooks/<app>/<token>/…`) are
 * replaced by "[redacted]" in every error, in `url` and `route` fields and in messages, at every level.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const REDACTED = '[redacted]';

/** An interaction or webhook token in a Discord API path: what follows /interactions/<id>/ or /webhooks/<id>/. */
const PATH_TOKEN = /(\/(?:interactions|webhooks)\/[^/\s?#"']+\/)([^/\s?#"']+)/g;

/** The text with every interaction and webhook token in a URL or path replaced by [redacted]. */
export function redactPathTokens(text: string): string {
  return text.replace(PATH_TOKEN, (_, head: string, token: string) =>
    token.startsWith(':') || token === REDACTED ? `${head}${token}` : `${head}${REDACTED}`,
  );
}

const MAX_DEPTH = 6;

/** A copy of a serialized error with tokens redacted in every string, and request bodies dropped unless `keepBodies`. */
function clean(value: unknown, keepBodies: boolean, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return redactPathTokens(value);
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value) || depth > MAX_DEPTH) return '[…]';
  seen.add(value);
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  if (Array.isArray(value)) return value.map((v) => clean(v, keepBodies, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'requestBody') {
      if (keepBodies) out[k] = clean((v as { json?: unknown } | null)?.json, keepBodies, depth + 1, seen);
      continue;
    }
    out[k] = clean(v, keepBodies, depth + 1, seen);
  }
  return out;
}

/** pino's error serializer, then cleaned (see the module comment). */
export function errorSerializer(keepBodies: boolean): (error: unknown) => unknown {
  return (error) => {
    const serialized = error instanceof Error ? pino.stdSerializers.err(error) : error;
    return clean(serialized, keepBodies, 0, new WeakSet());
  };
}

function redactString(value: unknown): unknown {
  return typeof value === 'string' ? redactPathTokens(value) : value;
}

/**
 * A logger writing synchronously to `destination` (stdout by default), so nothing is lost on process.exit.
 * Anything under a `token` key is redacted, in case an object carrying one is ever logged.
 */
export function createLogger(
  level: LogLevel,
  destination: DestinationStream = pino.destination({ dest: 1, sync: true }),
): Logger {
  const keepBodies = level === 'debug' || level === 'trace';
  const err = errorSerializer(keepBodies);
  return pino(
    {
      level,
      base: { name: 'babble' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['token', '*.token', 'discordToken', '*.discordToken'], censor: REDACTED },
      serializers: { err, error: err, url: redactString, route: redactString },
      hooks: {
        // Messages too, in case one is built from an error's text.
        logMethod(args, method) {
          const redacted = args.map((a: unknown) => (typeof a === 'string' ? redactPathTokens(a) : a)) as typeof args;
          method.apply(this, redacted);
        },
      },
    },
    destination,
  );
}

/** A logger that drops everything (tests, tools). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
