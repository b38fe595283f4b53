// Garbage collection of what has no record: GitHub runners with our name prefix and tasks we
// started. It lists the outside world FIRST and the records after: every launch writes its
// record before it creates anything outside, so whatever the listing shows was created after
// its record. The record listing reads an eventually consistent index, though, so it may not
// show a record written a moment ago: before anything is removed its record is looked up by name
// with a consistent read, and something with no record at all is only removed once it is older
// than `orphanGraceMs` (from its creation, or from when this process first saw it).

import { TASK_STARTED_BY, TASK_TAG_RUNNER } from '../api/constants.ts';
import { RunnerBusyError } from '../github/errors.ts';
import type { GitHubRunner, GitHubScope } from '../github/types.ts';
import type { RunnerRecord } from '../store/types.ts';
import { listOurRunners, type ReconcileContext } from './context.ts';
import { githubScope, scopeKey } from './names.ts';
import { describeAll } from './pool/observe.ts';
import { lastEventAt } from './runner/record.ts';

export interface GcReport {
  runnersDeleted: string[];
  tasksStopped: string[];
  kept: string[];
  /** Things with no record, left alone until their grace period ends. */
  waiting: string[];
}

/**
 * The running tasks we started in `cluster`: the cache's last relist of the cluster (an orphan
 * is found within one relist period; every launch writes its record first, so the cache holds a
 * record for every task of this process), or, without a cache or before its first listing of
 * the cluster, a listing now.
 */
async function runningTasks(ctx: ReconcileContext, cluster: string): Promise<string[]> {
  const listed = ctx.cache?.tasks.listedRunning(cluster);
  if (listed) return listed.arns;
  const arns = await ctx.ecs.listTasks(cluster, { startedBy: TASK_STARTED_BY });
  ctx.cache?.tasks.relisted(cluster, arns);
  return arns;
}

export function createGarbageCollector(ctx: ReconcileContext) {
  /** When this process first saw a runner name or task ARN without a record. */
  const firstSeen = new Map<string, number>();

  /** True once `key` (created at `createdAtMs` when known) is past its grace period. */
  const graceOver = (key: string, seen: Set<string>, createdAtMs?: number): boolean => {
    const now = ctx.clock.now();
    seen.add(key);
    if (!firstSeen.has(key)) firstSeen.set(key, now);
    const since = Math.min(firstSeen.get(key)!, createdAtMs ?? Number.POSITIVE_INFINITY);
    return now - since >= ctx.settings.orphanGraceMs;
  };

  return async function collectGarbage(): Promise<GcReport> {
    const report: GcReport = { runnersDeleted: [], tasksStopped: [], kept: [], waiting: [] };
    const seen = new Set<string>();
    const pools = await ctx.store.listPools();
    const scopes = new Map<string, GitHubScope>();
    const clusters = new Set<string>();
    for (const pool of pools) {
      const scope = githubScope(pool.spec.github);
      scopes.set(scopeKey(scope), scope);
      clusters.add(pool.spec.ecs.cluster);
    }

    // 1. The outside world.
    const ghRunners: { scope: GitHubScope; runner: GitHubRunner; listedAtMs: number }[] = [];
    for (const scope of scopes.values()) {
      const listed = await listOurRunners(ctx, scope);
      for (const runner of listed.runners) {
        ghRunners.push({ scope, runner, listedAtMs: listed.startedAtMs });
      }
    }
    const taskArns = new Map<string, string[]>();
    for (const cluster of clusters) taskArns.set(cluster, await runningTasks(ctx, cluster));

    // 2. Then the live records (from the cache, or an index that may lag; confirmed by name
    // below before acting). Finished ones do not protect anything, so they are not read.
    const records = await ctx.store.listRunners({ live: true });
    const byName = new Map<string, RunnerRecord>(records.map((r) => [r.name, r]));
    const knownTasks = new Set(records.flatMap((r) => (r.taskArn ? [r.taskArn] : [])));
    /** The record by a consistent read of its key (the key is the runner name). */
    const confirmed = new Map<string, RunnerRecord | undefined>();
    const recordOf = async (name: string): Promise<RunnerRecord | undefined> => {
      if (!confirmed.has(name)) confirmed.set(name, await ctx.store.getRunner(name));
      return confirmed.get(name);
    };

    // GitHub runners with no live record. Re-read before deleting; busy means keep.
    for (const { scope, runner, listedAtMs } of ghRunners) {
      const listed = byName.get(runner.name);
      if (listed && listed.state !== 'finished') continue;
      const record = await recordOf(runner.name);
      if (record && record.state !== 'finished') continue;
      // Finished after the listing started: the listing says nothing about what is left (GitHub
      // removes a JIT runner after its job); the next listing does.
      const finishedAt = record ? lastEventAt(record, 'finished') : undefined;
      if (finishedAt !== undefined && finishedAt >= listedAtMs) continue;
      if (!record && !graceOver(`runner/${runner.name}`, seen)) {
        report.waiting.push(runner.name);
        continue;
      }
      const fresh = await ctx.github.getRunner(scope, runner.id);
      if (!fresh) continue;
      if (fresh.busy) {
        report.kept.push(runner.name);
        continue;
      }
      ctx.fenced(); // only the lease holder removes anything
      try {
        await ctx.github.deleteRunner(scope, runner.id);
        report.runnersDeleted.push(runner.name);
        ctx.log.info(
          { runner: runner.name, githubRunnerId: runner.id },
          'deleted orphan GitHub runner',
        );
      } catch (err) {
        if (!(err instanceof RunnerBusyError)) throw err;
        report.kept.push(runner.name);
      }
    }

    // Tasks we started that no record tracks.
    const busyNames = new Set(ghRunners.filter((g) => g.runner.busy).map((g) => g.runner.name));
    for (const [cluster, arns] of taskArns) {
      const unknown = arns.filter((a) => !knownTasks.has(a));
      if (!unknown.length) continue;
      const described = ctx.cache
        ? [...(await ctx.cache.tasks.resolve(ctx.ecs, cluster, unknown, true)).values()]
        : await describeAll(ctx, cluster, unknown);
      for (const task of described) {
        if (task.lastStatus === 'STOPPED') continue;
        const name = task.tags[TASK_TAG_RUNNER];
        const record = name ? await recordOf(name) : undefined;
        if (record && record.state !== 'finished') {
          // Tracked after all (the listing lagged).
          if (record.taskArn === task.arn) continue;
          // Started, not yet recorded: the launch in flight records it (or adopts it after a
          // crash).
          if (!record.taskArn && (record.state === 'pending' || record.state === 'configured')) {
            continue;
          }
        }
        if (!record && !graceOver(`task/${task.arn}`, seen, task.createdAt)) {
          report.waiting.push(name ?? task.arn);
          continue;
        }
        if (name && busyNames.has(name)) {
          report.kept.push(name);
          continue;
        }
        ctx.fenced();
        await ctx.ecs.stopTask(cluster, task.arn, 'runnerctl: orphan task (no runner record)');
        report.tasksStopped.push(task.arn);
        ctx.log.info({ taskArn: task.arn, runner: name }, 'stopped orphan task');
      }
    }

    // Forget what is gone, so the map does not grow.
    for (const key of firstSeen.keys()) if (!seen.has(key)) firstSeen.delete(key);
    return report;
  };
}
