import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, serverTemperature, type GuildSettings } from '../src/service/settings.js';

function recordingLog() {
  const warnings: unknown[][] = [];
  return { warnings, log: { warn: (...args: unknown[]) => void warnings.push(args) } };
}

describe('serverTemperature', () => {
  const G = '100000000000000001';

  it('gives the temperature the server set, and nothing outside servers or without settings', async () => {
    const settings = { getSettings: async (): Promise<GuildSettings> => ({ ...DEFAULT_SETTINGS, temperature: 1.25 }) };
    const { log } = recordingLog();
    expect(await serverTemperature(settings, G, log)).toBe(1.25);
    expect(await serverTemperature(settings, null, log)).toBeUndefined();
    expect(await serverTemperature(undefined, G, log)).toBeUndefined();
  });

  it('falls back to the default temperature, and logs it, when the settings cannot be read', async () => {
    const failing = { getSettings: async (): Promise<GuildSettings> => Promise.reject(new Error('store down')) };
    const { log, warnings } = recordingLog();
    expect(await serverTemperature(failing, G, log)).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]![1]).toMatch(/default temperature/);
  });
});
