// `runnerctl controller --config FILE`: the controller against real AWS and GitHub, as the ECS
// service runs it. Settings come from the file and the environment (the environment wins); JSON
// logs go to stdout; SIGTERM or SIGINT stops it gracefully (lease released).

import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { CliContext } from '../context.ts';
import { CliError } from '../errors.ts';

interface ControllerFlags {
  config?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  check?: boolean;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('controller')
    .description('run the controller against AWS and GitHub (settings: --config FILE and/or env)')
    .option('-c, --config <file>', 'YAML settings file (default: RUNNERCTL_CONFIG; env wins)')
    .option('--check', 'load and validate the settings and secrets, print a summary, exit')
    .addOption(
      new Option('--log-level <level>', 'log level (default: logLevel setting or info)').choices([
        'debug',
        'info',
        'warn',
        'error',
      ]),
    )
    .action(async (flags: ControllerFlags) => {
      // Loaded on use: other commands never pay for the AWS SDK and Octokit.
      const { loadControllerConfig, resolveControllerSecrets, ConfigError } =
        await import('../../config/load.ts');
      const file = flags.config ?? ctx.io.env.RUNNERCTL_CONFIG;
      let config;
      try {
        config = await loadControllerConfig({
          ...(file ? { file: resolve(ctx.io.cwd, file) } : {}),
          env: ctx.io.env,
        });
        if (flags.check) {
          await resolveControllerSecrets(config, { env: ctx.io.env });
          ctx.out(
            `settings ok: App ${config.github.appId}, table ${config.table}, ` +
              `queue ${config.queueUrl ?? '(none: webhooks over HTTP only)'}, port ${config.server.port}, ` +
              `webhook ${config.github.webhookSecret ? 'on' : 'off'}, resync ${config.resyncSeconds}s`,
          );
          return;
        }
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message, { cause: err });
        throw err;
      }
      const { startControllerApp } = await import('../../app/app.ts');
      const { untilSignal } = await import('../../app/signals.ts');
      let app;
      try {
        app = await startControllerApp({
          config,
          env: ctx.io.env,
          ...(flags.logLevel ? { log: { level: flags.logLevel } } : {}),
        });
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message, { cause: err });
        throw err;
      }
      const stopped = app;
      await untilSignal(() => stopped.stop(), {
        onSignal: (signal) => stopped.logger.info({ signal }, 'signal received: stopping'),
      });
    });
}
