/**
 * The command deployer behind `npm run deploy-commands`: .env → config (no model needed) → PUT the definitions.
 */
import dotenv from 'dotenv';
import { REST } from 'discord.js';
import { ConfigError, parseConfig } from '../config.js';
import { createLogger } from '../log.js';
import { explainLoginError } from './app.js';
import { commands } from './commands/index.js';
import { fetchApplicationId, putCommands, registrationTarget } from './deploy.js';

export interface DeployOptions {
  /** Environment to read (default process.env, after loading .env into it). */
  env?: NodeJS.ProcessEnv;
  writeError?: (line: string) => void;
}

/** Registers every command; resolves with the exit code. */
export async function runDeployCommands(options: DeployOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  if (!options.env) dotenv.config({ quiet: true });
  const writeError = options.writeError ?? ((line: string) => process.stderr.write(`${line}\n`));
  let config: ReturnType<typeof parseConfig>;
  try {
    config = parseConfig(env, { requireModelDir: false });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) writeError(problem);
    return 1;
  }
  const log = createLogger(config.logLevel);
  const rest = new REST({ api: config.discordApiUrl }).setToken(config.discordToken);
  const scope = registrationTarget(config.devGuildId);
  try {
    const applicationId = await fetchApplicationId(rest);
    const count = await putCommands(
      rest,
      applicationId,
      config.devGuildId,
      commands.map((c) => c.data),
    );
    log.info(
      { scope, applicationId, count, commands: commands.map((c) => c.data.name) },
      `registered ${count} commands (${scope})`,
    );
    return 0;
  } catch (error) {
    const message = explainLoginError(error, undefined, config.discordApiUrl);
    log.fatal({ scope, err: error }, `could not register the commands: ${message}`);
    return 1;
  }
}
