// The records the controller keeps in DynamoDB and the repository interface over them.
// Every write is one conditional single-item write (no transactions: dynalite has none).
// docs/store.md documents the table layout.

import type { RunnerPool, RunnerPoolSpec, RunnerPoolStatus, ObjectMeta } from '../api/types.ts';

export interface PoolRecord {
  name: string;
  metadata: ObjectMeta;
  spec: RunnerPoolSpec;
  /** Bumped when the spec (or metadata labels/annotations) changes; not on status writes. */
  generation: number;
  /** Bumped on every write of the record; the condition of every update. */
  resourceVersion: number;
  createdAt: string;
  updatedAt: string;
  /** Set by `runnerctl delete pool`: the controller drains the pool, then removes the record. */
  deletionRequestedAt?: string;
  status?: RunnerPoolStatus;
}

export type ApplyResult = 'created' | 'configured' | 'unchanged';

/** GitHub's job status as far as demand is concerned. Ranks only move forward (waiting = queued). */
export type JobStatus = 'queued' | 'waiting' | 'in_progress' | 'completed';

export type RepositoryVisibility = 'public' | 'private' | 'internal';

export interface JobRecord {
  /** workflow_job.id */
  id: number;
  runId: number;
  runAttempt: number;
  /** owner/name */
  repository: string;
  /** Organization login (owner of the repository). */
  owner: string;
  labels: string[];
  status: JobStatus;
  conclusion?: string;
  name?: string;
  workflowName?: string;
  htmlUrl?: string;
  /** The repository's visibility when the event or GitHub said (webhook `repository.visibility`/`private`). */
  visibility?: RepositoryVisibility;
  /**
   * Who vouches for the job: `pending` when it was first seen in an unsigned event (SQS /
   * EventBridge) and GitHub has not confirmed it yet (docs/reconcile.md "Job confirmation");
   * `confirmed` (or absent, for older records) when a signed webhook or GitHub's REST API said so.
   * A pending job is not demand.
   */
  confirmation?: 'pending' | 'confirmed';
  /**
   * An unsigned `completed` event the controller did not see corroborated yet: the job keeps its
   * status until GitHub's listing or its runner's exit confirms it (a forged one cannot end a job).
   */
  claimedCompletion?: ClaimedCompletion;
  /** Pool chosen for the job by the matching rules, when one matched. */
  pool?: string;
  runnerName?: string;
  runnerId?: number;
  createdAt: string;
  startedAt?: string;
  completedAt?: string;
  updatedAt: string;
  version: number;
  /** Set on a job whose runner's spot task was interrupted: the controller's one re-run of it. */
  spotRerun?: SpotRerun;
  /** Set on the job GitHub queued by that re-run: the id of the interrupted job. Launches on-demand. */
  spotRerunOf?: number;
}

export interface ClaimedCompletion {
  conclusion?: string;
  completedAt?: string;
  /** When the claim arrived (ISO): only a GitHub listing taken after it can confirm or refute it. */
  claimedAt: string;
}

/**
 * The one re-run of a job whose spot task was interrupted (docs/reconcile.md "Spot interruption
 * re-runs"). `requesting` is written BEFORE the POST, so a crash or a second replica never
 * re-runs the job twice (at most once, by the conditional write).
 */
export interface SpotRerun {
  state: 'requesting' | 'requested' | 'refused' | 'gave-up';
  /** The runner whose task was interrupted. */
  runner: string;
  /** When the interruption was handled (the claim). */
  at: string;
  /** Why GitHub refused the last attempt (403): retried until the re-run window ends. */
  error?: string;
  /** The job GitHub queued for the re-run, once seen. */
  rerunJobId?: number;
}

/**
 * pending      record written, nothing created outside yet
 * configured   JIT config generated (GitHub runner exists, offline)
 * launching    task started, runner not yet seen online
 * idle         runner online and waiting for a job
 * busy         runner running a job
 * draining     being removed: GitHub runner delete, then task stop
 * finished     terminal; kept for the timeline until its TTL expires
 */
export type RunnerState =
  'pending' | 'configured' | 'launching' | 'idle' | 'busy' | 'draining' | 'finished';

export interface TimelineEntry {
  at: string;
  event: string;
  detail?: string;
}

export interface RunnerRecord {
  /** Deterministic: chosen once when the record is written, then used for GitHub and ECS. */
  name: string;
  pool: string;
  state: RunnerState;
  labels: string[];
  size?: string;
  cpu?: number;
  memory?: number;
  /** Fargate ephemeral storage of the size, GiB. */
  ephemeralStorageGiB?: number;
  githubRunnerId?: number;
  taskArn?: string;
  capacityProvider?: string;
  jobId?: number;
  /** Launch on on-demand capacity only (the pool's strategy without FARGATE_SPOT): a spot re-run. */
  onDemand?: boolean;
  /**
   * Its task was stopped with stop code SpotInterruption; `handled` once the re-run decision for
   * its job is made (re-run requested, not needed, or given up).
   */
  spotInterruption?: { at: string; handled?: string };
  /** What its task cost, written when the record finishes (controller/cost). */
  cost?: RunnerCost;
  /** Launch attempts so far (registration timeouts and failed starts relaunch). */
  attempts: number;
  lastError?: string;
  createdAt: string;
  updatedAt: string;
  timeline: TimelineEntry[];
  version: number;
  /** Epoch seconds after which DynamoDB may expire a finished record. */
  expiresAt?: number;
}

