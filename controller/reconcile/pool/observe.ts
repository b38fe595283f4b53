// One batched look at the outside world for a pool's runner records: one listing of GitHub
// runners with our prefix (shared by the pass), the records' tasks and the jobs bound to
// runners. With the informer cache (ctx.cache) the jobs and tasks come from memory: only tasks
// the cache does not know, or that an event or relist says changed, are described.

import { TASK_STARTED_BY, TASK_TAG_RUNNER } from '../../api/constants.ts';
import type { RunnerTask } from '../../ecs/types.ts';
import type { GitHubRunner } from '../../github/types.ts';
import type { JobRecord, PoolRecord, RunnerRecord } from '../../store/types.ts';
import { listOurRunners, type ReconcileContext } from '../context.ts';
import { githubScope } from '../names.ts';
import { lastEventAt } from '../runner/record.ts';
import type { RunnerObservation } from '../runner/lifecycle.ts';

export async function describeAll(
  ctx: ReconcileContext,
  cluster: string,
  arns: string[],
): Promise<RunnerTask[]> {
  const unique = [...new Set(arns)];
  const tasks: RunnerTask[] = [];
  for (let i = 0; i < unique.length; i += 100) {
    tasks.push(...(await ctx.ecs.describeTasks(cluster, unique.slice(i, i + 100))));
  }
  return tasks;
}

/** Tasks we started in `cluster` (running and recently stopped), by their runner tag. */
async function tasksByRunnerTag(
  ctx: ReconcileContext,
  cluster: string,
): Promise<Map<string, RunnerTask[]>> {
  const arns = [
    ...(await ctx.ecs.listTasks(cluster, { startedBy: TASK_STARTED_BY })),
    ...(await ctx.ecs.listTasks(cluster, { startedBy: TASK_STARTED_BY, desiredStatus: 'STOPPED' })),
  ];
  const byTag = new Map<string, RunnerTask[]>();
  for (const task of await describeAll(ctx, cluster, arns)) {
    const name = task.tags[TASK_TAG_RUNNER];
    if (name) byTag.set(name, [...(byTag.get(name) ?? []), task]);
  }
  return byTag;
}

/**
 * The task of a record that has no taskArn yet (a crash after RunTask): a running task with its
 * tag, or a stopped one started after its current registration (older ones belong to earlier
 * attempts).
 */
function taskOfAttempt(record: RunnerRecord, tasks: RunnerTask[]): RunnerTask | undefined {
  const configuredAt = lastEventAt(record, 'configured') ?? 0;
  return (
    tasks.find((t) => t.desiredStatus !== 'STOPPED') ??
    (record.state === 'configured'
      ? tasks.find((t) => (t.createdAt ?? 0) >= configuredAt)
      : undefined)
  );
}

/** Relist generation per cluster in which the cache last fell back to a full task listing. */
const fullListings = new WeakMap<object, Map<string, number>>();

/** The tasks of records with no task ARN, by runner name, from the cache's tag index. */
async function untrackedTasks(
  ctx: ReconcileContext,
  cluster: string,
  untracked: RunnerRecord[],
): Promise<Map<string, RunnerTask[]>> {
  const cache = ctx.cache;
  if (!cache) return tasksByRunnerTag(ctx, cluster);
  const byTag = new Map<string, RunnerTask[]>();
  const arns: string[] = [];
  for (const r of untracked) {
    const tasks = cache.tasks.tasksOfRunner(r.name);
    if (tasks.length) byTag.set(r.name, tasks);
    arns.push(...tasks.map((t) => t.arn));
  }
  // Fresh descriptions of what the index found (it may have stopped since).
  const fresh = await cache.tasks.resolve(ctx.ecs, cluster, arns, cache.trustTaskEvents);
  for (const [name, tasks] of byTag) {
    byTag.set(
      name,
      tasks.flatMap((t) => (fresh.has(t.arn) ? [fresh.get(t.arn)!] : [])),
    );
  }
  if (byTag.size === untracked.length) return byTag;
  // Not in the index: a task started before this process and stopped before its first relist.
  // Listed in full at most once per relist, not once per pass.
  let done = fullListings.get(cache);
  if (!done) fullListings.set(cache, (done = new Map()));
  const generation = cache.stats().relists;
  if (done.get(cluster) === generation) return byTag;
  done.set(cluster, generation);
  for (const [name, tasks] of await tasksByRunnerTag(ctx, cluster)) {
    if (!byTag.get(name)?.length) byTag.set(name, tasks);
  }
  return byTag;
}

export async function observeRunners(
  ctx: ReconcileContext,
  pool: PoolRecord,
  live: RunnerRecord[],
): Promise<Map<string, RunnerObservation>> {
  const result = new Map<string, RunnerObservation>();
  if (!live.length) return result;
  const cluster = pool.spec.ecs.cluster;

  const listed = await listOurRunners(ctx, githubScope(pool.spec.github));
  const ghByName = new Map<string, GitHubRunner>(listed.runners.map((r) => [r.name, r]));

  const arns = live.flatMap((r) => (r.taskArn ? [r.taskArn] : []));
  const tasksByArn = !arns.length
    ? new Map<string, RunnerTask>()
    : ctx.cache
      ? await ctx.cache.tasks.resolve(ctx.ecs, cluster, arns, ctx.cache.trustTaskEvents)
      : new Map((await describeAll(ctx, cluster, arns)).map((t) => [t.arn, t]));
  const untracked = live.filter((r) => !r.taskArn && r.state !== 'idle' && r.state !== 'busy');
  const byTag = untracked.length
    ? await untrackedTasks(ctx, cluster, untracked)
    : new Map<string, RunnerTask[]>();

  // The cache indexes in-progress jobs by runner; without it, one listing of them.
  const cache = ctx.cache;
  const jobByRunner = cache
    ? undefined
    : new Map<string, JobRecord>(
        (await ctx.store.listJobs({ status: ['in_progress'] }))
          .filter((j) => j.runnerName)
          .map((j) => [j.runnerName!, j]),
      );

  for (const record of live) {
    let job = cache ? cache.records.jobOfRunner(record.name) : jobByRunner!.get(record.name);
    if (!job && record.jobId !== undefined) job = await ctx.store.getJob(record.jobId);
    // A job that went queued -> completed (the in_progress event lost or never sent) still names
    // its runner: bind it, so the runner finishes instead of counting as idle supply.
    const hinted = ctx.jobHints?.get(record.name);
    if (!job && hinted !== undefined) {
      const found = await ctx.store.getJob(hinted);
      if (found?.runnerName === record.name) job = found;
    }
    const task = record.taskArn
      ? tasksByArn.get(record.taskArn)
      : taskOfAttempt(record, byTag.get(record.name) ?? []);
    result.set(record.name, {
      ghListedAtMs: listed.startedAtMs,
      ...(ghByName.has(record.name) ? { ghRunner: ghByName.get(record.name) } : {}),
      ...(task ? { task } : {}),
      ...(job ? { job } : {}),
    });
  }
  return result;
}
