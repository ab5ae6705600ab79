/**
 * The `business` app (docs/architecture.md#processes): the machine's truth —
 * exchange engine, books and journal, faults and alarms, accounting and
 * status — plus the remote-command pipeline working on it.
 */
import { runApp } from '../../shared/app-runner.js';
import { systemClock } from '../../shared/clock.js';
import { redisMetrics } from '../../shared/metrics.js';
import { startCommandPipeline } from './commands/index.js';
import { startBusiness } from './service.js';

await runApp('business', async ({ config, log, keys, redis }) => {
  const clock = systemClock;
  const metrics = redisMetrics(redis, keys);
  const business = await startBusiness({ config, log, keys, redis, clock, metrics });
  const commands = await startCommandPipeline({ config, log, keys, redis, machine: business.machine, outbox: business.outbox, clock, metrics });
  return {
    async close() {
      // Commands first: a running one may still need the machine to finish its payout.
      await commands.close();
      await business.close();
      await metrics.close();
    },
  };
});
