/** The agent's version (package.json), reported as the heartbeat's `firmware_version`. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Walks up from this file: the same code runs from `workers/mqtt` (sources) and `dist/workers/mqtt` (build). */
export function agentVersion(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string };
      if (pkg.version) return pkg.version;
    } catch {
      // No package.json here; keep walking up.
    }
    if (dirname(dir) === dir) return '0.0.0';
  }
}
