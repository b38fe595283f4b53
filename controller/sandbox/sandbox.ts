// `runnerctl sandbox` (= `npm start`): the real controller, built by the same composition root
// as in production, on a local cloud — embedded DynamoDB (dynalite), the GitHub, ECS and SQS
// simulators, fake runners in the simulated tasks. It applies crds/examples/, plays the seed's
// test plan with a live timeline, and keeps running (or, with --once, drains the pools and checks
// that nothing is left behind).

import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, readFile, writeFile, chmod } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { pino } from 'pino';
import { validatePoolSources, type ValidatedPool } from '../api/validate.ts';
import { startControllerApp, type ControllerApp } from '../app/app.ts';
import type { ControllerConfig } from '../config/types.ts';
import { DEFAULT_RUNNER_NAME_PREFIX } from '../api/constants.ts';
import { DEFAULT_JIT_PER_MINUTE } from '../github/octokit-provider.ts';
import { DEFAULT_RUN_TASK_BURST, DEFAULT_RUN_TASK_PER_SECOND } from '../ecs/sdk-provider.ts';
import { DEFAULT_TABLE_NAME } from '../store/layout.ts';
import { startLocalEngine, type LocalEngine } from '../store/local-engine.ts';
import { systemClock, type Clock } from '../util/clock.ts';
import {
  SANDBOX_CLUSTER,
  sandboxCredentials,
  SANDBOX_TASK_DEFINITION,
  startLocalCloud,
  writeSecretFile,
  type LocalCloud,
} from './local-cloud.ts';
import { planOutcome, queuePlan, seedPlan, SEED_REPOSITORY, type PlanOutcome } from './plan.ts';
import { shortTaskId, Timeline } from './timeline.ts';

export const DEFAULT_SANDBOX_DIR = '.runnerctl/sandbox';
export const DEFAULT_EXAMPLES_DIR = fileURLToPath(new URL('../../crds/examples/', import.meta.url));
export const SANDBOX_FILE = 'sandbox.json';

export interface SandboxOptions {
  /** State, keys, logs and sandbox.json. Absolute, or relative to `cwd`. */
  dataDir: string;
  cwd?: string;
  /** RunnerPool YAML applied at start. Default: crds/examples/ of this checkout. */
  examplesDir?: string;
  /** Port of the controller's HTTP server (webhook); 0 = any free port. */
  port?: number;
  /** RunTask to RUNNING of a simulated task, in ms. */
  taskStartMs?: number;
  /** How long each job of the plan runs once a runner took it, in ms. */
  jobMs?: number;
  /** Period of the controller's full resync (queued jobs from GitHub, every pool, GC). */
  resyncSeconds?: number;
  /** How often the controller looks at pools with live runners, in ms. */
  runnerPollMs?: number;
  /** Give up on the plan (and the drain) after this long. */
  timeoutMs?: number;
  verbose?: boolean;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  clock?: Clock;
  print: (line: string) => void;
}

/** What sandbox.json holds: everything another tool needs to drive the running sandbox. */
export interface SandboxInfo {
  pid: number;
  startedAt: string;
  dataDir: string;
  webhook: { url: string; secret: string; secretFile: string };
  /** The URLs are always written; optional for readers of files older sandboxes wrote. */
  controller: {
    url: string;
    logFile: string;
    /** Prometheus text (GET). */
    metricsUrl?: string;
    /** Readiness with the lease state (GET). */
    readyUrl?: string;
    /** The drift report (GET). */
    driftUrl?: string;
  };
  github: {
    url: string;
    controlUrl: string;
    appId: number;
    privateKeyFile: string;
    organizations: Record<string, { installationId: number }>;
    repository: string;
  };
  ecs: { endpoint: string; region: string; cluster: string; taskDefinition: string };
  sqs: { endpoint: string; region: string; queueUrl: string; deadLetterQueueUrl: string };
  dynamodb: { endpoint: string; region: string; table: string };
  /** The simulators check that requests are signed, not by whom. */
  aws: { region: string; accessKeyId: string; secretAccessKey: string };
  runnerNamePrefix: string;
}

