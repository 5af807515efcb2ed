/**
 * Validation of REST request bodies against Discord's published OpenAPI 3.1 description
 * (test/fixtures/discord-api-spec/openapi.json, a verbatim copy from discord/discord-api-spec; see the README there).
 *
 * Leniency, on purpose (see the spec's README):
 * - Extra keys are allowed (the spec's request schemas do not forbid them; we add nothing).
 * - Every schema node whose `type` includes "integer" is rewritten to
 *   `{ anyOf: [<original node>, { type: "string", pattern: "^-?[0-9]+$" }] }`, so numeric strings
 *   (e.g. `default_member_permissions: "8"`) pass. Range/enum checks apply to real numbers only.
 * - `oneOf` is checked as `anyOf`: with extra keys allowed and numeric strings accepted, one value
 *   can match several branches (e.g. a snowflake string `nonce` matches both the integer and the string
 *   branch), which the real API accepts. Discord itself marks its unions `x-discord-union: oneOf`.
 * - Unknown formats used by the spec (`snowflake`, `nonce`) are registered; the rest come from ajv-formats.
 *
 * The spec JSON and the transformed copy are loaded once per process; each operation's validator is
 * compiled on first use and cached (also per process).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

const SPEC_BASE_URI = 'https://fake-discord.local/openapi.json';
const HTTP_METHODS = ['get', 'put', 'post', 'patch', 'delete'] as const;

export interface SpecOperation {
  method: string;
  /** Path template as written in the spec, e.g. `/channels/{channel_id}/messages`. */
  template: string;
  operationId: string;
  /** Whether the operation has a request body schema at all. */
  hasBody: boolean;
  /** Whether the spec says the body is required. */
  bodyRequired: boolean;
  /** Names of path parameters in template order. */
  params: string[];
}

export interface SpecMatch {
  operation: SpecOperation;
  params: Record<string, string>;
}

export interface ValidationError {
  instancePath: string;
  message: string;
}

interface TemplateEntry {
  template: string;
  segments: string[];
  operations: Map<string, SpecOperation>;
}

interface LoadedSpec {
  specPath: string;
  raw: SpecDocument;
  templates: TemplateEntry[];
  ajv: Ajv2020;
  validators: Map<string, ValidateFunction | null>;
}

interface SpecDocument {
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, unknown> };
}

interface OperationObject {
  operationId?: string;
  requestBody?: { required?: boolean; content?: Record<string, { schema?: unknown }> };
}

const loadedSpecs = new Map<string, LoadedSpec>();

/** Absolute path of the repository root (two levels above this file). */
export function repoRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
}

export function defaultSpecPath(): string {
  return path.resolve(repoRoot(), 'test/fixtures/discord-api-spec/openapi.json');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Returns a transformed deep copy of a schema node (see the module comment for the rules). */
export function lenientSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(lenientSchema);
  if (!isRecord(node)) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$ref' && typeof value === 'string' && value.startsWith('#/')) {
      out[key] = SPEC_BASE_URI + value;
    } else if (key === 'oneOf') {
      out.anyOf = lenientSchema(value);
    } else {
      out[key] = lenientSchema(value);
    }
  }
  const type = out.type;
  const hasInteger = type === 'integer' || (Array.isArray(type) && type.includes('integer'));
  if (hasInteger) {
    return { anyOf: [out, { type: 'string', pattern: '^-?[0-9]+$' }] };
  }
  return out;
}

