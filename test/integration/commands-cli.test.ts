/**
 * `coinerex keygen` and `coinerex sign` (docs/protocol.md#command-authentication): a command signed
 * by the CLI verifies in the pipeline; the private key is written 0600 and
 * never overwritten silently.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createCommandVerifier } from '../../workers/business/commands/auth/pool.js';
import { ROOT } from '../helpers/pm2.js';
import { commandsHarness } from '../helpers/commands-harness.js';

const execFileP = promisify(execFile);
const coinerex = (args: string[], input?: string) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = execFile(process.execPath, [join(ROOT, 'bin', 'coinerex'), ...args], { cwd: ROOT }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(input ?? '');
  });

let dir: string;
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coinerex-keys-'));
});
test.after.always(() => rm(dir, { recursive: true, force: true }));

test('keygen → sign → the pipeline accepts it; another device or a changed payload does not', async (t) => {
  const gen = await coinerex(['keygen', '--out', dir]);
  t.is(gen.code, 0, gen.stderr);
  const privatePath = join(dir, 'coinerex-command-private.pem');
  const publicPath = join(dir, 'coinerex-command-public.pem');
  t.regex(gen.stdout, new RegExp(`COINEREX_COMMAND_PUBLIC_KEY=${publicPath}`));
  t.is((await stat(privatePath)).mode & 0o777, 0o600);
  const again = await coinerex(['keygen', '--out', dir]);
  t.is(again.code, 1);
  t.regex(again.stderr, /exists; use --force/);

  const verifier = createCommandVerifier({ publicKeyPem: await readFile(publicPath, 'utf8') });
  const h = await commandsHarness(verifier, { env: { COINEREX_TOPIC_PREFIX: 'acme' } });
  try {
    const commandFile = join(dir, 'cmd.json');
    await writeFile(commandFile, JSON.stringify({ command_id: 'CLI_1', command_type: 'coin_dispense', data: { coins_to_dispense: 4 } }));
    const out = await coinerex(['sign', '--key', privatePath, '--device', h.env.deviceId, '--prefix', 'acme', commandFile]);
    t.is(out.code, 0, out.stderr);
    const [topic, payload] = out.stdout.trimEnd().split('\n');
    t.is(topic, h.topic('coin_dispense'));
    const body = JSON.parse(payload!);
    t.true(Number.isInteger(body.timestamp), 'timestamp added');
    t.like(await h.run('coin_dispense', body), { outcome: 'success' });
    t.is(h.machine.paid, 4);

    // From standard input, for another device: refused here.
    const other = await coinerex(
      ['sign', '--key', privatePath, '--device', 'OTHER', '--prefix', 'acme', '-'],
      JSON.stringify({ command_id: 'CLI_2', command_type: 'coin_dispense', data: { coins_to_dispense: 4 } }),
    );
    t.is(other.code, 0, other.stderr);
    t.like(await h.run('coin_dispense', JSON.parse(other.stdout.split('\n')[1]!)), { outcome: 'refused', code: 'UNAUTHENTICATED' });

    const changed = { ...body, command_id: 'CLI_3' };
    t.like(await h.run('coin_dispense', changed), { outcome: 'refused', code: 'UNAUTHENTICATED' });
    t.is(h.machine.paid, 4);
  } finally {
    await h.close();
    await verifier.close();
  }
});

test('sign refuses bad input with a usage error', async (t) => {
  const gen = await execFileP(process.execPath, [join(ROOT, 'bin', 'coinerex'), 'keygen', '--out', join(dir, 'k2')]);
  t.truthy(gen.stdout);
  const key = join(dir, 'k2', 'coinerex-command-private.pem');
  const missing = await coinerex(['sign', '--key', key, '-'], '{}');
  t.is(missing.code, 2);
  t.regex(missing.stderr, /--device/);
  const badType = await coinerex(['sign', '--key', key, '--device', 'D1', '-'], '{"command_type":"self_destruct"}');
  t.is(badType.code, 2);
  t.regex(badType.stderr, /command_type must be one of/);
  const notJson = await coinerex(['sign', '--key', key, '--device', 'D1', '-'], '{');
  t.is(notJson.code, 2);
  t.regex(notJson.stderr, /not JSON/);
  const publicAsKey = await coinerex(['sign', '--key', join(dir, 'k2', 'coinerex-command-public.pem'), '--device', 'D1', '-'], '{"command_type":"query"}');
  t.is(publicAsKey.code, 2);
  t.regex(publicAsKey.stderr, /not a readable PEM private key/);
});
