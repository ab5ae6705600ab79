/**
 * The physical floor: one mqtt.js process publishing the same messages an
 * exchange produces (a transaction and its accounting) to the same broker,
 * ACKed by the same cloud peer. The agent's latencies are reported as a
 * ratio to this.
 */
import mqtt from 'mqtt';
import { randomUUID } from 'node:crypto';
import { topics } from '../shared/topics.js';
import type { CloudPeer } from '../test/helpers/cloud-peer.js';
import { waitFor } from '../test/helpers/env.js';

export interface FloorResult {
  latenciesMs: number[];
  acked: number;
}

/** Publishes `count` exchanges at `ratePerSecond`; latency = event time → the peer's receipt of the transaction. */
export async function runFloor(url: string, deviceId: string, peer: CloudPeer, ratePerSecond: number, count: number): Promise<FloorResult> {
  const t = topics('coinerex', deviceId);
  const client = await mqtt.connectAsync(url, { clientId: deviceId, queueQoSZero: false, reconnectPeriod: 0 });
  (client.stream as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
  const sentAt = new Map<string, number>();
  const acked = new Set<string>();
  client.on('message', (_topic, buf) => {
    const ack = JSON.parse(buf.toString()) as { ack_message_id?: string };
    if (ack.ack_message_id) acked.add(ack.ack_message_id);
  });
  await client.subscribeAsync(t.ack);
  const started = peer.received.length;
  for (let i = 0; i < count; i++) {
    const at = Date.now();
    const txn = envelope(deviceId, 'transaction', { transaction_type: 'exchange', transaction_id: `TXN_20250101_000000_${String(i + 1).padStart(3, '0')}`, amounts: { bills_inserted: 100, coins_inserted: 0, coins_dispensed: 10, transaction_amount: 100, coin_value: 10 }, balance: { before: i * 100, after: (i + 1) * 100 }, timing: { start_time: new Date(at).toISOString(), dispense_time: new Date(at).toISOString(), duration_ms: 0 }, success: true });
    const acc = envelope(deviceId, 'accounting', { machine_status: 1, status_description: '待機', counters: { total_bills: (i + 1) * 100, total_coins: 0, total_dispensed: (i + 1) * 10, remote_dispensed: 0, bonus_coins: 0 }, current_state: { debt_coins: 0, balance: (i + 1) * 100 }, codes: { alarm_code: 0, error_code: 0 } });
    sentAt.set(txn.message_id, at);
    client.publish(t.outbound('transaction'), JSON.stringify(txn));
    client.publish(t.outbound('accounting'), JSON.stringify(acc));
    const next = at + 1000 / ratePerSecond;
    await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
  }
  await waitFor(() => acked.size >= count * 2, 10_000, 'floor ACKs').catch(() => undefined);
  await client.endAsync();
  const latenciesMs = peer.received
    .slice(started)
    .filter((r) => r.type === 'transaction' && sentAt.has(r.payload.message_id))
    .map((r) => r.at - sentAt.get(r.payload.message_id)!);
  return { latenciesMs, acked: acked.size };
}

function envelope(deviceId: string, type: string, data: Record<string, unknown>) {
  return { timestamp: new Date().toISOString(), device_id: deviceId, message_id: randomUUID(), message_type: type, version: '1.3.2', data };
}
