// Scale: R live runner records (and their GitHub runners and ECS tasks) across P pools; how long
// one full reconcile pass takes, against the store floor (a raw paginated Query of the same live
// records on the same engine, alternated with the passes), and the controller's peak memory. At
// production settings: the REST budget of one installation (5,000/h), an in-progress job record
// per busy runner, finished history in the table, ECS task and workflow_job events through SQS,
// and launches (queued jobs) and removals (idle runners whose task exited) during every pass. The world is seeded in bulk,
// not through R launches: GitHub runners through generate-jitconfig with the simulator's limits
// lifted (64 at a time), tasks through RunTask by 10, the idle runners' broker sessions opened
// (they show online), and the records written straight through the store. Busy records are busy
// on GitHub's side too as far as the controller can tell (the REST busy flag lags).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, QueryCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { ECSClient, RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { TASK_STARTED_BY, TASK_TAG_POOL } from '../../controller/api/constants.ts';
import { OctokitGitHubProvider } from '../../controller/github/octokit-provider.ts';
import { randomSuffix, runnerName } from '../../controller/reconcile/names.ts';
import type { ContainerRuntime } from '../../controller/sandbox/ecs/runtime.ts';
import type { ChildStats } from './protocol.ts';
import { credentialProof, decodeJitConfig } from '../../controller/sandbox/github/jitconfig.ts';
import {
  sandboxCredentials,
  SANDBOX_CLUSTER,
  SANDBOX_REGION,
  SANDBOX_TASK_DEFINITION,
} from '../../controller/sandbox/local-cloud.ts';
import type { Clock } from '../../controller/util/clock.ts';
import { benchClock } from './clock.ts';
import { BENCH_ORG, BENCH_REPO, RUNNER_PREFIX, startBenchCloud } from './cloud.ts';
import { DEFAULT_TABLE_NAME, GSI1, RUNNERS_PARTITION } from '../../controller/store/layout.ts';
import { eachLimited, percentile, round } from './stats.ts';

export interface ScaleOptions {
  records: number;
  pools: number;
  /** Share of the records that are busy (the rest idle). */
  busyShare: number;
  /** Full reconcile passes to time. */
  passes: number;
  /** The installation's REST budget per hour (simulator and controller). Default 5,000. */
  restPerHour?: number;
  /** Finished runner records written as history (they must cost a pass nothing). Default 0. */
  history?: number;
  /** An in_progress job record per busy runner. Default false. */
  inProgressJobs?: boolean;
  /** Jobs queued (launches) and idle runners whose task exits (removals) before each pass. */
  churn?: number;
  /**
   * After the passes, jobs queued one at a time (each waits for its RunTask) with every seeded
   * runner still live: the event -> RunTask latency. Default 0 (not measured).
   */
  latencySamples?: number;
  log: (line: string) => void;
}

export interface ScaleResult {
  records: number;
  pools: number;
  busy: number;
  idle: number;
  seedSeconds: number;
  /** Wall time of each full pass (every pool, garbage collection, job resync), in ms. */
  passMs: number[];
  passMsMedian: number;
  passMsMax: number;
  /** The first pass after the controller started: includes the cache's first relist. */
  firstPassMs: number;
  /** Raw paginated Query of the live runner records, alternated with the passes. */
  floorMs: number[];
  floorMsMedian: number;
  /** Items the last floor Query read (the live records, churn included). */
  floorItems: number;
  /** Median pass over median floor. */
  passToFloorRatio: number;
  restPerHour: number;
  history: number;
  inProgressJobs: number;
  churnPerPass: number;
  peakRssMiB: number;
  /**
   * workflow_job queued (the run created on GitHub, its event through EventBridge and SQS) to
   * the RunTask of the runner launched for it, with the seeded runners live, in ms of the real
   * clock (the scale run does not speed it up).
   */
  latency?: {
    samples: number;
    liveRunners: number;
    eventToRunTaskMs: { p50: number; p99: number; max: number };
  };
  /** Records still live after the passes (all of them: the seeded world is steady). */
  liveAfter: number;
  calls: Record<string, number>;
  callsPerPass: { github: number; ecs: number; dynamodb: number };
  controller: {
    rssAtStartBytes: number;
    peakRssBytes: number;
    maxRssBytes: number;
    heapUsedBytes: number;
    atPeak: ChildStats['atPeak'];
    cpuUserMs: number;
    eventLoopDelayP99Ms: number;
  };
}

