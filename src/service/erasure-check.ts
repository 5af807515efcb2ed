/**
 * Whether a finished retrain may be swapped in, seen from erasures: the server's data generation
 * (collection/data-generation.ts) recorded before the training read its text is compared with the current one. A
 * change means a /forget, an opt-out, a message delete or edit, or a purge came after the text was read, so the
 * new model may have learned erased text: the first time, the run is thrown away and trains again on the text as
 * it is now; a second time (erasures keep coming), it is refused. A generation that cannot be read refuses too.
 */
import type { Logger } from '../log.js';

export type ErasureVerdict = 'fresh' | 'retrain' | 'refuse';

/** What the admin is told when a run is refused because data was erased during it (twice). */
export const ERASED_DURING_TRAINING =
  "Someone's data in this server was erased while the baby was learning, so the new model was thrown away " +
  '(it may have learned the erased text). Please start the training again.';

/** What the admin is told when a run trained again without data erased during its first training. */
export const RETRAINED_AFTER_ERASURE =
  "Someone's data in this server was erased during the first training, so the baby learned again without it.";

export async function erasureCheck(
  scope: string,
  recorded: string | undefined,
  alreadyRetrained: boolean,
  read: ((scope: string) => Promise<string>) | undefined,
  log?: Pick<Logger, 'info' | 'warn'>,
): Promise<ErasureVerdict> {
  if (read === undefined || recorded === undefined) return 'fresh';
  let now: string;
  try {
    now = await read(scope);
  } catch (err) {
    log?.warn({ err, scope }, 'retrain: could not read the data generation; the new model is refused');
    return 'refuse';
  }
  if (now === recorded) return 'fresh';
  const verdict = alreadyRetrained ? 'refuse' : 'retrain';
  log?.info({ scope, verdict }, 'retrain: data was erased during the training');
  return verdict;
}
