// Scale: R live runner records (and their GitHub runners and ECS tasks) across P pools; how long
// one full reconcile pass takes and the controller's peak memory. The world is seeded in bulk,
// not through R launches: GitHub runners through generate-jitconfig with the simulator's limits
// lifted (64 at a time), tasks through RunTask by 10, the idle runners' broker sessions opened
// (they show online), and the records written straight through the store. Busy records are busy
// on GitHub's side too as far as the controller can tell (the REST busy flag lags).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { TASK_STARTED_BY, TASK_TAG_POOL } from '../../controller/api/constants.ts';
import { OctokitGitHubProvider } from '../../controller/github/octokit-provider.ts';
import { randomSuffix, runnerName } from '../../controller/reconcile/names.ts';
import type { ContainerRuntime } from '../../controller/sandbox/ecs/runtime.ts';
import { credentialProof, decodeJitConfig } from '../../controller/sandbox/github/jitconfig.ts';
import {
  sandboxCredentials,
  SANDBOX_CLUSTER,
  SANDBOX_REGION,
  SANDBOX_TASK_DEFINITION,
} from '../../controller/sandbox/local-cloud.ts';
import type { Clock } from '../../controller/util/clock.ts';
import { benchClock } from './clock.ts';
import { BENCH_ORG, RUNNER_PREFIX, startBenchCloud } from './cloud.ts';
import { eachLimited, percentile, round } from './stats.ts';

export interface ScaleOptions {
  records: number;
  pools: number;
  /** Share of the records that are busy (the rest idle). */
  busyShare: number;
  /** Full reconcile passes to time. */
  passes: number;
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
  /** Records still live after the passes (all of them: the seeded world is steady). */
  liveAfter: number;
  calls: Record<string, number>;
  callsPerPass: { github: number; ecs: number; dynamodb: number };
  controller: {
    rssAtStartBytes: number;
    peakRssBytes: number;
    maxRssBytes: number;
    heapUsedBytes: number;
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
    maxRunners: perPool,
    idleTimeout: '6h',
    restPerHour: 1_000_000,
    events: false,
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
    // 4. The records, through the store.
    const now = new Date(clock.now()).toISOString();
    let done = 0;
    await eachLimited(runners, 64, async (r, i) => {
      const busy = isBusy.get(i)!;
      const taskArn = taskArns.get(r.pool)!.pop()!;
      await cloud.store.createRunner({
        name: r.name,
        pool: r.pool,
        state: busy ? 'busy' : 'idle',
        labels: ['self-hosted', r.pool],
        githubRunnerId: r.id,
        taskArn,
        capacityProvider: 'FARGATE',
        attempts: 1,
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
    const seedSeconds = (Date.now() - seedStart) / 1000;
    log(`  seeded ${options.records} runners, tasks and records in ${round(seedSeconds)} s`);
    // Back to the simulators' own limits for the controller.
    await cloud.github.control.setRateLimits({ jitPointsPerMinute: 900, primaryLimit: 1_000_000 });
    cloud.ecs.setFaults({ throttle: { enabled: true } });

    const child = await cloud.startController();
    const atStart = await child.stats(true);
    const passMs: number[] = [];
    for (let i = 0; i < options.passes; i++) {
      const { ms, leader } = await child.reconcileOnce();
      if (!leader) throw new Error('the controller did not take the lease');
      passMs.push(round(ms, 0));
      log(`  full pass ${i + 1}: ${round(ms / 1000, 2)} s`);
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
      liveAfter: live,
      calls: stats.calls,
      callsPerPass: { github: per('github '), ecs: per('ecs '), dynamodb: per('dynamodb ') },
      controller: {
        rssAtStartBytes: atStart.rssBytes,
        peakRssBytes: stats.peakRssBytes,
        maxRssBytes: stats.maxRssBytes,
        heapUsedBytes: stats.heapUsedBytes,
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
