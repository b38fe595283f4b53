// The ECS tasks the controller started, as last described, kept current by RunTask and
// DescribeTasks answers, by ECS Task State Change events and by a relist of each cluster's running
// tasks. A task an event (or StopTask) says changed is described again before it is used: events
// carry no container exit codes, and a relist that no longer lists a task means it stopped.
//
// Bounded: a stopped task leaves after `stoppedKeepMs` (ECS itself forgets stopped tasks after
// about an hour), and one that ECS no longer knows is remembered as gone for as long.

import { TASK_STARTED_BY, TASK_TAG_RUNNER } from '../api/constants.ts';
import type { EcsTaskEvent } from '../events/ecs-task-event.ts';
import type { EcsProvider, RunnerTask } from '../ecs/types.ts';
import { Interner } from './intern.ts';

interface Entry {
  cluster: string;
  /** As last described; absent while never described, or when ECS no longer knows it (`gone`). */
  task?: RunnerTask;
  /** Something changed since it was described: describe it before use. */
  stale: boolean;
  gone: boolean;
  /** Highest event version applied (events come twice and out of order). */
  eventVersion: number;
  /** When the task stopped or went missing, for eviction. */
  endedAtMs?: number;
}

export interface TaskCacheOptions {
  now: () => number;
  /** How long a stopped or vanished task is remembered. Default 15 min. */
  stoppedKeepMs?: number;
}

/** What the cache knows about a task ARN: `fresh` when it can be used without a DescribeTasks. */
export interface TaskLookup {
  fresh: boolean;
  task?: RunnerTask;
}

const stopped = (t: RunnerTask) => t.lastStatus === 'STOPPED';

/** Fields with few distinct values across thousands of tasks. */
const TASK_STRINGS = [
  'cluster',
  'lastStatus',
  'desiredStatus',
  'startedBy',
  'group',
  'capacityProvider',
  'stopCode',
  'cpuArchitecture',
] as const;

export class TaskCache {
  readonly #now: () => number;
  readonly #keepMs: number;
  readonly #interner = new Interner();
  readonly #tasks = new Map<string, Entry>();
  readonly #byRunner = new Map<string, Set<string>>();
  /** Running task ARNs per cluster as of its last relist. */
  readonly #listed = new Map<string, { atMs: number; arns: string[] }>();

  constructor(opts: TaskCacheOptions) {
    this.#now = opts.now;
    this.#keepMs = opts.stoppedKeepMs ?? 15 * 60_000;
  }