/** The cost of a runner's (last) task and what it is attributed to. */
export interface RunnerCost {
  usd: number;
  billedSeconds: number;
  capacityProvider: string;
  region: string;
  cpu: number;
  memoryMiB: number;
  storageGiB: number;
  /** The job it ran, with its repository and workflow, when known. */
  jobId?: number;
  repository?: string;
  workflow?: string;
  /** When the cost was written (the runner finished). */
  at: string;
}

export interface LeaseRecord {
  name: string;
  holder: string;
  /** Increases every time the lease changes hands; the fencing token. */
  leaseVersion: number;
  expiresAtMs: number;
  version: number;
}

/** Options of writes that only the lease holder may make. */
export interface FencedWrite {
  /** The writer's lease version; the write fails with a FencingError if a newer holder wrote. */
  fence?: number;
}

export interface PoolStore {
  getPool(name: string): Promise<PoolRecord | undefined>;
  listPools(): Promise<PoolRecord[]>;
  /** Create or update from a validated document; `unchanged` when spec and metadata are equal. */
  applyPool(pool: RunnerPool): Promise<{ result: ApplyResult; record: PoolRecord }>;
  /** Status write; fails with ConflictError when `expectedResourceVersion` is stale. */
  updatePoolStatus(
    name: string,
    status: RunnerPoolStatus,
    expectedResourceVersion: number,
    opts?: FencedWrite,
  ): Promise<PoolRecord>;
  /** Marks the pool for deletion (idempotent). NotFoundError when absent. */
  requestPoolDeletion(name: string): Promise<PoolRecord>;
  /**
   * Removes the record once drained; ConflictError when stale or not marked for deletion,
   * NotFoundError when already gone.
   */
  removePool(name: string, expectedResourceVersion: number, opts?: FencedWrite): Promise<void>;
}

export interface JobStore {
  /**
   * Stores what an event or a resync says about a job. Never moves status backwards:
   * returns the stored record and whether this write changed it.
   */
  recordJob(
    job: Omit<JobRecord, 'version' | 'updatedAt'>,
  ): Promise<{ changed: boolean; record: JobRecord }>;
  getJob(id: number): Promise<JobRecord | undefined>;
  listJobs(filter?: { status?: JobStatus[]; pool?: string }): Promise<JobRecord[]>;
  /** Conditional on version (e.g. to set `pool` or bind a runner). */
  updateJob(job: JobRecord, opts?: FencedWrite): Promise<JobRecord>;
}

export interface RunnerFilter {
  pool?: string;
  states?: RunnerState[];
  /**
   * Only the records the controller still acts on: not finished, or finished with a spot
   * interruption whose re-run decision is not written yet (`awaitsSpotDecision`). Finished
   * history is not read at all (docs/store.md, the live partition).
   */
  live?: boolean;
}

/** A finished record whose spot interruption still needs its re-run decision. */
export const awaitsSpotDecision = (r: RunnerRecord): boolean =>
  r.state === 'finished' && !!r.spotInterruption && !r.spotInterruption.handled;

export interface RunnerStore {
  /** attribute_not_exists; ConflictError when the name is taken. */
  createRunner(
    runner: Omit<RunnerRecord, 'version' | 'updatedAt'>,
    opts?: FencedWrite,
  ): Promise<RunnerRecord>;
  getRunner(name: string): Promise<RunnerRecord | undefined>;
  listRunners(filter?: RunnerFilter): Promise<RunnerRecord[]>;
  /** Conditional on `runner.version`; returns the record with the new version. */
  updateRunner(runner: RunnerRecord, opts?: FencedWrite): Promise<RunnerRecord>;
  /** Conditional on version; ConflictError when stale, NotFoundError when already gone. */
  deleteRunner(name: string, expectedVersion: number, opts?: FencedWrite): Promise<void>;
}

export interface EventLog {
  /** True the first time a key is seen (de-duplication of webhook deliveries). */
  markSeen(key: string, ttlSeconds: number): Promise<boolean>;
}

export interface RepositoryRegistry {
  /** Remembers a repository the controller has seen a job for, so resync reads its queue. */
  touchRepository(fullName: string, seenAt: string): Promise<void>;
  listRepositories(): Promise<{ fullName: string; lastSeenAt: string }[]>;
}

/** Options of lease calls. */
export interface LeaseCall {
  /** Aborts the call's requests (the caller's deadline); the call then rejects. */
  signal?: AbortSignal;
}

export interface LeaseStore {
  /** Takes the lease when free or expired, or renews it when `holder` has it. */
  tryAcquire(
    name: string,
    holder: string,
    ttlMs: number,
    nowMs: number,
    call?: LeaseCall,
  ): Promise<LeaseRecord | undefined>;
  release(name: string, holder: string, call?: LeaseCall): Promise<void>;
  getLease(name: string, call?: LeaseCall): Promise<LeaseRecord | undefined>;
}

export interface Store
  extends PoolStore, JobStore, RunnerStore, EventLog, RepositoryRegistry, LeaseStore {
  /** Creates the table when missing (local engines and first runs). */
  ensureTable(): Promise<void>;
  close(): Promise<void>;
}
