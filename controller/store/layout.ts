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
export const REPOSITORIES_PARTITION = 'REPOS';

export const poolIndexKey = (name: string) => ({ gsi1pk: POOLS_PARTITION, gsi1sk: name });

/** Jobs sort by status first so that one status is a `begins_with` range. */
export const jobIndexKey = (status: JobStatus, createdAt: string, id: number) => ({
  gsi1pk: JOBS_PARTITION,
  gsi1sk: `${jobStatusPrefix(status)}${createdAt}#${String(id).padStart(20, '0')}`,
});
export const jobStatusPrefix = (status: JobStatus) => `${status}#`;

/**
 * Runners sort by pool, then name: a pool is a `begins_with` range. The sort key never changes
 * after the record is created (pool and name are fixed), so a state change rewrites the index
 * entry in place: a listing may show a runner's previous state but never leaves it out. A sort
 * key with the state in it would move on every transition, and an index moves a key as a delete
 * and a put: a listing between the two, or one whose later pages the key moved behind, would
 * miss a runner that exists (and garbage collection would take its task for an orphan).
 * Items written by older versions (`<pool>#<state>#<name>`) still match the pool's prefix.
 */
export const runnerIndexKey = (pool: string, name: string) => ({
  gsi1pk: RUNNERS_PARTITION,
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
