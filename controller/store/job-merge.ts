// How a job write (an event, or GitHub's REST view) merges into the stored record. One rule for
// every store: status only moves forward, and an unsigned event (confirmation 'pending') never
// changes what a job is (repository, run, labels, visibility, pool), only how far along it is.

import { JOB_STATUS_RANK } from './layout.ts';
import type { JobRecord } from './types.ts';

export type JobWrite = Omit<JobRecord, 'version' | 'updatedAt'>;

/** Fields only a trusted source (signed webhook, REST) may change on an existing record. */
const IDENTITY: readonly (keyof JobRecord)[] = [
  'runId',
  'runAttempt',
  'repository',
  'owner',
  'labels',
  'visibility',
  'pool',
  'confirmation',
  'claimedCompletion',
  'spotRerun',
  'spotRerunOf',
];

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The record after `job` is written over `stored` (without version/updatedAt), or undefined
 * when the write is older than what is stored (its status is behind).
 */
export function mergeJob(stored: JobRecord, job: JobWrite): JobRecord | undefined {
  if (JOB_STATUS_RANK[job.status] < JOB_STATUS_RANK[stored.status]) return undefined;
  const incoming: Partial<JobRecord> = definedOnly(job);
  if (job.confirmation === 'pending' && job.claimedCompletion) {
    // An unsigned completion claim (ingest.ts records one for a job it has not seen, and a queued
    // event may have been stored meanwhile) adds the claim and nothing else; it never replaces one.
    if (stored.claimedCompletion || stored.status === 'completed') return { ...stored };
    return { ...stored, claimedCompletion: job.claimedCompletion };
  }
  if (job.confirmation === 'pending') {
    for (const field of IDENTITY) delete incoming[field];
  }
  const merged: JobRecord = { ...stored, ...incoming, createdAt: stored.createdAt };
  // GitHub's own word on the job settles an unconfirmed completion either way.
  if (job.confirmation === 'confirmed') delete merged.claimedCompletion;
  return merged;
}

/** A new record from a write: undefined fields left out. */
export function newJob(job: JobWrite): JobWrite {
  return definedOnly(job) as JobWrite;
}
