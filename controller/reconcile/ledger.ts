// Read-your-writes for runner listings. `listRunners` reads DynamoDB's global secondary index,
// which is eventually consistent: a record written a moment ago may be missing from it, or show
// its previous state. A pool reconcile that counted supply from such a listing would launch a
// second runner for a job that already has one, and garbage collection could take a fresh
// runner for an orphan.
//
// Only the lease holder writes runner records (every write is fenced), so the holder knows every
// recent write itself: this wrapper remembers the records this process wrote in the last
// `windowMs` and merges them into every listing (the higher version wins, a record whose newer
// version no longer matches the filter is dropped). A new holder starts with an empty ledger, but
// it only acts after the previous holder's lease ran out or was released, and GSI propagation
// (normally well under a second) is far shorter than that.

import type { RunnerRecord, RunnerState, Store } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';

interface Entry {
  atMs: number;
  record: RunnerRecord;
}

export interface RunnerLedger {
  /** The store with runner writes remembered and runner listings merged. */
  store: Store;
  /** Forgets everything (on losing the lease: a successor may have written since). */
  clear(): void;
  /** Records remembered now (tests and metrics). */
  size(): number;
}

export function runnerLedger(base: Store, clock: Clock, windowMs = 60_000): RunnerLedger {
  const entries = new Map<string, Entry>();

  const prune = () => {
    const cutoff = clock.now() - windowMs;
    for (const [name, e] of entries) if (e.atMs < cutoff) entries.delete(name);
  };
  const remember = (record: RunnerRecord) => {
    const old = entries.get(record.name);
    if (old && old.record.version > record.version) return;
    entries.set(record.name, { atMs: clock.now(), record: structuredClone(record) });
  };
  const matches = (r: RunnerRecord, filter?: { pool?: string; states?: RunnerState[] }) =>
    (filter?.pool === undefined || r.pool === filter.pool) &&
    (!filter?.states || filter.states.includes(r.state));

  const overrides: Partial<Store> = {
    async createRunner(runner, opts) {
      const record = await base.createRunner(runner, opts);
      remember(record);
      return record;
    },
    async updateRunner(runner, opts) {
      const record = await base.updateRunner(runner, opts);
      remember(record);
      return record;
    },
    async getRunner(name) {
      const record = await base.getRunner(name);
      if (record) remember(record);
      return record;
    },
    async listRunners(filter) {
      const listed = await base.listRunners(filter);
      prune();
      const byName = new Map(listed.map((r) => [r.name, r]));
      for (const { record } of entries.values()) {
        const seen = byName.get(record.name);
        if (seen && seen.version >= record.version) continue;
        if (matches(record, filter)) byName.set(record.name, structuredClone(record));
        else byName.delete(record.name);
      }
      return [...byName.values()];
    },
  };

  const store = new Proxy(base, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && Object.hasOwn(overrides, prop)) {
        return overrides[prop as keyof Store];
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    store,
    clear: () => entries.clear(),
    size: () => entries.size,
  };
}
