/** Every fake REST route, by the spec's operationId; one module per resource. */
import type { FakeState } from '../state.js';
import { applicationRoutes } from './application.js';
import { channelRoutes } from './channels.js';
import { commandRoutes } from './commands.js';
import { interactionRoutes } from './interactions.js';
import { messageRoutes } from './messages.js';
import type { Routes } from './route.js';

export function buildRoutes(state: FakeState): Routes {
  return {
    ...applicationRoutes(state),
    ...channelRoutes(state),
    ...commandRoutes(state),
    ...interactionRoutes(state),
    ...messageRoutes(state),
  };
}