/** A container that runs until it is stopped (the runner's JIT config is not needed). */
function waitingRuntime(): ContainerRuntime {
  return {
    start({ signal }) {
      const exited = new Promise<number>((resolve) => {
        if (signal.aborted) return resolve(0);
        signal.addEventListener('abort', () => resolve(0), { once: true });
      });
      return { exited };
    },
  };
}

/** Opens the runner's broker session, as the runner does when it starts: it shows online. */
async function openSession(encodedJitConfig: string): Promise<void> {
  const config = decodeJitConfig(encodedJitConfig);
  const base = config.runner.serverUrlV2.replace(/\/?$/, '/');
  const response = await fetch(`${base}sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      agentId: config.runner.agentId,
      clientId: config.credentials.data.clientId,
      proof: credentialProof(config.rsaParams),
      version: '2.329.0',
      os: 'Linux',
    }),
  });
  await response.arrayBuffer();
  if (response.status !== 201)
    throw new Error(`session of ${config.runner.agentName}: ${response.status}`);
}

export async function runScale(options: ScaleOptions): Promise<ScaleResult> {
  const { log } = options;
  const dir = await mkdtemp(join(tmpdir(), 'rctl-bench-scale-'));
  // Real time: a pass's duration is wall time, and the controller polls on production periods.
  const clockSpec = { factor: 1, realStartMs: Date.now() };
  const clock: Clock = benchClock(clockSpec);
  const perPool = Math.ceil(options.records / options.pools);
  const cloud = await startBenchCloud({
    dir,
    clock,
    clockSpec,
    runtime: () => waitingRuntime(),
    latencies: {
      provisioning: 0,
      pending: 0,
      activating: 0,
      deactivating: 0,
      stopping: 0,
      deprovisioning: 0,
    },
    pools: options.pools,
    // Room above the seeded runners: the passes' launches must not be capped by maxRunners.
    // (The schema's maximum is 1,000: pass --pools 11 for 10,000 records with room.)
    maxRunners: Math.min(1_000, perPool + 100),
    idleTimeout: '6h',
    restPerHour: 1_000_000,
    events: true,
    resyncSeconds: 60,
  });
  try {
    const seedStart = Date.now();
    // Lift the limits for seeding (the controller is not running yet), keep runners online.
    await cloud.github.control.setRateLimits({ jitPointsPerMinute: 1e12, primaryLimit: 1e12 });
    await cloud.github.control.setTimings({ runnerOfflineAfterMs: 365 * 24 * 3600_000 });
    cloud.ecs.setFaults({ throttle: { enabled: false } });
    const github = new OctokitGitHubProvider({
      appId: cloud.github.appId,
      privateKey: cloud.github.privateKeyPem,
      baseUrl: cloud.github.url,
      pacing: { jitPerMinute: 1e9, restPerHour: 1e12, restBurst: 1e6 },
      clock,
    });
    const scope = { kind: 'org' as const, org: BENCH_ORG };
    const busyCount = Math.round(options.records * options.busyShare);
    const items = Array.from({ length: options.records }, (_, i) => ({
      pool: cloud.pools[i % options.pools]!,
      busy: i < busyCount,
    }));
    // 1. GitHub runners: one generate-jitconfig each (how they come to exist).
    const runners: { name: string; pool: string; id: number; jit: string }[] = [];
    await eachLimited(items, 64, async (item) => {
      const name = runnerName(RUNNER_PREFIX, item.pool, randomSuffix());
      const jit = await github.generateJitConfig(scope, {
        name,
        runnerGroupId: 1,
        labels: ['self-hosted', item.pool],
        workFolder: '_work',
      });
      runners.push({ name, pool: item.pool, id: jit.runner.id, jit: jit.encodedJitConfig });
    });
    log(
      `  ${runners.length} GitHub runners registered (${round((Date.now() - seedStart) / 1000)} s)`,
    );
    // 2. Idle runners open their session (online); busy ones are left to GitHub's busy flag lag.
    const isBusy = new Map(items.map((item, i) => [i, item.busy]));
    await eachLimited(
      runners.filter((_, i) => !isBusy.get(i)),
      64,
      (r) => openSession(r.jit),
    );
    // 3. Tasks: RunTask by 10 (ECS's most per call), tagged with their pool.
    const ecsClient = new ECSClient({
      endpoint: cloud.ecs.url,
      region: SANDBOX_REGION,
      credentials: sandboxCredentials(),
    });
    const taskArns = new Map<string, string[]>();
    try {
      const batches = cloud.pools.flatMap((pool) =>
        Array.from(
          { length: Math.ceil(runners.filter((r) => r.pool === pool).length / 10) },
          () => pool,
        ),
      );
      await eachLimited(batches, 32, async (pool) => {
        const out = await ecsClient.send(
          new RunTaskCommand({
            cluster: SANDBOX_CLUSTER,
            taskDefinition: SANDBOX_TASK_DEFINITION,
            count: 10,
            launchType: 'FARGATE',
            startedBy: TASK_STARTED_BY,
            group: `runnerctl:${pool}`,
            networkConfiguration: {
              awsvpcConfiguration: { subnets: ['subnet-0123456789abcdef0'] },
            },
            tags: [{ key: TASK_TAG_POOL, value: pool }],
          }),
        );
        const arns = (out.tasks ?? []).map((t) => t.taskArn!);
        taskArns.set(pool, [...(taskArns.get(pool) ?? []), ...arns]);
      });
    } finally {
      ecsClient.destroy();
    }
    log(`  tasks started (${round((Date.now() - seedStart) / 1000)} s)`);
    // 4. The records, through the store (busy ones with their in-progress job).
    const now = new Date(clock.now()).toISOString();
    let done = 0;
    const idleTasks: string[] = [];
    let jobs = 0;
    await eachLimited(runners, 64, async (r, i) => {
      const busy = isBusy.get(i)!;
      const taskArn = taskArns.get(r.pool)!.pop()!;
      if (!busy) idleTasks.push(taskArn);
      const jobId = 1_000_000 + i;
      if (busy && options.inProgressJobs) {
        await cloud.store.recordJob({
          id: jobId,
          runId: 500_000 + Math.floor(i / 4),
          runAttempt: 1,
          repository: BENCH_REPO,
          owner: BENCH_ORG,
          labels: ['self-hosted', r.pool],
          status: 'in_progress',
          pool: r.pool,
          runnerName: r.name,
          runnerId: r.id,
          createdAt: now,
          startedAt: now,
        });
        jobs++;
      }
      await cloud.store.createRunner({
        name: r.name,
        pool: r.pool,
        state: busy ? 'busy' : 'idle',
        labels: ['self-hosted', r.pool],
        githubRunnerId: r.id,
        taskArn,
        capacityProvider: 'FARGATE',
        attempts: 1,
        ...(busy && options.inProgressJobs ? { jobId } : {}),
        createdAt: now,
        timeline: [
          { at: now, event: 'created' },
          { at: now, event: 'configured', detail: `runner ${r.id}` },
          { at: now, event: 'task-started', detail: taskArn },
          { at: now, event: 'idle' },
          ...(busy ? [{ at: now, event: 'busy' }] : []),
        ],
      });
      done++;
      if (done % 2500 === 0) log(`  ${done}/${options.records} records written`);
    });
    // 5. History: finished records of other runners (written as the controller writes them).
    const history = options.history ?? 0;
    const historyStart = Date.now();
    await eachLimited(
      Array.from({ length: history }, (_, i) => i),
      64,
      async (i) => {
        const pool = cloud.pools[i % options.pools]!;
        await cloud.store.createRunner({
          name: runnerName(RUNNER_PREFIX, pool, `h${String(i).padStart(7, '0')}`),
          pool,
          state: 'finished',
          labels: ['self-hosted', pool],
          attempts: 1,
          createdAt: now,
          timeline: [
            { at: now, event: 'created' },
            { at: now, event: 'finished', detail: 'task stopped after its job' },
          ],
        });
        if ((i + 1) % 25_000 === 0) log(`  ${i + 1}/${history} finished records written`);
      },
    );
    if (history) log(`  history written in ${round((Date.now() - historyStart) / 1000)} s`);
    // Every task RUNNING before the controller looks.
    while (cloud.ecs.tasks().some((t) => t.lastStatus !== 'RUNNING')) {
      await new Promise((r) => setTimeout(r, 200));
    }
    const seedSeconds = (Date.now() - seedStart) / 1000;
    log(`  seeded ${options.records} runners, tasks and records in ${round(seedSeconds)} s`);
    // Back to the simulators' own limits for the controller, at the production REST budget.
    const restPerHour = options.restPerHour ?? 5_000;
    await cloud.github.control.setRateLimits({
      jitPointsPerMinute: 900,
      primaryLimit: restPerHour,
    });
    // Seeding spent far more than an hour's budget: the controller starts with a fresh one.
    await cloud.github.control.resetRateLimits();
    cloud.ecs.setFaults({ throttle: { enabled: true } });

    const dynamo = new DynamoDBClient({
      endpoint: cloud.engine.endpoint,
      region: SANDBOX_REGION,
      credentials: sandboxCredentials(),
    });
    const ecsDuring = new ECSClient({
      endpoint: cloud.ecs.url,
      region: SANDBOX_REGION,
      credentials: sandboxCredentials(),
    });
    let floorItems = 0;
    /** The floor: every live runner record by a raw paginated Query of the same index. */
    const floor = async (): Promise<number> => {
      const started = performance.now();
      let start: Record<string, AttributeValue> | undefined;
      let items = 0;
      do {
        const out = await dynamo.send(
          new QueryCommand({
            TableName: DEFAULT_TABLE_NAME,
            IndexName: GSI1,
            KeyConditionExpression: 'gsi1pk = :p',
            ExpressionAttributeValues: { ':p': { S: RUNNERS_PARTITION } },
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
        items += out.Items?.length ?? 0;
        start = out.LastEvaluatedKey;
      } while (start);
      floorItems = items;
      return performance.now() - started;
    };
    const churn = options.churn ?? 0;
    /** Launches and removals for the next pass: queued jobs, idle runners whose task exits. */
    const stir = async (pass: number) => {
      if (!churn) return;
      await cloud.github.control.createWorkflowRun({
        repo: BENCH_REPO,
        workflowName: `scale churn ${pass}`,
        event: 'push',
        headBranch: 'main',
        jobs: Array.from({ length: churn }, (_, i) => ({
          name: `churn ${i + 1}`,
          runsOn: ['self-hosted', cloud.pools[i % options.pools]!],
          durationMs: 3_600_000,
        })),
      });
      for (const task of idleTasks.splice(0, churn)) {
        await ecsDuring.send(
          new StopTaskCommand({ cluster: SANDBOX_CLUSTER, task, reason: 'bench: runner exited' }),
        );
      }
    };

    const child = await cloud.startController();
    const atStart = await child.stats(true);
    const first = await child.reconcileOnce();
    if (!first.leader) throw new Error('the controller did not take the lease');
    log(`  first pass (with the cache's first relist): ${round(first.ms / 1000, 2)} s`);
    const passMs: number[] = [];
    const floorMs: number[] = [];
    try {
      for (let i = 0; i < options.passes; i++) {
        floorMs.push(round(await floor(), 0));
        await stir(i + 1);
        const { ms, leader } = await child.reconcileOnce();
        if (!leader) throw new Error('the controller did not take the lease');
        passMs.push(round(ms, 0));
        log(
          `  floor ${i + 1}: ${round(floorMs[i]! / 1000, 2)} s, full pass ${i + 1}: ${round(ms / 1000, 2)} s`,
        );
      }
    } finally {
      dynamo.destroy();
      ecsDuring.destroy();
    }
    let latency: ScaleResult['latency'];
    if (options.latencySamples) {
      const liveRunners = (await cloud.store.listRunners({ live: true })).length;
      const samples: number[] = [];
      for (let i = 0; i < options.latencySamples; i++) {
        const before = new Set(cloud.ecs.tasks().map((t) => t.taskArn));
        const queuedAt = performance.now();
        await cloud.github.control.createWorkflowRun({
          repo: BENCH_REPO,
          workflowName: `scale latency ${i + 1}`,
          event: 'push',
          headBranch: 'main',
          jobs: [
            {
              name: 'latency',
              runsOn: ['self-hosted', cloud.pools[i % options.pools]!],
              durationMs: 3_600_000,
            },
          ],
        });
        // A sample without a RunTask within 60 s counts as 60 s (and shows in the p99).
        const deadline = Date.now() + 60_000;
        while (!cloud.ecs.tasks().some((t) => !before.has(t.taskArn))) {
          if (Date.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 5));
        }
        samples.push(round(performance.now() - queuedAt, 0));
      }
      latency = {
        samples: samples.length,
        liveRunners,
        eventToRunTaskMs: {
          p50: percentile(samples, 50),
          p99: percentile(samples, 99),
          max: Math.max(...samples),
        },
      };
      log(
        `  event -> RunTask with ${liveRunners} live runners: p50 ${latency.eventToRunTaskMs.p50} ms, p99 ${latency.eventToRunTaskMs.p99} ms`,
      );
    }
    const stats = await child.stats();
    const live = (await cloud.store.listRunners()).filter((r) => r.state !== 'finished').length;
    const per = (prefix: string) =>
      round(
        Object.entries(stats.calls)
          .filter(([k]) => k.startsWith(prefix))
          .reduce((a, [, n]) => a + n, 0) / options.passes,
        0,
      );
    return {
      records: options.records,
      pools: options.pools,
      busy: busyCount,
      idle: options.records - busyCount,
      seedSeconds: round(seedSeconds),
      passMs,
      passMsMedian: percentile(passMs, 50),
      passMsMax: Math.max(...passMs),
      firstPassMs: round(first.ms, 0),
      floorMs,
      floorMsMedian: percentile(floorMs, 50),
      floorItems,
      passToFloorRatio: round(percentile(passMs, 50) / Math.max(1, percentile(floorMs, 50)), 2),
      restPerHour,
      history,
      inProgressJobs: jobs,
      churnPerPass: churn,
      peakRssMiB: round(stats.peakRssBytes / 2 ** 20, 0),
      ...(latency ? { latency } : {}),
      liveAfter: live,
      calls: stats.calls,
      callsPerPass: { github: per('github '), ecs: per('ecs '), dynamodb: per('dynamodb ') },
      controller: {
        rssAtStartBytes: atStart.rssBytes,
        peakRssBytes: stats.peakRssBytes,
        maxRssBytes: stats.maxRssBytes,
        heapUsedBytes: stats.heapUsedBytes,
        atPeak: stats.atPeak,
        cpuUserMs: round(stats.cpuUserMs, 0),
        eventLoopDelayP99Ms: round(stats.eventLoopDelayP99Ms),
      },
    };
  } finally {
    await cloud.close();
    if (process.env.RUNNERCTL_BENCH_KEEP) log(`  kept ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}
