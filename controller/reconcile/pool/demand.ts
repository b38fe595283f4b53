// How many runners a pool needs, counted and never paired (docs/adr/0001): GitHub gives a
// queued job to ANY idle runner whose labels cover the job's, so a runner launched "for" job A
// may run job B. The plan compares counts only:
//   demand = queued jobs matched to the pool + minIdle
//   supply = runners pending, configured, launching or idle
// Jobs that name a size need a runner of that size; jobs that name none can run on any runner
// of the pool (every runner carries the pool's labels). Pure: no I/O.

import type { RunnerState } from '../../store/types.ts';
import {
  choosePool,
  normaliseLabel,
  rankPools,
  type MatchablePool,
  type PoolMatch,
} from '../../api/matching.ts';

export interface DemandJob {
  /** The size label the job named; absent when it named none. */
  requestedSize?: string;
}

export interface SupplyRunner {
  name: string;
  state: RunnerState;
  size?: string;
  /** When it became idle (ms), for idle runners. */
  idleSinceMs?: number;
}

export interface PlanInput {
  maxRunners: number;
  minIdle: number;
  /** Size label of runners launched for jobs that name no size. */
  defaultSize?: string;
  jobs: DemandJob[];
  /** Every runner of the pool that is not finished. */
  runners: SupplyRunner[];
  /**
   * Busy runners whose job is not known to have left the queue yet (GitHub shows them busy
   * before the in_progress event arrives): each is counted as serving one queued job of its
   * size, or else one that names no size.
   */
  busyUnbound?: { size?: string }[];
  nowMs: number;
  idleTimeoutMs: number;
}

export interface Plan {
  /** Size labels (or undefined: no size) of the runners to launch. */
  launch: (string | undefined)[];
  /** Pending runners (nothing created outside yet) no longer needed. */
  cancel: string[];
  /** Idle runners beyond demand, idle for longer than the idle timeout. */
  remove: string[];
  demand: number;
  supply: number;
  /** Launches were held back by maxRunners. */
  atMaxRunners: boolean;
  /** When the next idle runner beyond demand reaches its idle timeout (ms from now). */
  nextIdleExpiryMs?: number;
}

const SUPPLY: readonly RunnerState[] = ['pending', 'configured', 'launching', 'idle'];
/** Which supply to count as used first: ready runners before those still starting. */
const PREFERENCE: Record<string, number> = { idle: 0, launching: 1, configured: 2, pending: 3 };

function sizeKey(size: string | undefined): string {
  return size === undefined ? '' : normaliseLabel(size);
}

