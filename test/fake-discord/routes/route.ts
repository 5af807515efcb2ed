/** What a fake REST route is: a handler from the request's params, query, body and files to a status and JSON. */
import type { RecordedFile } from '../body.js';
import type { FakeState } from '../state.js';

export interface HandlerContext {
  params: Record<string, string>;
  query: Record<string, string>;
  body: unknown;
  files: RecordedFile[];
}

export interface HandlerResult {
  status: number;
  body?: unknown;
}

export type Handler = (ctx: HandlerContext) => HandlerResult;

/** Handlers by the spec's operationId. */
export type Routes = Record<string, Handler>;

export function apiError(status: number, code: number, message: string, errors?: unknown): HandlerResult {
  return { status, body: errors === undefined ? { message, code } : { message, code, errors } };
}

/** 404 Unknown Application unless the path's application (or webhook) id is the fake's application. */
export function checkApp(
  state: FakeState,
  ctx: HandlerContext,
  key: 'application_id' | 'webhook_id',
): HandlerResult | null {
  return ctx.params[key] === state.applicationId ? null : apiError(404, 10002, 'Unknown Application');
}
