/**
 * How collected data is laid out in the store, and what every part of the collection service shares.
 *
 * Everything a server has lives under `g:<guildId>:` (isolation by construction; ids are checked to be
 * snowflakes):
 *   g:G:s              settings (reply chance, cooldown, temperature)
 *   g:G:c:C            collection is on in channel C: { since, by }
 *   g:G:o:U            member U opted out: { since }
 *   g:G:m:M            collected message M: { a: author, c: channel, t: normalised text, at: sent }   ttl
 *   g:G:t:I            taught text I: { a, t, at }                                                  ttl
 *   g:G:u:U:m:M        index of U's messages: { c, at }                                            ttl
 *   g:G:u:U:t:I        index of U's taught texts: { at }                                           ttl
 * A row and its index entry are written and deleted together, in one atomic batch. Collected and taught text
 * expires RETENTION_DAYS after it was sent (retention.ts deletes what is older, whatever time to live a row was
 * written with). Lists (training set, /forget, /privacy, purge, sweep) are cursor scans of a prefix.
 */
import type { Logger } from '../../log.js';
import { normalize } from '../../model/vocab.js';
import type { KvStore } from '../../storage/kv.js';

export interface MessageRow {
  a: string;
  c: string;
  t: string;
  at: number;
}
export interface TaughtRow {
  a: string;
  t: string;
  at: number;
}
export interface IndexRow {
  c?: string;
  at: number;
}
export interface ChannelRow {
  since: number;
  by: string;
}

const SNOWFLAKE = /^\d{1,20}$/;

export function checkId(value: string, what: string): string {
  if (!SNOWFLAKE.test(value)) throw new Error(`${what} must be a Discord id (digits), got ${JSON.stringify(value)}`);
  return value;
}

export const key = {
  guild: (g: string) => `g:${checkId(g, 'guild id')}:`,
  settings: (g: string) => `${key.guild(g)}s`,
  channels: (g: string) => `${key.guild(g)}c:`,
  channel: (g: string, c: string) => `${key.channels(g)}${checkId(c, 'channel id')}`,
  optOut: (g: string, u: string) => `${key.guild(g)}o:${checkId(u, 'user id')}`,
  messages: (g: string) => `${key.guild(g)}m:`,
  message: (g: string, m: string) => `${key.messages(g)}${checkId(m, 'message id')}`,
  taughtAll: (g: string) => `${key.guild(g)}t:`,
  taught: (g: string, t: string) => `${key.taughtAll(g)}${checkId(t, 'teach id')}`,
  user: (g: string, u: string) => `${key.guild(g)}u:${checkId(u, 'user id')}:`,
  userMessage: (g: string, u: string, m: string) => `${key.user(g, u)}m:${checkId(m, 'message id')}`,
  userTaught: (g: string, u: string, t: string) => `${key.user(g, u)}t:${checkId(t, 'teach id')}`,
};
/** Rows that carry a sent time and expire: messages, taught texts and their index entries. */
export const DATED_ROW = /^g:\d+:(?:m:|t:|u:\d+:[mt]:)\d+$/;

/** Text as the model learns it: normalised, one utterance per line, or '' if nothing is left. */
export function normaliseForTraining(text: string): string {
  return normalize(text, undefined, { keepNewlines: true });
}

/** Runs a task after the earlier tasks of the same server, in the order given (lanes.ts). */
export type Lane = <T>(guildId: string, task: () => Promise<T>) => Promise<T>;

/** What the parts of the collection service share. */
export interface CollectionContext {
  store: KvStore;
  log: Logger;
  /** Clock (epoch ms). */
  now: () => number;
  retentionMs: number;
  lane: Lane;
}

/** Time to live of something sent at `at`, or undefined if it is already past retention. */
export function ttlFor(ctx: Pick<CollectionContext, 'now' | 'retentionMs'>, at: number): number | undefined {
  const ttl = at + ctx.retentionMs - ctx.now();
  return ttl > 0 ? ttl : undefined;
}
