// `runnerctl drift`: what the controller believes against what GitHub and ECS hold, read-only.
// Exit 0 in sync, 3 when drift was found (cron, CI), 1 when the report could not be made.
// It looks at the world through the controller's settings (`--config FILE`, as
// `runnerctl controller`) or through a running sandbox (`--data-dir DIR` with sandbox.json;
// default .runnerctl/sandbox).

import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { CliContext } from '../context.ts';
import { CliError, ExitStatus, UsageError } from '../errors.ts';

export const EXIT_DRIFT = 3;
const DEFAULT_SANDBOX_DIR = '.runnerctl/sandbox';

export interface WorldFlags {
  config?: string;
  dataDir?: string;
}

/** Adds the flags that say where the world is: a controller config or a running sandbox. */
export function addWorldOptions(cmd: Command): Command {
  return cmd
    .option(
      '-c, --config <file>',
      "the controller's settings file, as for runnerctl controller (default: RUNNERCTL_CONFIG)",
    )
    .option(
      '--data-dir <dir>',
      `a running sandbox's data directory, with sandbox.json (default: ${DEFAULT_SANDBOX_DIR})`,
    );
}

/** Opens store, GitHub and ECS from the flags; `command` names the command in usage errors. */
export async function openWorld(ctx: CliContext, flags: WorldFlags, command: string) {
  const { openConfigWorld, openSandboxWorld, ConfigError, ConnectError } =
    await import('../../drift/connect.ts');
  const file = flags.config ?? ctx.io.env.RUNNERCTL_CONFIG;
  try {
    if (file) {
      return await openConfigWorld({
        file: resolve(ctx.io.cwd, file),
        env: ctx.io.env,
        clock: ctx.deps.clock,
      });
    }
    const dir = resolve(ctx.io.cwd, flags.dataDir ?? DEFAULT_SANDBOX_DIR);
    const world = await openSandboxWorld(dir, ctx.deps.clock);
    if (world) return world;
    throw new UsageError(
      `${command} needs GitHub and ECS: give --config FILE (the controller's settings) or ` +
        `--data-dir DIR of a running sandbox (no sandbox.json in ${dir})`,
      command,
    );
  } catch (err) {
    if (err instanceof ConfigError || err instanceof ConnectError) {
      throw new CliError(err.message, { cause: err });
    }
    throw err;
  }
}

interface DriftFlags extends WorldFlags {
  pool?: string;
  output?: 'table' | 'json';
  grace?: string;
}

export function register(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('drift')
    .description(
      'report every disagreement between the store, GitHub and ECS (read-only); exit 3 on drift',
    )
    .option('--pool <name>', 'only this pool')
    .addOption(
      new Option('-o, --output <format>', 'output format (default: table)').choices([
        'table',
        'json',
      ]),
    )
    .option(
      '--grace <duration>',
      'ignore disagreements younger than this (default: two resync periods, at least 30s)',
    );
  addWorldOptions(cmd).action(async (flags: DriftFlags) => {
    const { parseDuration } = await import('../../api/duration.ts');
    let graceMs: number | undefined;
    if (flags.grace !== undefined) {
      try {
        graceMs = parseDuration(flags.grace);
      } catch (err) {
        throw new UsageError(`--grace: ${(err as Error).message}`, 'drift');
      }
    }
    const { buildDriftReport, UnknownPoolError } = await import('../../drift/report.ts');
    const { renderDriftText } = await import('../../drift/render.ts');
    const world = await openWorld(ctx, flags, 'drift');
    let report;
    try {
      report = await buildDriftReport(world, {
        ...world.settings,
        ...(graceMs !== undefined ? { graceMs } : {}),
        ...(flags.pool ? { pool: flags.pool } : {}),
      });
    } catch (err) {
      if (err instanceof UnknownPoolError) throw new CliError(err.message, { cause: err });
      throw new CliError(`drift report failed (${world.source}): ${(err as Error).message}`, {
        cause: err,
      });
    } finally {
      await world.close();
    }
    if (flags.output === 'json') ctx.io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else ctx.out(renderDriftText(report));
    if (!report.inSync) throw new ExitStatus(EXIT_DRIFT);
  });
}
