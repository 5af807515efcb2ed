/** Routes about the bot itself: the gateway URL, users, the application. */
import type { ApiObject } from '../payloads.js';
import type { FakeState } from '../state.js';
import type { Routes } from './route.js';

export function applicationRoutes(state: FakeState): Routes {
  return {
    get_bot_gateway: () => ({
      status: 200,
      body: {
        url: state.gatewayUrl,
        shards: state.options.shards ?? 1,
        session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 },
      },
    }),
    get_gateway: () => ({ status: 200, body: { url: state.gatewayUrl } }),
    get_my_user: () => ({ status: 200, body: state.botUser }),
    get_user: (ctx) => ({ status: 200, body: state.knownUser(ctx.params.user_id ?? '') }),
    get_my_application: () => ({ status: 200, body: applicationObject(state) }),
    get_my_oauth2_application: () => ({ status: 200, body: applicationObject(state) }),
  };
}

function applicationObject(state: FakeState): ApiObject {
  return {
    id: state.applicationId,
    name: state.botUser.username,
    icon: null,
    description: '',
    type: null,
    bot: state.botUser,
    bot_public: true,
    bot_require_code_grant: false,
    verify_key: '0'.repeat(64),
    flags: 0,
    owner: state.defaultUser,
    team: null,
    summary: '',
    tags: [],
    install_params: null,
    integration_types_config: { '0': {} },
    approximate_guild_count: state.guilds.length,
  };
}
