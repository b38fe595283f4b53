// A small in-memory stand-in for the store methods ingestion uses (forward-only recordJob).
import type { JobRecord, JobStatus } from '../../../controller/store/types.ts';
import { ConflictError } from '../../../controller/store/errors.ts';
import type { IngestStore } from '../../../controller/events/ingest.ts';

const RANK: Record<JobStatus, number> = { queued: 0, waiting: 0, in_progress: 1, completed: 2 };

export class MemoryIngestStore implements IngestStore {
  jobs = new Map<number, JobRecord>();
  seen = new Set<string>();
  repositories = new Map<string, string>();
  writes = 0;
  /** Makes the next recordJob calls fail (a transient store outage). */
  failNextRecords = 0;

  async markSeen(key: string): Promise<boolean> {
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }

  async getJob(id: number): Promise<JobRecord | undefined> {
    return this.jobs.get(id);
  }

  async recordJob(job: Omit<JobRecord, 'version' | 'updatedAt'>) {
    if (this.failNextRecords > 0) {
      this.failNextRecords -= 1;
      throw new Error('store unavailable');
    }
    const existing = this.jobs.get(job.id);
    if (existing && RANK[existing.status] > RANK[job.status])
      return { changed: false, record: existing };
    if (existing && existing.status === job.status) return { changed: false, record: existing };
    this.writes += 1;
    const record: JobRecord = {
      ...existing,
      ...job,
      version: (existing?.version ?? 0) + 1,
      updatedAt: new Date().toISOString(),
    };
    this.jobs.set(job.id, record);
    return { changed: true, record };
  }

  async updateJob(job: JobRecord): Promise<JobRecord> {
    const existing = this.jobs.get(job.id);
    if (!existing || existing.version !== job.version) {
      throw new ConflictError(`job ${job.id}: version changed`, `job#${job.id}`);
    }
    this.writes += 1;
    const record = { ...job, version: job.version + 1, updatedAt: new Date().toISOString() };
    this.jobs.set(job.id, record);
    return record;
  }

  async touchRepository(fullName: string, seenAt: string): Promise<void> {
    this.repositories.set(fullName, seenAt);
  }
}
