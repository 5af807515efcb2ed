/** Small helpers shared by the command-line entry points. */
import { errorMessage } from '../error-message.js';
import dotenv from 'dotenv';

export class UsageError extends Error {}

/** Runs an argument parser (node:util parseArgs), turning its errors into UsageError with the usage text. */
export function withUsage<T>(usage: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError(`${errorMessage(err)}

${usage}`);
  }
}

export function numberArg(
  name: string,
  value: string | undefined,
  min: number,
  max: number,
  integer = false,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new UsageError(
      `--${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max} (got ${JSON.stringify(value)})`,
    );
  }
  return n;
}

/**
 * Runs a CLI main function after loading .env from the working folder (as the bot does; real environment variables
 * win), e.g. BABBLE_BACKEND and BABBLE_WASM_FMA. Usage errors print the message and exit 2, other errors the stack
 * and exit 1.
 */
export function runCli(main: () => Promise<void>): void {
  dotenv.config({ quiet: true });
  main().then(
    () => {
      process.exitCode ??= 0;
    },
    (err: unknown) => {
      if (err instanceof UsageError) {
        process.stderr.write(`${err.message}\n`);
        process.exitCode = 2;
      } else {
        process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
        process.exitCode = 1;
      }
    },
  );
}

/** A one-line progress bar for a terminal (stderr): [#####.....] 50% loss 1.234 eta 12s */
export function progressBar(fraction: number, width = 24): string {
  const f = Math.min(1, Math.max(0, fraction));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${(f * 100).toFixed(0).padStart(3)}%`;
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.round(s - m * 60)).padStart(2, '0')}s`;
}