function byPreference(a: SupplyRunner, b: SupplyRunner): number {
  const d = (PREFERENCE[a.state] ?? 9) - (PREFERENCE[b.state] ?? 9);
  if (d !== 0) return d;
  // Among idle runners, keep the most recently idle; the longest idle go first.
  const ia = a.idleSinceMs ?? 0;
  const ib = b.idleSinceMs ?? 0;
  if (ia !== ib) return ib - ia;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Supply that a job can have been given to (a pending runner has nothing outside yet). */
const STARTED: readonly RunnerState[] = ['configured', 'launching', 'idle'];

/**
 * The state a runner counts with in the plan. A pass observes its runners before it reads the
 * demand, so a runner whose job's in_progress event arrived in between still shows idle or
 * launching while its job is no longer queued: counted as supply, it would leave the next job
 * queued without a runner until another pass. A runner that `jobNow` (the job the cache binds
 * to it now) names as running a job is busy: a JIT runner takes one job.
 */
export function planState(
  runner: { name: string; state: RunnerState },
  jobNow?: { status: string; runnerName?: string },
): RunnerState {
  if (!STARTED.includes(runner.state) || !jobNow || jobNow.runnerName !== runner.name) {
    return runner.state;
  }
  return jobNow.status === 'in_progress' || jobNow.status === 'completed' ? 'busy' : runner.state;
}

export function planPool(input: PlanInput): Plan {
  const needBySize = new Map<string, { label: string; count: number }>();
  let unsizedJobs = 0;
  for (const job of input.jobs) {
    if (job.requestedSize === undefined) {
      unsizedJobs++;
      continue;
    }
    const key = sizeKey(job.requestedSize);
    const entry = needBySize.get(key) ?? { label: job.requestedSize, count: 0 };
    entry.count++;
    needBySize.set(key, entry);
  }
  for (const busy of input.busyUnbound ?? []) {
    const entry = needBySize.get(sizeKey(busy.size));
    if (entry && entry.count > 0) entry.count--;
    else if (unsizedJobs > 0) unsizedJobs--;
  }
  const needAny = unsizedJobs + Math.max(0, input.minIdle);

  const supplyBySize = new Map<string, SupplyRunner[]>();
  const supply = input.runners.filter((r) => SUPPLY.includes(r.state));
  for (const r of supply) {
    const key = sizeKey(r.size);
    supplyBySize.set(key, [...(supplyBySize.get(key) ?? []), r]);
  }

  const launch: (string | undefined)[] = [];
  const leftover: SupplyRunner[] = [];
  const sizeKeys = [...new Set([...needBySize.keys(), ...supplyBySize.keys()])].sort();
  for (const key of sizeKeys) {
    const need = needBySize.get(key)?.count ?? 0;
    const have = (supplyBySize.get(key) ?? []).sort(byPreference);
    leftover.push(...have.slice(need));
    for (let i = have.length; i < need; i++) launch.push(needBySize.get(key)!.label);
  }
  leftover.sort(byPreference);
  for (let i = leftover.length; i < needAny; i++) launch.push(input.defaultSize);
  const surplus = leftover.slice(needAny);

  const cancel = surplus.filter((r) => r.state === 'pending').map((r) => r.name);
  const idleSurplus = surplus.filter((r) => r.state === 'idle');
  const remove = idleSurplus
    .filter((r) => (r.idleSinceMs ?? 0) + input.idleTimeoutMs <= input.nowMs)
    .map((r) => r.name);
  const waiting = idleSurplus
    .filter((r) => !remove.includes(r.name))
    .map((r) => (r.idleSinceMs ?? 0) + input.idleTimeoutMs - input.nowMs);

  const live = input.runners.filter((r) => r.state !== 'finished').length - cancel.length;
  const room = Math.max(0, input.maxRunners - live);
  const demand = [...needBySize.values()].reduce((n, e) => n + e.count, 0) + needAny;
  return {
    launch: launch.slice(0, room),
    cancel,
    remove,
    demand,
    supply: supply.length,
    atMaxRunners: launch.length > room,
    ...(waiting.length ? { nextIdleExpiryMs: Math.max(0, Math.min(...waiting)) } : {}),
  };
}

export interface RepositoryCap<T> {
  /** The jobs still counted as demand, in their order. */
  kept: T[];
  /** Per repository (as first written), how many of its queued jobs the cap held back. */
  held: Map<string, number>;
}

/**
 * `maxRunnersPerRepository`: a repository's queued jobs count as demand only up to the cap less
 * the pool's runners already running a job of that repository, so one matrix cannot take the
 * whole pool. Runners are not paired with jobs (a runner may take another repository's job), so
 * the cap bounds what is launched for a repository, oldest jobs first. Pure.
 */
export function capPerRepository<T extends { repository: string }>(
  jobs: T[],
  runningByRepository: ReadonlyMap<string, number>,
  cap: number | undefined,
): RepositoryCap<T> {
  if (cap === undefined) return { kept: jobs, held: new Map() };
  const used = new Map<string, number>();
  for (const [repo, n] of runningByRepository) {
    used.set(repo.toLowerCase(), (used.get(repo.toLowerCase()) ?? 0) + n);
  }
  const kept: T[] = [];
  const held = new Map<string, number>();
  for (const job of jobs) {
    const key = job.repository.toLowerCase();
    const n = used.get(key) ?? 0;
    if (n >= cap) {
      held.set(job.repository, (held.get(job.repository) ?? 0) + 1);
      continue;
    }
    used.set(key, n + 1);
    kept.push(job);
  }
  return { kept, held };
}

/** "acme/app: 3" parts for a status message or drift, repositories sorted. */
export function describeHeld(held: ReadonlyMap<string, number>): string {
  return [...held]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([repo, n]) => `${repo}: ${n}`)
    .join(', ');
}

/** What routing needs to know about a pool (a PoolRecord satisfies it). */
export interface RoutablePool extends MatchablePool {
  spec: MatchablePool['spec'] & { maxRunners: number };
  /** The pool's last written status: its busy runners hold slots of maxRunners. */
  status?: { busy: number };
}

export interface RoutableJob {
  id: number;
  labels: string[];
  createdAt: string;
}

/** A better-matching pool that could not take the job now, and why. */
export interface Spill {
  from: string;
  reason: string;
}

