/**
 * The `mqtt` PM2 app: broker connection, ACK tracking and retransmission,
 * offline buffer, inbound ACKs and commands, heartbeat (docs/architecture.md#processes).
 * Composition root: real adapters in, everything else in ./app.ts.
 */
import { readFileSync } from 'node:fs';
import { uptime } from 'node:os';
import mqtt from 'mqtt';
import { runApp } from '../../shared/app-runner.js';
import { systemHealthReader } from '../../shared/system-health.js';
import { producerConnection, workerConnection } from '../../shared/redis.js';
import { startMqttApp } from './app.js';
import { agentVersion } from './version.js';

await runApp('mqtt', async ({ config, log, keys, redis }) => {
  const subscriber = workerConnection(config.redisUrl, `${config.deviceId}:mqtt:settings`);
  const producer = producerConnection(config.redisUrl, `${config.deviceId}:mqtt:commands`);
  for (const c of [subscriber, producer]) c.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  return startMqttApp({
    config,
    log,
    keys,
    redis,
    subscriber,
    producer,
    clientFactory: (url, options) => mqtt.connect(url, options),
    ca: config.mqttCa ? readFileSync(config.mqttCa) : undefined,
    firmwareVersion: config.firmwareVersion ?? agentVersion(),
    // Storage is reported for the file system the agent (and by default its Redis) lives on.
    systemHealth: systemHealthReader({ dataDir: process.cwd() }),
    uptimeSeconds: uptime,
  });
});
