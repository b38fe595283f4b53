// `runnerctl version` and `runnerctl --version`: the package's version.

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';

export function packageVersion(): string {
  const pkg = JSON.parse(
    readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
  ) as { version: string };
  return pkg.version;
}

export function register(program: Command, ctx: CliContext): void {
  const version = packageVersion();
  program.version(`runnerctl ${version}`, '--version', 'print the version');
  program
    .command('version')
    .description('print the version of runnerctl')
    .action(() => ctx.out(`runnerctl ${version} (Node.js ${process.version})`));
}
