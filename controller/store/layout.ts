// The single-table layout: how each record becomes an item and back. docs/store.md is the
// reference; keep the two in step.

import type { JobStatus } from './types.ts';

export const DEFAULT_TABLE_NAME = 'runnerctl';

export const PK = 'pk';
export const SK = 'sk';
export const GSI1 = 'gsi1';
export const GSI1_PK = 'gsi1pk';
export const GSI1_SK = 'gsi1sk';
/** The table's TTL attribute (epoch seconds). */
export const TTL_ATTRIBUTE = 'expiresAt';
/** Lease version of the last fenced writer of an item. */
export const FENCE_ATTRIBUTE = 'fence';

/** Attributes of the layout that never reach a record. */
export const LAYOUT_ATTRIBUTES = [PK, SK, GSI1_PK, GSI1_SK, 'type', FENCE_ATTRIBUTE, 'statusRank'];

export type ItemKind = 'pool' | 'job' | 'runner' | 'repository' | 'event' | 'lease';

export interface ItemKey {
  pk: string;
  sk: string;
}

export const poolKey = (name: string): ItemKey => ({ pk: `POOL#${name}`, sk: 'POOL' });
export const jobKey = (id: number): ItemKey => ({ pk: `JOB#${id}`, sk: 'JOB' });
export const runnerKey = (name: string): ItemKey => ({ pk: `RUNNER#${name}`, sk: 'RUNNER' });
/** GitHub repository names are case-insensitive: one item per repository. */
export const repositoryKey = (fullName: string): ItemKey => ({
  pk: `REPO#${fullName.toLowerCase()}`,
  sk: 'REPO',
});
export const eventKey = (key: string): ItemKey => ({ pk: `EVENT#${key}`, sk: 'EVENT' });
export const leaseKey = (name: string): ItemKey => ({ pk: `LEASE#${name}`, sk: 'LEASE' });

/** GSI1 partitions: one per listable item type. */
export const POOLS_PARTITION = 'POOLS';
export const JOBS_PARTITION = 'JOBS';
export const RUNNERS_PARTITION = 'RUNNERS';
/** Finished runner records: history, never read by the controller's passes. */
export const FINISHED_RUNNERS_PARTITION = 'RUNNERS_FINISHED';
export const REPOSITORIES_PARTITION = 'REPOS';

export const poolIndexKey = (name: string) => ({ gsi1pk: POOLS_PARTITION, gsi1sk: name });

/** Jobs sort by status first so that one status is a `begins_with` range. */
export const jobIndexKey = (status: JobStatus, createdAt: string, id: number) => ({
  gsi1pk: JOBS_PARTITION,
  gsi1sk: `${jobStatusPrefix(status)}${createdAt}#${String(id).padStart(20, '0')}`,
});
export const jobStatusPrefix = (status: JobStatus) => `${status}#`;

/**
 * Runners sort by pool, then name: a pool is a `begins_with` range. Live records (and finished
 * ones whose spot interruption awaits its re-run decision) sit in the `RUNNERS` partition;
 * finished ones move to `RUNNERS_FINISHED` with their final write, so finished history costs
 * nothing to a listing of live records, however much of it there is. The sort key never changes
 * (pool and name are fixed) and the partition changes only with that final write, so a live
 * listing may show a runner's previous state but never leaves out a live runner: an index
 * moves a key as a delete and a put, and with the state in the key a listing in between, or one
 * whose later pages the key moved behind, would miss a runner that exists. Items written by
 * older versions (`<pool>#<state>#<name>`, finished ones still in `RUNNERS`) still match the
 * pool's prefix; the live listing filters such finished ones out until their TTL.
 */
export const runnerIndexKey = (pool: string, name: string, live = true) => ({
  gsi1pk: live ? RUNNERS_PARTITION : FINISHED_RUNNERS_PARTITION,
  gsi1sk: `${pool}#${name}`,
});
export const runnerPoolPrefix = (pool: string) => `${pool}#`;

export const repositoryIndexKey = (fullName: string) => ({
  gsi1pk: REPOSITORIES_PARTITION,
  gsi1sk: fullName.toLowerCase(),
});

/** Job status only moves forward; `waiting` and `queued` share a rank (environment gates). */
export const JOB_STATUS_RANK: Record<JobStatus, number> = {
  queued: 0,
  waiting: 0,
  in_progress: 1,
  completed: 2,
};

export function describeKey(key: ItemKey): string {
  const [kind, ...rest] = key.pk.split('#');
  const id = rest.join('#');
  switch (kind) {
    case 'POOL':
      return `pool "${id}"`;
    case 'JOB':
      return `job ${id}`;
    case 'RUNNER':
      return `runner "${id}"`;
    case 'REPO':
      return `repository "${id}"`;
    case 'EVENT':
      return `event "${id}"`;
    case 'LEASE':
      return `lease "${id}"`;
    default:
      return `item ${key.pk}`;
  }
}
