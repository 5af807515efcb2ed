/**
 * Model scopes (a server id, or "base" for the shared base model) and the registry's refusals, without the model
 * code: the Discord commands import these, and the bot checks its configuration before loading TensorFlow.js.
 */

/** The scope of the shared base model (every server without a model of its own talks with it). */
export const BASE_SCOPE = 'base';

const SCOPE_PATTERN = /^(?:\d{1,20}|base)$/;

/** A server id (digits) or "base". */
export function isValidScope(scope: string): boolean {
  return SCOPE_PATTERN.test(scope);
}

/** A refusal whose message is safe to show to a server admin. */
export class RegistryError extends Error {
  override readonly name = 'RegistryError';
}
