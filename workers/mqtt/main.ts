/**
 * The `mqtt` PM2 app: broker connection, ACK tracking and retransmission,
 * offline buffer, inbound ACKs and commands, heartbeat (docs/architecture.md#processes).
 * Composition root: the connections, metrics, clock and real adapters are
 * made here and closed here after the app; the wiring is in ./app.ts.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { uptime } from 'node:os';
import { runApp } from '../../shared/app-runner.js';
import { systemClock } from '../../shared/clock.js';
import { closeInOrder, quitStep } from '../../shared/close.js';
import { redisMetrics } from '../../shared/metrics.js';
import { systemHealthReader } from '../../shared/system-health.js';
import { logErrors, producerConnection, workerConnection } from '../../shared/redis.js';
import { startMqttApp } from './app.js';
import { agentVersion } from './version.js';

// mqtt.js (CommonJS) by require: an ESM import makes Node first lex its source and every module it
// re-exports for named exports, ~120 ms of CPU before the broker link can start.
const { connect } = createRequire(import.meta.url)('mqtt') as typeof import('mqtt');

await runApp('mqtt', async ({ config, log, keys, redis }) => {
  const subscriber = logErrors(workerConnection(config.redisUrl, `${config.deviceId}:mqtt:settings`), log);
  const producer = logErrors(producerConnection(config.redisUrl, `${config.deviceId}:mqtt:commands`), log);
  const metrics = redisMetrics(redis, keys);
  const app = await startMqttApp({
    config,
    log,
    keys,
    redis,
    subscriber,
    producer,
    metrics,
    clock: systemClock,
    clientFactory: (url, options) => connect(url, options),
    ca: config.mqttCa ? readFileSync(config.mqttCa) : undefined,
    firmwareVersion: config.firmwareVersion ?? agentVersion(),
    // Storage is reported for the file system the agent (and by default its Redis) lives on.
    systemHealth: systemHealthReader({ dataDir: process.cwd() }),
    uptimeSeconds: uptime,
  });
  return {
    close: closeInOrder(
      [
        { name: 'mqtt app', run: () => app.close() },
        { name: 'metrics', run: () => metrics.close() },
        quitStep('settings subscriber', subscriber),
        quitStep('commands producer', producer),
      ],
      { log },
    ),
  };
});
