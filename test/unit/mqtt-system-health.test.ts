import test from 'ava';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCpuLine, parseMemoryUsage, systemHealthReader } from '../../shared/system-health.js';

const stat = (user: number, idle: number) => `cpu  ${user} 0 0 ${idle} 0 0 0 0 0 0\ncpu0 1 2 3 4\n`;

test('cpu usage is busy over total jiffies between readings; memory from MemAvailable; temperature in °C', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'health-'));
  const thermal = join(dir, 'temp');
  await writeFile(join(dir, 'meminfo'), 'MemTotal:        1000000 kB\nMemFree:          100000 kB\nMemAvailable:     250000 kB\n');
  await writeFile(thermal, '48312\n');
  await writeFile(join(dir, 'stat'), stat(300, 700));
  const read = systemHealthReader({ dataDir: dir, procDir: dir, thermalFile: thermal });
  const first = await read();
  t.is(first.cpu_usage, 30, 'since boot on the first reading');
  t.is(first.memory_usage, 75);
  t.is(first.temperature, 48.3);
  t.true(first.storage_usage > 0 && first.storage_usage <= 100);
  await writeFile(join(dir, 'stat'), stat(310, 710));
  t.is((await read()).cpu_usage, 30, 'a window of a few jiffies keeps the previous value');
  await writeFile(join(dir, 'stat'), stat(390, 730));
  t.is((await read()).cpu_usage, 75, '90 busy of 120 since the last counted reading');
});

test('a board without a thermal zone reports null; unreadable sources report 0 instead of failing', async (t) => {
  const read = systemHealthReader({ dataDir: '/nonexistent-dir', procDir: '/nonexistent-proc', thermalFile: '/nonexistent-temp' });
  t.deepEqual(await read(), { cpu_usage: 0, memory_usage: 0, storage_usage: 0, temperature: null });
});

test('parsers reject what they cannot read', (t) => {
  t.is(parseCpuLine('intr 1 2 3'), null);
  t.deepEqual(parseCpuLine(stat(5, 15)), { busy: 5, total: 20 });
  t.is(parseMemoryUsage('MemTotal: 0 kB'), 0);
});
