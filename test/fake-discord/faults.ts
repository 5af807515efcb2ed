/**
 * REST fault injection for the fake Discord: `failNext(matcher, fault, { times })` queues faults, and the REST
 * side asks `take(record)` for each request before handling it.
 */
import type { RecordedRequest } from './recording.js';

export type RouteMatcher = string | RegExp | ((request: RecordedRequest) => boolean);

/** An injected REST failure. `retryAfter` is in seconds (sent as Retry-After and in the JSON body). */
export type Fault = { status: 429; retryAfter: number; global?: boolean } | { status: number; body?: unknown };

export interface FaultOptions {
  /** How many matching requests get the fault. Default 1. */
  times?: number;
}

interface FaultEntry {
  matcher: RouteMatcher;
  fault: Fault;
  remaining: number;
}

/** The queued faults, first match wins. */
export class Faults {
  private readonly faults: FaultEntry[] = [];

  add(matcher: RouteMatcher, fault: Fault, options: FaultOptions = {}): void {
    this.faults.push({ matcher, fault, remaining: options.times ?? 1 });
  }

  take(record: RecordedRequest): Fault | null {
    for (const entry of this.faults) {
      if (entry.remaining <= 0 || !matches(entry.matcher, record)) continue;
      entry.remaining -= 1;
      return entry.fault;
    }
    return null;
  }
}

/** The response for an injected fault (and marks the record as injected). */
export function faultResponse(
  record: RecordedRequest,
  fault: Fault,
): { status: number; body?: unknown; headers?: Record<string, string> } {
  if (fault.status === 429) {
    const retryAfter = 'retryAfter' in fault && typeof fault.retryAfter === 'number' ? fault.retryAfter : 1;
    const global = 'global' in fault && fault.global === true;
    record.injected = 'rate-limit';
    return {
      status: 429,
      body: { message: 'You are being rate limited.', retry_after: retryAfter, global },
      headers: {
        'retry-after': String(retryAfter),
        'x-ratelimit-limit': '5',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset-after': String(retryAfter),
        'x-ratelimit-bucket': 'fake-bucket',
        'x-ratelimit-scope': global ? 'global' : 'user',
        ...(global ? { 'x-ratelimit-global': 'true' } : {}),
      },
    };
  }
  record.injected = 'error';
  const injected = { message: `${fault.status}: Injected failure`, code: 0 };
  const body = 'body' in fault && fault.body !== undefined ? fault.body : injected;
  return { status: fault.status, body };
}

function matches(matcher: RouteMatcher, record: RecordedRequest): boolean {
  if (typeof matcher === 'function') return matcher(record);
  if (matcher instanceof RegExp) return matcher.test(`${record.method} ${record.path}`);
  return (
    matcher === record.operationId ||
    matcher === record.route ||
    matcher === `${record.method} ${record.route ?? ''}` ||
    matcher === `${record.method} ${record.path}` ||
    matcher === record.path
  );
}
