/**
 * The `business` app (docs/architecture.md#processes): the machine's truth —
 * exchange engine, books and journal, faults and alarms, accounting and
 * status — plus the remote-command pipeline working on it. Composition root:
 * every connection, the verification pool, the metrics and the clock are
 * made here and closed here, after the parts that use them.
 */
import { runApp } from '../../shared/app-runner.js';
import { systemClock } from '../../shared/clock.js';
import { closeInOrder, quitStep } from '../../shared/close.js';
import { redisMetrics } from '../../shared/metrics.js';
import { logErrors, producerConnection, workerConnection } from '../../shared/redis.js';
import { startCommandPipeline, startCommandVerifier } from './commands/index.js';
import { startBusiness } from './service.js';

await runApp('business', async ({ config, log, keys, redis }) => {
  const clock = systemClock;
  const name = (role: string) => `${config.deviceId}:business:${role}`;
  // Fails fast while Redis is down: the caller sees the error instead of a write waiting unseen.
  const producer = logErrors(producerConnection(config.redisUrl, name('producer')), log);
  const connections = {
    events: logErrors(workerConnection(config.redisUrl, name('hw-events')), log),
    schedule: logErrors(workerConnection(config.redisUrl, name('schedule')), log),
    commands: logErrors(workerConnection(config.redisUrl, name('commands')), log),
    dispense: logErrors(workerConnection(config.redisUrl, name('commands-dispense')), log),
  };
  const metrics = redisMetrics(redis, keys);
  const verifier = startCommandVerifier(config, log);
  const business = await startBusiness({ config, log, keys, redis, clock, metrics, connections: { producer, ...connections } });
  const commands = await startCommandPipeline({
    config,
    log,
    keys,
    redis,
    machine: business.machine,
    outbox: business.outbox,
    clock,
    metrics,
    verifier,
    connections,
  });
  return {
    close: closeInOrder(
      [
        // Commands first: a running one may still need the machine to finish its payout.
        { name: 'command pipeline', run: () => commands.close() },
        { name: 'verification pool', run: () => verifier.close() },
        { name: 'machine', run: () => business.close() },
        { name: 'metrics', run: () => metrics.close() },
        ...Object.entries({ producer, ...connections }).map(([role, connection]) => quitStep(role, connection)),
      ],
      { log },
    ),
  };
});
