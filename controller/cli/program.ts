// Builds the `runnerctl` program. Every module in ./commands/ exports
// `register(program, ctx)`; they are loaded in file-name order, so a new command is a new file
// and no central list needs editing.

import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { Command } from 'commander';
import type { CliContext } from './context.ts';

export type RegisterCommands = (program: Command, ctx: CliContext) => void;

const COMMANDS_DIR = fileURLToPath(new URL('./commands/', import.meta.url));

export async function loadCommandModules(dir = COMMANDS_DIR): Promise<RegisterCommands[]> {
  const files = readdirSync(dir)
    // .ts from the sources, .js from the compiled build (dist/, the controller image).
    .filter((f) => /\.(ts|js)$/.test(f) && !/\.(test|d)\.ts$/.test(f))
    .sort();
  const modules: RegisterCommands[] = [];
  for (const file of files) {
    const mod = (await import(pathToFileURL(join(dir, file)).href)) as {
      register?: RegisterCommands;
    };
    if (typeof mod.register !== 'function') {
      throw new Error(`${join(dir, file)} must export register(program, ctx)`);
    }
    modules.push(mod.register);
  }
  return modules;
}

export async function buildProgram(ctx: CliContext): Promise<Command> {
  const program = new Command('runnerctl')
    .description('Single-use GitHub Actions runners on AWS Fargate: manage runner pools')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.io.stdout.write(s),
      writeErr: (s) => ctx.io.stderr.write(s),
    })
    .showHelpAfterError('(add --help for usage)')
    .showSuggestionAfterError(true);
  for (const register of await loadCommandModules()) register(program, ctx);
  orderCommands(program);
  return program;
}

/**
 * `--help` lists commands in kubectl's order (basic, deploy, troubleshooting, advanced,
 * settings, other); commands kubectl has no counterpart for come after, in file order.
 */
const KUBECTL_ORDER = [
  'init',
  'get',
  'delete',
  'describe',
  'drift',
  'diff',
  'apply',
  'completion',
  'config',
  'version',
];

function orderCommands(program: Command): void {
  const rank = (c: Command) => {
    const i = KUBECTL_ORDER.indexOf(c.name());
    return i === -1 ? KUBECTL_ORDER.length : i;
  };
  const commands = program.commands as Command[];
  const sorted = commands
    .map((c, i) => ({ c, i }))
    .sort((a, b) => rank(a.c) - rank(b.c) || a.i - b.i);
  commands.splice(0, commands.length, ...sorted.map((x) => x.c));
}
