import { describe, expect, it } from 'vitest';
import { commands } from '../src/discord/commands/index.js';
import { commandsRoute, diffCommands, normalizeCommand } from '../src/discord/deploy.js';

const local = commands.map((c) => c.data);

/** What Discord sends back for a registered command: ids, versions, explicit defaults and nulls. */
function asRegistered(def: unknown, i: number): unknown {
  const d = def as Record<string, unknown>;
  return {
    id: `90000000000000000${i}`,
    application_id: '1100000000000000001',
    version: `80000000000000000${i}`,
    default_member_permissions: null,
    dm_permission: true,
    nsfw: false,
    name_localizations: null,
    description_localizations: null,
    ...d,
    integration_types: [...((d.integration_types as number[] | undefined) ?? [0])].reverse(),
    contexts: [...((d.contexts as number[] | undefined) ?? [])].reverse(),
    options: ((d.options as Record<string, unknown>[] | undefined) ?? []).map((o) => ({ required: false, ...o })),
  };
}

describe('commandsRoute', () => {
  it('uses the global route without a guild and the guild route with one', () => {
    expect(commandsRoute('111', undefined)).toBe('/applications/111/commands');
    expect(commandsRoute('111', '222')).toBe('/applications/111/guilds/222/commands');
  });
});

describe('diffCommands', () => {
  it('finds nothing to do when Discord has the same definitions with its own extra fields and defaults', () => {
    const remote = local.map(asRegistered);
    expect(diffCommands(local, remote)).toEqual([]);
  });

  it('does not care in which order the commands come back', () => {
    expect(diffCommands(local, local.map(asRegistered).reverse())).toEqual([]);
  });

  it('names commands that were added, changed or removed', () => {
    const remote = local.map(asRegistered) as Record<string, unknown>[];
    const [first, second] = remote;
    const changed = [
      { ...first!, description: 'an older description' },
      { ...second!, name: 'gone' },
    ];
    const changes = diffCommands(local, changed);
    expect(changes).toContain(`changed ${local[0]!.name}`);
    expect(changes).toContain(`added ${local[1]!.name}`);
    expect(changes).toContain('removed gone');
    expect(changes).toContain(`added ${local[2]!.name}`);
  });

  it('sees a changed option bound', () => {
    const remote = local.map(asRegistered) as { options: Record<string, unknown>[] }[];
    const babble = remote.find((c) => (c as unknown as { name: string }).name === 'babble')!;
    babble.options = babble.options.map((o) => (o.name === 'length' ? { ...o, max_value: 999 } : o));
    expect(diffCommands(local, remote)).toEqual(['changed babble']);
  });

  it('sees a change in option order (Discord shows options in that order)', () => {
    const remote = local.map(asRegistered) as { name: string; options: unknown[] }[];
    const babble = remote.find((c) => c.name === 'babble')!;
    babble.options = [babble.options[0], ...babble.options.slice(1).reverse()];
    expect(diffCommands(local, remote)).toEqual(['changed babble']);
  });
});

describe('normalizeCommand', () => {
  it('keeps only defining fields and gives a missing type the chat-input default', () => {
    const n = normalizeCommand({ id: '1', name: 'x', description: 'y', version: '2', nsfw: false, options: [] });
    expect(n).toEqual({ name: 'x', description: 'y', type: 1 });
  });
});