  /** The clusters of the tasks known (a relist covers them even after their pool went). */
  clusters(): Set<string> {
    return new Set([...this.#tasks.values()].map((e) => e.cluster));
  }

  get size(): number {
    return this.#tasks.size;
  }

  lookup(arn: string): TaskLookup {
    const e = this.#tasks.get(arn);
    if (!e || e.stale) return { fresh: false, ...(e?.task ? { task: e.task } : {}) };
    return { fresh: e.gone || !!e.task, ...(e.task ? { task: e.task } : {}) };
  }

  /** Tasks tagged with this runner name that the cache has described. */
  tasksOfRunner(runnerName: string): RunnerTask[] {
    const arns = this.#byRunner.get(runnerName);
    if (!arns) return [];
    return [...arns].flatMap((arn) => {
      const t = this.#tasks.get(arn)?.task;
      return t ? [t] : [];
    });
  }

  /** A RunTask or DescribeTasks answer about a task of `cluster` (as the controller names it). */
  put(cluster: string, described: RunnerTask): void {
    const e = this.#tasks.get(described.arn);
    // A description older than a stop already seen (answers of concurrent calls) is ignored.
    if (e?.task && stopped(e.task) && !stopped(described)) return;
    const task = this.#compact(described);
    const entry: Entry = {
      cluster: this.#interner.string(cluster),
      task,
      stale: false,
      gone: false,
      eventVersion: e?.eventVersion ?? 0,
      ...(stopped(task) ? { endedAtMs: e?.endedAtMs ?? this.#now() } : {}),
    };
    this.#tasks.set(task.arn, entry);
    const runner = task.tags[TASK_TAG_RUNNER];
    if (runner) {
      let arns = this.#byRunner.get(runner);
      if (!arns) this.#byRunner.set(runner, (arns = new Set()));
      arns.add(task.arn);
    }
  }

  /** The cache's copy: repeated values (statuses, cluster, the pool tag) shared across tasks. */
  #compact(task: RunnerTask): RunnerTask {
    const copy = Object.assign({}, task) as unknown as Record<string, unknown>;
    for (const key of TASK_STRINGS) {
      const value = copy[key];
      if (typeof value === 'string') copy[key] = this.#interner.string(value);
    }
    const tags: Record<string, string> = {};
    for (const [key, value] of Object.entries(task.tags)) {
      // The runner tag is one of a kind; the others (pool, managed-by) repeat.
      tags[key] = key === TASK_TAG_RUNNER ? value : this.#interner.string(value);
    }
    copy.tags = tags;
    return copy as unknown as RunnerTask;
  }

  /** Asked for and not in DescribeTasks' answer: ECS no longer knows it. */
  putGone(cluster: string, arn: string): void {
    const e = this.#tasks.get(arn);
    this.#tasks.set(arn, {
      cluster,
      ...(e?.task ? { task: e.task } : {}),
      stale: false,
      gone: true,
      eventVersion: e?.eventVersion ?? 0,
      endedAtMs: e?.endedAtMs ?? this.#now(),
    });
  }

  /** Something changed it (StopTask sent, an event): describe before the next use. */
  markStale(cluster: string, arn: string): void {
    const e = this.#tasks.get(arn);
    if (e) e.stale = true;
    else this.#tasks.set(arn, { cluster, stale: true, gone: false, eventVersion: 0 });
  }

  /**
   * An ECS Task State Change event. Returns true when it told the cache something new (the
   * runner's pool is worth a look). Events of tasks not started by runnerctl, or not known yet
   * (a record's task is described when the pool first looks at it), change nothing here.
   */
  applyEvent(event: EcsTaskEvent): boolean {
    if (event.startedBy !== undefined && event.startedBy !== TASK_STARTED_BY) return false;
    const e = this.#tasks.get(event.taskArn);
    if (!e) return true;
    if (event.version <= e.eventVersion) return false;
    e.eventVersion = event.version;
    if (
      e.task &&
      e.task.lastStatus === event.lastStatus &&
      e.task.desiredStatus === event.desiredStatus
    ) {
      return false;
    }
    e.stale = true;
    return true;
  }

  /**
   * A relist's listing of the running tasks of `cluster`: tasks listed but unknown or not yet
   * seen running, and tasks believed running but no longer listed, are returned to be described.
   */
  relisted(cluster: string, runningArns: string[]): string[] {
    this.#listed.set(cluster, { atMs: this.#now(), arns: runningArns });
    const listed = new Set(runningArns);
    const describe: string[] = [];
    for (const arn of runningArns) {
      const e = this.#tasks.get(arn);
      if (!e || e.stale || !e.task || e.task.lastStatus !== 'RUNNING') describe.push(arn);
    }
    for (const [arn, e] of this.#tasks) {
      if (e.cluster !== cluster || listed.has(arn) || e.gone) continue;
      if (e.task && stopped(e.task)) continue;
      // Believed running, no longer listed: it stopped (its event was lost).
      e.stale = true;
      describe.push(arn);
    }
    this.#evict();
    return describe;
  }

  /** The running task ARNs of the cluster's last relist and when it was taken, if there was one. */
  listedRunning(cluster: string): { atMs: number; arns: string[] } | undefined {
    return this.#listed.get(cluster);
  }

  /**
   * The tasks of `arns` (those ECS still knows): cached ones when `trust` and fresh, the rest
   * described through `ecs` (whose answers update this cache when it is the caching provider).
   */
  async resolve(
    ecs: EcsProvider,
    cluster: string,
    arns: string[],
    trust: boolean,
  ): Promise<Map<string, RunnerTask>> {
    const out = new Map<string, RunnerTask>();
    const describe: string[] = [];
    for (const arn of new Set(arns)) {
      const found = this.lookup(arn);
      if (trust && found.fresh) {
        if (found.task) out.set(arn, found.task);
      } else {
        describe.push(arn);
      }
    }
    for (let i = 0; i < describe.length; i += 100) {
      for (const t of await ecs.describeTasks(cluster, describe.slice(i, i + 100)))
        out.set(t.arn, t);
    }
    return out;
  }

  #evict(): void {
    const cutoff = this.#now() - this.#keepMs;
    for (const [arn, e] of this.#tasks) {
      if (e.endedAtMs === undefined || e.endedAtMs >= cutoff) continue;
      this.#tasks.delete(arn);
      const runner = e.task?.tags[TASK_TAG_RUNNER];
      const set = runner ? this.#byRunner.get(runner) : undefined;
      set?.delete(arn);
      if (runner && set && !set.size) this.#byRunner.delete(runner);
    }
  }

  clear(): void {
    this.#interner.clear();
    this.#tasks.clear();
    this.#byRunner.clear();
    this.#listed.clear();
  }
}

/** The ECS provider with every answer taken into `cache`. */
export function cachingEcs(ecs: EcsProvider, cache: TaskCache): EcsProvider {
  return {
    async runTask(launch) {
      const task = await ecs.runTask(launch);
      cache.put(launch.cluster, task);
      return task;
    },
    async describeTasks(cluster, taskArns) {
      const tasks = await ecs.describeTasks(cluster, taskArns);
      const found = new Set(tasks.map((t) => t.arn));
      for (const t of tasks) cache.put(cluster, t);
      for (const arn of taskArns) if (!found.has(arn)) cache.putGone(cluster, arn);
      return tasks;
    },
    listTasks: (cluster, filter) => ecs.listTasks(cluster, filter),
    async stopTask(cluster, taskArn, reason) {
      try {
        await ecs.stopTask(cluster, taskArn, reason);
      } finally {
        cache.markStale(cluster, taskArn);
      }
    },
  };
}
