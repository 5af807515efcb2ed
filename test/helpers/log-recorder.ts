import type { Logger } from '../../src/log.js';

export interface RecordedLine {
  level: string;
  obj: unknown;
  msg: string;
}

/** A logger for the service modules that keeps every line (debug to error) for the test to read. */
export function recorder(): { lines: RecordedLine[]; log: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'> } {
  const lines: RecordedLine[] = [];
  const at = (level: string) => (obj: unknown, msg?: string) => {
    lines.push({ level, obj, msg: msg ?? '' });
  };
  const log = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as unknown as Pick<
    Logger,
    'debug' | 'info' | 'warn' | 'error'
  >;
  return { lines, log };
}
