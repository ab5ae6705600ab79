/**
 * Piscina worker of the command verification pool (docs/architecture.md#processes: CPU work
 * off the business app's event path). Loaded from its compiled .js
 * (docs/pitfalls.md#7-piscina). workerData: { publicKeyPem: string | null }.
 */
import { createPublicKey } from 'node:crypto';
import { workerData } from 'node:worker_threads';
import { checkCommand, type CheckOutcome, type CheckTask } from './check-command.js';

const pem = (workerData as { publicKeyPem: string | null } | undefined)?.publicKeyPem ?? null;
const publicKey = pem ? createPublicKey(pem) : null;

export default function verify(task: CheckTask): CheckOutcome {
  try {
    return checkCommand(task, publicKey);
  } catch (err) {
    // A payload that breaks a library (e.g. a value JCS cannot encode) is refused, never executed.
    return { ok: false, code: publicKey ? 'UNAUTHENTICATED' : 'INVALID_COMMAND', detail: `unreadable command: ${(err as Error).message}` };
  }
}
