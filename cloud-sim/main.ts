/**
 * The cloud-sim app (demo profile only): plays the cloud on the configured
 * broker. `coinerex cloud …` sends it commands and switches its ACK policy.
 */
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { runApp } from '../shared/app-runner.js';
import { closeInOrder } from '../shared/close.js';
import { topics } from '../shared/topics.js';
import { startCloudSim } from './cloud.js';

await runApp('cloud-sim', async ({ config, log, keys, redis }) => {
  // Its ACKs would settle messages the real cloud never saw.
  if (config.mode === 'production') throw new Error('cloud-sim is a demo tool; it does not run with COINEREX_MODE=production');
  const client = mqtt.connect(config.mqttUrl, {
    clientId: `${config.deviceId}-cloud-sim`,
    username: config.mqttUsername,
    password: config.mqttPassword,
    ca: config.mqttCa ? readFileSync(config.mqttCa) : undefined,
    reconnectPeriod: 1_000,
    queueQoSZero: false,
  });
  client.on('error', (err) => log.warn({ err: err.message }, 'broker error'));
  const cloud = await startCloudSim({
    client,
    topics: topics(config.topicPrefix, config.deviceId),
    topicPrefix: config.topicPrefix,
    deviceId: config.deviceId,
    redis,
    keys,
    log,
    print: (line) => process.stdout.write(`${line}\n`),
    now: Date.now,
  });
  return {
    close: closeInOrder(
      [
        { name: 'cloud simulator', run: () => cloud.close() },
        { name: 'broker client', run: () => client.endAsync() },
      ],
      { log },
    ),
  };
});
