/**
 * Request body parsing for the fake REST API: JSON, and multipart/form-data as discord.js sends it
 * when files are attached (a `payload_json` part plus `files[n]` parts).
 */

export interface RecordedFile {
  /** Form field name, e.g. `files[0]`. */
  field: string;
  filename: string;
  contentType: string;
  size: number;
  data: Buffer;
}

export interface ParsedBody {
  kind: 'none' | 'json' | 'multipart' | 'other';
  /** The JSON body, or the parsed `payload_json` of a multipart body; undefined when there is none. */
  body: unknown;
  files: RecordedFile[];
  /** Set when the body could not be parsed. */
  error?: string;
}

export async function parseBody(raw: Buffer, contentType: string | undefined): Promise<ParsedBody> {
  if (raw.length === 0) return { kind: 'none', body: undefined, files: [] };
  const type = (contentType ?? '').toLowerCase();
  if (type.startsWith('application/json')) {
    try {
      return { kind: 'json', body: JSON.parse(raw.toString('utf8')) as unknown, files: [] };
    } catch (error) {
      return { kind: 'json', body: undefined, files: [], error: `invalid JSON: ${String(error)}` };
    }
  }
  if (type.startsWith('multipart/form-data')) {
    return parseMultipart(raw, contentType ?? '');
  }
  const error = `unsupported content-type ${contentType ?? '(none)'}`;
  return { kind: 'other', body: raw.toString('utf8'), files: [], error };
}

async function parseMultipart(raw: Buffer, contentType: string): Promise<ParsedBody> {
  let form: FormData;
  try {
    form = await new Request('http://fake.local/', {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: raw,
    }).formData();
  } catch (error) {
    return { kind: 'multipart', body: undefined, files: [], error: `invalid multipart body: ${String(error)}` };
  }
  const files: RecordedFile[] = [];
  let body: unknown;
  let error: string | undefined;
  const fields: Record<string, string> = {};
  for (const [field, value] of form.entries()) {
    if (typeof value === 'string') {
      if (field === 'payload_json') {
        try {
          body = JSON.parse(value) as unknown;
        } catch (e) {
          error = `invalid payload_json: ${String(e)}`;
        }
      } else {
        fields[field] = value;
      }
      continue;
    }
    const data = Buffer.from(await value.arrayBuffer());
    files.push({ field, filename: value.name, contentType: value.type, size: data.length, data });
  }
  if (body === undefined && error === undefined && Object.keys(fields).length > 0) body = fields;
  return error === undefined ? { kind: 'multipart', body, files } : { kind: 'multipart', body, files, error };
}
