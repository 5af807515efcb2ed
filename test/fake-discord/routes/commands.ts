/** Routes for application commands, global and per server (stored in the state by scope: 'global' or server id). */
import { isRecord, snowflake } from '../payloads.js';
import type { ApiObject } from '../payloads.js';
import type { FakeState } from '../state.js';
import { apiError, checkApp } from './route.js';
import type { HandlerContext, HandlerResult, Routes } from './route.js';

export function commandRoutes(state: FakeState): Routes {
  return {
    list_application_commands: (ctx) => listCommands(state, ctx, 'global'),
    bulk_set_application_commands: (ctx) => putCommands(state, ctx, 'global'),
    create_application_command: (ctx) => createCommand(state, ctx, 'global'),
    get_application_command: (ctx) => oneCommand(state, ctx, 'global', 'get'),
    delete_application_command: (ctx) => oneCommand(state, ctx, 'global', 'delete'),
    list_guild_application_commands: (ctx) => listCommands(state, ctx, ctx.params.guild_id ?? ''),
    bulk_set_guild_application_commands: (ctx) => putCommands(state, ctx, ctx.params.guild_id ?? ''),
    create_guild_application_command: (ctx) => createCommand(state, ctx, ctx.params.guild_id ?? ''),
    get_guild_application_command: (ctx) => oneCommand(state, ctx, ctx.params.guild_id ?? '', 'get'),
    delete_guild_application_command: (ctx) => oneCommand(state, ctx, ctx.params.guild_id ?? '', 'delete'),
  };
}

function checkCommandGuild(state: FakeState, scope: string): HandlerResult | null {
  if (scope === 'global' || state.guilds.some((g) => g.id === scope)) return null;
  return apiError(403, 50001, 'Missing Access');
}

function toCommand(state: FakeState, input: ApiObject, scope: string, existing: ApiObject[]): ApiObject {
  const type = typeof input.type === 'number' ? input.type : 1;
  const previous = existing.find((c) => c.name === input.name && c.type === type);
  const dmp = input.default_member_permissions;
  return {
    id: previous?.id ?? snowflake(),
    application_id: state.applicationId,
    version: snowflake(),
    type,
    name: input.name,
    name_localizations: input.name_localizations ?? null,
    description: input.description ?? '',
    description_localizations: input.description_localizations ?? null,
    default_member_permissions: dmp === undefined || dmp === null ? null : String(dmp),
    dm_permission: input.dm_permission ?? true,
    contexts: input.contexts ?? null,
    integration_types: input.integration_types ?? [0],
    nsfw: input.nsfw ?? false,
    ...(Array.isArray(input.options) && input.options.length > 0 ? { options: input.options } : {}),
    ...(scope === 'global' ? {} : { guild_id: scope }),
  };
}

function listCommands(state: FakeState, ctx: HandlerContext, scope: string): HandlerResult {
  const bad = checkApp(state, ctx, 'application_id') ?? checkCommandGuild(state, scope);
  if (bad) return bad;
  return { status: 200, body: state.commands.get(scope) ?? [] };
}

function putCommands(state: FakeState, ctx: HandlerContext, scope: string): HandlerResult {
  const bad = checkApp(state, ctx, 'application_id') ?? checkCommandGuild(state, scope);
  if (bad) return bad;
  if (!Array.isArray(ctx.body)) return apiError(400, 50035, 'Invalid Form Body');
  const existing = state.commands.get(scope) ?? [];
  const stored = ctx.body.filter(isRecord).map((c) => toCommand(state, c, scope, existing));
  state.commands.set(scope, stored);
  return { status: 200, body: stored };
}

function createCommand(state: FakeState, ctx: HandlerContext, scope: string): HandlerResult {
  const bad = checkApp(state, ctx, 'application_id') ?? checkCommandGuild(state, scope);
  if (bad) return bad;
  if (!isRecord(ctx.body)) return apiError(400, 50035, 'Invalid Form Body');
  const existing = state.commands.get(scope) ?? [];
  const command = toCommand(state, ctx.body, scope, existing);
  const replaced = existing.some((c) => c.id === command.id);
  state.commands.set(scope, [...existing.filter((c) => c.id !== command.id), command]);
  return { status: replaced ? 200 : 201, body: command };
}

function oneCommand(state: FakeState, ctx: HandlerContext, scope: string, action: 'get' | 'delete'): HandlerResult {
  const bad = checkApp(state, ctx, 'application_id') ?? checkCommandGuild(state, scope);
  if (bad) return bad;
  const existing = state.commands.get(scope) ?? [];
  const command = existing.find((c) => c.id === ctx.params.command_id);
  if (!command) return apiError(404, 10063, 'Unknown application command');
  if (action === 'delete') {
    state.commands.set(
      scope,
      existing.filter((c) => c !== command),
    );
    return { status: 204 };
  }
  return { status: 200, body: command };
}
