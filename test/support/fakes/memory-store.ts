// An in-memory Store with the real one's write semantics: conditional writes on versions
// (ConflictError), attribute_not_exists on create, forward-only job status, and lease fencing
// (a write fenced with an older lease version than the newest holder's fails with FencingError).
// Records are copied in and out, so callers cannot change stored state by mutation.

import { mergeJob, newJob } from '../../../controller/store/job-merge.ts';
import type { RunnerPool, RunnerPoolStatus } from '../../../controller/api/types.ts';
import { ConflictError, FencingError, NotFoundError } from '../../../controller/store/errors.ts';
import { awaitsSpotDecision, type RunnerFilter } from '../../../controller/store/types.ts';
import type {
  ApplyResult,
  FencedWrite,
  JobRecord,
  JobStatus,
  LeaseRecord,
  PoolRecord,
  RunnerRecord,
  Store,
} from '../../../controller/store/types.ts';

const clone = <T>(v: T): T => structuredClone(v);
const RANK: Record<JobStatus, number> = { queued: 0, waiting: 0, in_progress: 1, completed: 2 };

export class MemoryStore implements Store {
  pools = new Map<string, PoolRecord>();
  jobs = new Map<number, JobRecord>();
  runners = new Map<string, RunnerRecord>();
  leases = new Map<string, LeaseRecord>();
  seen = new Set<string>();
  repositories = new Map<string, string>();
  now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  async ensureTable(): Promise<void> {}
  async close(): Promise<void> {}

