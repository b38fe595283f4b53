// Scale: R live runner records (and their GitHub runners and ECS tasks) across P pools; how long
// one full reconcile pass takes and the controller's peak memory. The world is seeded in bulk,
// not through R launches: GitHub runners through generate-jitconfig and tasks through RunTask
// with the simulators' limits lifted (concurrently), the records and their jobs straight
// through the store. Each task's container opens its runner's broker session (the runner shows
// online) and then waits to be stopped, like a runner waiting for or running a job.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  JIT_CONFIG_ENV,
  TASK_STARTED_BY,
  TASK_TAG_POOL,
  TASK_TAG_RUNNER,
} from '../../controller/api/constants.ts';
import { SdkEcsProvider } from '../../controller/ecs/sdk-provider.ts';
import { OctokitGitHubProvider } from '../../controller/github/octokit-provider.ts';
import { clientToken, randomSuffix, runnerName } from '../../controller/reconcile/names.ts';
import type { ContainerRuntime } from '../../controller/sandbox/ecs/runtime.ts';
import { credentialProof, decodeJitConfig } from '../../controller/sandbox/github/jitconfig.ts';
import {
  sandboxCredentials,
  SANDBOX_CLUSTER,
  SANDBOX_CONTAINER,
  SANDBOX_REGION,
  SANDBOX_TASK_DEFINITION,
} from '../../controller/sandbox/local-cloud.ts';
import type { Clock } from '../../controller/util/clock.ts';
import { benchClock } from './clock.ts';
import { BENCH_ORG, BENCH_REPO, RUNNER_PREFIX, startBenchCloud } from './cloud.ts';
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

/** A container that brings its runner online (opens the broker session) and waits to be stopped. */
function onlineRunnerRuntime(): ContainerRuntime {
  return {
    start({ environment, signal }) {
      const exited = (async () => {
        const config = decodeJitConfig(environment[JIT_CONFIG_ENV]!);
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
        if (response.status !== 201) return 1;
        await new Promise<void>((resolve) => {
          if (signal.aborted) return resolve();
          signal.addEventListener('abort', () => resolve(), { once: true });
        });
        return 0;
      })().catch(() => 1);
      return { exited };
    },
  };
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
    runtime: () => onlineRunnerRuntime(),
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
    const ecs = new SdkEcsProvider({
      endpoint: cloud.ecs.url,
      region: SANDBOX_REGION,
      credentials: sandboxCredentials(),
      pacing: { runTaskPerSecond: 1e6, runTaskBurst: 1e6 },
      clock,
    });
    const scope = { kind: 'org' as const, org: BENCH_ORG };
    const busyCount = Math.round(options.records * options.busyShare);
    const now = new Date(clock.now()).toISOString();
    const items = Array.from({ length: options.records }, (_, i) => ({
      pool: cloud.pools[i % options.pools]!,
      busy: i < busyCount,
      jobId: 44_000_000_001 + i,
    }));
    let done = 0;
    await eachLimited(items, 48, async (item) => {
      const name = runnerName(RUNNER_PREFIX, item.pool, randomSuffix());
      const labels = ['self-hosted', item.pool];
      const jit = await github.generateJitConfig(scope, {
        name,
        runnerGroupId: 1,
        labels,
        workFolder: '_work',
      });
      const task = await ecs.runTask({
        cluster: SANDBOX_CLUSTER,
        taskDefinition: SANDBOX_TASK_DEFINITION,
        containerName: SANDBOX_CONTAINER,
        subnets: ['subnet-0123456789abcdef0'],
        securityGroups: [],
        assignPublicIp: false,
        environment: { [JIT_CONFIG_ENV]: jit.encodedJitConfig },
        clientToken: clientToken(name, jit.runner.id, 'FARGATE'),
        startedBy: TASK_STARTED_BY,
        group: `runnerctl:${item.pool}`,
        tags: { [TASK_TAG_RUNNER]: name, [TASK_TAG_POOL]: item.pool },
      });
      await cloud.store.createRunner({
        name,
        pool: item.pool,
        state: item.busy ? 'busy' : 'idle',
        labels,
        githubRunnerId: jit.runner.id,
        taskArn: task.arn,
        capacityProvider: 'FARGATE',
        ...(item.busy ? { jobId: item.jobId } : {}),
        attempts: 1,
        createdAt: now,
        timeline: [
          { at: now, event: 'created' },
          { at: now, event: 'configured' },
          { at: now, event: 'task-started', detail: task.arn },
          { at: now, event: 'idle' },
          ...(item.busy ? [{ at: now, event: 'busy', detail: `job ${item.jobId}` }] : []),
        ],
      });
      if (item.busy) {
        await cloud.store.recordJob({
          id: item.jobId,
          runId: 13_000_000_001 + Math.floor(item.jobId / 100),
          runAttempt: 1,
          repository: BENCH_REPO,
          owner: BENCH_ORG,
          labels,
          status: 'in_progress',
          name: `long job ${item.jobId}`,
          htmlUrl: `https://github.com/${BENCH_REPO}/actions/runs/1/job/${item.jobId}`,
          runnerName: name,
          runnerId: jit.runner.id,
          pool: item.pool,
          createdAt: now,
          startedAt: now,
        });
      }
      done++;
      if (done % 2000 === 0) log(`  seeded ${done}/${options.records}`);
    });
    // Every task RUNNING and every runner online before the controller looks.
    for (;;) {
      const online = (await cloud.github.control.listRunners()).filter(
        (r) => r.status === 'online',
      ).length;
      if (online >= options.records) break;
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
      const { ms } = await child.reconcileOnce();
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