function loadSpec(specPath: string): LoadedSpec {
  const cached = loadedSpecs.get(specPath);
  if (cached) return cached;
  const raw = JSON.parse(readFileSync(specPath, 'utf8')) as SpecDocument;
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false, validateFormats: true });
  const addFormats = addFormatsModule as unknown as (a: Ajv2020) => Ajv2020;
  addFormats(ajv);
  ajv.addFormat('snowflake', /^(0|[1-9][0-9]*)$/);
  ajv.addFormat('nonce', true);
  ajv.addSchema(
    { $id: SPEC_BASE_URI, components: { schemas: lenientSchema(raw.components.schemas) } },
    undefined,
    undefined,
    false,
  );
  const templates: TemplateEntry[] = [];
  for (const [template, item] of Object.entries(raw.paths)) {
    const operations = new Map<string, SpecOperation>();
    const params = [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] ?? '');
    for (const method of HTTP_METHODS) {
      const op = item[method] as OperationObject | undefined;
      if (!op) continue;
      const content = op.requestBody?.content ?? {};
      operations.set(method.toUpperCase(), {
        method: method.toUpperCase(),
        template,
        operationId: op.operationId ?? `${method} ${template}`,
        hasBody: Object.keys(content).length > 0,
        bodyRequired: op.requestBody?.required === true,
        params,
      });
    }
    templates.push({ template, segments: template.split('/').slice(1), operations });
  }
  // Most specific first: at the first differing position a literal segment beats a parameter.
  templates.sort((a, b) => {
    const n = Math.min(a.segments.length, b.segments.length);
    for (let i = 0; i < n; i++) {
      const pa = (a.segments[i] ?? '').startsWith('{');
      const pb = (b.segments[i] ?? '').startsWith('{');
      if (pa !== pb) return pa ? 1 : -1;
    }
    return a.segments.length - b.segments.length;
  });
  const loaded: LoadedSpec = { specPath, raw, templates, ajv, validators: new Map() };
  loadedSpecs.set(specPath, loaded);
  return loaded;
}

/**
 * A handle on the spec for one fake. Cheap to create: the heavy state is cached per process.
 */
export class SpecValidator {
  private readonly spec: LoadedSpec;

  constructor(specPath: string = defaultSpecPath()) {
    this.spec = loadSpec(specPath);
  }

  /** Finds the path template matching `pathname` (decoded, without the `/api/v10` prefix). */
  matchPath(
    pathname: string,
  ): { template: string; params: Record<string, string>; methods: Map<string, SpecOperation> } | null {
    const segments = pathname.split('/').slice(1);
    for (const entry of this.spec.templates) {
      if (entry.segments.length !== segments.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < segments.length; i++) {
        const want = entry.segments[i] ?? '';
        const got = segments[i] ?? '';
        if (want.startsWith('{') && want.endsWith('}')) {
          if (got === '') {
            ok = false;
            break;
          }
          params[want.slice(1, -1)] = got;
        } else if (want !== got) {
          ok = false;
          break;
        }
      }
      if (ok) return { template: entry.template, params, methods: entry.operations };
    }
    return null;
  }

  /** Finds the operation for a method and a decoded path. */
  match(method: string, pathname: string): SpecMatch | null {
    const found = this.matchPath(pathname);
    const operation = found?.methods.get(method.toUpperCase());
    if (!found || !operation) return null;
    return { operation, params: found.params };
  }

  /**
   * Validates a request body. `contentType` picks the schema: `multipart` uses the operation's
   * multipart/form-data schema (applied to the parsed `payload_json`), otherwise application/json.
   * Returns [] when valid.
   */
  validateBody(operation: SpecOperation, body: unknown, contentType: 'json' | 'multipart'): ValidationError[] {
    if (!operation.hasBody) {
      return body === undefined ? [] : [{ instancePath: '', message: 'operation takes no request body' }];
    }
    if (body === undefined) {
      return operation.bodyRequired ? [{ instancePath: '', message: 'request body is required' }] : [];
    }
    const validate = this.validatorFor(operation, contentType);
    if (!validate) return [];
    if (validate(body)) return [];
    return (validate.errors ?? []).map(formatError);
  }

  private validatorFor(operation: SpecOperation, contentType: 'json' | 'multipart'): ValidateFunction | null {
    const key = `${operation.operationId}:${contentType}`;
    const cached = this.spec.validators.get(key);
    if (cached !== undefined) return cached;
    const item = this.spec.raw.paths[operation.template] ?? {};
    const op = item[operation.method.toLowerCase()] as OperationObject | undefined;
    const content = op?.requestBody?.content ?? {};
    const schema =
      (contentType === 'multipart' ? content['multipart/form-data']?.schema : undefined) ??
      content['application/json']?.schema ??
      content['multipart/form-data']?.schema;
    const validate = schema === undefined ? null : this.spec.ajv.compile(lenientSchema(schema) as object);
    this.spec.validators.set(key, validate);
    return validate;
  }
}

function formatError(error: ErrorObject): ValidationError {
  const params = JSON.stringify(error.params);
  return { instancePath: error.instancePath, message: `${error.message ?? error.keyword} ${params}` };
}
