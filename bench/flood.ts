/**
 * Forged commands: `coin_dispense` commands with a well-formed Ed25519
 * signature made by the wrong key, so each one costs the device a real
 * verification (docs/protocol.md#command-authentication) and is refused UNAUTHENTICATED. They ask for
 * an ACK, so every refusal is also published: the worst case.
 *
 * The flood runs in its own process (this file, spawned by `runFlood`) so
 * publishing 1,000 messages a second does not share an event loop with the
 * cloud peer that times the exchanges.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { signCommand } from '../shared/command-signature.js';
import { topics } from '../shared/topics.js';

export interface FloodResult {
  sent: number;
  startedAt: number;
  endedAt: number;
  /** CPU the forging process spent publishing (signing was done before `startedAt`). */
  cpuMs: number;
}

const self = fileURLToPath(import.meta.url);

/** Publishes `rate` forged commands a second for `seconds` from a child process. */
export async function runFlood(url: string, deviceId: string, rate: number, seconds: number): Promise<FloodResult> {
  const { stdout } = await promisify(execFile)(process.execPath, [self, url, deviceId, String(rate), String(seconds)], { timeout: (seconds + 60) * 1000 });
  return JSON.parse(stdout) as FloodResult;
}

async function flood(url: string, deviceId: string, rate: number, seconds: number): Promise<FloodResult> {
  const topic = topics('coinerex', deviceId).command('coin_dispense');
  const { privateKey: wrongKey } = generateKeyPairSync('ed25519');
  const total = rate * seconds;
  // Signed beforehand: the flood's own CPU must not limit its rate.
  const nowSeconds = Math.floor(Date.now() / 1000);
  const payloads = Array.from({ length: total }, (_, i) => {
    const command: Record<string, unknown> = {
      timestamp: nowSeconds,
      command_id: `FORGED_${process.pid}_${i}`,
      command_type: 'coin_dispense',
      requires_ack: true,
      priority: 'high',
      data: { coins_to_dispense: 5, coin_value: 10, reason: 'bench', operator_account: 'attacker' },
    };
    command.signature = signCommand(topic, command, wrongKey);
    return JSON.stringify(command);
  });
  const client = await mqtt.connectAsync(url, { clientId: `forger-${process.pid}`, reconnectPeriod: 0 });
  (client.stream as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
  const startedAt = Date.now();
  const cpuBefore = process.cpuUsage();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((Date.now() - startedAt) / 1000) * rate) + 1);
    for (; sent < due; sent++) client.publish(topic, payloads[sent]!);
    await new Promise((r) => setTimeout(r, 5));
  }
  const endedAt = Date.now();
  const cpu = process.cpuUsage(cpuBefore);
  await client.endAsync();
  return { sent, startedAt, endedAt, cpuMs: Math.round((cpu.user + cpu.system) / 1000) };
}

if (process.argv[1] === self) {
  const [url, deviceId, rate, seconds] = process.argv.slice(2);
  const result = await flood(url!, deviceId!, Number(rate), Number(seconds));
  process.stdout.write(JSON.stringify(result));
}
