// The simulation report and its invariants, computed from what the simulated world shows at the
// end (GitHub's jobs and runners, ECS's tasks, the controller's runner records) and from what the
// proxies saw on the way. Pure: no I/O.

import { matchPool } from '../api/matching.ts';
import type { RunnerPool } from '../api/types.ts';
import type { DeliveryRecord, JobView, RunnerView } from '../sandbox/github/index.ts';
import type { SimulatedTask } from '../sandbox/ecs/simulator.ts';
import type { PoolRecord, RunnerRecord } from '../store/types.ts';
import type { ProxyStats, RunTaskObservation } from './proxy.ts';
import type { Scenario } from './scenario.ts';

export interface WorldSnapshot {
  /** Jobs of the scenario's runs (every attempt). */
  jobs: JobView[];
  /** Every job the GitHub simulator knows. */
  allJobs: JobView[];
  runners: RunnerView[];
  /** Every task, without its environment (it holds the JIT config). */
  tasks: Omit<SimulatedTask, 'environment'>[];
  /** The runner name of each task, from its JIT config. */
  taskRunners: Record<string, string>;
  records: RunnerRecord[];
  pools: PoolRecord[];
  deliveries: DeliveryRecord[];
  runTasks: RunTaskObservation[];
  github: ProxyStats;
  ecs: ProxyStats;
  /** ECS on EC2: most container instances and most tasks waiting for capacity at once. */
  ec2?: { peakInstances: number; peakWaitingForCapacity: number };
  /** Task ARNs whose runner crashed before registering (injected). */
  crashes: string[];
}

export interface JobReport {
  id: number;
  runId: number;
  runAttempt: number;
  repo: string;
  name: string;
  labels: string[];
  status: string;
  conclusion: string | null;
  expectedConclusion: string;
  /** Simulated seconds since the start of the simulation. */
  queuedAt: number;
  runnerLaunchedAt: number | null;
  startedAt: number | null;
  completedAt: number | null;
  /** startedAt - queuedAt. */
  waitSeconds: number | null;
  runner: string | null;
  pool: string | null;
  task: string | null;
  capacityProvider: string | null;
}

export interface PoolReport {
  maxRunners: number;
  /** Runner records the controller created (one per runner, whatever its attempts). */
  runners: number;
  /** RunTask calls and the tasks they started, by capacity provider. */
  runTaskCalls: number;
  tasksStarted: number;
  tasksByCapacityProvider: Record<string, number>;
  /** Launch problems by reason: RunTask refusals, tasks that stopped badly, controller retries. */
  failures: Record<string, number>;
  /** Most tasks of the pool alive at once. */
  peakRunners: number;
  jobsRun: number;
}

export interface Invariant {
  name: string;
  description: string;
  ok: boolean;
  violations: string[];
}

export interface SimulationReport {
  scenario: { name: string; file: string; description?: string };
  ok: boolean;
  speed: number;
  seed: number;
  startedAt: string;
  /** Simulated seconds: the whole run, the workload, the drain; and the real seconds it took. */
  simulatedSeconds: number;
  workloadSeconds: number;
  drainSeconds: number;
  realSeconds: number;
  timedOut: boolean;
  drained: boolean;
  summary: {
    jobs: number;
    completed: number;
    cancelled: number;
    waitSeconds: { p50: number | null; p95: number | null; max: number | null };
  };
  jobs: JobReport[];
  pools: Record<string, PoolReport>;
  api: { github: Record<string, number>; ecs: Record<string, number> };
  rateLimitErrors: {
    github: { injected: Record<string, number>; simulator: Record<string, number> };
    ecs: { injected: Record<string, number>; simulator: Record<string, number> };
    total: number;
  };
  faults: {
    injected: Record<string, number>;
    webhooks: Record<string, number>;
    controllerRestartsAt: number[];
    runnerCrashes: number;
    /** ECS on EC2: most container instances and most tasks waiting for capacity at once. */
    ec2: { peakInstances: number; peakWaitingForCapacity: number };
  };
  invariants: Invariant[];
  /** Problems of the simulation itself (a workload step that failed). */
  errors: string[];
  /** Set when the data directory (logs, store) was kept. */
  dataDir?: string;
}

