// `runnerctl simulate SCENARIO.yaml`: plays a scenario (pools, workload, faults) on the local
// cloud with the real controller, prints a summary and writes the JSON report. Exit 0 only when
// every invariant holds; 1 when one does not or the scenario is invalid; 2 for usage errors.

import { writeFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { ValidationError, formatIssue } from '../../api/errors.ts';
import type { CliContext } from '../context.ts';
import { CliError, UsageError } from '../errors.ts';

interface SimulateFlags {
  report?: string;
  speed?: string;
  seed?: string;
  dataDir?: string;
  keepData?: boolean;
  quiet?: boolean;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

function positive(flag: string, value: string | undefined, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  const bad = integer ? !Number.isInteger(n) || n < 0 : !Number.isFinite(n) || n < 1 || n > 10_000;
  if (bad) {
    throw new UsageError(
      `${flag} must be ${integer ? 'an integer >= 0' : 'a number from 1 to 10000'}, got ${JSON.stringify(value)}`,
      'simulate',
    );
  }
  return n;
}

async function simulateCommand(ctx: CliContext, file: string, flags: SimulateFlags) {
  if (!['debug', 'info', 'warn', 'error'].includes(flags.logLevel)) {
    throw new UsageError(
      `--log-level must be debug, info, warn or error, got ${JSON.stringify(flags.logLevel)}`,
      'simulate',
    );
  }
  const speed = positive('--speed', flags.speed, false);
  const seed = positive('--seed', flags.seed, true);
  const { loadScenario } = await import('../../simulate/scenario.ts');
  const { runSimulation } = await import('../../simulate/run.ts');
  const { summaryLines } = await import('../../simulate/summary.ts');
  const path = resolve(ctx.io.cwd, file);
  let scenario;
  try {
    scenario = await loadScenario(path, file);
  } catch (err) {
    if (err instanceof ValidationError) {
      for (const issue of err.issues) ctx.err(formatIssue(issue));
      const n = err.issues.length;
      throw new CliError(
        `${n} validation error${n === 1 ? '' : 's'} in ${file}; nothing was simulated`,
      );
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') {
      throw new UsageError(`cannot read the scenario ${file}: ${code}`, 'simulate');
    }
    throw err;
  }
  const result = await runSimulation(scenario, {
    ...(speed !== undefined ? { speed } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(flags.dataDir ? { dataDir: resolve(ctx.io.cwd, flags.dataDir) } : {}),
    keepData: flags.keepData ? 'always' : 'on-failure',
    logLevel: flags.logLevel,
    ...(flags.quiet ? {} : { print: (line: string) => ctx.out(line) }),
  });
  if (flags.report) {
    const json = `${JSON.stringify(result.report, null, 2)}\n`;
    if (flags.report === '-') ctx.io.stdout.write(json);
    else await writeFile(resolve(ctx.io.cwd, flags.report), json);
  }
  if (flags.report !== '-') {
    for (const line of summaryLines(result.report)) ctx.out(line);
    if (flags.report) ctx.out(`report: ${flags.report}`);
  }
  if (result.dataDir) {
    const shown = relative(ctx.io.cwd, result.dataDir);
    ctx.err(`logs and store kept in ${shown.startsWith('..') ? result.dataDir : shown}`);
  }
  if (!result.ok) {
    const failed = result.report.invariants.filter((i) => !i.ok).map((i) => i.name);
    throw new CliError(
      failed.length
        ? `invariant${failed.length === 1 ? '' : 's'} violated: ${failed.join(', ')}`
        : `the simulation failed: ${result.report.errors.join('; ')}`,
    );
  }
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('simulate')
    .description(
      'play a scenario (pools, workload, faults) on the local cloud with the real controller; exit 0 only when every invariant holds',
    )
    .argument('<scenario>', 'scenario YAML file (see docs/simulate.md)')
    .option('--report <file>', 'write the JSON report here (- for stdout)')
    .option('--speed <n>', 'simulated seconds per real second (overrides the scenario)')
    .option('--seed <n>', 'seed of every fault dice (overrides the scenario)')
    .option('--data-dir <dir>', 'store, keys and logs (default: a temporary directory)')
    .option('--keep-data', 'keep the data directory (it is kept anyway when an invariant fails)')
    .option('-q, --quiet', 'no progress lines')
    .option('--log-level <level>', "level of the controller's log", 'info')
    .action((file: string, flags: SimulateFlags) => simulateCommand(ctx, file, flags));
}
