// `runnerctl simulate`: plays a scenario on the local cloud with the real controller.
//
// One scaled clock drives everything — the GitHub, ECS and SQS simulators, the fake runners, the
// store's timestamps and the controller's timers — so the scenario's durations are simulated
// time and `speed` hours of workload run in an hour/speed. Faults come from the simulators' own
// knobs (webhook delivery, spot capacity, task starts), from proxies between the controller and
// the simulated APIs (GitHub 5xx/429/secondary limits, ECS throttling), from a container runtime
// that crashes some runners before they register, and from controller restarts. At the end the
// pools are deleted (the controller drains them), the controller stops, and the world is checked
// (./report.ts).

import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import {
  DEFAULT_RUNNER_NAME_PREFIX,
  JIT_CONFIG_ENV,
  TASK_TAG_POOL,
  TASK_TAG_RUNNER,
} from '../api/constants.ts';
import { startControllerApp, type ControllerApp } from '../app/app.ts';
import type { ControllerConfig } from '../config/types.ts';
import { DEFAULT_RUN_TASK_BURST, DEFAULT_RUN_TASK_PER_SECOND } from '../ecs/sdk-provider.ts';
import { DEFAULT_JIT_PER_MINUTE } from '../github/octokit-provider.ts';
import type { SimulatedTask } from '../sandbox/ecs/simulator.ts';
import type { JobView } from '../sandbox/github/index.ts';
import { decodeJitConfig } from '../sandbox/github/jitconfig.ts';
import {
  sandboxCredentials,
  startLocalCloud,
  writeSecretFile,
  type LocalCloud,
} from '../sandbox/local-cloud.ts';
import { openStore } from '../store/factory.ts';
import { DEFAULT_TABLE_NAME } from '../store/layout.ts';
import { startLocalEngine } from '../store/local-engine.ts';
import type { Store } from '../store/types.ts';
import { scaledClock, systemClock, type Clock } from '../util/clock.ts';
import { crashingRuntime } from './crash-runtime.ts';
import { startEcsProxy, startGitHubProxy, type EcsProxy, type FaultProxy } from './proxy.ts';
import { randomFor } from './random.ts';
import { buildReport, type SimulationReport, type WorldSnapshot } from './report.ts';
import type { Scenario, ScenarioJob, ScenarioRun } from './scenario.ts';

export interface SimulationOptions {
  /** Overrides the scenario's speed factor. */
  speed?: number;
  /** Overrides the scenario's seed. */
  seed?: number;
  /** Where the store, keys and logs go. Default: a new temporary directory. */
  dataDir?: string;
  /** Keep the data directory: always, never (default) or only when an invariant failed. */
  keepData?: 'always' | 'never' | 'on-failure';
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Progress lines (simulated time first). */
  print?: (line: string) => void;
  /**
   * Runs after the drain, once the controller has stopped, just before the world is checked.
   * Tests use it to leak something on purpose and see the check fail.
   */
  beforeCheck?: (world: SimulationWorld) => Promise<void>;
}

export interface SimulationWorld {
  cloud: LocalCloud;
  /** A store client on the simulation's table (the controller's own is closed by then). */
  store: Store;
  clock: Clock;
  /** The GitHub API as the controller saw it (through the fault proxy). */
  githubUrl: string;
  runnerNamePrefix: string;
}

export interface SimulationResult {
  ok: boolean;
  report: SimulationReport;
  /** The data directory, when kept. */
  dataDir?: string;
}

/** Real-time pause between two looks at the world while waiting. */
const POLL_REAL_MS = 50;

function realSleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface ExpandedJob {
  spec: ScenarioJob;
  name: string;
}

function expandJobs(jobs: ScenarioJob[]): ExpandedJob[] {
  return jobs.flatMap((spec) =>
    spec.matrix === 1
      ? [{ spec, name: spec.name }]
      : Array.from({ length: spec.matrix }, (_, i) => ({ spec, name: `${spec.name} (${i + 1})` })),
  );
}

