/** Routes about channels and servers (messages in channels are in messages.ts). */
import { isRecord } from '../payloads.js';
import type { ApiObject } from '../payloads.js';
import type { FakeState } from '../state.js';
import { apiError } from './route.js';
import type { HandlerContext, Routes } from './route.js';

export function channelRoutes(state: FakeState): Routes {
  const body = (ctx: HandlerContext): ApiObject => (isRecord(ctx.body) ? ctx.body : {});
  return {
    get_channel: (ctx) => {
      const found = state.findChannel(ctx.params.channel_id ?? '');
      return found ? { status: 200, body: found.channel } : apiError(404, 10003, 'Unknown Channel');
    },
    get_guild: (ctx) => {
      const guild = state.guilds.find((g) => g.id === ctx.params.guild_id);
      if (!guild) return apiError(404, 10004, 'Unknown Guild');
      const { channels: _c, members: _m, threads: _t, presences: _p, voice_states: _v, ...rest } = guild;
      return { status: 200, body: rest };
    },
    get_guild_member: (ctx) => {
      const guild = state.guilds.find((g) => g.id === ctx.params.guild_id);
      const member = guild?.members.find((m) => m.user.id === ctx.params.user_id);
      return member ? { status: 200, body: member } : apiError(404, 10007, 'Unknown Member');
    },
    create_dm: (ctx) => {
      const recipientId = String(body(ctx).recipient_id ?? '');
      return { status: 200, body: state.dmChannelFor(state.knownUser(recipientId)) };
    },
    trigger_typing_indicator: (ctx) =>
      state.findChannel(ctx.params.channel_id ?? '') ? { status: 204 } : apiError(404, 10003, 'Unknown Channel'),
  };
}
