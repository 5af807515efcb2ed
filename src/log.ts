/**
 * Structured logs: one JSON line per event on stdout (pino). The level comes from LOG_LEVEL.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * A logger writing synchronously to `destination` (stdout by default), so nothing is lost on process.exit.
 * Anything under a `token` key is redacted, in case an object carrying one is ever logged.
 */
export function createLogger(level: LogLevel, destination: DestinationStream = pino.destination({ dest: 1, sync: true })): Logger {
  return pino(
    {
      level,
      base: { name: 'babble' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['token', '*.token', 'discordToken', '*.discordToken'], censor: '[redacted]' },
    },
    destination,
  );
}

/** A logger that drops everything (tests, tools). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
