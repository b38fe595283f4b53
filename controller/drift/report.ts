// Builds the drift report: one read-only look at GitHub, ECS and the store, the classification,
// and a confirmation pass that re-reads each orphan candidate before it is reported.
//
// Order matters, as in garbage collection: the outside world is listed FIRST and the records
// after. Every launch writes its record before it creates anything outside, so whatever the
// listing shows was created after its record, and the record listing that follows sees it.

import { TASK_STARTED_BY, TASK_TAG_POOL, TASK_TAG_RUNNER } from '../api/constants.ts';
import type { EcsProvider, RunnerTask } from '../ecs/types.ts';
import type { GitHubProvider, GitHubScope, WorkflowJob } from '../github/types.ts';
import { DEFAULT_SETTINGS } from '../reconcile/context.ts';
import { githubScope, ownedPrefix, scopeKey } from '../reconcile/names.ts';
import type { Store } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';
import { classifyDrift, poolOfRunnerName } from './classify.ts';
import type {
  DriftFinding,
  DriftKind,
  DriftReport,
  DriftSettings,
  DriftSnapshot,
} from './types.ts';

export interface DriftDeps {
  store: Pick<Store, 'listPools' | 'listRunners' | 'getRunner' | 'listJobs' | 'listRepositories'>;
  github: Pick<GitHubProvider, 'listRunners' | 'getRunner' | 'listQueuedJobs' | 'getJob'>;
  ecs: Pick<EcsProvider, 'listTasks' | 'describeTasks'>;
  clock: Clock;
}

export interface DriftOptions extends Partial<DriftSettings> {
  /** Limit the report to one pool. */
  pool?: string;
}

/** Grace of a controller whose resync runs every `resyncSeconds`: two resyncs, at least 30 s. */
export function defaultGraceMs(resyncSeconds: number | undefined): number {
  return Math.max(30_000, 2 * (resyncSeconds ?? 60) * 1000);
}

export function driftSettings(options: Partial<DriftSettings> = {}): DriftSettings {
  const defined = Object.fromEntries(
    Object.entries(options).filter(([, v]) => v !== undefined),
  ) as Partial<DriftSettings>;
  return {
    runnerNamePrefix: DEFAULT_SETTINGS.runnerNamePrefix,
    graceMs: defaultGraceMs(options.resyncSeconds),
    registrationTimeoutMs: DEFAULT_SETTINGS.registrationTimeoutMs,
    idleTimeoutMs: DEFAULT_SETTINGS.idleTimeoutMs,
    maxJobDurationMs: DEFAULT_SETTINGS.maxJobDurationMs,
    maxLaunchAttempts: DEFAULT_SETTINGS.maxLaunchAttempts,
    ...defined,
  };
}

export class UnknownPoolError extends Error {
  constructor(readonly pool: string) {
    super(`runnerpool "${pool}" not found`);
    this.name = 'UnknownPoolError';
  }
}

