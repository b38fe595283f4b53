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
import {
  BatchWriteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { ECSClient, RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { PurgeQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { JIT_CONFIG_ENV, TASK_STARTED_BY, TASK_TAG_POOL } from '../../controller/api/constants.ts';
import { fakeRunnerRuntime } from '../../controller/sandbox/ecs/index.ts';
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
import { BENCH_ORG, BENCH_REPO, RUNNER_PREFIX, startBenchCloud, type BenchCloud } from './cloud.ts';
import {
  DEFAULT_TABLE_NAME,
  GSI1,
  RUNNERS_PARTITION,
  runnerIndexKey,
  runnerKey,
} from '../../controller/store/layout.ts';
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
  /** Finished records in the table during `passMs` (written after `withoutHistory`). */
  history: number;
  /** The same run's passes before the history was written (only with a history). */
  withoutHistory?: {
    passMs: number[];
    passMsMedian: number;
    floorMs: number[];
    floorMsMedian: number;
  };
  /** Median pass with the history over median pass without it, same run. */
  historyPassRatio?: number;
  /** How the history was written (BatchWriteItem, in parallel). */
  historyWrite?: { seconds: number; itemsPerSecond: number };
  inProgressJobs: number;
  churnPerPass: number;
  peakRssMiB: number;
  /**
   * workflow_job queued (the run created on GitHub, its event through EventBridge and SQS) to
   * the RunTask of the runner launched for it, with the seeded runners live, in ms of the real
   * clock (the scale run does not speed it up).
   */
  latency?: LatencyResult;
  /**
   * Records of the seeded pools still live after the passes: all but the churn's removals (the
   * seeded world is otherwise steady).
   */
  liveAfter: number;
  /** Calls of the controller from its start to the end of the timed passes (not the samples). */
  calls: Record<string, number>;
  /** Calls made while the timed passes ran (background loops included), per pass. */
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

export interface Spread {
  p50: number;
  p99: number;
  max: number;
}

/**
 * Single-job runs queued one at a time in a pool with room while every seeded runner is live
 * (docs/benchmark.md, "Event latency"). Real clock: the scale run is not sped up, and the
 * simulators and the controller share it (ms since the epoch), so times taken in either
 * process compare.
 */
export interface LatencyResult {
  samples: number;
  /** Live runner records when the samples started (the seeded world, less the removals). */
  liveRunners: number;
  pool: string;
  clock: 'real';
  /** The job's queued event entering SQS -> the RunTask of a runner for it reaching ECS. */
  eventToRunTaskMs: Spread;
  /**
   * The job's completed event entering SQS -> its runner removed: the task STOPPED, the GitHub
   * registration gone and the runner record finished (the latest of the three).
   */
  completedToRemovedMs: Spread;
  /** Samples that did not get there within 60 s (counted as 60 s in the figures). */
  timedOut: number;
}

const spread = (values: number[]): Spread => ({
  p50: percentile(values, 50),
  p99: percentile(values, 99),
  max: Math.max(...values),
});

/**
 * `count` finished runner records across `pools`, as the store writes them: one record per pool
 * through the store (its item is the template), the rest by BatchWriteItem (25 items a call, 16
 * calls at once) with the name and keys changed. Unprocessed items are sent again.
 */
async function writeHistory(
  cloud: BenchCloud,
  dynamo: DynamoDBClient,
  pools: string[],
  count: number,
  log: (line: string) => void,
): Promise<{ seconds: number; itemsPerSecond: number }> {
  const started = Date.now();
  const now = new Date().toISOString();
  const nameOf = (pool: string, i: number) =>
    runnerName(RUNNER_PREFIX, pool, `h${String(i).padStart(7, '0')}`);
  const templates = new Map<string, Record<string, AttributeValue>>();
  for (const [i, pool] of pools.slice(0, count).entries()) {
    const name = nameOf(pool, i);
    await cloud.store.createRunner({
      name,
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
    const out = await dynamo.send(
      new GetItemCommand({ TableName: DEFAULT_TABLE_NAME, Key: marshall(runnerKey(name)) }),
    );
    if (!out.Item) throw new Error(`history template ${name} not found`);
    templates.set(pool, out.Item);
  }
  const rest = Array.from(
    { length: Math.max(0, count - templates.size) },
    (_, k) => k + templates.size,
  );
  const batches: number[][] = [];
  for (let i = 0; i < rest.length; i += 25) batches.push(rest.slice(i, i + 25));
  let written = templates.size;
  await eachLimited(batches, 16, async (batch) => {
    let requests = batch.map((i) => {
      const pool = pools[i % pools.length]!;
      const name = nameOf(pool, i);
      const item = {
        ...templates.get(pool)!,
        ...marshall({ ...runnerKey(name), ...runnerIndexKey(pool, name, false), name }),
      };
      return { PutRequest: { Item: item } };
    });
    while (requests.length) {
      const out = await dynamo.send(
        new BatchWriteItemCommand({ RequestItems: { [DEFAULT_TABLE_NAME]: requests } }),
      );
      requests = (out.UnprocessedItems?.[DEFAULT_TABLE_NAME] ?? []) as typeof requests;
    }
    const before = written;
    written += batch.length;
    if (Math.floor(written / 100_000) > Math.floor(before / 100_000)) {
      log(`  ${written}/${count} finished records written`);
    }
  });
  const seconds = (Date.now() - started) / 1000;
  log(`  history: ${count} finished records written in ${round(seconds)} s`);
  return { seconds: round(seconds), itemsPerSecond: round(count / Math.max(0.001, seconds), 0) };
}

/** Drops every message in the event queue (the simulator empties it at once). */
async function purgeEvents(cloud: BenchCloud): Promise<void> {
  if (!cloud.sqs || !cloud.config.queueUrl) return;
  // The rule sends the last task changes asynchronously: let them land first.
  await new Promise((r) => setTimeout(r, 500));
  const sqs = new SQSClient({
    endpoint: cloud.sqs.url,
    region: SANDBOX_REGION,
    credentials: sandboxCredentials(),
  });
  try {
    await sqs.send(new PurgeQueueCommand({ QueueUrl: cloud.config.queueUrl }));
  } finally {
    sqs.destroy();
  }
}

const SAMPLE_DEADLINE_MS = 60_000;

async function until<T>(probe: () => T | undefined | Promise<T | undefined>, everyMs = 5) {
  const deadline = Date.now() + SAMPLE_DEADLINE_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) return undefined;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Event latency: `samples` single-job runs in `pool`, each queued once the previous one's
 * runner was launched. The fake runner in the launched task takes the job, runs it (1 s) and
 * exits; the removals are watched meanwhile, so they overlap with the next launches.
 */
async function measureLatency(
  cloud: BenchCloud,
  pool: string,
  samples: number,
  log: (line: string) => void,
): Promise<LatencyResult> {
  const liveRunners = (await cloud.store.listRunners({ live: true })).length;
  const control = cloud.github.control;
  // The pool's tasks in RunTask order, from the simulator's own change feed (no polling of
  // every task in the cluster).
  const launched: string[] = [];
  const seen = new Set<string>();
  const group = `runnerctl:${pool}`;
  const off = cloud.ecs.onTaskStateChange((envelope) => {
    const detail = envelope.detail as { group?: string; taskArn?: string };
    if (detail.group !== group || !detail.taskArn || seen.has(detail.taskArn)) return;
    seen.add(detail.taskArn);
    launched.push(detail.taskArn);
  });
  const deliveredAt = async (jobId: number, action: string) => {
    const found = (await control.deliveries({ jobId })).find(
      (d) => d.action === action && d.outcome === 'delivered',
    );
    return found?.atMs;
  };
  const toRunTask: number[] = [];
  let timedOut = 0;
  /** completed -> removed of one sample, watched while the next samples run. */
  // The probes read times the simulators and the record carry, so they poll slowly: they run in
  // the process of the simulators the controller is talking to.
  const removal = async (jobId: number): Promise<{ ms: number; runner?: string }> => {
    const completed = await until(async () => {
      const job = await control.getJob({ jobId });
      if (job.status !== 'completed' || !job.runnerName) return undefined;
      const at = await deliveredAt(jobId, 'completed');
      return at === undefined ? undefined : { at, runner: job.runnerName };
    }, 50);
    if (!completed) return { ms: SAMPLE_DEADLINE_MS };
    const removedAt = await until(async () => {
      const record = await cloud.store.getRunner(completed.runner);
      if (record?.state !== 'finished') return undefined;
      const task = record.taskArn ? cloud.ecs.task(record.taskArn) : undefined;
      if (task && task.lastStatus !== 'STOPPED') return undefined;
      const finishedAt = Date.parse(record.timeline.findLast((t) => t.event === 'finished')!.at);
      return Math.max(finishedAt, task?.stoppedAt ?? 0, completed.at);
    }, 50);
    return removedAt === undefined
      ? { ms: SAMPLE_DEADLINE_MS }
      : { ms: removedAt - completed.at, runner: completed.runner };
  };
  const removals: Promise<{ ms: number; runner?: string }>[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      const run = await control.createWorkflowRun({
        repo: BENCH_REPO,
        workflowName: `scale latency ${i + 1}`,
        event: 'push',
        headBranch: 'main',
        jobs: [{ name: 'latency', runsOn: ['self-hosted', pool], durationMs: 1_000 }],
      });
      const jobId = run.jobIds[0]!;
      const queuedAt = await until(() => deliveredAt(jobId, 'queued'));
      // The (i+1)-th launch of the pool is this job's: the runs go one at a time.
      const arn = await until(() => launched[i]);
      const task = arn ? cloud.ecs.task(arn) : undefined;
      if (queuedAt === undefined || !task) {
        timedOut++;
        toRunTask.push(SAMPLE_DEADLINE_MS);
      } else {
        toRunTask.push(Math.max(0, task.createdAt - queuedAt));
      }
      removals.push(removal(jobId));
    }
    const removed = await Promise.all(removals);
    // GitHub removes a JIT runner's registration when its job completes (before the completed
    // event): checked once at the end, as listing 10,000 runners per probe would load the
    // simulator the controller talks to. A registration still there counts as not removed.
    const registered = new Set((await control.listRunners()).map((r) => r.name));
    const toRemoved = removed.map((r) =>
      r.runner && !registered.has(r.runner) ? r.ms : SAMPLE_DEADLINE_MS,
    );
    timedOut += toRemoved.filter((ms) => ms >= SAMPLE_DEADLINE_MS).length;
    const result: LatencyResult = {
      samples,
      liveRunners,
      pool,
      clock: 'real',
      eventToRunTaskMs: spread(toRunTask),
      completedToRemovedMs: spread(toRemoved),
      timedOut,
    };
    log(
      `  event -> RunTask with ${liveRunners} live runners: p50 ${result.eventToRunTaskMs.p50} ms, p99 ${result.eventToRunTaskMs.p99} ms; completed -> removed p50 ${result.completedToRemovedMs.p50} ms, p99 ${result.completedToRemovedMs.p99} ms (${samples} jobs, ${timedOut} over 60 s)`,
    );
    return result;
  } finally {
    off();
  }
}

/**
 * The seeded tasks (RunTask without a JIT config) wait until they are stopped; the tasks the
 * controller launches run the fake runner, which registers, takes one job, runs it and exits.
 */
function scaleRuntime(clock: Clock): ContainerRuntime {
  const runner = fakeRunnerRuntime({ clock, pollWaitMs: 5_000 });
  return {
    start(container) {
      if (container.environment[JIT_CONFIG_ENV]) return runner.start(container);
      const { signal } = container;
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
    runtime: (c) => scaleRuntime(c),
    latencies: {
      provisioning: 0,
      pending: 0,
      activating: 0,
      deactivating: 0,
      stopping: 0,
      deprovisioning: 0,
    },
    // The seeded pools, then two empty ones with room: the churn pool (the passes' launches)
    // and the latency pool (the event latency samples). The seeded pools' idle runners would
    // serve any job queued there (their fake sessions never take it), so nothing would launch.
    pools: options.pools + 2,
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
    const seededPools = cloud.pools.slice(0, options.pools);
    const churnPool = cloud.pools[options.pools]!;
    const latencyPool = cloud.pools[options.pools + 1]!;
    const busyCount = Math.round(options.records * options.busyShare);
    const items = Array.from({ length: options.records }, (_, i) => ({
      pool: seededPools[i % options.pools]!,
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
      const batches = seededPools.flatMap((pool) =>
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
    // Every task RUNNING before the controller looks.
    while (cloud.ecs.tasks().some((t) => t.lastStatus !== 'RUNNING')) {
      await new Promise((r) => setTimeout(r, 200));
    }
    // The seeding's task state changes (one per status of every task) are not what a running
    // controller sees: dropped, so the passes' job and task events do not queue behind them.
    await purgeEvents(cloud);
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
          runsOn: ['self-hosted', churnPool],
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
    const history = options.history ?? 0;
    /** `passes` timed passes, each after its floor and the churn. */
    let passNo = 0;
    /** Calls made while a timed pass ran (not between passes, e.g. while history is written). */
    const passCalls: Record<string, number> = {};
    const timedPasses = async (label: string) => {
      const passMs: number[] = [];
      const floorMs: number[] = [];
      for (let i = 0; i < options.passes; i++) {
        floorMs.push(round(await floor(), 0));
        await stir(++passNo);
        const callsBefore = (await child.stats()).calls;
        const { ms, leader } = await child.reconcileOnce();
        for (const [k, n] of Object.entries((await child.stats()).calls)) {
          const d = n - (callsBefore[k] ?? 0);
          if (d) passCalls[k] = (passCalls[k] ?? 0) + d;
        }
        if (!leader) throw new Error('the controller did not take the lease');
        passMs.push(round(ms, 0));
        log(
          `  ${label}: floor ${i + 1}: ${round(floorMs[i]! / 1000, 2)} s, full pass ${i + 1}: ${round(ms / 1000, 2)} s`,
        );
      }
      return { passMs, floorMs };
    };
    let without: { passMs: number[]; floorMs: number[] } | undefined;
    let historyWrite: { seconds: number; itemsPerSecond: number } | undefined;
    let timed: { passMs: number[]; floorMs: number[] };
    try {
      if (history) {
        // The same run without, then with the history: the ratio of the medians is its cost.
        without = await timedPasses('no history');
        historyWrite = await writeHistory(cloud, dynamo, seededPools, history, log);
        timed = await timedPasses(`${history} finished`);
      } else {
        timed = await timedPasses('no history');
      }
    } finally {
      dynamo.destroy();
      ecsDuring.destroy();
    }
    const { passMs, floorMs } = timed;
    const passStats = await child.stats();
    const latency = options.latencySamples
      ? await measureLatency(cloud, latencyPool, options.latencySamples, log)
      : undefined;
    const stats = await child.stats();
    const timedPassCount = passMs.length + (without?.passMs.length ?? 0);
    const seeded = new Set(seededPools);
    const live = (await cloud.store.listRunners({ live: true })).filter(
      (r) => seeded.has(r.pool) && r.state !== 'finished',
    ).length;
    const per = (prefix: string) =>
      round(
        Object.entries(passCalls)
          .filter(([k]) => k.startsWith(prefix))
          .reduce((a, [, n]) => a + n, 0) / timedPassCount,
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
      ...(without && historyWrite
        ? {
            withoutHistory: {
              passMs: without.passMs,
              passMsMedian: percentile(without.passMs, 50),
              floorMs: without.floorMs,
              floorMsMedian: percentile(without.floorMs, 50),
            },
            historyPassRatio: round(
              percentile(passMs, 50) / Math.max(1, percentile(without.passMs, 50)),
              2,
            ),
            historyWrite,
          }
        : {}),
      inProgressJobs: jobs,
      churnPerPass: churn,
      peakRssMiB: round(stats.peakRssBytes / 2 ** 20, 0),
      ...(latency ? { latency } : {}),
      liveAfter: live,
      calls: passStats.calls,
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
