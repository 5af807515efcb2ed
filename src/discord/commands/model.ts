/**
 * /model info — which model is talking here: version, when and on how much text it was trained, training figures,
 * and (in a server) its versions. /model rollback [version] — serve an earlier version of this server's model
 * (Manage Server, checked in the handler: /model info is for everyone, so the command has no default permissions).
 */
import { ApplicationIntegrationType, InteractionContextType, SlashCommandBuilder } from 'discord.js';
import type { Command } from '../command.js';
import { replyEphemeral, replyWhenReady } from '../respond.js';
import { executeRollback, modelInfoEmbed, modelInfoWithHistory, rollbackSubcommand } from './model-history.js';

export { modelInfoEmbed };

const data = new SlashCommandBuilder()
  .setName('model')
  .setDescription('About the model that does the talking')
  .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM)
  .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
  .addSubcommand((s) =>
    s.setName('info').setDescription('Version, when and on how much text it was trained, its versions here'),
  )
  .addSubcommand(rollbackSubcommand)
  .toJSON();

export default {
  data,
  async execute(interaction, { models, registry, retrain, deferAfterMs }) {
    const sub = interaction.options.getSubcommand(true);
    if (sub === 'rollback') {
      if (!registry) {
        await replyEphemeral(interaction, 'This bot serves one fixed model: there are no versions to roll back to.');
        return;
      }
      await executeRollback(interaction, { registry, models, ...(retrain ? { manager: retrain.manager } : {}) });
      return;
    }
    if (sub !== 'info') {
      await replyEphemeral(interaction, `I don't know /model ${sub}. Try /model info.`);
      return;
    }
    const guildId = interaction.guildId;
    const work = (async () => {
      const info = (await models.serviceFor(guildId)).info();
      const embed =
        registry && guildId ? modelInfoWithHistory(info, await registry.history(guildId)) : modelInfoEmbed(info);
      return { embeds: [embed] };
    })();
    await replyWhenReady(interaction, work, deferAfterMs, { ephemeral: true });
  },
} satisfies Command;
