// A Store whose listings lag like DynamoDB's global secondary index: `listRunners` and
// `listJobs` answer from the records as they were `lagMs` ago (by the test's clock), while
// `getRunner` and `getJob` (consistent reads of the base table) and every write see the present.
// Wrap the store before anything is written, so the history is complete.

import {
  awaitsSpotDecision,
  type JobRecord,
  type RunnerRecord,
  type Store,
} from '../../../controller/store/types.ts';

interface Version<T> {
  atMs: number;
  /** undefined: deleted. */
  record: T | undefined;
}

export interface LaggingStore extends Store {
  /** How far the listings lag (changeable during a test; 0 = consistent). */
  lagMs: number;
  /** listRunners / listJobs calls so far. */
  listings: number;
}

export function lagging(base: Store, now: () => number, lagMs: number): LaggingStore {
  const runners = new Map<string, Version<RunnerRecord>[]>();
  const jobs = new Map<number, Version<JobRecord>[]>();
  const state = { lagMs, listings: 0 };
  const remember = <K, T>(map: Map<K, Version<T>[]>, key: K, record: T | undefined) => {
    map.set(key, [...(map.get(key) ?? []), { atMs: now(), record: structuredClone(record) }]);
  };
  const asOf = <K, T>(map: Map<K, Version<T>[]>): T[] => {
    const cutoff = now() - state.lagMs;
    const out: T[] = [];
    for (const versions of map.values()) {
      const seen = versions.filter((v) => v.atMs <= cutoff).at(-1);
      if (seen?.record) out.push(structuredClone(seen.record));
    }
    return out;
  };

  const overrides: Partial<Store> = {
    async createRunner(runner, opts) {
      const record = await base.createRunner(runner, opts);
      remember(runners, record.name, record);
      return record;
    },
    async updateRunner(runner, opts) {
      const record = await base.updateRunner(runner, opts);
      remember(runners, record.name, record);
      return record;
    },
    async deleteRunner(name, expectedVersion, opts) {
      await base.deleteRunner(name, expectedVersion, opts);
      remember(runners, name, undefined);
    },
    async listRunners(filter) {
      state.listings++;
      return asOf(runners)
        .filter((r) => filter?.pool === undefined || r.pool === filter.pool)
        .filter((r) => !filter?.states || filter.states.includes(r.state))
        .filter((r) => !filter?.live || r.state !== 'finished' || awaitsSpotDecision(r));
    },
    async recordJob(job) {
      const result = await base.recordJob(job);
      if (result.changed) remember(jobs, result.record.id, result.record);
      return result;
    },
    async updateJob(job, opts) {
      const record = await base.updateJob(job, opts);
      remember(jobs, record.id, record);
      return record;
    },
    async listJobs(filter) {
      state.listings++;
      return asOf(jobs)
        .filter((j) => filter?.pool === undefined || j.pool === filter.pool)
        .filter((j) => !filter?.status || filter.status.includes(j.status));
    },
  };

  return new Proxy(base, {
    get(target, prop, receiver) {
      if (prop === 'lagMs') return state.lagMs;
      if (prop === 'listings') return state.listings;
      if (typeof prop === 'string' && prop in overrides) {
        return overrides[prop as keyof Store];
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
    set(_target, prop, value) {
      if (prop === 'lagMs') state.lagMs = value as number;
      else if (prop === 'listings') state.listings = value as number;
      else return false;
      return true;
    },
  }) as LaggingStore;
}