export interface ReportInput {
  scenario: Scenario;
  speed: number;
  seed: number;
  startMs: number;
  endMs: number;
  realSeconds: number;
  workloadDoneS: number;
  drainDoneS: number;
  timedOut: boolean;
  drained: boolean;
  restartsAt: number[];
  errors: string[];
  expected: Map<string, 'success' | 'failure'>;
  /** What the workload cancelled. */
  cancelled: { jobs: Set<number>; runs: Set<number> };
  world: WorldSnapshot;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

function bump(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}

/** A failure reason without the ids that make every occurrence unique. */
export function reasonKey(text: string): string {
  return text
    .replace(/arn:aws:[^\s,)]+/g, '<task>')
    .replace(/\brctl-[a-z0-9-]+/gi, '<runner>')
    .replace(/\b\d{3,}\b/g, 'N')
    .slice(0, 120);
}

function poolOfGroup(group: string | undefined): string | undefined {
  return group?.startsWith('runnerctl:') ? group.slice('runnerctl:'.length) : undefined;
}

function peak(intervals: [number, number][]): number {
  const points: [number, number][] = [];
  for (const [a, b] of intervals) points.push([a, 1], [b, -1]);
  // Ends before starts at the same instant.
  points.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let cur = 0;
  let max = 0;
  for (const [, d] of points) {
    cur += d;
    max = Math.max(max, cur);
  }
  return max;
}

