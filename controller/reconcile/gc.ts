// Garbage collection of what has no record: GitHub runners with our name prefix and tasks we
// started. It lists the outside world FIRST and the records after: every launch writes its
// record before it creates anything outside, so whatever the listing shows was created after
// its record, and the record listing that follows sees it. An in-flight launch is never
// mistaken for an orphan.

import { TASK_STARTED_BY, TASK_TAG_RUNNER } from '../api/constants.ts';
import { RunnerBusyError } from '../github/errors.ts';
import type { GitHubRunner, GitHubScope } from '../github/types.ts';
import type { RunnerRecord } from '../store/types.ts';
import type { ReconcileContext } from './context.ts';
import { githubScope, ownedPrefix, scopeKey } from './names.ts';
import { describeAll } from './pool/observe.ts';

export interface GcReport {
  runnersDeleted: string[];
  tasksStopped: string[];
  kept: string[];
}

export function createGarbageCollector(ctx: ReconcileContext) {
  return async function collectGarbage(): Promise<GcReport> {
    const report: GcReport = { runnersDeleted: [], tasksStopped: [], kept: [] };
    const pools = await ctx.store.listPools();
    const scopes = new Map<string, GitHubScope>();
    const clusters = new Set<string>();
    for (const pool of pools) {
      const scope = githubScope(pool.spec.github);
      scopes.set(scopeKey(scope), scope);
      clusters.add(pool.spec.ecs.cluster);
    }

    // 1. The outside world.
    const ghRunners: { scope: GitHubScope; runner: GitHubRunner }[] = [];
    for (const scope of scopes.values()) {
      for (const runner of await ctx.github.listRunners(
        scope,
        ownedPrefix(ctx.settings.runnerNamePrefix),
      )) {
        ghRunners.push({ scope, runner });
      }
    }
    const taskArns = new Map<string, string[]>();
    for (const cluster of clusters) {
      taskArns.set(cluster, await ctx.ecs.listTasks(cluster, { startedBy: TASK_STARTED_BY }));
    }

    // 2. Then the records.
    const records = await ctx.store.listRunners();
    const byName = new Map<string, RunnerRecord>(records.map((r) => [r.name, r]));
    const knownTasks = new Set(records.flatMap((r) => (r.taskArn ? [r.taskArn] : [])));

    // GitHub runners with no live record. Re-read before deleting; busy means keep.
    for (const { scope, runner } of ghRunners) {
      const record = byName.get(runner.name);
      if (record && record.state !== 'finished') continue;
      const fresh = await ctx.github.getRunner(scope, runner.id);
      if (!fresh) continue;
      if (fresh.busy) {
        report.kept.push(runner.name);
        continue;
      }
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
      for (const task of await describeAll(ctx, cluster, unknown)) {
        if (task.lastStatus === 'STOPPED') continue;
        const name = task.tags[TASK_TAG_RUNNER];
        const record = name ? byName.get(name) : undefined;
        // Started, not yet recorded: the launch in flight records it (or adopts it after a crash).
        if (
          record &&
          !record.taskArn &&
          (record.state === 'pending' || record.state === 'configured')
        ) {
          continue;
        }
        if (name && busyNames.has(name)) {
          report.kept.push(name);
          continue;
        }
        await ctx.ecs.stopTask(cluster, task.arn, 'runnerctl: orphan task (no runner record)');
        report.tasksStopped.push(task.arn);
        ctx.log.info({ taskArn: task.arn, runner: name }, 'stopped orphan task');
      }
    }
    return report;
  };
}
