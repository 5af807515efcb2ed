/**
 * Registering the slash commands with Discord: a bulk overwrite (PUT), globally or to one development guild, and
 * the start-up check that does it only when the registered definitions differ from ours.
 */
import { type REST, Routes, type RESTPostAPIChatInputApplicationCommandsJSONBody } from 'discord.js';
import type { Logger } from '../log.js';

export type CommandDefinition = RESTPostAPIChatInputApplicationCommandsJSONBody;

/** The commands route: global, or one guild's. */
export function commandsRoute(applicationId: string, guildId: string | undefined): `/${string}` {
  return guildId ? Routes.applicationGuildCommands(applicationId, guildId) : Routes.applicationCommands(applicationId);
}

/** Where commands are registered, for logs and messages: "global" or "guild <id>". */
export function registrationTarget(guildId: string | undefined): string {
  return guildId ? `guild ${guildId}` : 'global';
}

const COMMAND_KEYS = [
  'type',
  'name',
  'name_localizations',
  'description',
  'description_localizations',
  'options',
  'default_member_permissions',
  'nsfw',
  'contexts',
  'integration_types',
] as const;
const OPTION_KEYS = [
  'type',
  'name',
  'name_localizations',
  'description',
  'description_localizations',
  'required',
  'choices',
  'options',
  'channel_types',
  'min_value',
  'max_value',
  'min_length',
  'max_length',
  'autocomplete',
] as const;
const CHOICE_KEYS = ['name', 'name_localizations', 'value'] as const;
/** Arrays whose order Discord doesn't keep or doesn't mean anything. */
const SET_KEYS = new Set(['contexts', 'integration_types', 'channel_types']);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isEmpty(v: unknown): boolean {
  return (
    v === undefined ||
    v === null ||
    v === false ||
    (Array.isArray(v) && v.length === 0) ||
    (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0)
  );
}

function pick(
  obj: unknown,
  keys: readonly string[],
  nested: Record<string, readonly string[]>,
): { [key: string]: Json } {
  const src = (obj ?? {}) as Record<string, unknown>;
  const out: { [key: string]: Json } = {};
  for (const key of [...keys].sort()) {
    let v = src[key];
    if (isEmpty(v)) continue;
    const sub = nested[key];
    if (sub && Array.isArray(v)) {
      v = v.map((item) => pick(item, sub, nested));
    } else if (SET_KEYS.has(key) && Array.isArray(v)) {
      v = [...v].sort();
    } else if (key.endsWith('_localizations') && typeof v === 'object') {
      v = Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)));
    }
    out[key] = v as Json;
  }
  return out;
}

/**
 * A command definition in a comparable form: only the fields that define it (no id, version, application id),
 * defaults dropped (required: false, nsfw: false, null, empty lists), keys sorted, option order kept.
 */
export function normalizeCommand(command: unknown): { [key: string]: Json } {
  const c = pick(command, COMMAND_KEYS, { options: OPTION_KEYS, choices: CHOICE_KEYS });
  if (c.type === undefined) c.type = 1; // CHAT_INPUT is the default type
  return c;
}

/** What differs between the registered commands and ours, by name ("added x", "changed y", "removed z"). */
export function diffCommands(local: readonly unknown[], remote: readonly unknown[]): string[] {
  const index = (list: readonly unknown[]) =>
    new Map(
      list.map((c) => {
        const n = normalizeCommand(c);
        return [`${String(n.name)}/${String(n.type)}`, JSON.stringify(n)] as const;
      }),
    );
  const mine = index(local);
  const theirs = index(remote);
  const changes: string[] = [];
  for (const [key, def] of mine) {
    const name = key.split('/')[0]!;
    if (!theirs.has(key)) changes.push(`added ${name}`);
    else if (theirs.get(key) !== def) changes.push(`changed ${name}`);
  }
  for (const key of theirs.keys()) if (!mine.has(key)) changes.push(`removed ${key.split('/')[0]!}`);
  return changes;
}

/** Bulk-overwrites the commands (PUT); returns how many Discord now has. */
export async function putCommands(
  rest: REST,
  applicationId: string,
  guildId: string | undefined,
  definitions: readonly CommandDefinition[],
): Promise<number> {
  const result = await rest.put(commandsRoute(applicationId, guildId), { body: definitions });
  return Array.isArray(result) ? result.length : definitions.length;
}

export interface SyncResult {
  action: 'unchanged' | 'registered';
  scope: string;
  changes: string[];
}

/** Registers the commands only if the registered ones (GET) differ from ours. */
export async function syncCommands(
  rest: REST,
  applicationId: string,
  guildId: string | undefined,
  definitions: readonly CommandDefinition[],
  log: Logger,
): Promise<SyncResult> {
  const scope = registrationTarget(guildId);
  const registered = await rest.get(commandsRoute(applicationId, guildId));
  const changes = diffCommands(definitions, Array.isArray(registered) ? registered : []);
  if (changes.length === 0) {
    log.info({ scope, commands: definitions.map((d) => d.name) }, 'commands unchanged, not registering');
    return { action: 'unchanged', scope, changes };
  }
  const count = await putCommands(rest, applicationId, guildId, definitions);
  log.info({ scope, changes, count }, 'commands registered (definitions changed)');
  return { action: 'registered', scope, changes };
}

/** The application id of the token's bot (GET /applications/@me). */
export async function fetchApplicationId(rest: REST): Promise<string> {
  const app = (await rest.get(Routes.currentApplication())) as { id?: unknown };
  if (typeof app.id !== 'string') throw new Error('GET /applications/@me returned no id');
  return app.id;
}