export function buildReport(input: ReportInput): SimulationReport {
  const { scenario, world, startMs, endMs } = input;
  const rel = (ms: number | null | undefined) =>
    ms === null || ms === undefined ? null : round1((ms - startMs) / 1000);

  const poolSpecs = new Map<string, RunnerPool>(scenario.pools.map((p) => [p.metadata.name, p]));
  const taskByArn = new Map(world.tasks.map((t) => [t.taskArn, t]));
  /** Tasks started for each runner name, oldest first. */
  type Task = WorldSnapshot['tasks'][number];
  const tasksOfRunner = new Map<string, Task[]>();
  const runnerOfTask = new Map<string, string>();
  const poolOfRunner = new Map<string, string>();
  for (const rt of world.runTasks) {
    if (rt.runner && rt.pool) poolOfRunner.set(rt.runner, rt.pool);
    for (const arn of rt.taskArns) {
      const task = taskByArn.get(arn);
      if (!rt.runner || !task) continue;
      runnerOfTask.set(arn, rt.runner);
      const list = tasksOfRunner.get(rt.runner) ?? [];
      if (!list.includes(task)) list.push(task);
      tasksOfRunner.set(rt.runner, list);
    }
  }
  for (const task of world.tasks) {
    const runner = world.taskRunners[task.taskArn];
    if (!runner || runnerOfTask.has(task.taskArn)) continue;
    runnerOfTask.set(task.taskArn, runner);
    tasksOfRunner.set(runner, [...(tasksOfRunner.get(runner) ?? []), task]);
    const pool = poolOfGroup(task.group);
    if (pool && !poolOfRunner.has(runner)) poolOfRunner.set(runner, pool);
  }
  for (const list of tasksOfRunner.values()) list.sort((a, b) => a.createdAt - b.createdAt);
  for (const r of world.records) poolOfRunner.set(r.name, r.pool);

  // --- jobs ------------------------------------------------------------------------------------
  const jobs: JobReport[] = world.jobs
    .slice()
    .sort((a, b) => a.createdAtMs - b.createdAtMs || a.id - b.id)
    .map((j) => {
      const runner = j.runnerName;
      const candidates = runner ? (tasksOfRunner.get(runner) ?? []) : [];
      const task =
        candidates.filter((t) => j.startedAtMs === null || t.createdAt <= j.startedAtMs).pop() ??
        candidates[candidates.length - 1];
      const waitSeconds =
        j.startedAtMs === null ? null : round1((j.startedAtMs - j.createdAtMs) / 1000);
      return {
        id: j.id,
        runId: j.runId,
        runAttempt: j.runAttempt,
        repo: j.repo,
        name: j.name,
        labels: j.labels,
        status: j.status,
        conclusion: j.conclusion,
        expectedConclusion: input.expected.get(`${j.runId}:${j.name}`) ?? 'success',
        queuedAt: rel(j.createdAtMs)!,
        runnerLaunchedAt: rel(task?.createdAt),
        startedAt: rel(j.startedAtMs),
        completedAt: rel(j.completedAtMs),
        waitSeconds,
        runner,
        pool: runner ? (poolOfRunner.get(runner) ?? null) : null,
        task: task?.taskArn ?? null,
        capacityProvider: task?.capacityProvider ?? null,
      };
    });
  const waits = jobs
    .map((j) => j.waitSeconds)
    .filter((w): w is number => w !== null)
    .sort((a, b) => a - b);

  // --- pools -----------------------------------------------------------------------------------
  const pools: Record<string, PoolReport> = {};
  const poolReport = (name: string): PoolReport =>
    (pools[name] ??= {
      maxRunners: poolSpecs.get(name)?.spec.maxRunners ?? 0,
      runners: 0,
      runTaskCalls: 0,
      tasksStarted: 0,
      tasksByCapacityProvider: {},
      failures: {},
      peakRunners: 0,
      jobsRun: 0,
    });
  for (const name of poolSpecs.keys()) poolReport(name);
  for (const r of world.records) {
    const p = poolReport(r.pool);
    p.runners++;
    for (const entry of r.timeline) {
      if ((entry.event === 'relaunch' || entry.event === 'launch-failed') && entry.detail) {
        bump(p.failures, `launch attempt failed: ${reasonKey(entry.detail)}`);
      }
    }
  }
  for (const rt of world.runTasks) {
    if (!rt.pool) continue;
    const p = poolReport(rt.pool);
    p.runTaskCalls++;
    for (const f of rt.failures) bump(p.failures, `RunTask: ${reasonKey(f)}`);
  }
  const crashed = new Set(world.crashes);
  const intervals = new Map<string, [number, number][]>();
  for (const t of world.tasks) {
    const pool = poolOfGroup(t.group);
    if (!pool) continue;
    const p = poolReport(pool);
    p.tasksStarted++;
    bump(p.tasksByCapacityProvider, t.capacityProvider);
    // (A runner removed from GitHub while idle exits 1 too: that is a scale-down, not a failure.)
    if (t.stopCode === 'TaskFailedToStart') bump(p.failures, 'task failed to start');
    else if (t.stopCode === 'SpotInterruption') bump(p.failures, 'spot interruption');
    else if (crashed.has(t.taskArn)) bump(p.failures, 'runner crashed before registration');
    const list = intervals.get(pool) ?? [];
    list.push([t.createdAt, t.stoppedAt ?? endMs]);
    intervals.set(pool, list);
  }
  for (const [pool, list] of intervals) poolReport(pool).peakRunners = peak(list);
  for (const j of jobs) if (j.pool) poolReport(j.pool).jobsRun++;

  // --- invariants ------------------------------------------------------------------------------
  const invariants: Invariant[] = [];
  const check = (name: string, description: string, violations: string[]) =>
    invariants.push({ name, description, ok: violations.length === 0, violations });
  const jobLabel = (j: JobView) =>
    `job ${j.id} "${j.name}" (run ${j.runId} attempt ${j.runAttempt}, ${j.repo})`;

  check(
    'jobs-completed',
    'every job that was not cancelled completed, with the conclusion the workload gave it',
    world.jobs.flatMap((j) => {
      if (j.conclusion === 'cancelled') return [];
      const want = input.expected.get(`${j.runId}:${j.name}`) ?? 'success';
      if (j.status !== 'completed') return [`${jobLabel(j)} is still ${j.status}`];
      if (j.conclusion !== want)
        return [`${jobLabel(j)} concluded ${j.conclusion}, expected ${want}`];
      return [];
    }),
  );
  check(
    'no-github-runners-left',
    'no runner is left registered in GitHub',
    world.runners.map(
      (r) =>
        `GitHub runner ${r.name} (id ${r.id}, ${r.status}${r.busy ? ', busy' : ''}) in ${r.scope}`,
    ),
  );
  check(
    'no-tasks-running',
    'no ECS task is left that has not stopped',
    world.tasks
      .filter((t) => t.lastStatus !== 'STOPPED')
      .map(
        (t) =>
          `task ${t.taskArn} (${t.lastStatus}, runner ${runnerOfTask.get(t.taskArn) ?? 'unknown'}, group ${t.group})`,
      ),
  );
  check(
    'no-unfinished-records',
    'every runner record the controller wrote is finished',
    world.records
      .filter((r) => r.state !== 'finished')
      .map((r) => `runner record ${r.name} of pool ${r.pool} is ${r.state}`),
  );
  check(
    'jobs-on-matching-pools',
    "every job ran on a runner of a pool whose labels match the job's",
    world.jobs.flatMap((j) => {
      if (!j.runnerName) return [];
      const pool = poolOfRunner.get(j.runnerName);
      if (!pool)
        return [`${jobLabel(j)} ran on ${j.runnerName}, a runner runnerctl did not launch`];
      const spec = poolSpecs.get(pool);
      if (!spec) return [`${jobLabel(j)} ran on ${j.runnerName} of unknown pool ${pool}`];
      const match = matchPool(j.labels, { name: pool, spec: spec.spec });
      return match.kind === 'match'
        ? []
        : [
            `${jobLabel(j)} [${j.labels.join(', ')}] ran on ${j.runnerName} of pool ${pool} [${spec.spec.labels.join(', ')}], which it does not match`,
          ];
    }),
  );
  // Runner names are reused by a record's launch attempts; a GitHub runner (its id) is single-use.
  const byRunner = new Map<number, { name: string; jobs: number[] }>();
  for (const j of world.allJobs) {
    if (j.runnerId === null) continue;
    const entry = byRunner.get(j.runnerId) ?? { name: j.runnerName ?? '?', jobs: [] };
    entry.jobs.push(j.id);
    byRunner.set(j.runnerId, entry);
  }
  check(
    'runners-single-use',
    'no GitHub runner ran more than one job',
    [...byRunner]
      .filter(([, e]) => e.jobs.length > 1)
      .map(([id, e]) => `runner ${e.name} (id ${id}) ran jobs ${e.jobs.join(', ')}`),
  );
  const interrupted = new Set(
    world.tasks.filter((t) => t.stopCode === 'SpotInterruption').map((t) => t.taskArn),
  );
  check(
    'no-unexpected-cancellations',
    'no job was cancelled but those the workload cancelled (or whose Spot task was interrupted): a busy runner is never stopped',
    jobs.flatMap((j) => {
      if (j.conclusion !== 'cancelled') return [];
      if (input.cancelled.jobs.has(j.id) || input.cancelled.runs.has(j.runId)) return [];
      if (j.task && interrupted.has(j.task)) return [];
      return [
        `job ${j.id} "${j.name}" (run ${j.runId} attempt ${j.runAttempt}) was cancelled on runner ${j.runner ?? 'none'} (task ${j.task ?? 'none'})`,
      ];
    }),
  );
  if (world.pools.length > 0) {
    check(
      'pools-drained',
      'every pool was drained and removed at the end',
      world.pools.map((p) => `pool ${p.name} is still there`),
    );
  }

  // --- calls, limits, faults -------------------------------------------------------------------
  const rl = (stats: ProxyStats, kind: 'injected' | 'simulator') =>
    Object.fromEntries(Object.entries(stats.rateLimited[kind]).filter(([, v]) => v > 0));
  const rateLimitErrors = {
    github: { injected: rl(world.github, 'injected'), simulator: rl(world.github, 'simulator') },
    ecs: { injected: rl(world.ecs, 'injected'), simulator: rl(world.ecs, 'simulator') },
    total: 0,
  };
  for (const side of [rateLimitErrors.github, rateLimitErrors.ecs]) {
    for (const counts of [side.injected, side.simulator]) {
      for (const v of Object.values(counts)) rateLimitErrors.total += v;
    }
  }
  const webhooks: Record<string, number> = {};
  // A delivery of an event that happened before one already delivered (on the same path) arrived
  // out of order: held back, delayed, or overtaken.
  const jobById = new Map(world.allJobs.map((j) => [j.id, j]));
  const eventTime = (d: DeliveryRecord): number | undefined => {
    const j = jobById.get(d.jobId);
    if (!j) return undefined;
    if (d.action === 'in_progress') return j.startedAtMs ?? undefined;
    if (d.action === 'completed') return j.completedAtMs ?? undefined;
    return j.createdAtMs;
  };
  const latest = new Map<string, number>();
  for (const d of [...world.deliveries].sort((a, b) => a.atMs - b.atMs)) {
    bump(webhooks, d.outcome);
    if (d.duplicate) bump(webhooks, 'duplicate');
    const at = eventTime(d);
    if (d.outcome !== 'delivered' || d.duplicate || at === undefined) continue;
    const seen = latest.get(d.sinkId) ?? -Infinity;
    if (at < seen) bump(webhooks, 'outOfOrder');
    latest.set(d.sinkId, Math.max(seen, at));
  }
  const injected: Record<string, number> = { ...world.github.injected, ...world.ecs.injected };
  if (world.crashes.length) injected['runner crash before registration'] = world.crashes.length;

  const sortedCalls = (calls: Record<string, number>) =>
    Object.fromEntries(Object.entries(calls).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)));
  const errorsOk = input.errors.length === 0;
  return {
    scenario: {
      name: scenario.name,
      file: scenario.file,
      ...(scenario.description ? { description: scenario.description } : {}),
    },
    ok: errorsOk && invariants.every((i) => i.ok),
    speed: input.speed,
    seed: input.seed,
    startedAt: new Date(startMs).toISOString(),
    simulatedSeconds: round1((endMs - startMs) / 1000),
    workloadSeconds: round1(input.workloadDoneS),
    drainSeconds: round1(input.drainDoneS - input.workloadDoneS),
    realSeconds: round1(input.realSeconds),
    timedOut: input.timedOut,
    drained: input.drained,
    summary: {
      jobs: jobs.length,
      completed: jobs.filter((j) => j.status === 'completed').length,
      cancelled: jobs.filter((j) => j.conclusion === 'cancelled').length,
      waitSeconds: {
        p50: percentile(waits, 50),
        p95: percentile(waits, 95),
        max: waits.length ? waits[waits.length - 1]! : null,
      },
    },
    jobs,
    pools,
    api: { github: sortedCalls(world.github.calls), ecs: sortedCalls(world.ecs.calls) },
    rateLimitErrors,
    faults: {
      injected,
      webhooks,
      controllerRestartsAt: input.restartsAt.map(round1),
      runnerCrashes: world.crashes.length,
      ec2: world.ec2 ?? { peakInstances: 0, peakWaitingForCapacity: 0 },
    },
    invariants,
    errors: input.errors,
  };
}
