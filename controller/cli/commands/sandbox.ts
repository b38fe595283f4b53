// `runnerctl sandbox`: the controller on a local cloud (what `npm start` runs), one simulator
// alone (`sandbox github|ecs|sqs --port N`), and `sandbox queue` to queue jobs in a running
// sandbox.

import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { untilSignal } from '../../app/signals.ts';
import type { CliContext } from '../context.ts';
import { CliError, UsageError } from '../errors.ts';

interface RunFlags {
  dataDir: string;
  once?: boolean;
  port: string;
  taskStartMs: string;
  jobMs: string;
  resyncSeconds: string;
  timeoutSeconds: string;
  examples?: string;
  verbose?: boolean;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

const DEFAULT_DIR = '.runnerctl/sandbox';

function integer(flag: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(
      `${flag} must be an integer >= ${min}, got ${JSON.stringify(value)}`,
      'sandbox',
    );
  }
  return n;
}

async function runSandboxCommand(ctx: CliContext, flags: RunFlags): Promise<void> {
  const { runSandbox } = await import('../../sandbox/sandbox.ts');
  const port = integer('--port', flags.port, 0);
  const options = {
    dataDir: flags.dataDir,
    cwd: ctx.io.cwd,
    port,
    taskStartMs: integer('--task-start-ms', flags.taskStartMs, 0),
    jobMs: integer('--job-ms', flags.jobMs, 0),
    resyncSeconds: integer('--resync-seconds', flags.resyncSeconds, 1),
    timeoutMs: integer('--timeout-seconds', flags.timeoutSeconds, 1) * 1000,
    verbose: flags.verbose ?? false,
    logLevel: flags.logLevel,
    clock: ctx.deps.clock,
    print: (line: string) => ctx.out(line),
    once: flags.once ?? false,
    ...(flags.examples ? { examplesDir: resolve(ctx.io.cwd, flags.examples) } : {}),
    untilStopped: () => untilSignal(async () => {}),
  };
  const result = await runSandbox(options);
  if (!result.ok) {
    throw new CliError(`sandbox: ${result.problems.length} problem(s); see above`);
  }
}

interface QueueFlags {
  dataDir: string;
  labels: string[];
  jobs: string;
  repo?: string;
  jobMs: string;
  workflow: string;
}

