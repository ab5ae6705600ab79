/**
 * A real browser (Debian's chromium, driven by playwright-core) logs in to the
 * dashboard with basic auth, sees every queue, and is refused without
 * credentials. Leaves a screenshot in the temp folder, or in docs/dashboard.png
 * with COINEREX_UPDATE_SCREENSHOT=1 (so a test run never dirties the tree).
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { chromium, type Browser } from 'playwright-core';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { testEnv, cleanupRedis, waitFor, REDIS_URL } from '../helpers/env.js';
import { spawnApp, freePort, type AppProcess } from '../helpers/app-process.js';
import { ROOT } from '../helpers/pm2.js';
import { allQueueNames, queueNames } from '../../queue/names.js';

const CHROMIUM = '/usr/bin/chromium';
const USER = 'operator';
const PASSWORD = 's3cret-pass';

let browser: Browser | undefined;
let dash: AppProcess | undefined;
let base: string;
const env = testEnv({ COINEREX_DASHBOARD_USER: USER, COINEREX_DASHBOARD_PASSWORD: PASSWORD });

test.before(async () => {
  if (!existsSync(CHROMIUM)) return;
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  // A few jobs so the board shows what an operator would see.
  const connection = new Redis(REDIS_URL, { protocol: 2, maxRetriesPerRequest: null });
  const outbox = new Queue(queueNames.outbox, { connection, prefix: env.keys.bullPrefix });
  await outbox.add('publish', { type: 'transaction', note: 'waiting for the broker' });
  await outbox.add('publish', { type: 'accounting' }, { delay: 60_000 });
  await outbox.close();
  connection.disconnect();
  dash = spawnApp('dashboard', { ...env.env, COINEREX_DASHBOARD_PORT: String(port) });
  await waitFor(() => fetch(`${base}/metrics`).then((r) => r.ok), 15_000, 'dashboard up');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

test.after.always(async () => {
  await browser?.close();
  await dash?.stop();
  await cleanupRedis(env.prefix);
});

test.serial('with credentials the browser sees every queue', async (t) => {
  if (!browser) {
    t.log(`SKIPPED: ${CHROMIUM} is absent (apt-get install chromium)`);
    t.pass();
    return;
  }
  const context = await browser.newContext({ httpCredentials: { username: USER, password: PASSWORD }, viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const response = await page.goto(`${base}/`);
  t.is(response?.status(), 200);
  t.regex(page.url(), /\/queues\/?$/);
  for (const name of allQueueNames) await page.getByText(name, { exact: true }).first().waitFor({ timeout: 15_000 });
  t.regex(await page.title(), new RegExp(`Coinerex ${env.deviceId}`));
  const shot = process.env.COINEREX_UPDATE_SCREENSHOT === '1' ? join(ROOT, 'docs', 'dashboard.png') : join(tmpdir(), 'coinerex-dashboard.png');
  await page.screenshot({ path: shot });
  await context.close();
});

test.serial('without credentials the browser is refused', async (t) => {
  if (!browser) {
    t.log(`SKIPPED: ${CHROMIUM} is absent (apt-get install chromium)`);
    t.pass();
    return;
  }
  const context = await browser.newContext();
  const page = await context.newPage();
  // Chromium answers a Basic challenge it cannot meet by failing the navigation.
  await t.throwsAsync(page.goto(`${base}/queues`), { message: /ERR_INVALID_AUTH_CREDENTIALS/ });
  const refused = await context.request.get(`${base}/queues/api/queues`);
  t.is(refused.status(), 401);
  t.false((await refused.text()).includes(queueNames.hwEvents));
  await context.close();
});
