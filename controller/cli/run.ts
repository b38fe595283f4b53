// The CLI as a function: parse argv, run the command, map errors to exit codes.
// 0 success, 1 validation / conflict / failed operation, 2 usage errors.

import { CommanderError } from 'commander';
import { ApiError, ValidationError, formatIssue } from '../api/errors.ts';
import { ConflictError, FencingError, StoreError } from '../store/errors.ts';
import { createContext, type CliDeps, type CliIo } from './context.ts';
import { CliError, ExitStatus, UsageError } from './errors.ts';
import { buildProgram } from './program.ts';
import { normalizeResourceArgs } from './resource-args.ts';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
/** `runnerctl drift`: drift was found. */
export const EXIT_DRIFT = 3;

export async function run(
  argv: readonly string[],
  io: CliIo,
  deps: Partial<CliDeps> = {},
): Promise<number> {
  const ctx = createContext(io, deps);
  try {
    const program = await buildProgram(ctx);
    await program.parseAsync(normalizeResourceArgs(argv), { from: 'user' });
    return EXIT_OK;
  } catch (err) {
    return report(err, ctx.err);
  }
}

function report(err: unknown, print: (line: string) => void): number {
  if (err instanceof CommanderError) {
    // Commander has already printed its message (or the help text).
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT_OK;
    return EXIT_USAGE;
  }
  if (err instanceof ExitStatus) return err.exitCode;
  if (err instanceof ValidationError) {
    for (const issue of err.issues) print(formatIssue(issue));
    const n = err.issues.length;
    print(`error: ${n} validation error${n === 1 ? '' : 's'}; nothing was applied`);
    return EXIT_FAILED;
  }
  if (err instanceof UsageError) {
    print(`error: ${err.message}`);
    print(`(run "runnerctl ${err.command} --help" for usage)`);
    return EXIT_USAGE;
  }
  if (err instanceof ConflictError || err instanceof FencingError) {
    print(`error: conflict: ${err.message}`);
    return EXIT_FAILED;
  }
  if (err instanceof CliError || err instanceof ApiError || err instanceof StoreError) {
    print(`error: ${err.message}`);
    return EXIT_FAILED;
  }
  print(`error: ${err instanceof Error ? err.message : String(err)}`);
  return EXIT_FAILED;
}
