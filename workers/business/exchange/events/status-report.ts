/**
 * status_report: inventory, door and acceptors from the hardware's answer,
 * and, when it answers the open question, the verdict on a stuck payout.
 */
import { judge } from '../recovery.js';
import { writeLevel } from '../level.js';
import type { EventContext, EventOf } from './context.js';
import { door } from './door.js';
import { guarded } from './plans.js';

export async function statusReport(ev: EventOf<'status_report'>, ctx: EventContext): Promise<void> {
  const { core, lane } = ctx;
  const machine = core.keys.machine;
  const level = ev.inventory;
  if (level !== null) await guarded(core, core.keys.appliedEvent(`${ev.eventId}-inventory`), (plan) => writeLevel(plan, core.keys, level));
  const doorOpen = (await core.redis.hget(machine, 'doorOpen')) === '1';
  if (doorOpen !== ev.doorOpen) await door({ kind: 'door', open: ev.doorOpen, eventId: `${ev.eventId}-door`, at: ev.at }, ctx);
  // The report does not carry the inhibit set: a different on/off makes the confirmed state unknown, so it is sent again.
  if ((await core.redis.hget(machine, 'acceptorsEnabled')) !== (ev.acceptorsEnabled ? '1' : '0')) await core.redis.hdel(machine, 'acceptorsEnabled', 'acceptorsInhibit');
  const askedAt = ctx.answered(ev.requestId);
  if (askedAt === null) return;
  const head = await lane.head();
  // A payout sent after the question cannot be in the answer.
  if (head?.state !== 'sent' || head.sentAt > askedAt) return;
  const verdict = judge(head, ev, await core.hardware.payoutCommand(head.payoutId, head.attempt, head.sentAt, core.clock.now()));
  core.log.info({ payoutId: head.payoutId, verdict }, 'stuck payout judged');
  if (verdict.action === 'wait') ctx.heard(head.payoutId);
  else if (verdict.action === 'reissue') await lane.reissue(head);
  // The report's level already has the paid coins out: it is the books' level, not counted off again.
  else await ctx.settled(await lane.settle(head, verdict.paid, verdict.end, core.keys.appliedEvent(`${ev.eventId}-${head.payoutId}`), level ?? undefined));
}