export interface Sandbox {
  cloud: LocalCloud;
  app: ControllerApp;
  info: SandboxInfo;
  pools: ValidatedPool[];
  timeline: Timeline;
  /** Queues a workflow run (creating its repository when needed); returns the run id. */
  queue(plan: ReturnType<typeof seedPlan>): Promise<number>;
  /** What is left of ours: GitHub runners, live tasks, unfinished records (and pools). */
  leftovers(): Promise<string[]>;
  /** Marks every pool for deletion and wakes the controller to drain them. */
  deletePools(): Promise<void>;
  /** Starts another controller replica with the same settings (high availability). */
  startReplica(): Promise<ControllerApp>;
  stop(): Promise<void>;
}

/**
 * The sandbox looks at live runners every 500 ms instead of every 10 s, so it spends GitHub's
 * REST budget 20 times faster than a production controller: simulator and client pacing both
 * allow 20 times GitHub's 5,000 calls an hour.
 */
export const SANDBOX_REST_PER_HOUR = 100_000;

const DEFAULTS = {
  port: 0,
  taskStartMs: 1_500,
  jobMs: 2_000,
  resyncSeconds: 10,
  runnerPollMs: 500,
  timeoutMs: 50_000,
};

async function readExamples(dir: string): Promise<ValidatedPool[]> {
  const names = (await readdir(dir)).filter((n) => /\.ya?ml$/i.test(n)).sort();
  const sources = [];
  for (const name of names) {
    sources.push({ file: join(dir, name), text: await readFile(join(dir, name), 'utf8') });
  }
  return validatePoolSources(sources);
}

/** Empties the table of an earlier run: its simulators (and their ids) are gone. */
async function dropTable(endpoint: string, table: string): Promise<void> {
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: sandboxCredentials(),
  });
  try {
    await client.send(new DeleteTableCommand({ TableName: table }));
  } catch (err) {
    if ((err as Error).name !== 'ResourceNotFoundException') throw err;
  } finally {
    client.destroy();
  }
}

function shown(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith('..') ? rel : path;
}

