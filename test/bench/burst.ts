// Burst: N jobs queued within one second across P pools, on the local cloud, with the real
// controller in its own process. Measures launch throughput against the binding rate limit,
// time from queued to RunTask, GitHub and ECS calls per job, and rate-limit answers met.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_RUN_TASK_PER_SECOND } from '../../controller/ecs/sdk-provider.ts';
import { DEFAULT_JIT_PER_MINUTE } from '../../controller/github/octokit-provider.ts';
import { fakeRunnerRuntime } from '../../controller/sandbox/ecs/index.ts';
import { DEFAULT_FAULTS, DEFAULT_LATENCIES } from '../../controller/sandbox/ecs/simulator.ts';
import { DEFAULT_RATE_LIMITS } from '../../controller/sandbox/github/ratelimit.ts';
import { benchClock } from './clock.ts';
import { BENCH_REPO, startBenchCloud } from './cloud.ts';
import type { ChildStats } from './protocol.ts';
import { callsOf, percentile, round } from './stats.ts';

export interface BurstOptions {
  jobs: number;
  pools: number;
  /** Simulated seconds per real second. */
  speed: number;
  /** How long each job runs once a runner took it (simulated ms). */
  jobMs: number;
  /** Give up after this much real time. */
  timeoutMs: number;
  /** The installation's REST budget per hour (simulator and controller pacing). */
  restPerHour: number;
  /** GitHub Apps the controller spreads JIT configs over (default 1): the JIT limit is per App. */
  apps?: number;
  log: (line: string) => void;
}

export interface BurstResult {
  /** GitHub Apps the controller used. */
  apps: number;
  jobs: number;
  pools: number;
  speed: number;
  completed: number;
  succeeded: number;
  launches: number;
  queueSpreadMs: number;
  limits: {
    githubJitPerMinute: number;
    ecsRunTaskPerMinute: number;
    ecsLaunchPerMinute: number;
    controllerJitPerMinute: number;
    controllerRunTaskPerMinute: number;
    binding: string;
    bindingPerMinute: number;
  };
  /** Launches (RunTask) per simulated minute, from the first job queued to the last RunTask. */
  launchesPerMinute: number;
  throughputRatio: number;
  queuedToRunTaskSec: { p50: number; p99: number; max: number };
  queuedToStartedSec: { p50: number; p99: number };
  githubCallsPerJob: number;
  ecsCallsPerJob: number;
  dynamodbCallsPerJob: number;
  rateLimitErrors: number;
  rateLimited: Record<string, number>;
  calls: Record<string, number>;
  /** Launches and completions per simulated minute since the burst. */
  progress: { simMinute: number; launches: number; completed: number }[];
  /** Runners launched beyond demand, still idle at the end (they expire after timeouts.idle). */
  surplusIdleRunners: number;
  leftovers: { githubRunners: number; liveTasks: number; unfinishedRecords: number };
  simulatedSeconds: number;
  realSeconds: number;
  controller: Pick<
    ChildStats,
    'peakRssBytes' | 'maxRssBytes' | 'cpuUserMs' | 'cpuSystemMs' | 'eventLoopDelayP99Ms'
  >;
}

