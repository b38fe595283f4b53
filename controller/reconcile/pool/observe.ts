// One batched look at the outside world for a pool's runner records: one listing of GitHub
// runners with our prefix, DescribeTasks by 100, and the jobs bound to runners.

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
  const tasksByArn = new Map(
    (arns.length ? await describeAll(ctx, cluster, arns) : []).map((t) => [t.arn, t]),
  );
  const untracked = live.filter((r) => !r.taskArn && r.state !== 'idle' && r.state !== 'busy');
  const byTag = untracked.length ? await tasksByRunnerTag(ctx, cluster) : new Map();

  const inProgress = await ctx.store.listJobs({ status: ['in_progress'] });
  const jobByRunner = new Map<string, JobRecord>(
    inProgress.filter((j) => j.runnerName).map((j) => [j.runnerName!, j]),
  );

  for (const record of live) {
    let job = jobByRunner.get(record.name);
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
