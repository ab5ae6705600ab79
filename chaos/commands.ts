/**
 * The cloud's side of remote commands (docs/protocol.md#7-commands) in a chaos run:
 * builds and signs each command with the run's Ed25519 key, publishes it
 * through the cloud peer, keeps every command exactly as sent (a repeat is
 * the same bytes), and reads the device's results.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { signCommand } from '../shared/command-signature.js';
import type { CommandResult } from '../shared/messages.js';
import { isBusy } from './invariants.js';
import type { CloudPeer } from '../test/helpers/cloud-peer.js';
import { waitFor } from '../test/helpers/env.js';

export interface SentCommand {
  id: string;
  type: string;
  topic: string;
  /** The signed command, as published every time. */
  body: Record<string, unknown>;
  /** coin_dispense only: coins asked for. */
  coins: number | null;
  /** How often it was published (repeats included). */
  sends: number;
  firstSentAt: number;
}

export interface CommandKeys {
  privateKey: KeyObject;
  /** PEM file of the public key, for COINEREX_COMMAND_PUBLIC_KEY. */
  publicKeyPath: string;
}

export async function commandKeys(dir: string): Promise<CommandKeys> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const publicKeyPath = join(dir, 'command-key.pub.pem');
  await writeFile(publicKeyPath, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
  return { privateKey, publicKeyPath };
}

export class CloudCommands {
  readonly sent = new Map<string, SentCommand>();
  /** Publishes that failed at the cloud's MQTT client (counted, not retried: the cloud simply lost them). */
  publishFailures = 0;

  constructor(
    private readonly peer: CloudPeer,
    private readonly keys: CommandKeys,
  ) {}

  /** Signs and publishes a new command; never waits for the broker (it may be down). */
  send(id: string, type: string, data: Record<string, unknown>): SentCommand {
    const topic = this.peer.topics.command(type);
    const unsigned: Record<string, unknown> = {
      timestamp: Math.floor(Date.now() / 1000),
      command_id: id,
      command_type: type,
      requires_ack: true,
      priority: 'normal',
      data,
    };
    const body = { ...unsigned, signature: signCommand(topic, unsigned, this.keys.privateKey) };
    const coins = type === 'coin_dispense' ? Number(data.coins_to_dispense) : null;
    const cmd: SentCommand = { id, type, topic, body, coins, sends: 0, firstSentAt: Date.now() };
    this.sent.set(id, cmd);
    this.publish(cmd);
    return cmd;
  }

  /** Publishes command `id` again, byte for byte. False when it was never sent. */
  repeat(id: string, copies = 1): boolean {
    const cmd = this.sent.get(id);
    if (!cmd) return false;
    for (let i = 0; i < copies; i++) this.publish(cmd);
    return true;
  }

  /**
   * Sends a command and publishes the same bytes again every `everyMs` until
   * its result arrives, as a cloud does when a command may have been lost
   * (QoS 0 while the device reconnects). A BUSY refusal executed nothing and
   * spends no id (docs/commands.md#error-codes), so it is no answer: the same
   * bytes go out again at once. Resolves with the final result, or null.
   */
  async sendUntilAnswered(id: string, type: string, data: Record<string, unknown>, timeoutMs: number, everyMs = 5_000): Promise<CommandResult | null> {
    this.send(id, type, data);
    const deadline = Date.now() + timeoutMs;
    let busySeen = 0;
    let repeatAt = Date.now() + everyMs;
    for (;;) {
      const results = this.results(id);
      const final = results.find((r) => !isBusy(r));
      if (final) return final;
      if (Date.now() >= deadline) return null;
      if (results.length > busySeen || Date.now() >= repeatAt) {
        busySeen = results.length;
        repeatAt = Date.now() + everyMs;
        this.repeat(id);
      }
      await sleep(100);
    }
  }

  /** Every result the cloud received for `id` (a repeat gets the original result again). */
  results(id: string): CommandResult[] {
    return this.peer.of('command_result').filter((r) => r.payload?.ack_command_id === id).map((r) => r.payload as CommandResult);
  }

  /** The first result of `id` that is not a BUSY refusal. */
  waitResult(id: string, timeoutMs: number): Promise<CommandResult> {
    return waitFor(() => this.results(id).find((r) => !isBusy(r)), timeoutMs, `result of command ${id}`, 100);
  }

  private publish(cmd: SentCommand): void {
    cmd.sends += 1;
    this.peer.publishRaw(cmd.topic, JSON.stringify(cmd.body)).catch(() => {
      this.publishFailures += 1;
    });
  }
}
