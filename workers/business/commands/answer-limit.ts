/**
 * How often a bad signature is answered (COINEREX_UNAUTHENTICATED_ANSWER_RATE,
 * docs/commands.md#error-codes). A forged command that passed the mqtt app's
 * inbound limit would otherwise buy its sender an `outbox` job and a message;
 * a cloud with a wrong key needs only a few answers to notice. The excess is
 * refused all the same, unanswered: counted (`commands_unanswered_total`) and
 * logged as one line a minute rather than one per command.
 */
import type { Clock } from '../../../shared/clock.js';
import type { Logger } from '../../../shared/logger.js';
import type { Metrics } from '../../../shared/metrics.js';
import { TokenBucket } from '../../../shared/token-bucket.js';

export interface AnswerLimit {
  /** True when this refusal may be answered and logged; false counts it as unanswered. */
  take(): boolean;
  /** Logs what is still uncounted in the log and stops the minute timer. */
  close(): void;
}

const REPORT_MS = 60_000;

export function answerLimit(perSecond: number, clock: Clock, log: Logger, metrics: Metrics): AnswerLimit {
  const bucket = new TokenBucket(perSecond, perSecond * 5, clock);
  let unanswered = 0;
  // Armed by the first unanswered refusal only, so a quiet device has no timer.
  let timer: NodeJS.Timeout | null = null;
  const report = () => {
    timer = null;
    if (unanswered === 0) return;
    log.warn({ unanswered, perSecond }, 'commands with a bad signature refused without an answer (COINEREX_UNAUTHENTICATED_ANSWER_RATE)');
    unanswered = 0;
  };
  return {
    take() {
      if (bucket.take()) return true;
      unanswered++;
      metrics.incr('commands_unanswered_total', { code: 'UNAUTHENTICATED' });
      timer ??= setTimeout(report, REPORT_MS).unref();
      return false;
    },
    close() {
      if (timer) clearTimeout(timer);
      report();
    },
  };
}
