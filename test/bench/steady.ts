// Steady state: workflow runs spaced out in time (not a burst), on the local cloud with the real
// controller in its own process at production settings (REST budget 5,000 an hour, resync every
// 60 s, the background runner listing). Measures what GitHub calls a job costs when jobs arrive
// one run at a time: single-job runs, matrix runs, and a mix of both, each in its own phase so
// that each kind has its own figure. First an idle phase with no jobs measures the floor: what
// the controller calls per minute when nothing happens (the resync's run listings, discovery,
// the background runner listing). A phase's calls per job are its calls above that floor (its
// minutes x the floor rate); the gross figure (every call of the phase) is reported beside it.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeRunnerRuntime } from '../../controller/sandbox/ecs/index.ts';
import { DEFAULT_LATENCIES } from '../../controller/sandbox/ecs/simulator.ts';
import { benchClock } from './clock.ts';
import { BENCH_REPO, startBenchCloud, type BenchCloud } from './cloud.ts';
import { callsOf, round, sum } from './stats.ts';

export type SteadyPhaseKind = 'single' | 'matrix' | 'mix';

/** Matrix sizes per phase, cycled run after run (deterministic). */
export const PHASE_SIZES: Record<SteadyPhaseKind, number[]> = {
  single: [1],
  matrix: [2, 4, 8, 2, 4],
  mix: [1, 2, 1, 4, 1, 8, 1, 2],
};

/** Simulated seconds between two runs, cycled (10-30 s: spaced, not a burst). */
export const RUN_GAPS_SEC = [10, 20, 30, 15, 25];

export interface SteadyOptions {
  /** Simulated seconds per real second. */
  speed: number;
  /** Simulated minutes of runs per phase (the drain after the last run comes on top). */
  phaseMinutes: number;
  /** Simulated minutes of the idle phase that measures the background floor. */
  idleMinutes?: number;
  /** How long each job runs once a runner took it (simulated ms). */
  jobMs: number;
  pools: number;
  restPerHour: number;
  phases?: SteadyPhaseKind[];
  /** Give up waiting for a phase's jobs after this much real time. */
  drainTimeoutMs: number;
  log: (line: string) => void;
}

export interface SteadyPhase {
  kind: SteadyPhaseKind;
  runs: number;
  jobs: number;
  completed: number;
  /** Runs by matrix size, e.g. { "1": 12, "4": 3 }. */
  mix: Record<string, number>;
  githubCalls: number;
  /** GitHub calls answered 304 (free: not counted against the primary rate limit). */
  githubNotModified: number;
  /** Calls above the idle floor (floor rate x the phase's minutes), per job. */
  githubCallsPerJob: number;
  /** Every call of the phase, per job (the floor included). */
  grossGithubCallsPerJob: number;
  /** Calls per job without the 304s: what the primary rate limit is charged (gross). */
  githubChargedCallsPerJob: number;
  /** GitHub calls per job by route (all answers, 304s included). */
  perJobByRoute: Record<string, number>;
  calls: Record<string, number>;
  notModified: Record<string, number>;
  simulatedMinutes: number;
}

export interface SteadyResult {
  speed: number;
  restPerHour: number;
  /** Over every phase: calls above the idle floor / all jobs. */
  githubCallsPerJob: number;
  /** Over every phase: all calls / all jobs. */
  grossGithubCallsPerJob: number;
  githubChargedCallsPerJob: number;
  /** The idle phase: GitHub calls per simulated minute with no jobs, and by route. */
  idleFloor: { minutes: number; callsPerMinute: number; calls: Record<string, number> };
  jobs: number;
  runs: number;
  mix: Record<string, number>;
  perJobByRoute: Record<string, number>;
  calls: Record<string, number>;
  phases: Record<string, SteadyPhase>;
  simulatedMinutes: number;
  realSeconds: number;
  rateLimitErrors: number;
  /** Idle runners may stay (surplus; they expire after the pool's idle timeout). */
  leftovers: {
    githubRunners: number;
    liveTasks: number;
    idleRunners: number;
    unfinishedRecords: number;
  };
}

