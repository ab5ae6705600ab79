/**
 * `coinerex <command> …`: each command is a module in cli/commands/ that
 * exports `summary` and `run(args)`, resolving to the exit code.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CliCommand {
  summary: string;
  run(args: string[]): Promise<number>;
}

const dir = join(dirname(fileURLToPath(import.meta.url)), 'commands');
const available = (): string[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.js'))
    .map((f) => f.slice(0, -3))
    .sort();

async function load(name: string): Promise<CliCommand> {
  return (await import(join(dir, `${name}.js`))) as CliCommand;
}

async function usage(): Promise<string> {
  const lines = ['usage: coinerex <command> [options]', '', 'commands:'];
  for (const name of available()) lines.push(`  ${name.padEnd(10)} ${(await load(name)).summary}`);
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${await usage()}\n`);
    return name ? 0 : 2;
  }
  if (!/^[a-z][a-z-]*$/.test(name) || !available().includes(name)) {
    process.stderr.write(`coinerex: unknown command "${name}"\n\n${await usage()}\n`);
    return 2;
  }
  return (await load(name)).run(args);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`coinerex: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
