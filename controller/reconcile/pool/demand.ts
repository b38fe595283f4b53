// How many runners a pool needs, counted and never paired (docs/adr/0001): GitHub gives a
// queued job to ANY idle runner whose labels cover the job's, so a runner launched "for" job A
// may run job B. The plan compares counts only:
//   demand = queued jobs matched to the pool + minIdle
//   supply = runners pending, configured, launching or idle
// Jobs that name a size need a runner of that size; jobs that name none can run on any runner
// of the pool (every runner carries the pool's labels). Pure: no I/O.

import type { RunnerState } from '../../store/types.ts';
import { normaliseLabel } from '../../api/matching.ts';

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
