/**
 * Errors whose message is meant for the person who asked. The interaction router shows the message of any error
 * named 'InvalidRequestError' as it is. A request outside the documented bounds is one.
 */
export class InvalidRequestError extends Error {
  override name = 'InvalidRequestError';
}
