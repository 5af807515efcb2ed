/**
 * The fake's REST side over HTTP: serves uploaded attachments, and for /api/v10 requests parses the body, matches
 * the spec route, records the request and any spec violation, then answers with auth failures, injected faults or
 * the route handler's result.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseBody } from './body.js';
import { faultResponse } from './faults.js';
import type { Faults } from './faults.js';
import type { RecordedRequest, Recording } from './recording.js';
import { apiError } from './routes/route.js';
import type { HandlerResult, Routes } from './routes/route.js';
import type { SpecValidator, ValidationError } from './spec-validator.js';
import type { FakeState } from './state.js';

export interface RestDeps {
  state: FakeState;
  spec: SpecValidator;
  recording: Recording;
  faults: Faults;
  handlers: Routes;
  /** Called after each answered request (wakes waiters). */
  notify(): void;
}

export class RestApi {
  private requestCounter = 0;

  constructor(private readonly deps: RestDeps) {}

  async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { state, spec, recording } = this.deps;
    this.requestCounter += 1;
    const seq = this.requestCounter;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', state.baseUrl);
    const method = (req.method ?? 'GET').toUpperCase();

    if (method === 'GET' && url.pathname.startsWith('/attachments/')) {
      const stored = state.attachmentsData.get(url.pathname);
      res.writeHead(stored ? 200 : 404, { 'content-type': stored?.contentType ?? 'text/plain' });
      res.end(stored?.data ?? 'not found');
      return;
    }

    const prefix = '/api/v10';
    const underApi = url.pathname === prefix || url.pathname.startsWith(`${prefix}/`);
    const rawRest = underApi ? url.pathname.slice(prefix.length) : url.pathname;
    const path = rawRest
      .split('/')
      .map((segment) => {
        try {
          return decodeURIComponent(segment);
        } catch {
          return segment;
        }
      })
      .join('/');
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const query: Record<string, string> = {};
    for (const [key, value] of url.searchParams) query[key] = value;
    const parsed = await parseBody(raw, req.headers['content-type']);
    const found = underApi ? spec.matchPath(path) : null;
    const operation = found?.methods.get(method) ?? null;
    const record: RecordedRequest = {
      seq,
      method,
      path,
      rawPath: url.pathname,
      route: found?.template ?? null,
      operationId: operation?.operationId ?? null,
      params: found?.params ?? {},
      query,
      headers,
      contentType: parsed.kind,
      body: parsed.body,
      files: parsed.files,
      status: 0,
      response: undefined,
      injected: null,
      handled: true,
      at: Date.now(),
    };

    const errors: ValidationError[] = [];
    if (!underApi) errors.push({ instancePath: '', message: `path is not under ${prefix}` });
    else if (!found) errors.push({ instancePath: '', message: 'path not in the spec' });
    else if (!operation) {
      errors.push({ instancePath: '', message: `method ${method} not in the spec for ${found.template}` });
    }
    if (parsed.error) errors.push({ instancePath: '', message: parsed.error });
    else if (operation) {
      errors.push(...spec.validateBody(operation, parsed.body, parsed.kind === 'multipart' ? 'multipart' : 'json'));
    }
    if (errors.length > 0) {
      recording.violations.push({
        method,
        path,
        operationId: operation?.operationId ?? null,
        errors,
        requestSeq: record.seq,
      });
    }

    const result = this.respond(record, errors, parsed.error !== undefined);
    record.status = result.status;
    record.response = result.body;
    recording.requests.push(record);
    if (!record.handled) recording.unhandled.push(record);

    const outHeaders: Record<string, string> = { ...(result.headers ?? {}) };
    if (result.body !== undefined) outHeaders['content-type'] = 'application/json';
    res.writeHead(result.status, outHeaders);
    res.end(result.body === undefined ? undefined : JSON.stringify(result.body));
    this.deps.notify();
  }

  private respond(
    record: RecordedRequest,
    errors: ValidationError[],
    unparsable: boolean,
  ): HandlerResult & { headers?: Record<string, string> } {
    const { state } = this.deps;
    const route = record.route ?? '';
    const authExempt =
      route.startsWith('/interactions/') ||
      route.startsWith('/webhooks/{webhook_id}/{webhook_token}') ||
      route === '/gateway';
    if (state.token !== undefined && !authExempt && record.headers.authorization !== `Bot ${state.token}`) {
      return apiError(401, 0, '401: Unauthorized');
    }
    const fault = this.deps.faults.take(record);
    if (fault) return faultResponse(record, fault);
    if (unparsable) return apiError(400, 50109, 'The request body contains invalid JSON.');
    if (state.options.rejectInvalidBodies === true && errors.length > 0 && record.operationId !== null) {
      return apiError(400, 50035, 'Invalid Form Body', errors);
    }
    const handler = record.operationId ? this.deps.handlers[record.operationId] : undefined;
    if (!handler) {
      record.handled = false;
      return apiError(404, 0, '404: Not Found');
    }
    return handler({ params: record.params, query: record.query, body: record.body, files: record.files });
  }
}