export async function runBurst(options: BurstOptions): Promise<BurstResult> {
  const { log } = options;
  const dir = await mkdtemp(join(tmpdir(), 'rctl-bench-burst-'));
  const clockSpec = { factor: options.speed, realStartMs: Date.now() };
  const clock = benchClock(clockSpec);
  const perPool = Math.ceil(options.jobs / options.pools);
  const apps = Math.max(1, options.apps ?? 1);
  const cloud = await startBenchCloud({
    dir,
    clock,
    clockSpec,
    // The fake runner in every task: registers, takes one job, runs it, deregisters, exits.
    runtime: (c) => fakeRunnerRuntime({ clock: c, pollWaitMs: 5_000 }),
    // Fargate's own latencies (about 50 s from RunTask to RUNNING), on the simulated clock.
    latencies: DEFAULT_LATENCIES,
    pools: options.pools,
    maxRunners: Math.max(perPool * 2, 10),
    restPerHour: options.restPerHour,
    events: true,
    resyncSeconds: 60,
    apps: apps,
  });
  try {
    const child = await cloud.startController();
    // Ready when every pool has been reconciled once (status written).
    for (;;) {
      const pools = await cloud.store.listPools();
      if (pools.every((p) => p.status)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await child.stats(true);
    const control = cloud.github.control;

    const realStart = Date.now();
    const simStart = clock.now();
    let remaining = options.jobs;
    await Promise.all(
      cloud.pools.map((pool) => {
        const n = Math.min(perPool, remaining);
        remaining -= n;
        return control.createWorkflowRun({
          repo: BENCH_REPO,
          workflowName: `burst ${pool}`,
          event: 'push',
          headBranch: 'main',
          jobs: Array.from({ length: n }, (_, i) => ({
            name: `job ${i + 1}`,
            runsOn: ['self-hosted', pool],
            durationMs: options.jobMs,
          })),
        });
      }),
    );
    const queueSpreadMs = Date.now() - realStart;
    log(`  ${options.jobs} jobs queued across ${options.pools} pools in ${queueSpreadMs} ms`);

    const progress: BurstResult['progress'] = [];
    let lastPrint = Date.now();
    let completed = 0;
    const deadline = realStart + options.timeoutMs;
    for (;;) {
      const jobs = await control.listJobs({ repo: BENCH_REPO });
      completed = jobs.filter((j) => j.status === 'completed').length;
      const launches = cloud.ecs.tasks().filter((t) => t.createdAt >= simStart).length;
      const simMinute = (clock.now() - simStart) / 60_000;
      progress.push({ simMinute: round(simMinute, 2), launches, completed });
      if (Date.now() - lastPrint >= 5_000) {
        lastPrint = Date.now();
        log(
          `  +${round(simMinute * 60, 0)}s simulated: ${launches} launched, ${completed}/${options.jobs} completed`,
        );
      }
      if (completed >= options.jobs) {
        // Done when nothing is on its way: only finished records, or idle ones (surplus), and
        // no task still stopping beyond those of the idle runners.
        const records = await cloud.store.listRunners();
        const idle = records.filter((r) => r.state === 'idle').length;
        const liveTasks = cloud.ecs.tasks().filter((t) => t.lastStatus !== 'STOPPED').length;
        if (
          records.every((r) => r.state === 'finished' || r.state === 'idle') &&
          liveTasks <= idle
        ) {
          break;
        }
      }
      if (Date.now() > deadline) {
        log(`  timed out after ${round((Date.now() - realStart) / 1000)} s real`);
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const realSeconds = (Date.now() - realStart) / 1000;
    const simulatedSeconds = (clock.now() - simStart) / 1000;
    const stats = await child.stats();

    // Times: the simulators' clock. Jobs are counted, not paired to runners (ADR 0001), so the
    // k-th job queued for a pool is served by the k-th task launched for it.
    const jobs = await control.listJobs({ repo: BENCH_REPO });
    const tasks = cloud.ecs.tasks().filter((t) => t.createdAt >= simStart);
    const latencies: number[] = [];
    for (const pool of cloud.pools) {
      const queued = jobs
        .filter((j) => j.labels.includes(pool))
        .map((j) => j.createdAtMs)
        .sort((a, b) => a - b);
      const launched = tasks
        .filter((t) => t.group === `runnerctl:${pool}`)
        .map((t) => t.createdAt)
        .sort((a, b) => a - b);
      queued.forEach((q, k) => {
        if (launched[k] !== undefined) latencies.push((launched[k]! - q) / 1000);
      });
    }
    const started = jobs
      .filter((j) => j.startedAtMs !== null)
      .map((j) => (j.startedAtMs! - j.createdAtMs) / 1000);
    const firstQueued = Math.min(...jobs.map((j) => j.createdAtMs));
    const lastLaunch = Math.max(...tasks.map((t) => t.createdAt));
    const launchesPerMinute = tasks.length / ((lastLaunch - firstQueued) / 60_000);

    // GitHub counts the JIT limit per App installation: N Apps give N times 180 a minute.
    const githubJit =
      (apps * DEFAULT_RATE_LIMITS.jitPointsPerMinute) / DEFAULT_RATE_LIMITS.jitPointsPerRequest;
    const limits = {
      githubJitPerMinute: githubJit,
      ecsRunTaskPerMinute: DEFAULT_FAULTS.throttle.runTaskPerSecond * 60,
      ecsLaunchPerMinute: DEFAULT_FAULTS.throttle.launchPerSecond * 60,
      controllerJitPerMinute: apps * DEFAULT_JIT_PER_MINUTE,
      controllerRunTaskPerMinute: DEFAULT_RUN_TASK_PER_SECOND * 60,
    };
    const candidates: [string, number][] = [
      ['GitHub generate-jitconfig (secondary limit)', limits.githubJitPerMinute],
      ['ECS RunTask', limits.ecsRunTaskPerMinute],
      ['Fargate task launches', limits.ecsLaunchPerMinute],
    ];
    const [binding, bindingPerMinute] = candidates.sort((a, b) => a[1] - b[1])[0]!;
    const finalRecords = await cloud.store.listRunners();
    const ghRunners = (await control.listRunners()).filter((r) => r.name.startsWith('rctl-'));
    const rateLimitErrors = Object.values(stats.rateLimited).reduce((a, b) => a + b, 0);
    return {
      apps,
      jobs: options.jobs,
      pools: options.pools,
      speed: options.speed,
      completed,
      succeeded: jobs.filter((j) => j.conclusion === 'success').length,
      launches: tasks.length,
      queueSpreadMs,
      limits: { ...limits, binding, bindingPerMinute },
      launchesPerMinute: round(launchesPerMinute, 1),
      throughputRatio: round(launchesPerMinute / bindingPerMinute, 3),
      queuedToRunTaskSec: {
        p50: round(percentile(latencies, 50)),
        p99: round(percentile(latencies, 99)),
        max: round(Math.max(...latencies)),
      },
      queuedToStartedSec: {
        p50: round(percentile(started, 50)),
        p99: round(percentile(started, 99)),
      },
      githubCallsPerJob: round(callsOf(stats.calls, 'github ') / options.jobs, 2),
      ecsCallsPerJob: round(callsOf(stats.calls, 'ecs ') / options.jobs, 2),
      dynamodbCallsPerJob: round(callsOf(stats.calls, 'dynamodb ') / options.jobs, 2),
      rateLimitErrors,
      rateLimited: stats.rateLimited,
      calls: stats.calls,
      progress: progress.filter((_, i) => i % 4 === 0),
      surplusIdleRunners: finalRecords.filter((r) => r.state === 'idle').length,
      leftovers: {
        githubRunners: ghRunners.length,
        liveTasks: cloud.ecs.tasks().filter((t) => t.lastStatus !== 'STOPPED').length,
        unfinishedRecords: finalRecords.filter((r) => r.state !== 'finished').length,
      },
      simulatedSeconds: round(simulatedSeconds),
      realSeconds: round(realSeconds),
      controller: {
        peakRssBytes: stats.peakRssBytes,
        maxRssBytes: stats.maxRssBytes,
        cpuUserMs: round(stats.cpuUserMs, 0),
        cpuSystemMs: round(stats.cpuSystemMs, 0),
        eventLoopDelayP99Ms: round(stats.eventLoopDelayP99Ms),
      },
    };
  } finally {
    await cloud.close();
    if (process.env.RUNNERCTL_BENCH_KEEP) log(`  kept ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}