async function describeAll(
  ecs: DriftDeps['ecs'],
  cluster: string,
  arns: string[],
): Promise<RunnerTask[]> {
  const unique = [...new Set(arns)];
  const out: RunnerTask[] = [];
  for (let i = 0; i < unique.length; i += 100) {
    out.push(...(await ecs.describeTasks(cluster, unique.slice(i, i + 100))));
  }
  return out;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** One read of everything, the outside world first. */
export async function collectSnapshot(
  deps: DriftDeps,
  settings: DriftSettings,
): Promise<DriftSnapshot> {
  const warnings: string[] = [];
  const pools = await deps.store.listPools();
  const scopes = new Map<string, GitHubScope>();
  const clusters = new Set<string>();
  for (const pool of pools) {
    const scope = githubScope(pool.spec.github);
    scopes.set(scopeKey(scope), scope);
    clusters.add(pool.spec.ecs.cluster);
  }
  const repositories = new Set<string>([
    ...(await deps.store.listRepositories()).map((r) => r.fullName),
  ]);

  // 1. The outside world.
  const githubRunners: DriftSnapshot['githubRunners'] = [];
  for (const scope of scopes.values()) {
    for (const runner of await deps.github.listRunners(
      scope,
      ownedPrefix(settings.runnerNamePrefix),
    )) {
      githubRunners.push({ scope, runner });
    }
  }
  const listed = new Map<string, string[]>();
  for (const cluster of clusters) {
    listed.set(cluster, await deps.ecs.listTasks(cluster, { startedBy: TASK_STARTED_BY }));
  }
  const stored = await deps.store.listJobs({ status: ['queued', 'waiting'] });
  for (const job of stored) repositories.add(job.repository);
  const queuedJobs: WorkflowJob[] = [];
  const readRepositories: string[] = [];
  for (const repository of [...repositories].sort()) {
    try {
      queuedJobs.push(...(await deps.github.listQueuedJobs(repository)));
      readRepositories.push(repository);
    } catch (err) {
      warnings.push(`queued jobs of ${repository} could not be read: ${message(err)}`);
    }
  }

  // 2. Then the records.
  const records = await deps.store.listRunners();
  const storedJobs = await deps.store.listJobs({ status: ['queued', 'waiting'] });
  // Only pools with a per-repository cap need to know which repositories' jobs run now.
  const runningJobs = pools.some((p) => p.spec.maxRunnersPerRepository !== undefined)
    ? await deps.store.listJobs({ status: ['in_progress'] })
    : [];

  // 3. The tasks: those listed as running, and those of live records (to see them stopped).
  const clusterOf = new Map(pools.map((p) => [p.name, p.spec.ecs.cluster]));
  for (const r of records) {
    const cluster = clusterOf.get(r.pool);
    if (!r.taskArn || r.state === 'finished' || !cluster) continue;
    listed.set(cluster, [...(listed.get(cluster) ?? []), r.taskArn]);
  }
  const tasks: RunnerTask[] = [];
  for (const [cluster, arns] of listed) tasks.push(...(await describeAll(deps.ecs, cluster, arns)));

  return {
    nowMs: deps.clock.now(),
    pools,
    records,
    storedJobs,
    runningJobs,
    githubRunners,
    tasks: tasks.filter((t) => !t.startedBy || t.startedBy === TASK_STARTED_BY),
    queuedJobs,
    repositories: readRepositories,
    warnings,
  };
}

/**
 * Orphans are reported only when a second look agrees: the record is still not live (a launch
 * may have written it meanwhile) and the runner or task still exists. A stale job record is
 * reported only when GitHub's job moved on longer than the grace ago.
 */
async function confirm(
  deps: DriftDeps,
  snapshot: DriftSnapshot,
  findings: DriftFinding[],
  graceMs: number,
): Promise<DriftFinding[]> {
  const out: DriftFinding[] = [];
  const scopeOf = new Map(snapshot.githubRunners.map((g) => [g.runner.name, g.scope]));
  const clusterOfTask = new Map(snapshot.tasks.map((t) => [t.arn, t.cluster]));
  for (const f of findings) {
    if (f.kind === 'runner-without-record' && f.objects.runner) {
      const record = await deps.store.getRunner(f.objects.runner);
      if (record && record.state !== 'finished') continue;
      const scope = scopeOf.get(f.objects.runner);
      if (scope && f.objects.githubRunnerId !== undefined) {
        const fresh = await deps.github.getRunner(scope, f.objects.githubRunnerId);
        if (!fresh) continue;
      }
    }
    if (f.kind === 'task-without-record' && f.objects.taskArn) {
      const name = f.objects.runner;
      const record = name ? await deps.store.getRunner(name) : undefined;
      if (record && record.taskArn === f.objects.taskArn && record.state !== 'finished') continue;
      const cluster = clusterOfTask.get(f.objects.taskArn);
      if (cluster) {
        const [fresh] = await deps.ecs.describeTasks(cluster, [f.objects.taskArn]);
        if (!fresh || fresh.lastStatus === 'STOPPED' || fresh.desiredStatus === 'STOPPED') continue;
      }
    }
    if (f.kind === 'job-record-stale' && f.objects.jobId !== undefined && f.objects.repository) {
      // Stale since GitHub's job moved on, not since the record was written.
      const fresh = await deps.github.getJob(f.objects.repository, f.objects.jobId);
      if (fresh?.status === 'queued') continue;
      const moved = [fresh?.startedAt, fresh?.completedAt]
        .filter((t): t is string => !!t)
        .map((t) => Date.parse(t));
      if (moved.length && snapshot.nowMs - Math.max(...moved) < graceMs) continue;
    }
    out.push(f);
  }
  return out;
}

/** The drift report (read-only: no write to the store, GitHub or ECS). */
export async function buildDriftReport(
  deps: DriftDeps,
  options: DriftOptions = {},
): Promise<DriftReport> {
  const { pool, ...rest } = options;
  const settings = driftSettings(rest);
  const snapshot = await collectSnapshot(deps, settings);
  if (pool && !snapshot.pools.some((p) => p.name === pool)) throw new UnknownPoolError(pool);
  let findings = classifyDrift(snapshot, settings);
  if (pool) findings = findings.filter((f) => f.pool === pool);
  findings = await confirm(deps, snapshot, findings, settings.graceMs);
  const counts: Partial<Record<DriftKind, number>> = {};
  for (const f of findings) counts[f.kind] = (counts[f.kind] ?? 0) + 1;
  const inPool = <T extends { pool?: string }>(xs: T[]) =>
    pool ? xs.filter((x) => x.pool === pool) : xs;
  const recordPool = new Map(snapshot.records.map((r) => [r.name, r.pool]));
  const runnerPool = (name: string) =>
    recordPool.get(name) ?? poolOfRunnerName(name, settings.runnerNamePrefix, snapshot.pools);
  const liveTasks = snapshot.tasks.filter(
    (t) => t.lastStatus !== 'STOPPED' && t.tags[TASK_TAG_RUNNER] !== undefined,
  );
  return {
    generatedAt: new Date(snapshot.nowMs).toISOString(),
    inSync: findings.length === 0,
    ...(pool ? { pool } : {}),
    graceSeconds: Math.round(settings.graceMs / 1000),
    checked: {
      pools: pool ? 1 : snapshot.pools.length,
      records: inPool(snapshot.records).filter((r) => r.state !== 'finished').length,
      githubRunners: snapshot.githubRunners.filter(
        (g) => !pool || runnerPool(g.runner.name) === pool,
      ).length,
      tasks: liveTasks.filter((t) => !pool || t.tags[TASK_TAG_POOL] === pool).length,
      repositories: snapshot.repositories.length,
      queuedJobs: snapshot.queuedJobs.length,
    },
    counts,
    findings,
    warnings: snapshot.warnings,
  };
}