/** Starts the local cloud and the controller; applies the example pools. */
export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  const cwd = options.cwd ?? process.cwd();
  const clock = options.clock ?? systemClock;
  const dataDir = resolve(cwd, options.dataDir);
  const settings = { ...DEFAULTS, ...definedOnly(options) };
  await mkdir(dataDir, { recursive: true, mode: 0o700 });

  const stops: (() => Promise<unknown> | unknown)[] = [];
  const stopAll = async () => {
    for (const fn of stops.splice(0).reverse()) {
      try {
        await fn();
      } catch {
        // Shutting down: every part gets its chance.
      }
    }
  };

  try {
    // The engine takes the data directory's lock first: two sandboxes never share it.
    const engine: LocalEngine = await startLocalEngine(dataDir);
    stops.push(() => engine.close());
    await dropTable(engine.endpoint, DEFAULT_TABLE_NAME);

    const runnerLog: WriteStream = createWriteStream(join(dataDir, 'runners.log'), { flags: 'w' });
    stops.push(() => new Promise<void>((done) => runnerLog.end(done)));
    const cloud = await startLocalCloud({
      dataDir,
      clock,
      taskStartMs: settings.taskStartMs,
      restPerHour: SANDBOX_REST_PER_HOUR,
      runnerLog: (taskArn, line) => runnerLog.write(`${shortTaskId(taskArn)} ${line}\n`),
    });
    stops.push(() => cloud.close());

    const pools = await readExamples(options.examplesDir ?? DEFAULT_EXAMPLES_DIR);
    // The simulated GitHub gets the organizations and repositories the pools name.
    for (const { pool } of pools) {
      const scope = pool.spec.github;
      if (scope.scope === 'org') await cloud.ensureOrganization(scope.organization);
      if (scope.scope === 'repo') await cloud.ensureRepository(scope.repository);
    }
    await cloud.ensureRepository(SEED_REPOSITORY);

    const secretFile = join(dataDir, 'webhook-secret');
    await writeSecretFile(secretFile, cloud.github.webhookSecret);
    const config: ControllerConfig = {
      github: {
        appId: cloud.github.appId,
        privateKey: { file: cloud.privateKeyFile },
        webhookSecret: { file: secretFile },
        apiUrl: cloud.github.url,
      },
      aws: {
        region: cloud.region,
        dynamodbEndpoint: engine.endpoint,
        ecsEndpoint: cloud.ecs.url,
        sqsEndpoint: cloud.sqs.url,
      },
      table: DEFAULT_TABLE_NAME,
      queueUrl: cloud.queueUrl,
      // Metrics and drift on a loopback listener of their own, on any free port.
      server: { port: settings.port, metricsPort: 0, metricsHost: '127.0.0.1' },
      runnerNamePrefix: DEFAULT_RUNNER_NAME_PREFIX,
      resyncSeconds: settings.resyncSeconds,
      pacing: {
        jitPerMinute: DEFAULT_JIT_PER_MINUTE,
        runTaskPerSecond: DEFAULT_RUN_TASK_PER_SECOND,
        runTaskBurst: DEFAULT_RUN_TASK_BURST,
        restPerHour: SANDBOX_REST_PER_HOUR,
      },
      leaseSeconds: 15,
    };

    const logFile = join(dataDir, 'controller.log');
    const destination = pino.destination({ dest: logFile, sync: true, append: false });
    stops.push(() => destination.end());
    // Every replica is built the same way: production wiring, sandbox endpoints.
    const startReplica = (log: { level: 'debug' | 'info' | 'warn' | 'error' | 'silent' }) =>
      startControllerApp({
        config,
        clock,
        host: '127.0.0.1',
        awsCredentials: sandboxCredentials(),
        log: { ...log, destination },
        reconcile: { runnerPollMs: settings.runnerPollMs },
        sqsWaitTimeSeconds: 2,
      });
    const app = await startReplica({ level: settings.logLevel ?? 'info' });
    stops.push(() => app.stop());
    // GitHub -> the controller's /webhook, next to GitHub -> EventBridge -> SQS.
    await cloud.github.control.addWebhookSink({ kind: 'http', url: app.webhookUrl! });

    const timeline = new Timeline({
      clock,
      print: options.print,
      verbose: settings.verbose ?? false,
      sources: {
        jobs: () => cloud.github.control.listJobs(),
        githubRunners: () => cloud.github.control.listRunners(),
        tasks: () => cloud.ecs.tasks(),
        records: () => app.store.listRunners(),
      },
    });
    const timelineStop = () => timeline.stop();
    stops.push(timelineStop);

    for (const { pool } of pools) {
      await app.store.applyPool(pool);
      app.controller.enqueuePool(pool.metadata.name);
    }

    const organizations: SandboxInfo['github']['organizations'] = {};
    for (const [login, installationId] of cloud.installations) {
      organizations[login] = { installationId };
    }
    const info: SandboxInfo = {
      pid: process.pid,
      startedAt: new Date(clock.now()).toISOString(),
      dataDir,
      webhook: { url: app.webhookUrl!, secret: cloud.github.webhookSecret, secretFile },
      controller: {
        url: app.url,
        logFile,
        metricsUrl: app.metricsUrl,
        readyUrl: `${app.operatorUrl}/readyz`,
        driftUrl: `${app.operatorUrl}/drift`,
      },
      github: {
        url: cloud.github.url,
        controlUrl: `${cloud.github.url}/_sim/`,
        appId: cloud.github.appId,
        privateKeyFile: cloud.privateKeyFile,
        organizations,
        repository: SEED_REPOSITORY,
      },
      ecs: {
        endpoint: cloud.ecs.url,
        region: cloud.region,
        cluster: SANDBOX_CLUSTER,
        taskDefinition: SANDBOX_TASK_DEFINITION,
      },
      sqs: {
        endpoint: cloud.sqs.url,
        region: cloud.region,
        queueUrl: cloud.queueUrl,
        deadLetterQueueUrl: cloud.deadLetterQueueUrl,
      },
      dynamodb: { endpoint: engine.endpoint, region: cloud.region, table: DEFAULT_TABLE_NAME },
      aws: { region: cloud.region, ...sandboxCredentials() },
      runnerNamePrefix: config.runnerNamePrefix,
    };
    const infoFile = join(dataDir, SANDBOX_FILE);
    // It holds the webhook secret: owner-only, like the key files.
    await writeFile(infoFile, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
    await chmod(infoFile, 0o600);

    const prefix = `${config.runnerNamePrefix}-`;
    return {
      cloud,
      app,
      info,
      pools,
      timeline,
      async queue(plan) {
        await cloud.ensureRepository(plan.repo);
        return (await queuePlan(cloud.github.control, plan)).runId;
      },
      async leftovers() {
        const problems: string[] = [];
        for (const r of await cloud.github.control.listRunners()) {
          if (r.name.startsWith(prefix)) problems.push(`GitHub runner ${r.name} (${r.status})`);
        }
        for (const t of cloud.ecs.tasks()) {
          if (t.lastStatus !== 'STOPPED') {
            problems.push(`ECS task ${shortTaskId(t.taskArn)} (${t.lastStatus})`);
          }
        }
        for (const r of await app.store.listRunners()) {
          if (r.state !== 'finished') problems.push(`runner record ${r.name} (${r.state})`);
        }
        return problems;
      },
      async deletePools() {
        for (const pool of await app.store.listPools()) {
          await app.store.requestPoolDeletion(pool.name);
          app.controller.enqueuePool(pool.name);
        }
      },
      async startReplica() {
        const replica = await startReplica({ level: settings.logLevel ?? 'info' });
        // Stopped before the first replica and the simulators.
        stops.splice(stops.indexOf(timelineStop), 0, () => replica.stop());
        return replica;
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Polls `check` until it is true, the deadline passes (false) or the signal aborts (false). */
export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
  signal?: AbortSignal,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (signal?.aborted) return false;
    if (await check().catch(() => false)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface SandboxRunOptions extends SandboxOptions {
  /** Exit after the plan (drain the pools, check that nothing is left). */
  once?: boolean;
  /** Resolves when the operator wants to stop (Ctrl-C); used without `once`. */
  untilStopped?: () => Promise<unknown>;
}

export interface SandboxResult {
  ok: boolean;
  outcome?: PlanOutcome;
  problems: string[];
  elapsedMs: number;
}

/** `runnerctl sandbox`: start, play the seed plan, then keep running or (once) drain and check. */
export async function runSandbox(options: SandboxRunOptions): Promise<SandboxResult> {
  const { print } = options;
  const cwd = options.cwd ?? process.cwd();
  const timeoutMs = options.timeoutMs ?? DEFAULTS.timeoutMs;
  const startedAt = Date.now();
  const sandbox = await startSandbox(options);
  const problems: string[] = [];
  let outcome: PlanOutcome | undefined;
  try {
    const { info, cloud, app } = sandbox;
    const at = (p: string) => shown(p, cwd);
    print(`runnerctl sandbox: the controller on a local cloud (data in ${at(info.dataDir)})`);
    print(
      `  GitHub simulator  ${info.github.url}  App ${info.github.appId}, key ${at(info.github.privateKeyFile)}`,
    );
    print(
      `  ECS simulator     ${info.ecs.endpoint}  cluster ${info.ecs.cluster}, task definition ${info.ecs.taskDefinition}`,
    );
    print(`  SQS simulator     ${info.sqs.endpoint}  queue ${info.sqs.queueUrl.split('/').pop()}`);
    print(
      `  DynamoDB          ${info.dynamodb.endpoint}  (dynalite, table ${info.dynamodb.table})`,
    );
    print(`  controller        ${info.controller.url}  webhook ${info.webhook.url}`);
    print(
      `  metrics           ${info.controller.metricsUrl}  (readiness ${info.controller.readyUrl})`,
    );
    print(`  drift report      ${info.controller.driftUrl}`);
    print(
      `  logs              ${at(info.controller.logFile)}, ${at(join(info.dataDir, 'runners.log'))}`,
    );
    print(`  endpoints         ${at(join(info.dataDir, SANDBOX_FILE))}`);
    print(`applied ${sandbox.pools.map((p) => `runnerpool/${p.pool.metadata.name}`).join(', ')}`);
    const plan = seedPlan(options.jobMs ?? DEFAULTS.jobMs);
    print(
      `playing the seed's test plan: "${plan.workflowName}" in ${plan.repo}, ` +
        `matrix ${plan.jobs.map((j) => `[${j.runsOn.join(', ')}]`).join(' and ')}`,
    );
    print('');
    sandbox.timeline.start();
    const queuedAt = Date.now();
    const runId = await sandbox.queue(plan);

    // The plan is done when its jobs completed and the runners that ran them are gone.
    const planDone = async () => {
      outcome = await planOutcome(cloud.github.control, [runId]);
      if (!outcome.done) return false;
      const used = new Set(outcome.jobs.map((j) => j.runnerName).filter(Boolean));
      const ghRunners = await cloud.github.control.listRunners();
      if (ghRunners.some((r) => used.has(r.name))) return false;
      const records = await app.store.listRunners();
      return records
        .filter((r) => used.has(r.name))
        .every(
          (r) =>
            r.state === 'finished' &&
            (!r.taskArn || cloud.ecs.task(r.taskArn)?.lastStatus === 'STOPPED'),
        );
    };
    if (!(await waitFor(planDone, timeoutMs))) {
      problems.push(
        `the plan did not finish within ${timeoutMs / 1000}s: ` +
          (outcome?.jobs.map((j) => `job ${j.id} ${j.status}`).join(', ') ?? 'no jobs'),
      );
    }
    await sandbox.timeline.poll();
    if (outcome?.done) {
      const failed = outcome.jobs.filter((j) => j.conclusion !== 'success');
      for (const j of failed) problems.push(`job ${j.id} ${j.name} concluded ${j.conclusion}`);
      print('');
      print(
        `plan: ${outcome.jobs.length} jobs completed, ${outcome.jobs.length - failed.length} succeeded, ` +
          `${((Date.now() - queuedAt) / 1000).toFixed(1)}s after the run was queued`,
      );
    }

    if (options.once) {
      print('draining: every pool deleted, the controller removes their runners');
      print('');
      await sandbox.deletePools();
      let left: string[] = [];
      const clean = async () => {
        left = await sandbox.leftovers();
        return left.length === 0 && (await app.store.listPools()).length === 0;
      };
      if (!(await waitFor(clean, timeoutMs))) {
        const poolsLeft = (await app.store.listPools()).map((p) => `pool ${p.name}`);
        problems.push(`left behind after the drain: ${[...left, ...poolsLeft].join(', ')}`);
      }
      await sandbox.timeline.poll();
      print('');
      if (problems.length === 0) {
        print(
          `ok: every job succeeded; no runner, task or runner record left ` +
            `(${((Date.now() - startedAt) / 1000).toFixed(1)}s)`,
        );
      } else {
        for (const p of problems) print(`FAILED: ${p}`);
      }
      return { ok: problems.length === 0, outcome, problems, elapsedMs: Date.now() - startedAt };
    }

    print('');
    print('the sandbox keeps running; Ctrl-C stops it.');
    print(`  webhook URL   ${info.webhook.url} (secret in ${at(info.webhook.secretFile)})`);
    print(`  queue a job   npx runnerctl sandbox queue --labels self-hosted,1`);
    print(
      `                (or POST ${info.github.controlUrl}createWorkflowRun, see docs/sandbox.md)`,
    );
    print(`  metrics       ${info.controller.metricsUrl}`);
    print(`  drift report  ${info.controller.driftUrl}`);
    print(`  endpoints     ${at(join(info.dataDir, SANDBOX_FILE))}`);
    for (const pool of await app.store.listPools()) {
      const s = pool.status;
      print(
        `  pool ${pool.name.padEnd(18)} ${s ? `${s.idle ?? 0} idle, ${s.busy ?? 0} busy, ${s.launching ?? 0} launching` : 'not reconciled yet'}`,
      );
    }
    print('');
    await options.untilStopped?.();
    print('stopping: HTTP, queue consumer, controller (lease released), simulators');
    return { ok: problems.length === 0, outcome, problems, elapsedMs: Date.now() - startedAt };
  } finally {
    await sandbox.stop();
  }
}
