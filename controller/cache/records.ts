// The in-memory picture of the store's LIVE records: pools, open jobs (queued, waiting,
// in_progress) and runner records that are not finished, indexed by pool and by runner name.
// Every entry keeps the highest version seen, whoever reported it (the controller's own writes,
// events, point reads or a relist), so a late or lagging source never moves a record back.
//
// Finished runner records leave the picture after `finishedTailMs` (the pool pass still needs
// the runners that finished a moment ago: late job events, launch backoff), except those with an
// unhandled spot interruption, which stay until the re-run decision is written.

import { Interner } from './intern.ts';
import {
  awaitsSpotDecision,
  type JobRecord,
  type JobStatus,
  type PoolRecord,
  type RunnerRecord,
} from '../store/types.ts';

export const OPEN_JOB_STATUSES: readonly JobStatus[] = ['queued', 'waiting', 'in_progress'];

/**
 * The cache's own copy of a record, frozen because it is shared (copy it with a spread to change
 * it). Copied with Object.assign, not a spread: on V8 a spread copy gets a hidden class of its
 * own (about 300 bytes more per record, 10,000 runner records), an assign copy shares one. With
 * an interner, the `strings` fields and the labels take its shared copies.
 */
export function cachedCopy<T extends object>(
  record: T,
  intern?: { interner: Interner; strings: readonly (keyof T & string)[] },
): T {
  const copy = Object.assign({}, record) as Record<string, unknown>;
  for (const key of intern?.strings ?? []) {
    const value = copy[key];
    if (typeof value === 'string') copy[key] = intern!.interner.string(value);
  }
  for (const [key, value] of Object.entries(copy)) {
    if (!Array.isArray(value)) continue;
    if (intern && key === 'labels') copy[key] = intern.interner.list(value as string[]);
    else Object.freeze(value);
  }
  return Object.freeze(copy) as T;
}

/** Fields with few distinct values across thousands of records. */
const RUNNER_STRINGS = ['pool', 'state', 'size', 'capacityProvider'] as const;
const JOB_STRINGS = [
  'repository',
  'owner',
  'status',
  'conclusion',
  'name',
  'workflowName',
  'visibility',
  'confirmation',
  'pool',
] as const;

export interface RecordCacheOptions {
  now: () => number;
  /** How long a finished runner record stays in the picture. */
  finishedTailMs: number;
  /**
   * How long a record written or deleted by this process is trusted over a relist that does not
   * show it (the store's listings read an eventually consistent index).
   */
  indexLagMs: number;
}

export const needsSpotDecision = awaitsSpotDecision;

export class RecordCache {
  readonly #opts: RecordCacheOptions;
  readonly #interner = new Interner();
  readonly #pools = new Map<string, PoolRecord>();
  /** Clock time of the last change taken from a write or a point read, per record. */
  readonly #poolTouch = new Map<string, number>();
  readonly #jobs = new Map<number, JobRecord>();
  readonly #jobTouch = new Map<number, number>();
  /** Runner name -> id of the in_progress job it runs. */
  readonly #jobByRunner = new Map<string, number>();
  readonly #runners = new Map<string, RunnerRecord>();
  readonly #runnerTouch = new Map<string, number>();
  readonly #byPool = new Map<string, Map<string, RunnerRecord>>();
  /** Task ARN -> runner name (an ECS event names the task only). */
  readonly #byTask = new Map<string, string>();
  /** Finished runner records still in the picture, with when the cache saw them finish. */
  readonly #finishedAt = new Map<string, number>();
  /** Deleted by this process (name -> when): a lagging relist must not bring them back. */
  readonly #deletedRunners = new Map<string, number>();
  readonly #deletedPools = new Map<string, number>();
  /** Highest completed version seen per job id, so a late relist cannot reopen it. */
  readonly #closedJobs = new Map<number, number>();

  constructor(opts: RecordCacheOptions) {
    this.#opts = opts;
  }

  // ------------------------------------------------------------------ pools

