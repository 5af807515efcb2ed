/**
 * What the fake Discord records for tests to look at: REST requests (with the answer given), requests no fake
 * route handles, spec violations, gateway payloads the client sent, and exceptions inside route handlers.
 */
import type { RecordedFile } from './body.js';
import type { ReceivedGatewayPayload } from './gateway.js';
import type { ValidationError } from './spec-validator.js';

export interface RecordedRequest {
  /** 1-based order of arrival. */
  seq: number;
  method: string;
  /** Decoded path after /api/v10, e.g. `/webhooks/1/tok/messages/@original`. */
  path: string;
  /** Path as received on the wire, e.g. `/api/v10/webhooks/1/tok/messages/%40original`. */
  rawPath: string;
  /** Spec path template, e.g. `/channels/{channel_id}/messages`; null when the spec has no such path. */
  route: string | null;
  operationId: string | null;
  /** Path parameters by spec name, e.g. `{ channel_id: '123' }`. */
  params: Record<string, string>;
  query: Record<string, string>;
  /** Request headers, lower-case names. */
  headers: Record<string, string>;
  contentType: 'none' | 'json' | 'multipart' | 'other';
  /** JSON body, or the parsed `payload_json` of a multipart body; undefined when none. */
  body: unknown;
  files: RecordedFile[];
  /** Status the fake answered with. */
  status: number;
  /** JSON the fake answered with (undefined for 204). */
  response: unknown;
  /** Set when failNext injected this response. */
  injected: 'rate-limit' | 'error' | null;
  /** False when no fake route implements the request (also listed in `unhandled`). */
  handled: boolean;
  at: number;
}

export interface SpecViolation {
  method: string;
  path: string;
  operationId: string | null;
  errors: ValidationError[];
  requestSeq: number;
}

export function describeRequest(r: RecordedRequest): string {
  return `#${r.seq} ${r.method} ${r.path} → ${r.status}${r.handled ? '' : ' (unhandled)'}`;
}

/** The records; FakeDiscord exposes these same arrays. */
export class Recording {
  readonly requests: RecordedRequest[] = [];
  readonly unhandled: RecordedRequest[] = [];
  readonly violations: SpecViolation[] = [];
  /** Payloads the client sent on the gateway (heartbeats, identify, resume, presence…). */
  readonly gatewayReceived: ReceivedGatewayPayload[] = [];
  /** Exceptions thrown inside fake route handlers (answered with 500). Should stay empty. */
  readonly internalErrors: string[] = [];

  /** Throws a readable error listing every spec violation recorded so far. */
  assertNoViolations(): void {
    if (this.violations.length === 0) return;
    const lines = this.violations.map(
      (v) =>
        `${v.method} ${v.path} (${v.operationId ?? 'not in spec'}):\n` +
        v.errors.map((e) => `    ${e.instancePath || '(body)'} ${e.message}`).join('\n'),
    );
    throw new Error(
      `fake-discord: ${this.violations.length} request(s) violate the Discord API spec:\n  ${lines.join('\n  ')}`,
    );
  }

  /** Forgets recorded requests, violations and gateway payloads (not internal errors). */
  clear(): void {
    this.requests.length = 0;
    this.unhandled.length = 0;
    this.violations.length = 0;
    this.gatewayReceived.length = 0;
  }
}