async function queueCommand(ctx: CliContext, flags: QueueFlags): Promise<void> {
  const { SANDBOX_FILE } = await import('../../sandbox/sandbox.ts');
  const { connectGitHubSimulator } = await import('../../sandbox/github/index.ts');
  const file = join(resolve(ctx.io.cwd, flags.dataDir), SANDBOX_FILE);
  let info: { github: { url: string; repository: string } };
  try {
    info = JSON.parse(await readFile(file, 'utf8')) as typeof info;
  } catch (err) {
    throw new CliError(
      `cannot read ${file}: is a sandbox running (npm start)? (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      { cause: err },
    );
  }
  const { sandboxAlive } = await import('../../drift/connect.ts');
  if (!sandboxAlive(info as unknown as { pid: number })) {
    throw new CliError(
      `the sandbox in ${flags.dataDir} is not running (process ${(info as unknown as { pid: number }).pid} is gone); start it with npm start`,
    );
  }
  const labels = flags.labels
    .flatMap((l) => l.split(','))
    .map((l) => l.trim())
    .filter(Boolean);
  if (labels.length === 0)
    throw new UsageError('--labels needs at least one label', 'sandbox queue');
  const count = integer('--jobs', flags.jobs, 1);
  const durationMs = integer('--job-ms', flags.jobMs, 0);
  const repo = flags.repo ?? info.github.repository;
  const control = connectGitHubSimulator(info.github.url);
  try {
    const run = await control.createWorkflowRun({
      repo,
      workflowName: flags.workflow,
      event: 'workflow_dispatch',
      jobs: Array.from({ length: count }, (_, i) => ({
        name: count === 1 ? 'job' : `job (${i + 1})`,
        runsOn: labels,
        durationMs,
      })),
    });
    ctx.out(
      `queued run ${run.runId} in ${repo}: ${run.jobIds.length} job(s) [${labels.join(', ')}] (jobs ${run.jobIds.join(', ')})`,
    );
  } catch (err) {
    throw new CliError(
      `cannot queue in the sandbox at ${info.github.url}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

type SimulatorKind = 'github' | 'ecs' | 'sqs';

async function simulatorCommand(
  ctx: CliContext,
  kind: SimulatorKind,
  flags: { port: string; host: string; keyFile?: string },
): Promise<void> {
  const port = integer('--port', flags.port, 0);
  const clock = ctx.deps.clock;
  let close: () => Promise<void>;
  if (kind === 'github') {
    const { startGitHubSimulator } = await import('../../sandbox/github/index.ts');
    const sim = await startGitHubSimulator({ port, host: flags.host, clock });
    ctx.out(`GitHub simulator on ${sim.url} (App ${sim.appId}; control API ${sim.url}/_sim/)`);
    if (flags.keyFile) {
      const { writeSecretFile } = await import('../../sandbox/local-cloud.ts');
      await writeSecretFile(resolve(ctx.io.cwd, flags.keyFile), sim.privateKeyPem);
      ctx.out(`App private key written to ${flags.keyFile} (mode 0600)`);
    }
    close = () => sim.close();
  } else if (kind === 'ecs') {
    const { startEcsSimulator } = await import('../../sandbox/ecs/simulator.ts');
    const { fakeRunnerRuntime } = await import('../../sandbox/ecs/fake-runner-runtime.ts');
    const sim = await startEcsSimulator({
      port,
      host: flags.host,
      clock,
      runtime: fakeRunnerRuntime({ clock }),
    });
    ctx.out(`ECS simulator on ${sim.url} (region ${sim.region}; tasks run the fake runner)`);
    close = () => sim.close();
  } else {
    const { startSqsSimulator } = await import('../../sandbox/sqs/simulator.ts');
    const sim = await startSqsSimulator({ port, host: flags.host, clock });
    ctx.out(`SQS simulator on ${sim.url} (region ${sim.region})`);
    close = () => sim.close();
  }
  ctx.out('Ctrl-C stops it.');
  await untilSignal(close);
}

export function register(program: Command, ctx: CliContext): void {
  const sandbox = program
    .command('sandbox')
    .description(
      'the controller on a local cloud (npm start): simulated GitHub, ECS and SQS, embedded DynamoDB',
    );

  sandbox
    .command('run', { isDefault: true })
    .description(
      'apply crds/examples/, play the seed test plan with a live timeline, keep running (default)',
    )
    .option('--data-dir <dir>', 'state, keys, logs and sandbox.json', DEFAULT_DIR)
    .option('--once', 'exit after the plan: 0 when every job succeeded and nothing is left')
    .option('--port <n>', "controller's HTTP port (webhook); 0 = any free port", '0')
    .option('--task-start-ms <ms>', 'simulated RunTask-to-RUNNING latency', '1500')
    .option('--job-ms <ms>', 'how long each job of the plan runs', '2000')
    .option('--resync-seconds <s>', "period of the controller's full resync", '10')
    .option('--timeout-seconds <s>', 'give up on the plan (and on the drain) after this long', '50')
    .option('--examples <dir>', 'RunnerPool YAML to apply (default: crds/examples/)')
    .option('-v, --verbose', 'also print intermediate task and runner-record states')
    .addOption(
      new Option('--log-level <level>', 'level of controller.log')
        .choices(['debug', 'info', 'warn', 'error'])
        .default('info'),
    )
    .action((flags: RunFlags) => runSandboxCommand(ctx, flags));

  sandbox
    .command('queue')
    .description('queue a workflow run in the running sandbox (reads its sandbox.json)')
    .option('--data-dir <dir>', 'data directory of the running sandbox', DEFAULT_DIR)
    .option(
      '-l, --labels <labels>',
      'runs-on labels, comma-separated; repeatable',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .option('-n, --jobs <n>', 'jobs in the run (a matrix)', '1')
    .option('--repo <owner/name>', 'repository (default: the seed repository)')
    .option('--job-ms <ms>', 'how long each job runs', '2000')
    .option('--workflow <name>', 'workflow name', 'sandbox')
    .action((flags: Omit<QueueFlags, 'labels'> & { labels?: string[] }) =>
      queueCommand(ctx, { ...flags, labels: flags.labels ?? ['self-hosted,1'] }),
    );

  for (const kind of ['github', 'ecs', 'sqs'] as const) {
    const cmd = sandbox
      .command(kind)
      .description(`run the ${kind === 'github' ? 'GitHub' : kind.toUpperCase()} simulator alone`)
      .option('--port <n>', 'port; 0 = any free port', '0')
      .option('--host <host>', 'interface to listen on', '127.0.0.1');
    if (kind === 'github') {
      cmd.option('--key-file <path>', "write the simulated App's private key here (mode 0600)");
    }
    cmd.action((flags: { port: string; host: string; keyFile?: string }) =>
      simulatorCommand(ctx, kind, flags),
    );
  }
}