  #iso(): string {
    return new Date(this.now()).toISOString();
  }

  /** Per item, like the DynamoDB store: a write fails when a newer lease holder wrote the item. */
  #fences = new Map<string, number>();

  #checkFence(key: string, opts?: FencedWrite): void {
    if (opts?.fence === undefined) return;
    const stored = this.#fences.get(key);
    if (stored !== undefined && stored > opts.fence) {
      throw new FencingError(
        `write to ${key} fenced: written by lease ${stored} > ${opts.fence}`,
        key,
      );
    }
  }

  #setFence(key: string, opts?: FencedWrite): void {
    if (opts?.fence !== undefined) this.#fences.set(key, opts.fence);
  }

  // Pools
  async getPool(name: string) {
    const p = this.pools.get(name);
    return p && clone(p);
  }
  async listPools() {
    return [...this.pools.values()].map(clone);
  }
  async applyPool(pool: RunnerPool): Promise<{ result: ApplyResult; record: PoolRecord }> {
    const name = pool.metadata.name;
    const existing = this.pools.get(name);
    const now = this.#iso();
    if (!existing) {
      const record: PoolRecord = {
        name,
        metadata: clone(pool.metadata),
        spec: clone(pool.spec),
        generation: 1,
        resourceVersion: 1,
        createdAt: now,
        updatedAt: now,
      };
      this.pools.set(name, record);
      return { result: 'created', record: clone(record) };
    }
    const same =
      JSON.stringify(existing.spec) === JSON.stringify(pool.spec) &&
      JSON.stringify(existing.metadata) === JSON.stringify(pool.metadata);
    if (same) return { result: 'unchanged', record: clone(existing) };
    const record: PoolRecord = {
      ...existing,
      metadata: clone(pool.metadata),
      spec: clone(pool.spec),
      generation: existing.generation + 1,
      resourceVersion: existing.resourceVersion + 1,
      updatedAt: now,
    };
    this.pools.set(name, record);
    return { result: 'configured', record: clone(record) };
  }
  async updatePoolStatus(
    name: string,
    status: RunnerPoolStatus,
    expected: number,
    opts?: FencedWrite,
  ) {
    this.#checkFence(`pool/${name}`, opts);
    const existing = this.pools.get(name);
    if (!existing) throw new NotFoundError(`pool ${name} not found`, name);
    if (existing.resourceVersion !== expected) {
      throw new ConflictError(`pool ${name} changed`, name);
    }
    const record = {
      ...existing,
      status: clone(status),
      resourceVersion: expected + 1,
      updatedAt: this.#iso(),
    };
    this.pools.set(name, record);
    this.#setFence(`pool/${name}`, opts);
    return clone(record);
  }
  async requestPoolDeletion(name: string) {
    const existing = this.pools.get(name);
    if (!existing) throw new NotFoundError(`pool ${name} not found`, name);
    if (existing.deletionRequestedAt) return clone(existing);
    const record = {
      ...existing,
      deletionRequestedAt: this.#iso(),
      resourceVersion: existing.resourceVersion + 1,
    };
    this.pools.set(name, record);
    return clone(record);
  }
  async removePool(name: string, expected: number, opts?: FencedWrite) {
    this.#checkFence(`pool/${name}`, opts);
    const existing = this.pools.get(name);
    if (!existing) throw new NotFoundError(`pool ${name} not found`, name);
    if (!existing.deletionRequestedAt)
      throw new ConflictError(`pool ${name} not marked for deletion`, name);
    if (existing.resourceVersion !== expected)
      throw new ConflictError(`pool ${name} changed`, name);
    this.pools.delete(name);
  }

  // Jobs
  async recordJob(job: Omit<JobRecord, 'version' | 'updatedAt'>) {
    const existing = this.jobs.get(job.id);
    const updatedAt = this.#iso();
    if (!existing) {
      const record: JobRecord = { ...clone(newJob(job)), version: 1, updatedAt };
      this.jobs.set(job.id, record);
      return { changed: true, record: clone(record) };
    }
    // A late or duplicate event (the stored status is further along) changes nothing.
    const merged = mergeJob(existing, clone(job));
    if (!merged || JSON.stringify(merged) === JSON.stringify(existing)) {
      return { changed: false, record: clone(existing) };
    }
    const record: JobRecord = { ...merged, version: existing.version + 1, updatedAt };
    this.jobs.set(job.id, record);
    return { changed: true, record: clone(record) };
  }
  async getJob(id: number) {
    const j = this.jobs.get(id);
    return j && clone(j);
  }
  async listJobs(filter?: { status?: JobStatus[]; pool?: string }) {
    return [...this.jobs.values()]
      .filter((j) => !filter?.status || filter.status.includes(j.status))
      .filter((j) => !filter?.pool || j.pool === filter.pool)
      .map(clone);
  }
  async updateJob(job: JobRecord, opts?: FencedWrite) {
    const key = `job/${job.id}`;
    this.#checkFence(key, opts);
    const existing = this.jobs.get(job.id);
    if (!existing) throw new NotFoundError(`job ${job.id} not found`, key);
    if (existing.version !== job.version) throw new ConflictError(`job ${job.id} changed`, key);
    if (RANK[job.status] < RANK[existing.status]) {
      throw new ConflictError(`job ${job.id}: status may not move back`, key);
    }
    const record = { ...clone(job), version: job.version + 1, updatedAt: this.#iso() };
    this.jobs.set(job.id, record);
    this.#setFence(key, opts);
    return clone(record);
  }

  // Runners
  async createRunner(runner: Omit<RunnerRecord, 'version' | 'updatedAt'>, opts?: FencedWrite) {
    const key = `runner/${runner.name}`;
    this.#checkFence(key, opts);
    if (this.runners.has(runner.name)) throw new ConflictError(`runner ${runner.name} exists`, key);
    const record: RunnerRecord = { ...clone(runner), version: 1, updatedAt: this.#iso() };
    this.runners.set(runner.name, record);
    this.#setFence(key, opts);
    return clone(record);
  }
  async getRunner(name: string) {
    const r = this.runners.get(name);
    return r && clone(r);
  }
  async listRunners(filter?: RunnerFilter) {
    return [...this.runners.values()]
      .filter((r) => !filter?.pool || r.pool === filter.pool)
      .filter((r) => !filter?.states || filter.states.includes(r.state))
      .filter((r) => !filter?.live || r.state !== 'finished' || awaitsSpotDecision(r))
      .map(clone);
  }
  async updateRunner(runner: RunnerRecord, opts?: FencedWrite) {
    const key = `runner/${runner.name}`;
    this.#checkFence(key, opts);
    const existing = this.runners.get(runner.name);
    if (!existing) throw new NotFoundError(`runner ${runner.name} not found`, key);
    if (existing.version !== runner.version) {
      throw new ConflictError(`runner ${runner.name} changed`, key);
    }
    const record = JSON.parse(JSON.stringify({ ...runner, version: runner.version + 1 }));
    this.runners.set(runner.name, record);
    this.#setFence(key, opts);
    return clone(record) as RunnerRecord;
  }
  async deleteRunner(name: string, expectedVersion: number, opts?: FencedWrite) {
    const key = `runner/${name}`;
    this.#checkFence(key, opts);
    const existing = this.runners.get(name);
    if (!existing) throw new NotFoundError(`runner ${name} not found`, key);
    if (existing.version !== expectedVersion)
      throw new ConflictError(`runner ${name} changed`, key);
    this.runners.delete(name);
  }

  // Event log, repositories
  async markSeen(key: string) {
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }
  async touchRepository(fullName: string, seenAt: string) {
    this.repositories.set(fullName, seenAt);
  }
  async listRepositories() {
    return [...this.repositories].map(([fullName, lastSeenAt]) => ({ fullName, lastSeenAt }));
  }

  // Lease
  async tryAcquire(name: string, holder: string, ttlMs: number, nowMs: number) {
    const existing = this.leases.get(name);
    if (existing && existing.holder !== holder && existing.expiresAtMs > nowMs) return undefined;
    // Like the DynamoDB store: a renewal by the same holder (even after expiry: nobody took it)
    // keeps the lease version; a new holder gets the next one.
    const changesHands = !existing || existing.holder !== holder;
    const record: LeaseRecord = {
      name,
      holder,
      leaseVersion: (existing?.leaseVersion ?? 0) + (changesHands ? 1 : 0),
      expiresAtMs: nowMs + ttlMs,
      version: (existing?.version ?? 0) + 1,
    };
    this.leases.set(name, record);
    return clone(record);
  }
  async release(name: string, holder: string) {
    const existing = this.leases.get(name);
    if (existing?.holder === holder) this.leases.set(name, { ...existing, expiresAtMs: 0 });
  }
  async getLease(name: string) {
    const l = this.leases.get(name);
    return l && clone(l);
  }
}
