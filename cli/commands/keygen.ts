/**
 * `coinerex keygen [--out <dir>] [--force]`: writes an Ed25519 key pair for
 * remote commands (docs/protocol.md#7-commands). The public key goes on the device
 * (COINEREX_COMMAND_PUBLIC_KEY); the private key stays with whoever signs
 * commands (the cloud, or `coinerex sign`).
 */
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

export const summary = 'write an Ed25519 key pair for signing remote commands';

export const keyFileNames = { private: 'coinerex-command-private.pem', public: 'coinerex-command-public.pem' } as const;

const usage = 'usage: coinerex keygen [--out <dir>] [--force]';

/**
 * mkdir -p. Not `mkdirSync(dir, { recursive: true })`: on Node 20 that spins
 * forever when a parent exists but cannot hold directories (`--out /proc/x`).
 */
function makeDirectory(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if (!statSync(dir).isDirectory()) throw new Error(`--out ${dir}: not a directory`);
      return;
    }
    if (code !== 'ENOENT' || dirname(dir) === dir) throw err;
    makeDirectory(dirname(dir));
    mkdirSync(dir);
  }
}

export async function run(args: string[]): Promise<number> {
  let values: { out?: string; force?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({ args, options: { out: { type: 'string' }, force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    process.stderr.write(`coinerex keygen: ${(err as Error).message}\n${usage}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (values.out !== undefined && values.out.trim() === '') {
    process.stderr.write(`coinerex keygen: --out: expected a directory, got an empty value\n${usage}\n`);
    return 2;
  }
  const dir = resolve(values.out ?? '.');
  const { publicKey, privateKey } = generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const privatePath = join(dir, keyFileNames.private);
  const publicPath = join(dir, keyFileNames.public);
  // 'wx' refuses to overwrite: losing a private key locks the cloud out of every device that trusts it.
  const flag = values.force ? 'w' : 'wx';
  try {
    makeDirectory(dir);
    writeFileSync(privatePath, privateKey, { mode: 0o600, flag });
    chmodSync(privatePath, 0o600);
    writeFileSync(publicPath, publicKey, { mode: 0o644, flag });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    process.stderr.write(
      e.code === 'EEXIST' ? `coinerex keygen: ${e.path} exists; use --force to replace the key pair\n` : `coinerex keygen: ${e.message}\n`,
    );
    return 1;
  }
  process.stdout.write(
    [
      `private key: ${privatePath} (mode 0600; keep it with whoever signs commands, never on the device)`,
      `public key:  ${publicPath}`,
      '',
      `on the device:  COINEREX_COMMAND_PUBLIC_KEY=${publicPath}`,
      `sign a command: coinerex sign --key ${privatePath} --device <device_id> command.json`,
      '',
    ].join('\n'),
  );
  return 0;
}