  pools(): PoolRecord[] {
    return [...this.#pools.values()];
  }

  pool(name: string): PoolRecord | undefined {
    return this.#pools.get(name);
  }

  putPool(record: PoolRecord): void {
    const old = this.#pools.get(record.name);
    if (old && old.resourceVersion > record.resourceVersion) return;
    this.#deletedPools.delete(record.name);
    this.#pools.set(record.name, cachedCopy(record));
    this.#poolTouch.set(record.name, this.#opts.now());
  }

  removePool(name: string): void {
    this.#pools.delete(name);
    this.#poolTouch.delete(name);
    this.#deletedPools.set(name, this.#opts.now());
  }

  /** Replaces the pools by a full listing taken from `startedAtMs` on. */
  relistPools(listed: PoolRecord[], startedAtMs: number): void {
    const seen = new Set<string>();
    for (const p of listed) {
      seen.add(p.name);
      if (this.#recent(this.#deletedPools.get(p.name), startedAtMs)) continue;
      this.putPoolFromListing(p);
    }
    for (const name of [...this.#pools.keys()]) {
      if (!seen.has(name) && !this.#recent(this.#poolTouch.get(name), startedAtMs)) {
        this.#pools.delete(name);
        this.#poolTouch.delete(name);
      }
    }
    this.#forgetOld(this.#deletedPools, startedAtMs);
  }

  private putPoolFromListing(p: PoolRecord): void {
    const old = this.#pools.get(p.name);
    if (old && old.resourceVersion >= p.resourceVersion) return;
    this.#pools.set(p.name, cachedCopy(p));
  }

  // ------------------------------------------------------------------ jobs

  /** Open jobs with one of `statuses` (all open ones by default), optionally of one pool. */
  jobs(statuses: readonly JobStatus[] = OPEN_JOB_STATUSES, pool?: string): JobRecord[] {
    const out: JobRecord[] = [];
    for (const job of this.#jobs.values()) {
      if (statuses.includes(job.status) && (pool === undefined || job.pool === pool)) out.push(job);
    }
    return out;
  }

  job(id: number): JobRecord | undefined {
    return this.#jobs.get(id);
  }

  /** The in_progress job a runner runs, as far as the cache knows. */
  jobOfRunner(runnerName: string): JobRecord | undefined {
    const id = this.#jobByRunner.get(runnerName);
    return id === undefined ? undefined : this.#jobs.get(id);
  }

  openJobCount(): number {
    return this.#jobs.size;
  }

  putJob(record: JobRecord): void {
    this.#putJob(record);
    this.#jobTouch.set(record.id, this.#opts.now());
  }

  #putJob(record: JobRecord): boolean {
    const closed = this.#closedJobs.get(record.id);
    if (closed !== undefined && closed >= record.version) return false;
    const old = this.#jobs.get(record.id);
    if (old && old.version > record.version) return false;
    if (old?.runnerName && this.#jobByRunner.get(old.runnerName) === old.id) {
      this.#jobByRunner.delete(old.runnerName);
    }
    if (record.status === 'completed') {
      // Not live any more: out of the picture (the store keeps it).
      this.#jobs.delete(record.id);
      this.#jobTouch.delete(record.id);
      this.#closedJobs.set(record.id, record.version);
      // Bounded: the oldest closings go first (a Map iterates in insertion order).
      while (this.#closedJobs.size > 50_000)
        this.#closedJobs.delete(this.#closedJobs.keys().next().value!);
      return true;
    }
    const job = cachedCopy(record, { interner: this.#interner, strings: JOB_STRINGS });
    this.#jobs.set(record.id, job);
    if (job.status === 'in_progress' && job.runnerName)
      this.#jobByRunner.set(job.runnerName, job.id);
    return true;
  }

  /**
   * Replaces the open jobs with one of `statuses` by a listing of those taken from
   * `startedAtMs` on.
   */
  relistJobs(
    listed: JobRecord[],
    startedAtMs: number,
    statuses: readonly JobStatus[] = OPEN_JOB_STATUSES,
  ): void {
    const seen = new Set<number>();
    for (const job of listed) {
      seen.add(job.id);
      this.#putJob(job);
    }
    for (const [id, job] of [...this.#jobs]) {
      if (!statuses.includes(job.status)) continue;
      if (seen.has(id) || this.#recent(this.#jobTouch.get(id), startedAtMs)) continue;
      this.#jobs.delete(id);
      this.#jobTouch.delete(id);
      if (job.runnerName && this.#jobByRunner.get(job.runnerName) === id) {
        this.#jobByRunner.delete(job.runnerName);
      }
    }
  }

  // ------------------------------------------------------------------ runners

  /** Live runner records and the recently finished ones, of one pool or of all. */
  runners(pool?: string): RunnerRecord[] {
    this.#evictFinished();
    if (pool === undefined) return [...this.#runners.values()];
    return [...(this.#byPool.get(pool)?.values() ?? [])];
  }

  runner(name: string): RunnerRecord | undefined {
    return this.#runners.get(name);
  }

  runnerOfTask(taskArn: string): RunnerRecord | undefined {
    const name = this.#byTask.get(taskArn);
    return name === undefined ? undefined : this.#runners.get(name);
  }

  /** Runner records not finished. */
  liveRunnerCount(): number {
    return this.#runners.size - this.#finishedAt.size;
  }

  putRunner(record: RunnerRecord): void {
    this.#deletedRunners.delete(record.name);
    this.#putRunner(record);
    this.#runnerTouch.set(record.name, this.#opts.now());
  }

  #putRunner(record: RunnerRecord): void {
    const old = this.#runners.get(record.name);
    if (old && old.version > record.version) return;
    // A finished record that is evicted already (or was never live here) stays out.
    if (record.state === 'finished' && !old && !needsSpotDecision(record)) return;
    const runner = cachedCopy(record, { interner: this.#interner, strings: RUNNER_STRINGS });
    if (old?.taskArn && old.taskArn !== runner.taskArn) this.#byTask.delete(old.taskArn);
    if (runner.taskArn) this.#byTask.set(runner.taskArn, runner.name);
    this.#runners.set(runner.name, runner);
    let pool = this.#byPool.get(runner.pool);
    if (!pool) this.#byPool.set(runner.pool, (pool = new Map()));
    pool.set(runner.name, runner);
    if (runner.state === 'finished') {
      if (!this.#finishedAt.has(runner.name)) this.#finishedAt.set(runner.name, this.#opts.now());
    } else {
      this.#finishedAt.delete(runner.name);
    }
  }

  removeRunner(name: string): void {
    this.#dropRunner(name);
    this.#deletedRunners.set(name, this.#opts.now());
  }

  #dropRunner(name: string): void {
    const old = this.#runners.get(name);
    if (!old) return;
    if (old.taskArn) this.#byTask.delete(old.taskArn);
    this.#runners.delete(name);
    this.#runnerTouch.delete(name);
    this.#finishedAt.delete(name);
    const pool = this.#byPool.get(old.pool);
    pool?.delete(name);
    if (pool && !pool.size) this.#byPool.delete(old.pool);
  }

  /**
   * Replaces the runner records by a full listing of the live ones (and those awaiting a spot
   * decision) taken from `startedAtMs` on. What this process wrote or deleted since shortly
   * before the listing wins over it: the listing reads an index that may lag.
   */
  relistRunners(listed: RunnerRecord[], startedAtMs: number): void {
    const seen = new Set<string>();
    for (const r of listed) {
      seen.add(r.name);
      if (this.#recent(this.#deletedRunners.get(r.name), startedAtMs)) continue;
      const old = this.#runners.get(r.name);
      if (old && old.version >= r.version) continue;
      this.#putRunner(r);
    }
    for (const [name, r] of [...this.#runners]) {
      if (seen.has(name) || this.#recent(this.#runnerTouch.get(name), startedAtMs)) continue;
      // Finished ones leave by the tail rule, not because the live listing left them out.
      if (r.state === 'finished') continue;
      this.#dropRunner(name);
    }
    this.#forgetOld(this.#deletedRunners, startedAtMs);
  }

  #evictFinished(): void {
    const cutoff = this.#opts.now() - this.#opts.finishedTailMs;
    for (const [name, at] of this.#finishedAt) {
      if (at >= cutoff) continue;
      const r = this.#runners.get(name);
      if (r && needsSpotDecision(r)) continue;
      this.#dropRunner(name);
    }
  }

  // ------------------------------------------------------------------ helpers

  /** Was `atMs` (a local write) late enough that a listing started at `startedAtMs` may miss it? */
  #recent(atMs: number | undefined, startedAtMs: number): boolean {
    return atMs !== undefined && atMs >= startedAtMs - this.#opts.indexLagMs;
  }

  #forgetOld(map: Map<string, number>, startedAtMs: number): void {
    for (const [key, at] of map) if (!this.#recent(at, startedAtMs)) map.delete(key);
  }

  clear(): void {
    for (const m of [
      this.#pools,
      this.#poolTouch,
      this.#jobs,
      this.#jobTouch,
      this.#jobByRunner,
      this.#runners,
      this.#runnerTouch,
      this.#byPool,
      this.#byTask,
      this.#finishedAt,
      this.#deletedRunners,
      this.#deletedPools,
      this.#closedJobs,
    ]) {
      m.clear();
    }
    this.#interner.clear();
  }
}
