/**
 * What people are told when something failed: a fixed text (what happened, what to do next) and an error id.
 * The details — the error's message and stack, file paths, the trainer's stderr — go to the log under that id,
 * never to Discord: a server admin quotes the id, the operator finds the line.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { TrainingFailure } from '../training/trainer.js';

/** A short id that ties a message someone saw to its log line. */
export function newErrorId(): string {
  return randomBytes(4).toString('hex');
}

/** "<text> (error id 1a2b3c4d)" */
export function withErrorId(text: string, errorId: string): string {
  return `${text} (error id ${errorId})`;
}

/** Fixed texts for a retraining that failed, by where it failed. */
export const RETRAIN_FAILURE = {
  lock: "Couldn't check whether this server is already training elsewhere. Please try again in a few minutes.",
  readText: "Couldn't read this server's messages from storage. Please try again in a few minutes.",
  wordFilter: "Couldn't read this server's word filter from storage. Please try again in a few minutes.",
  load:
    'The new model could not be checked, so it was thrown away. Please try again; if it keeps happening, ' +
    "tell the bot's owner.",
  swap: "The new model could not be swapped in. Please try again; if it keeps happening, tell the bot's owner.",
  moved:
    'The new model was not swapped in: the served model was changed (rolled back) while it trained, and that ' +
    'change stands. Retrain again to build on it.',
  unexpected: "Something went wrong while training. Please try again; if it keeps happening, tell the bot's owner.",
  queue: "Couldn't hand the training to the trainers (the queue can't be reached). Please try again in a few minutes.",
  trainerLost: 'The trainer host running this training stopped, so nothing was swapped. Run /retrain start again.',
  busyElsewhere: 'This server is already training (started from another shard); try again when that has finished.',
} as const;

/** Fixed texts for a trainer that did not finish, by how it ended. */
export const TRAINER_FAILURE: Record<TrainingFailure, string> = {
  cancelled: 'The training was cancelled.',
  'not-started':
    'The trainer could not be started (the machine may be busy or short of resources). Please try ' +
    "again later; if it keeps happening, tell the bot's owner.",
  crashed: "The trainer stopped unexpectedly. Please try again; if it keeps happening, tell the bot's owner.",
  'out-of-memory':
    "The trainer ran out of memory. Try fewer epochs, or ask the bot's owner to raise " + 'TRAIN_MAX_HEAP_MB.',
  timeout: 'The training took longer than its time limit and was stopped. Try fewer minutes or epochs.',
  protocol:
    'The trainer and the bot could not understand each other. Please try again; if it keeps happening, ' +
    "tell the bot's owner.",
  failed:
    'The trainer ran into a problem with this training. Please try again; if it keeps happening, tell the ' +
    "bot's owner.",
};

export interface FailedOutcome {
  status: 'failed';
  /** A fixed text for the admin: no error message, path or stderr. */
  reason: string;
  /** The id of the log line holding the details. */
  errorId: string;
}

/** Logs `err` with a new error id (at error level) and returns the outcome the admin sees. */
export function failedWith(
  log: Pick<Logger, 'error'> | undefined,
  fields: Record<string, unknown>,
  err: unknown,
  reason: string,
): FailedOutcome {
  const errorId = newErrorId();
  log?.error({ ...fields, errorId, err }, `retrain failed: ${reason}`);
  return { status: 'failed', reason, errorId };
}
