/** Options of `startFakeDiscord` (see index.ts for the usage doc). */
import type { FakeGuild, FakeUser } from './payloads.js';

export interface FakeDiscordOptions {
  /** What GET /gateway/bot recommends (`shards`). Default 1. Events are routed to shards by server id either way. */
  shards?: number;
  /** Default: a fresh snowflake. */
  applicationId?: string;
  /** Default: a fresh snowflake. */
  botUserId?: string;
  /** Default: "babble". */
  botUsername?: string;
  /** Default: one guild from `makeGuild()` (one text channel "general"). Pass [] for none. */
  guilds?: FakeGuild[];
  /**
   * When set, IDENTIFY/RESUME must carry it (else close 4004) and REST needs `Authorization: Bot <token>`
   * (else 401).
   */
  token?: string;
  /** HELLO heartbeat_interval. Default 1000 ms. */
  heartbeatIntervalMs?: number;
  /** Path of openapi.json. Default: <repo>/test/fixtures/discord-api-spec/openapi.json. */
  specPath?: string;
  /** Answer spec-invalid bodies with 400 / 50035 instead of processing them. Default false (recorded only). */
  rejectInvalidBodies?: boolean;
  /** Drop/strip MESSAGE_* dispatches according to the session's intents, like Discord. Default true. */
  enforceIntents?: boolean;
  /** Echo MESSAGE_CREATE/UPDATE/DELETE for messages the bot makes over REST, like Discord. Default true. */
  echoBotMessages?: boolean;
  /** The human user used by default in sendInteraction/sendMessage. */
  defaultUser?: Partial<FakeUser>;
}
