/**
 * fake-discord: a local Discord (REST /api/v10 + gateway v10, JSON) that the real discord.js 14 client talks to.
 *
 * Usage
 * -----
 *   import { Client, GatewayIntentBits } from 'discord.js';
 *   import { startFakeDiscord, makeGuild, option, subcommand } from '../test/fake-discord/index.js';
 *
 *   const fake = await startFakeDiscord({ token: 'test-token', guilds: [makeGuild({ name: 'Nursery' })] });
 *   const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: fake.apiUrl } });
 *   const ready = new Promise((r) => client.once('clientReady', r));
 *   await client.login('test-token');            // GET /gateway/bot → ws://127.0.0.1:PORT → READY + GUILD_CREATE
 *   await ready;
 *
 *   const { token } = fake.sendInteraction({ data: { name: 'babble', options: [option('prompt', 'goo')] } });
 *   const cb = await fake.waitForRequest(
 *     (r) => r.operationId === 'create_interaction_response' && r.params.interaction_token === token,
 *   );
 *   // cb.body = { type: 4, data: { content, allowed_mentions, ... } }
 *   fake.assertNoViolations();                    // every REST body was valid per Discord's OpenAPI spec
 *   await client.destroy(); await fake.close();
 *
 * Options (all optional): applicationId, botUserId, botUsername ('babble'), guilds (default one makeGuild()),
 * token (checked on IDENTIFY/RESUME → close 4004, and on REST `Authorization: Bot <token>` → 401; interaction
 * callbacks and /webhooks/{app}/{token} routes need no auth), heartbeatIntervalMs (1000), specPath,
 * rejectInvalidBodies (false: invalid bodies are recorded as violations but still processed),
 * enforceIntents (true: MESSAGE_* need GuildMessages/DirectMessages, content is blanked without MessageContent
 * unless the bot is mentioned / the author is the bot / it is a DM), echoBotMessages (true: the bot's own REST
 * messages come back as MESSAGE_CREATE/UPDATE/DELETE, like Discord), defaultUser.
 *
 * Events: sendInteraction(partial) (type 2 chat-input by default, `type: 3` or sendButton(customId) for buttons,
 * `dm: true` for a DM), sendMessage(partial), dispatch(eventName, data), addGuild(guild), removeGuild(id).
 * They dispatch to every gateway session; a session whose socket is down buffers them for RESUME.
 * sendInteraction throws when no client has identified yet.
 *
 * Gateway faults: closeGateway(code), dropConnection() (no close frame → client resumes), stallGateway()
 * (no heartbeat ACKs → client declares a zombie and resumes), unstallGateway(), requestReconnect() (op 7),
 * invalidateSession(resumable) (op 9). Note: @discordjs/ws waits ~5–6.5 s before a second IDENTIFY within 5 s
 * of the first, so tests that force a re-identify are slow; resumes are not throttled.
 * With a 1 s heartbeat a main thread blocked for > ~1 s makes discord.js resume (zombie detection).
 *
 * REST faults: failNext(matcher, { status: 429, retryAfter: 1 } | { status: 500 }, { times }) where matcher is
 * an operationId, a spec route (`/channels/{channel_id}/messages`), 'METHOD route', a RegExp on 'METHOD /path'
 * or a predicate. discord.js retries 429s after Retry-After and 5xx up to 3 times.
 *
 * Permissions (permissions.ts): denyBotPermissions(fake, channelId, bits) takes permissions from the bot in a
 * channel (an override, CHANNEL_UPDATE, then 50001/50013 where Discord would refuse); permissionFault(code) makes
 * one route answer 50013/50001 through failNext.
 *
 * Observability: requests (RecordedRequest: method, path (decoded, %40original → @original), route (spec
 * template), operationId, params, query, headers, body (JSON or multipart payload_json), files (field, filename,
 * contentType, size, data), status, response), unhandled, violations, waitForRequest(pred, ms),
 * waitForGatewayPayload(pred, ms), waitFor(cond, ms), identifies, resumes, heartbeats, gatewayConnections,
 * gatewayReceived, sessions(), getCommands(guildId?), getMessages(channelId), getInteraction(idOrToken),
 * internalErrors, clearRecords(), close().
 *
 * Notes: destroy discord.js clients before fake.close() (else they keep reconnecting to a dead port). A client
 * closing with 1000/1001 (client.destroy()) ends its session. DM interactions/messages reach discord.js handlers
 * only with `partials: [Partials.Channel]` (discord.js behaviour, same as against Discord). Without `token`
 * any token is accepted.
 *
 * Spec validation: see spec-validator.ts (numeric strings accepted for integers, oneOf checked as anyOf,
 * extra keys allowed). Uploaded attachments are served back at their `url` (http://127.0.0.1:PORT/attachments/…).
 */
export { FakeDiscord, startFakeDiscord } from './server.js';
export type { InteractionPartial, SentInteraction } from './drivers.js';
export type { Fault, FaultOptions, RouteMatcher } from './faults.js';
export type { FakeDiscordOptions } from './options.js';
export type { RecordedRequest, SpecViolation } from './recording.js';
export type { InteractionState } from './state.js';
export type { RecordedFile } from './body.js';
export type { GatewaySessionInfo, ReceivedGatewayPayload } from './gateway.js';
export {
  ChannelType,
  DEFAULT_MEMBER_PERMISSIONS,
  Permission,
  makeBotUser,
  makeDmChannel,
  makeGuild,
  makeMember,
  makeMessage,
  makeRole,
  makeTextChannel,
  makeUser,
  option,
  snowflake,
  subcommand,
  subcommandGroup,
} from './payloads.js';
export type {
  ApiObject,
  FakeChannel,
  FakeGuild,
  FakeMember,
  FakeRole,
  FakeUser,
  MakeGuildOptions,
} from './payloads.js';
export { denyBotPermissions, MISSING_ACCESS, MISSING_PERMISSIONS, permissionFault } from './permissions.js';
export { SpecValidator } from './spec-validator.js';
export type { ValidationError } from './spec-validator.js';