export async function runSimulation(
  scenario: Scenario,
  options: SimulationOptions = {},
): Promise<SimulationResult> {
  const speed = options.speed ?? scenario.speed;
  const seed = options.seed ?? scenario.seed;
  const print = options.print ?? (() => {});
  const realStart = Date.now();
  const dir = options.dataDir
    ? resolve(options.dataDir)
    : await mkdtemp(join(tmpdir(), 'rctl-simulate-'));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const clock = scaledClock(speed);
  // The origin of the scenario's times: reset once the world is set up, when the workload starts.
  let startMs = clock.now();
  const since = () => (clock.now() - startMs) / 1000;
  const say = (line: string) => print(`${formatSim(since())}  ${line}`);
  const sleepUntil = (simMs: number) => clock.sleep(startMs + simMs - clock.now());

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
  const errors: string[] = [];
  let ok = false;
  try {
    const engine = await startLocalEngine(dir);
    stops.push(() => engine.close());

    const runnerLog = createWriteStream(join(dir, 'runners.log'), { flags: 'w' });
    stops.push(() => new Promise<void>((done) => runnerLog.end(done)));
    const crashes: string[] = [];
    const crashRate = scenario.faults.runners.crashBeforeRegistrationRate;
    const cloud = await startLocalCloud({
      dataDir: dir,
      clock,
      seed,
      taskStartMs: scenario.cloud.taskStartMs,
      // Octokit times installation tokens and JWTs on the system clock, so GitHub's API side runs
      // on real time; its limits are scaled so that they allow what they would in simulated time.
      githubApiClock: systemClock,
      restPerHour: scenario.cloud.restPerHour * speed,
      githubRateLimits: { jitPointsPerMinute: 900 * speed },
      runnerLog: (arn, line) => runnerLog.write(`${arn.split('/').pop()} ${line}\n`),
      ...(crashRate > 0
        ? {
            wrapRuntime: (inner) =>
              crashingRuntime(inner, {
                rate: crashRate,
                random: randomFor(seed, 'runners'),
                clock,
                onCrash: (arn) => crashes.push(arn),
              }),
          }
        : {}),
    });
    stops.push(() => cloud.close());
    cloud.ecs.setFaults({
      spotCapacityShortage: scenario.faults.ecs.spotCapacityShortageRate,
      failToStart: scenario.faults.ecs.taskStartFailureRate,
      spotInterruption: scenario.faults.ecs.spotInterruptionRate,
    });
    for (const pool of scenario.pools) {
      const scope = pool.spec.github;
      if (scope.scope === 'org') await cloud.ensureOrganization(scope.organization);
      if (scope.scope === 'repo') await cloud.ensureRepository(scope.repository);
    }
    for (const run of scenario.workload) await cloud.ensureRepository(run.repo);

    const githubProxy: FaultProxy = await startGitHubProxy({
      target: cloud.github.url,
      faults: scenario.faults.github,
      random: randomFor(seed, 'github'),
      now: () => clock.now(),
    });
    stops.push(() => githubProxy.close());
    const ecsProxy: EcsProxy = await startEcsProxy({
      target: cloud.ecs.url,
      faults: scenario.faults.ecs,
      random: randomFor(seed, 'ecs'),
      now: () => clock.now() - startMs,
      tagKeys: { runner: TASK_TAG_RUNNER, pool: TASK_TAG_POOL },
    });
    stops.push(() => ecsProxy.close());

    const ingestion = scenario.controller.ingestion;
    const secretFile = join(dir, 'webhook-secret');
    await writeSecretFile(secretFile, cloud.github.webhookSecret);
    const config: ControllerConfig = {
      github: {
        appId: cloud.github.appId,
        privateKey: { file: cloud.privateKeyFile },
        ...(ingestion !== 'sqs' ? { webhookSecret: { file: secretFile } } : {}),
        apiUrl: githubProxy.url,
      },
      aws: {
        region: cloud.region,
        dynamodbEndpoint: engine.endpoint,
        ecsEndpoint: ecsProxy.url,
        sqsEndpoint: cloud.sqs.url,
      },
      table: DEFAULT_TABLE_NAME,
      ...(ingestion !== 'webhook' ? { queueUrl: cloud.queueUrl } : {}),
      server: { port: 0 },
      runnerNamePrefix: DEFAULT_RUNNER_NAME_PREFIX,
      resyncSeconds: scenario.controller.resyncMs / 1000,
      pacing: {
        jitPerMinute: DEFAULT_JIT_PER_MINUTE,
        runTaskPerSecond: DEFAULT_RUN_TASK_PER_SECOND,
        runTaskBurst: DEFAULT_RUN_TASK_BURST,
        restPerHour: scenario.cloud.restPerHour,
      },
      // At least 3 s of real time: a loaded machine must not lose the lease between renewals.
      leaseSeconds: (scenario.controller.leaseMs ?? Math.max(15_000, speed * 3_000)) / 1000,
    };
    const logFile = pino.destination({
      dest: join(dir, 'controller.log'),
      sync: true,
      append: false,
    });
    // A stopped controller may still log a last line or two; they go nowhere once the file closed.
    let logOpen = true;
    const destination = { write: (line: string) => (logOpen ? logFile.write(line) : true) };
    stops.push(() => {
      logOpen = false;
      logFile.end();
    });

    let app: ControllerApp | undefined;
    let sinkId: string | undefined;
    let replicas = 0;
    const startApp = async () => {
      if (app) throw new Error('simulate: a controller is already running');
      replicas++;
      app = await startControllerApp({
        config,
        clock,
        host: '127.0.0.1',
        awsCredentials: sandboxCredentials(),
        log: { level: options.logLevel ?? 'info', destination },
        reconcile: { runnerPollMs: scenario.controller.runnerPollMs },
        leaseHolderId: `simulate-${replicas}`,
        // Octokit's 5xx backoff runs on real time: scaled like every other timer.
        githubRetryBaseMs: Math.max(1, Math.round(1_000 / speed)),
      });
      if (app.webhookUrl) {
        sinkId = (await cloud.github.control.addWebhookSink({ kind: 'http', url: app.webhookUrl }))
          .id;
      }
    };
    const stopApp = async () => {
      if (sinkId) await cloud.github.control.removeWebhookSink({ id: sinkId });
      sinkId = undefined;
      const current = app;
      app = undefined;
      await current?.stop();
    };
    stops.push(stopApp);
    await startApp();
    if (!scenario.controller.coldStart) {
      // A controller that has been running knows the repositories it saw jobs for; its resync
      // reads their queues even when every event of a job is lost.
      for (const run of scenario.workload) {
        await app!.store.touchRepository(run.repo, new Date(clock.now()).toISOString());
      }
    }
    for (const pool of scenario.pools) {
      await app!.store.applyPool(pool);
      app!.controller.enqueuePool(pool.metadata.name);
    }
    const wf = scenario.faults.webhooks;
    await cloud.github.control.setFaults({
      dropRate: wf.dropRate,
      duplicateRate: wf.duplicateRate,
      reorderRate: wf.reorderRate,
      delayRate: wf.delayRate,
      delayMs: wf.delayMs,
    });
    startMs = clock.now();
    say(
      `scenario ${scenario.name}: ${scenario.pools.length} pool(s), ${scenario.workload.length} workload entr${scenario.workload.length === 1 ? 'y' : 'ies'}, speed ${speed}x, seed ${seed}`,
    );

    // ECS forgets stopped tasks after an hour of clock time: keep every task's last snapshot.
    const seenTasks = new Map<string, Omit<SimulatedTask, 'environment'>>();
    const taskRunners: Record<string, string> = {};
    const sampleTasks = () => {
      const tasks = cloud.ecs.tasks();
      const fresh = tasks.filter((t) => !(t.taskArn in taskRunners));
      Object.assign(taskRunners, runnerNamesOf(fresh));
      for (const { environment: _secret, ...task } of tasks) seenTasks.set(task.taskArn, task);
    };
    const sampler = setInterval(sampleTasks, POLL_REAL_MS);
    stops.push(() => clearInterval(sampler));

    // --- the workload ------------------------------------------------------------------------
    const control = cloud.github.control;
    /** Expected conclusion by `runId:job name` (the same for every attempt of a run). */
    const expected = new Map<string, 'success' | 'failure'>();
    /** Jobs and runs the workload cancelled (their jobs may conclude `cancelled`). */
    const cancelled = { jobs: new Set<number>(), runs: new Set<number>() };
    const runIds = new Set<number>();
    const restartsAt: number[] = [];
    let outstanding = 0;
    let stopping = false;
    const track = (what: string, work: () => Promise<void>) => {
      outstanding++;
      void work()
        .catch((err: unknown) => {
          if (!stopping) errors.push(`${what}: ${(err as Error).message}`);
        })
        .finally(() => outstanding--);
    };

    const playRun = async (run: ScenarioRun, atMs: number) => {
      await sleepUntil(atMs);
      if (stopping) return;
      const jobs = expandJobs(run.jobs);
      const view = await control.createWorkflowRun({
        repo: run.repo,
        workflowName: run.workflow,
        event: 'push',
        headBranch: 'main',
        jobs: jobs.map((j) => ({
          name: j.name,
          runsOn: j.spec.runsOn,
          durationMs: j.spec.durationMs,
          conclusion: j.spec.conclusion,
        })),
      });
      runIds.add(view.runId);
      for (const j of jobs) expected.set(`${view.runId}:${j.name}`, j.spec.conclusion);
      say(`run ${view.runId} queued: ${run.workflow} in ${run.repo}, ${jobs.length} job(s)`);
      jobs.forEach((j, i) => {
        const jobId = view.jobIds[i];
        if (j.spec.cancelAfterMs === undefined || jobId === undefined) return;
        track(`cancel job ${jobId}`, async () => {
          await sleepUntil(atMs + j.spec.cancelAfterMs!);
          if (stopping) return;
          cancelled.jobs.add(jobId);
          await control.cancelJob({ jobId });
          say(`job ${jobId} cancelled`);
        });
      });
      if (run.cancelAfterMs !== undefined) {
        track(`cancel run ${view.runId}`, async () => {
          await sleepUntil(atMs + run.cancelAfterMs!);
          if (stopping) return;
          cancelled.runs.add(view.runId);
          await control.cancelRun({ runId: view.runId });
          say(`run ${view.runId} cancelled`);
        });
      }
      if (run.rerunAfterMs !== undefined) {
        track(`re-run run ${view.runId}`, async () => {
          while (!stopping && (await control.getRun({ runId: view.runId })).status !== 'completed')
            await realSleep(POLL_REAL_MS);
          if (stopping) return;
          await clock.sleep(run.rerunAfterMs!);
          if (stopping) return;
          const again = await control.rerunRun({ runId: view.runId });
          say(`run ${view.runId} re-run (attempt ${again.runAttempt})`);
        });
      }
    };
    for (const run of scenario.workload) {
      for (let rep = 0; rep < run.repeat.count; rep++) {
        const at = run.atMs + rep * run.repeat.everyMs;
        track(`workload[${run.index}] at ${formatSim(at / 1000)}`, () => playRun(run, at));
      }
    }
    // Restarts one after the other: a slow stop must not overlap the next restart (two
    // controllers started, one of them never stopped).
    let restarting = Promise.resolve();
    for (const restart of scenario.faults.controller.restarts) {
      track(`controller restart at ${formatSim(restart.atMs / 1000)}`, async () => {
        await sleepUntil(restart.atMs);
        const previous = restarting;
        let done!: () => void;
        restarting = new Promise((resolve) => (done = resolve));
        try {
          await previous;
          if (stopping) return;
          say('controller stopping (restart)');
          restartsAt.push(since());
          await stopApp();
          await clock.sleep(restart.downtimeMs);
          await startApp();
          say('controller started again');
        } finally {
          done();
        }
      });
    }

    // A job whose spot task was interrupted is not done until the controller's one re-run of
    // it (a later attempt of the same run and job name) exists: the controller asks for it after
    // the job completed. A re-run that is interrupted again is not re-run (no loop).
    const awaitingSpotRerun = (jobs: JobView[]) => {
      sampleTasks();
      const interruptedRunners = new Set(
        [...seenTasks.values()]
          .filter((t) => t.stopCode === 'SpotInterruption')
          .map((t) => taskRunners[t.taskArn])
          .filter((n): n is string => !!n),
      );
      const hit = (j: JobView) =>
        j.status === 'completed' &&
        j.conclusion !== 'success' &&
        j.runnerName !== null &&
        interruptedRunners.has(j.runnerName);
      return jobs.some(
        (j) =>
          hit(j) &&
          !jobs.some(
            (o) =>
              o.runId === j.runId &&
              o.name === j.name &&
              o.runAttempt !== j.runAttempt &&
              (o.runAttempt > j.runAttempt || hit(o)),
          ),
      );
    };
    const allJobsDone = async () => {
      const jobs = await control.listJobs();
      return jobs.every((j) => j.status === 'completed') && !awaitingSpotRerun(jobs);
    };
    let timedOut = false;
    for (;;) {
      if (outstanding === 0 && (await allJobsDone())) break;
      if (clock.now() - startMs >= scenario.timeoutMs) {
        timedOut = true;
        break;
      }
      await realSleep(POLL_REAL_MS);
    }
    stopping = true;
    const workloadDoneS = since();
    say(
      timedOut
        ? `timeout: not every job completed within ${formatSim(scenario.timeoutMs / 1000)}`
        : 'every job completed',
    );
    // A restart may be between its stop and its start.
    while (outstanding > 0) await realSleep(POLL_REAL_MS);
    if (!app) await startApp();

    // --- the drain ---------------------------------------------------------------------------
    say('draining: every pool deleted');
    for (const pool of await app!.store.listPools()) {
      await app!.store.requestPoolDeletion(pool.name);
      app!.controller.enqueuePool(pool.name);
    }
    const drainDeadline = clock.now() + scenario.drainTimeoutMs;
    let drained = false;
    while (clock.now() < drainDeadline) {
      const store = app!.store;
      const [pools, records, runners] = await Promise.all([
        store.listPools(),
        store.listRunners(),
        control.listRunners(),
      ]);
      const tasks = cloud.ecs.tasks().filter((t) => t.lastStatus !== 'STOPPED');
      if (
        pools.length === 0 &&
        runners.length === 0 &&
        tasks.length === 0 &&
        records.every((r) => r.state === 'finished')
      ) {
        drained = true;
        break;
      }
      await realSleep(POLL_REAL_MS);
    }
    const drainDoneS = since();
    say(
      drained
        ? 'drained'
        : `drain did not finish within ${formatSim(scenario.drainTimeoutMs / 1000)}`,
    );
    await stopApp();

    // --- the check ---------------------------------------------------------------------------
    const checkStore = await openStore({
      kind: 'dynamodb',
      endpoint: engine.endpoint,
      table: DEFAULT_TABLE_NAME,
      region: cloud.region,
      credentials: sandboxCredentials(),
      clock,
    });
    stops.push(() => checkStore.close());
    if (options.beforeCheck) {
      await options.beforeCheck({
        cloud,
        store: checkStore,
        clock,
        githubUrl: githubProxy.url,
        runnerNamePrefix: config.runnerNamePrefix,
      });
    }
    const world: WorldSnapshot = {
      jobs: (await control.listJobs()).filter((j: JobView) => runIds.has(j.runId)),
      allJobs: await control.listJobs(),
      runners: await control.listRunners(),
      tasks: (sampleTasks(), [...seenTasks.values()]),
      taskRunners,
      records: await checkStore.listRunners(),
      pools: await checkStore.listPools(),
      deliveries: await control.deliveries(),
      runTasks: ecsProxy.runTasks(),
      github: githubProxy.stats(),
      ecs: ecsProxy.stats(),
      crashes,
    };
    const report = buildReport({
      scenario,
      speed,
      seed,
      startMs,
      endMs: clock.now(),
      realSeconds: (Date.now() - realStart) / 1000,
      workloadDoneS,
      drainDoneS,
      timedOut,
      drained,
      restartsAt,
      errors,
      expected,
      cancelled,
      world,
    });
    ok = report.ok;
    say(ok ? 'every invariant holds' : 'INVARIANTS VIOLATED');
    const keep = options.keepData === 'always' || (options.keepData === 'on-failure' && !report.ok);
    if (keep) report.dataDir = dir;
    return { ok, report, ...(keep ? { dataDir: dir } : {}) };
  } finally {
    await stopAll();
    const keep = options.keepData === 'always' || (options.keepData === 'on-failure' && !ok);
    if (!keep && !options.dataDir) await rm(dir, { recursive: true, force: true });
  }
}

/** The runner name in each task's JIT config (the config itself goes no further). */
function runnerNamesOf(tasks: SimulatedTask[]): Record<string, string> {
  const names: Record<string, string> = {};
  for (const task of tasks) {
    const encoded = task.environment[JIT_CONFIG_ENV];
    if (!encoded) continue;
    try {
      names[task.taskArn] = decodeJitConfig(encoded).runner.agentName;
    } catch {
      // Not a config the simulator issued: the task has no runner name.
    }
  }
  return names;
}

/** Simulated seconds as `+1h02m03s`. */
export function formatSim(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(rest).padStart(2, '0');
  return h > 0 ? `+${h}h${mm}m${ss}s` : `+${mm}m${ss}s`;
}
