/**
 * `npm run invite [client id]`: prints the URL that adds the bot to a server with the permissions it needs.
 */
import { runInvite } from '../discord/invite-cli.js';

process.exitCode = runInvite();
