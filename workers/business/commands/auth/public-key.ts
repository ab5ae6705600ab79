/** The command-verification key (docs/protocol.md#command-authentication), read once at start; an unusable key stops the start with a clear message. */
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Reads and checks the PEM at `path` (COINEREX_COMMAND_PUBLIC_KEY); null when no key is configured. */
export function loadCommandPublicKey(path: string | undefined): string | null {
  if (path === undefined) return null;
  const where = `COINEREX_COMMAND_PUBLIC_KEY (${path})`;
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${where}: cannot read the command-verification key: ${(err as Error).message}`);
  }
  // createPublicKey would quietly derive the public half of a private key; a private key does not belong on the device.
  if (pem.includes('PRIVATE KEY')) throw new Error(`${where}: this is a private key; configure the PUBLIC key (coinerex keygen writes both)`);
  let type: string | undefined;
  try {
    type = createPublicKey(pem).asymmetricKeyType;
  } catch (err) {
    throw new Error(`${where}: not a PEM public key: ${(err as Error).message}`);
  }
  if (type !== 'ed25519') throw new Error(`${where}: expected an Ed25519 key, got ${type ?? 'an unknown key type'}`);
  return pem;
}
