/**
 * The `hardware` app: the link to the machine (simulator or serial board).
 * Composition root: connections, queue and driver are built here and handed
 * to the service (service.ts).
 */
import { runApp } from '../../shared/app-runner.js';
import { closeInOrder, quitStep } from '../../shared/close.js';
import { redisMetrics } from '../../shared/metrics.js';
import { logErrors, makeQueue, producerConnection, queueNames, workerConnection, type HwEvent } from '../../queue/index.js';
import { makeDrivers } from './drivers.js';
import { startHardwareService } from './service.js';

await runApp('hardware', async (ctx) => {
  const { config, keys, log } = ctx;
  const metrics = redisMetrics(ctx.redis, keys);
  const { driver, simulator } = await makeDrivers(ctx, metrics);
  // Fails fast while Redis is down: the event stays pending and is re-delivered.
  const producer = logErrors(producerConnection(config.redisUrl, `${config.deviceId}:hardware:producer`), log);
  const consumer = logErrors(workerConnection(config.redisUrl, `${config.deviceId}:hardware:workers`), log);

  const service = await startHardwareService({
    driver,
    simulator,
    hwEvents: makeQueue<HwEvent>(queueNames.hwEvents, producer, keys.bullPrefix, log),
    connection: consumer,
    prefix: keys.bullPrefix,
    log,
    customersPerMinute: config.mode === 'demo' ? config.simCustomersPerMinute : 0,
  });
  return {
    close: closeInOrder(
      [
        { name: 'hardware service', run: () => service.close() },
        // The counts of the last second (serial rejections, link changes) are not dropped at a restart.
        { name: 'metrics', run: () => metrics.close() },
        quitStep('producer', producer),
        quitStep('consumer', consumer),
      ],
      { log },
    ),
  };
});
