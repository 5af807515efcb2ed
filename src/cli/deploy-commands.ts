/**
 * `npm run deploy-commands`: registers the slash commands (bulk overwrite), globally or to DEV_GUILD_ID when set.
 */
import { runDeployCommands } from '../discord/deploy-cli.js';

process.exit(await runDeployCommands());
