/**
 * Per-server settings: their bounds, defaults and checks. Free of Discord and of storage.
 */
import { InvalidRequestError } from './errors.js';
import type { Logger } from '../log.js';

export interface GuildSettings {
  /** Chance in percent (0–100, whole) that the bot babbles a reply to a message in a collection channel. */
  replyChance: number;
  /** Seconds after an unprompted reply in a channel before the next one there (0–86,400, whole). */
  cooldownSeconds: number;
  /** Temperature of the server's replies and of /babble when none is given (0–2). */
  temperature: number;
}

export const SETTING_LIMITS = {
  replyChance: { min: 0, max: 100, integer: true },
  cooldownSeconds: { min: 0, max: 86_400, integer: true },
  temperature: { min: 0, max: 2, integer: false },
} as const satisfies Record<keyof GuildSettings, { min: number; max: number; integer: boolean }>;

/** Unprompted replies are off until a server turns them on. */
export const DEFAULT_SETTINGS: Readonly<GuildSettings> = Object.freeze({
  replyChance: 0,
  cooldownSeconds: 30,
  temperature: 0.5,
});

const NAMES: Record<keyof GuildSettings, string> = {
  replyChance: 'reply-chance',
  cooldownSeconds: 'cooldown',
  temperature: 'temperature',
};

/** Throws InvalidRequestError (a sentence for the user) if a value is out of bounds. */
export function checkSettings(patch: Partial<GuildSettings>): void {
  for (const key of Object.keys(patch) as Array<keyof GuildSettings>) {
    const limits = SETTING_LIMITS[key];
    if (!limits) throw new InvalidRequestError(`${String(key)} is not a setting.`);
    const v = patch[key];
    if (v === undefined) continue;
    if (
      typeof v !== 'number' ||
      !Number.isFinite(v) ||
      v < limits.min ||
      v > limits.max ||
      (limits.integer && !Number.isInteger(v))
    ) {
      throw new InvalidRequestError(
        `${NAMES[key]} must be ${limits.integer ? 'a whole number' : 'a number'} from ${limits.min} to ${limits.max} (you gave ${String(v)}).`,
      );
    }
  }
}

/** Stored settings completed with the defaults; anything unreadable or out of bounds falls back to its default. */
export function withDefaults(stored: unknown): GuildSettings {
  const out: GuildSettings = { ...DEFAULT_SETTINGS };
  if (!stored || typeof stored !== 'object') return out;
  for (const key of Object.keys(SETTING_LIMITS) as Array<keyof GuildSettings>) {
    const v = (stored as Record<string, unknown>)[key];
    if (typeof v !== 'number') continue;
    try {
      checkSettings({ [key]: v });
      out[key] = v;
    } catch {
      // keep the default
    }
  }
  return out;
}

/**
 * The temperature a server set for its babbles and replies, or undefined (the generation service's default)
 * outside servers, without settings, or when they can't be read (logged).
 */
export async function serverTemperature(
  settings: { getSettings(guildId: string): Promise<GuildSettings> } | undefined,
  guildId: string | null,
  log: Pick<Logger, 'warn'>,
): Promise<number | undefined> {
  if (!settings || !guildId) return undefined;
  try {
    return (await settings.getSettings(guildId)).temperature;
  } catch (error) {
    log.warn({ err: error, guild: guildId }, 'could not read the server settings; using the default temperature');
    return undefined;
  }
}
