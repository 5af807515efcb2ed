/**
 * Matching a fixed failure text followed by its error id: "<text> (error id 1a2b3c4d)".
 */
import { expect } from 'vitest';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** An asymmetric matcher for `text` with any error id after it. */
export function withAnyErrorId(text: string): unknown {
  return expect.stringMatching(new RegExp(`^${escapeRegExp(text)} \\(error id [0-9a-f]{8}\\)$`));
}

/** The error id at the end of a message, or undefined. */
export function errorIdOf(content: string): string | undefined {
  return /\(error id ([0-9a-f]{8})\)$/.exec(content)?.[1];
}
