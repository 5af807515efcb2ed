/**
 * The rate limit check shared by /babble, mention replies and unprompted replies: asks the limiter (none: no
 * limit) and logs a refusal — at info when the person is told, at debug when the refusal is silent (a flood of
 * mentions is one log line per window at info, not one per message).
 */
import type { Logger } from '../log.js';
import type { ReplyLimiter, ReplyRequest, Verdict } from '../service/rate-limiter.js';

export async function checkReplyLimit(
  limiter: ReplyLimiter | undefined,
  request: ReplyRequest,
  log: Pick<Logger, 'info' | 'debug'>,
  where: Record<string, unknown>,
): Promise<Verdict> {
  if (!limiter) return { allowed: true };
  const verdict = await limiter.take(request);
  if (!verdict.allowed) {
    const fields = {
      ...where,
      kind: request.kind,
      scope: verdict.scope,
      retryAfterMs: verdict.retryAfterMs,
      told: verdict.notify,
    };
    if (verdict.notify) log.info(fields, 'rate limited');
    else log.debug(fields, 'rate limited');
  }
  return verdict;
}