const perJob = (calls: Record<string, number>, jobs: number) =>
  Object.fromEntries(
    Object.entries(calls)
      .filter(([k]) => k.startsWith('github '))
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => [k.slice('github '.length), round(n / Math.max(1, jobs), 3)]),
  );

const addInto = (into: Record<string, number>, from: Record<string, number>) => {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
};

export async function runSteady(options: SteadyOptions): Promise<SteadyResult> {
  const { log } = options;
  const dir = await mkdtemp(join(tmpdir(), 'rctl-bench-steady-'));
  const clockSpec = { factor: options.speed, realStartMs: Date.now() };
  const clock = benchClock(clockSpec);
  const cloud = await startBenchCloud({
    dir,
    clock,
    clockSpec,
    runtime: (c) => fakeRunnerRuntime({ clock: c, pollWaitMs: 5_000 }),
    latencies: DEFAULT_LATENCIES,
    pools: options.pools,
    maxRunners: 40,
    restPerHour: options.restPerHour,
    events: true,
    resyncSeconds: 60,
  });
  const realStart = Date.now();
  const simStart = clock.now();
  try {
    const child = await cloud.startController();
    for (;;) {
      const pools = await cloud.store.listPools();
      if (pools.every((p) => p.status)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await child.stats(true);
    // The floor: what the controller calls while nothing happens, measured in this run.
    const idleStart = clock.now();
    await clock.sleep((options.idleMinutes ?? 5) * 60_000);
    const idleStats = await child.stats(true);
    const idleMinutes = (clock.now() - idleStart) / 60_000;
    const floorPerMinute = callsOf(idleStats.calls, 'github ') / idleMinutes;
    log(`  idle: ${round(floorPerMinute, 2)} GitHub calls per simulated minute`);
    const phases: Record<string, SteadyPhase> = {};
    let rateLimitErrors = 0;
    let runIndex = 0;
    let floorCalls = 0;
    for (const kind of options.phases ?? (['single', 'matrix', 'mix'] as SteadyPhaseKind[])) {
      const phaseStart = clock.now();
      const sizes = PHASE_SIZES[kind];
      const runIds: number[] = [];
      const mix: Record<string, number> = {};
      let jobs = 0;
      for (let i = 0; clock.now() - phaseStart < options.phaseMinutes * 60_000; i++) {
        const size = sizes[i % sizes.length]!;
        const pool = cloud.pools[runIndex % cloud.pools.length]!;
        const run = await cloud.github.control.createWorkflowRun({
          repo: BENCH_REPO,
          workflowName: `steady ${kind} ${runIndex}`,
          event: 'push',
          headBranch: 'main',
          jobs: Array.from({ length: size }, (_, j) => ({
            name: size === 1 ? 'build' : `build (${j + 1})`,
            runsOn: ['self-hosted', pool],
            durationMs: options.jobMs,
          })),
        });
        runIds.push(run.runId);
        mix[String(size)] = (mix[String(size)] ?? 0) + 1;
        jobs += size;
        runIndex++;
        await clock.sleep(RUN_GAPS_SEC[runIndex % RUN_GAPS_SEC.length]! * 1_000);
      }
      const completed = await drain(cloud, new Set(runIds), jobs, options.drainTimeoutMs, log);
      const stats = await child.stats(true);
      rateLimitErrors += sum(Object.values(stats.rateLimited));
      const githubCalls = callsOf(stats.calls, 'github ');
      const githubNotModified = callsOf(stats.notModified, 'github ');
      const phaseMinutes = (clock.now() - phaseStart) / 60_000;
      const aboveFloor = Math.max(0, githubCalls - floorPerMinute * phaseMinutes);
      const phase: SteadyPhase = {
        kind,
        runs: runIds.length,
        jobs,
        completed,
        mix,
        githubCalls,
        githubNotModified,
        githubCallsPerJob: round(aboveFloor / jobs, 3),
        grossGithubCallsPerJob: round(githubCalls / jobs, 3),
        githubChargedCallsPerJob: round((githubCalls - githubNotModified) / jobs, 3),
        perJobByRoute: perJob(stats.calls, jobs),
        calls: stats.calls,
        notModified: stats.notModified,
        simulatedMinutes: round(phaseMinutes, 1),
      };
      floorCalls += floorPerMinute * phaseMinutes;
      phases[kind] = phase;
      log(
        `  ${kind}: ${phase.runs} runs, ${jobs} jobs (${completed} completed), GitHub ${phase.githubCallsPerJob} calls/job above the floor (${phase.grossGithubCallsPerJob} gross, ${phase.githubChargedCallsPerJob} charged) over ${phase.simulatedMinutes} simulated min`,
      );
    }
    const all = Object.values(phases);
    const jobs = sum(all.map((p) => p.jobs));
    const calls: Record<string, number> = {};
    const mix: Record<string, number> = {};
    for (const p of all) {
      addInto(calls, p.calls);
      addInto(mix, p.mix);
    }
    const githubCalls = sum(all.map((p) => p.githubCalls));
    const notModified = sum(all.map((p) => p.githubNotModified));
    const records = await cloud.store.listRunners();
    return {
      speed: options.speed,
      restPerHour: options.restPerHour,
      githubCallsPerJob: round(Math.max(0, githubCalls - floorCalls) / jobs, 3),
      grossGithubCallsPerJob: round(githubCalls / jobs, 3),
      githubChargedCallsPerJob: round((githubCalls - notModified) / jobs, 3),
      idleFloor: {
        minutes: round(idleMinutes, 1),
        callsPerMinute: round(floorPerMinute, 3),
        calls: Object.fromEntries(
          Object.entries(idleStats.calls).filter(([k]) => k.startsWith('github ')),
        ),
      },
      jobs,
      runs: sum(all.map((p) => p.runs)),
      mix,
      perJobByRoute: perJob(calls, jobs),
      calls,
      phases,
      simulatedMinutes: round((clock.now() - simStart) / 60_000, 1),
      realSeconds: round((Date.now() - realStart) / 1000),
      rateLimitErrors,
      leftovers: {
        githubRunners: (await cloud.github.control.listRunners()).filter((r) =>
          r.name.startsWith('rctl-'),
        ).length,
        liveTasks: cloud.ecs.tasks().filter((t) => t.lastStatus !== 'STOPPED').length,
        idleRunners: records.filter((r) => r.state === 'idle').length,
        unfinishedRecords: records.filter((r) => r.state !== 'finished' && r.state !== 'idle')
          .length,
      },
    };
  } finally {
    await cloud.close();
    if (process.env.RUNNERCTL_BENCH_KEEP) log(`  kept ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}

/** Waits until the phase's jobs completed and no runner is on its way (idle ones may stay). */
async function drain(
  cloud: BenchCloud,
  runIds: Set<number>,
  jobs: number,
  timeoutMs: number,
  log: (line: string) => void,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let completed = 0;
  for (;;) {
    const all = await cloud.github.control.listJobs({ repo: BENCH_REPO });
    completed = all.filter((j) => runIds.has(j.runId) && j.status === 'completed').length;
    if (completed >= jobs) {
      const records = await cloud.store.listRunners();
      const idle = records.filter((r) => r.state === 'idle').length;
      const liveTasks = cloud.ecs.tasks().filter((t) => t.lastStatus !== 'STOPPED').length;
      if (records.every((r) => r.state === 'finished' || r.state === 'idle') && liveTasks <= idle) {
        return completed;
      }
    }
    if (Date.now() > deadline) {
      log(`  drain timed out: ${completed}/${jobs} jobs completed`);
      return completed;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