export interface RoutedJob<J> {
  job: J;
  /** The pool that counts the job (a match), or why none does (refused, none). */
  match: PoolMatch;
  /** Better matches passed over because they could not take the job, best first. */
  spilledFrom: Spill[];
  /** Every matching pool is paused or full: the job waits on its best match, for this reason. */
  waiting?: string;
}

/** Why a pool cannot take more jobs now. */
function fullReason(pool: RoutablePool): string {
  return pool.spec.maxRunners === 0
    ? `${pool.name} paused (maxRunners 0)`
    : `${pool.name} at maxRunners ${pool.spec.maxRunners}`;
}

/**
 * Demand goes where it can be served. Each queued job (oldest first, so that a new job never
 * moves an older one) counts for the best matching pool (priority, specificity, name) that has
 * a free slot: maxRunners less its busy runners less the jobs already routed to it. A paused
 * (maxRunners 0) or full pool hands the job to the next match; when every match is full the job
 * waits on its best match. Every reconciler routes from the same stored pools and jobs, so they
 * agree on where each job goes. Pure.
 */
export function routeDemand<J extends RoutableJob>(
  jobs: readonly J[],
  candidatesOf: (job: J) => readonly RoutablePool[],
): RoutedJob<J>[] {
  const free = new Map<string, number>();
  const freeOf = (pool: RoutablePool) => {
    if (!free.has(pool.name)) {
      free.set(pool.name, Math.max(0, pool.spec.maxRunners - (pool.status?.busy ?? 0)));
    }
    return free.get(pool.name)!;
  };
  const ordered = [...jobs].sort(
    (a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt) || a.id - b.id,
  );
  return ordered.map((job) => {
    const candidates = candidatesOf(job);
    const byName = new Map(candidates.map((p) => [p.name, p]));
    const ranked = rankPools(job.labels, candidates);
    if (ranked.length === 0) {
      return { job, match: choosePool(job.labels, candidates), spilledFrom: [] };
    }
    const k = ranked.findIndex((m) => freeOf(byName.get(m.pool)!) > 0);
    if (k < 0) {
      return {
        job,
        match: ranked[0]!,
        spilledFrom: [],
        waiting: ranked.map((m) => fullReason(byName.get(m.pool)!)).join(', '),
      };
    }
    const chosen = ranked[k]!;
    free.set(chosen.pool, freeOf(byName.get(chosen.pool)!) - 1);
    const spilledFrom = ranked
      .slice(0, k)
      .map((m) => ({ from: m.pool, reason: fullReason(byName.get(m.pool)!) }));
    return { job, match: chosen, spilledFrom };
  });
}

export interface SpillSummary {
  /** Jobs this pool passed on, per receiving pool: "3 job(s) to pool b". */
  to: { pool: string; jobs: number; reason: string }[];
  /** Jobs this pool counts that a better match passed on. */
  from: { pool: string; jobs: number; reason: string }[];
}

/** What `routed` means for pool `name`: where its overflow went and what it took over. */
export function summariseSpills<J>(routed: readonly RoutedJob<J>[], name: string): SpillSummary {
  const to = new Map<string, { pool: string; jobs: number; reason: string }>();
  const from = new Map<string, { pool: string; jobs: number; reason: string }>();
  for (const r of routed) {
    if (r.match.kind !== 'match') continue;
    for (const spill of r.spilledFrom) {
      if (spill.from === name) {
        const entry = to.get(r.match.pool) ?? { pool: r.match.pool, jobs: 0, reason: spill.reason };
        entry.jobs++;
        to.set(r.match.pool, entry);
      }
    }
    const first = r.spilledFrom[0];
    if (r.match.pool === name && first) {
      const entry = from.get(first.from) ?? { pool: first.from, jobs: 0, reason: first.reason };
      entry.jobs++;
      from.set(first.from, entry);
    }
  }
  const sorted = (m: Map<string, { pool: string; jobs: number; reason: string }>) =>
    [...m.values()].sort((a, b) => (a.pool < b.pool ? -1 : a.pool > b.pool ? 1 : 0));
  return { to: sorted(to), from: sorted(from) };
}

/** "3 queued job(s) spilled to pool b: a at maxRunners 2" parts, for status and drift. */
export function describeSpills(summary: SpillSummary): string {
  return [
    ...summary.to.map((t) => `${t.jobs} queued job(s) spilled to pool ${t.pool}: ${t.reason}`),
    ...summary.from.map(
      (f) => `${f.jobs} queued job(s) taken over from pool ${f.pool}: ${f.reason}`,
    ),
  ].join('; ');
}
