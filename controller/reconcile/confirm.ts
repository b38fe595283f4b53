// Job confirmation with GitHub (docs/reconcile.md "Job confirmation"). EventBridge events are not
// authenticated, so a job first seen in one, or an unsigned `completed` the controller did not
// see corroborated, is checked against GitHub before it launches (or ends) anything: ONE
// conditional listing of the job's run (GET .../actions/runs/{run_id}/jobs, filter=latest)
// answers for every job of the run. The listings are kept in a bounded memory (LRU by run), so
// the other jobs of a matrix cost nothing; a run is listed again at most once per `relistMs`.

import type { GitHubProvider, WorkflowJob } from '../github/types.ts';
import type { ClaimedCompletion, JobRecord } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';
import { ConflictError } from '../store/errors.ts';
import type { ReconcileContext } from './context.ts';
import { jobRecordFrom } from './jobs.ts';
import { RepositoryVisibilities } from './visibility.ts';

/** What a confirmation call answered, for runnerctl_github_job_confirmations_total{result}. */
export type ConfirmationCallResult = 'listed' | 'not_modified' | 'not_found' | 'failed';

export type ConfirmOutcome =
  /** GitHub lists the job as queued: it is demand. */
  | { kind: 'queued'; job: WorkflowJob }
  /** GitHub lists it with another status (waiting, in_progress, completed): record that. */
  | { kind: 'moved'; job: WorkflowJob }
  /** The run's listing does not show the job (or GitHub has no such run): not demand. */
  | { kind: 'unconfirmed'; retryInMs: number; reason: string }
  /** GitHub could not be asked (rate limit, error) or was asked too recently: ask later. */
  | { kind: 'unknown'; retryInMs: number; reason: string };

export interface JobConfirmerOptions {
  github: Pick<GitHubProvider, 'listRunJobs'>;
  clock: Clock;
  /** Runs whose listing is kept. Default 1,000 (a run of 100 jobs is about 100 KB). */
  maxRuns?: number;
  /** Least time between two listings of one run. Default 10 s. */
  relistMs?: number;
  onCall?: (result: ConfirmationCallResult) => void;
}

/** One listing of a run's latest attempt, as held in memory. */
export interface RunListing {
  /** Clock time the listing was requested. */
  atMs: number;
  /** Undefined: GitHub has no such run in that repository. */
  jobs: Map<number, WorkflowJob> | undefined;
  /** The attempt the listed jobs belong to (0 when nothing was listed). */
  attempt: number;
}

export type ConfirmableJob = Pick<JobRecord, 'id' | 'runId' | 'repository'> & {
  claimedCompletion?: ClaimedCompletion;
};

/** Does this job record need GitHub's word before it is demand (or before a claim ends it)? */
export function needsConfirmation(job: Pick<JobRecord, 'confirmation' | 'claimedCompletion'>) {
  return job.confirmation === 'pending' || job.claimedCompletion !== undefined;
}

export const DEFAULT_CONFIRMATION_RUNS = 1_000;
export const DEFAULT_RELIST_MS = 10_000;

/** How often one process records a confirmed job's repository as seen (its expiry is days). */
export const REPOSITORY_TOUCH_MS = 60_000;

export class JobConfirmer {
  readonly #runs = new Map<string, RunListing>();
  /** Repositories recorded as seen after a confirmation, and when (lower case, oldest first). */
  readonly #touched = new Map<string, number>();
  readonly #inFlight = new Map<string, Promise<RunListing>>();
  /** When a job of a run last completed (events), oldest first, at most maxRuns. */
  readonly #completedAt = new Map<string, number>();
  readonly #maxRuns: number;
  readonly #relistMs: number;

  constructor(private readonly options: JobConfirmerOptions) {
    this.#maxRuns = Math.max(1, options.maxRuns ?? DEFAULT_CONFIRMATION_RUNS);
    this.#relistMs = Math.max(0, options.relistMs ?? DEFAULT_RELIST_MS);
  }

  /** Runs held now (at most maxRuns). */
  get size(): number {
    return this.#runs.size;
  }

  async confirm(job: ConfirmableJob): Promise<ConfirmOutcome> {
    const key = runKey(job.repository, job.runId);
    const now = this.options.clock.now();
    // A claim is settled only by a listing taken after it arrived (or one showing the end).
    const notBefore = job.claimedCompletion ? Date.parse(job.claimedCompletion.claimedAt) : 0;
    let listing = this.#get(key);
    if (listing) {
      const listed = listing.jobs?.get(job.id);
      if (listed && (listing.atMs >= notBefore || listed.status === 'completed')) {
        return outcome(listed);
      }
      const age = now - listing.atMs;
      const relistMs = this.#relistAfter(listing);
      if (age < relistMs) {
        const retryInMs = relistMs - age;
        return listing.atMs >= notBefore
          ? { kind: 'unconfirmed', retryInMs, reason: unlisted(job, listing) }
          : { kind: 'unknown', retryInMs, reason: 'waiting to list the run again' };
      }
    }
    try {
      listing = await this.#list(job.repository, job.runId);
    } catch (err) {
      return {
        kind: 'unknown',
        retryInMs: this.#relistMs,
        reason: `listing run ${job.runId} of ${job.repository} failed: ${(err as Error).message}`,
      };
    }
    const listed = listing.jobs?.get(job.id);
    if (listed) return outcome(listed);
    return {
      kind: 'unconfirmed',
      retryInMs: this.#relistAfter(listing),
      reason: unlisted(job, listing),
    };
  }

  /**
   * Should a confirmation record its repository as seen? Not again within REPOSITORY_TOUCH_MS
   * of the last time it did: the write sits before the launch, and one a minute keeps the
   * repository's expiry (days) as fresh as one per job.
   */
  touchDue(repository: string): boolean {
    const at = this.#touched.get(repository.toLowerCase());
    return at === undefined || this.options.clock.now() - at >= REPOSITORY_TOUCH_MS;
  }

  /** The repository was recorded as seen now. */
  touched(repository: string): void {
    setNewest(this.#touched, repository.toLowerCase(), this.options.clock.now(), this.#maxRuns);
  }

  /**
   * The listing of a run held in memory, if any (the job resync reuses it instead of listing
   * the run again: docs/reconcile.md "Job resync").
   */
  held(repository: string, runId: number): (RunListing & { outdated: boolean }) | undefined {
    const key = runKey(repository, runId);
    const listing = this.#get(key);
    if (!listing) return undefined;
    // A job of the run completed after the listing was requested: jobs that `needs` it may
    // have been created since, so the listing no longer shows the whole run.
    return { ...listing, outdated: (this.#completedAt.get(key) ?? -Infinity) >= listing.atMs };
  }

  /** Lists the run now (shared with a listing of it in flight) and holds the answer. */
  listRun(repository: string, runId: number): Promise<RunListing> {
    return this.#list(repository, runId, false);
  }

  /**
   * A job of the run completed: the held listing may miss jobs created since (a job that
   * `needs` it), so the next resync lists the run again instead of reusing it.
   */
  jobCompleted(repository: string, runId: number): void {
    setNewest(
      this.#completedAt,
      runKey(repository, runId),
      this.options.clock.now(),
      this.#maxRuns,
    );
  }

  /** A run GitHub does not have is asked about less often (forged events name such runs). */
  #relistAfter(listing: RunListing): number {
    return listing.jobs ? this.#relistMs : this.#relistMs * 6;
  }

  #get(key: string): RunListing | undefined {
    const listing = this.#runs.get(key);
    if (listing) {
      // Most recently used last, so the oldest is evicted first.
      this.#runs.delete(key);
      this.#runs.set(key, listing);
    }
    return listing;
  }

  /** One listing per run at a time: concurrent confirmations of a matrix share it. */
  #list(repository: string, runId: number, confirming = true): Promise<RunListing> {
    const key = runKey(repository, runId);
    let pending = this.#inFlight.get(key);
    if (!pending) {
      pending = this.#fetch(repository, runId, confirming).finally(() =>
        this.#inFlight.delete(key),
      );
      this.#inFlight.set(key, pending);
    }
    return pending.then((listing) => {
      setNewest(this.#runs, key, listing, this.#maxRuns);
      return listing;
    });
  }

  /** `confirming`: the call is counted as a confirmation (the resync's own listings are not). */
  async #fetch(repository: string, runId: number, confirming: boolean): Promise<RunListing> {
    const atMs = this.options.clock.now();
    const onCall = confirming ? this.options.onCall : undefined;
    try {
      const run = await this.options.github.listRunJobs(repository, runId);
      onCall?.(!run ? 'not_found' : run.notModified ? 'not_modified' : 'listed');
      return {
        atMs,
        jobs: run && new Map(run.jobs.map((j) => [j.id, j])),
        attempt: Math.max(0, ...(run?.jobs ?? []).map((j) => j.runAttempt)),
      };
    } catch (err) {
      onCall?.('failed');
      throw err;
    }
  }
}

/** The key of a run in the memories here and in the resync. */
export const runKey = (repository: string, runId: number) => `${repository.toLowerCase()}#${runId}`;

/** Sets `key` as the newest entry of an insertion-ordered map, dropping the oldest beyond `max`. */
function setNewest<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) map.delete(map.keys().next().value!);
}

function outcome(job: WorkflowJob): ConfirmOutcome {
  // pending/requested jobs have not started either: GitHub will offer them to a runner.
  return job.status === 'queued' || job.status === 'pending' || job.status === 'requested'
    ? { kind: 'queued', job }
    : { kind: 'moved', job };
}

function unlisted(job: ConfirmableJob, listing: RunListing): string {
  return listing.jobs
    ? `GitHub's listing of run ${job.runId} of ${job.repository} does not show job ${job.id}`
    : `GitHub has no run ${job.runId} in ${job.repository}`;
}

export interface Settled {
  /** The record after GitHub's answer was written (or as it was, when nothing was learnt). */
  job: JobRecord;
  /** GitHub lists it queued: it may count as demand. */
  demand: boolean;
  /** Not settled yet: look again after this long. */
  retryInMs?: number;
  /** Why it is not demand (for the log and drift). */
  reason?: string;
}

/**
 * Asks GitHub about a job that needs confirmation and writes what it said: a queued job becomes
 * confirmed with GitHub's labels and run (and loses an unconfirmed completion claim); a job
 * GitHub shows further along is recorded so. Store conflicts leave the job for the next pass.
 */
export async function settleJob(
  ctx: Pick<
    ReconcileContext,
    'store' | 'github' | 'clock' | 'log' | 'fenced' | 'confirmer' | 'visibilities'
  > & {
    confirmer: JobConfirmer;
  },
  job: JobRecord,
): Promise<Settled> {
  const answer = await ctx.confirmer.confirm(job);
  const where = { jobId: job.id, repository: job.repository, runId: job.runId };
  if (answer.kind === 'unconfirmed' || answer.kind === 'unknown') {
    ctx.log.debug(
      { ...where, outcome: answer.kind, reason: answer.reason },
      'job not confirmed by GitHub',
    );
    return { job, demand: false, retryInMs: answer.retryInMs, reason: answer.reason };
  }
  const nowIso = new Date(ctx.clock.now()).toISOString();
  const fromGitHub = { ...jobRecordFrom(answer.job, nowIso), owner: job.owner };
  if (answer.kind === 'moved') {
    const { record } = await ctx.store.recordJob({
      ...fromGitHub,
      ...(job.pool ? { pool: job.pool } : {}),
    });
    if (job.claimedCompletion) {
      ctx.log.info({ ...where, status: record.status }, 'claimed completion settled by GitHub');
    }
    return { job: record, demand: false, reason: `GitHub shows it ${answer.job.status}` };
  }
  if (job.claimedCompletion) {
    ctx.log.warn(where, 'completion claimed by an unsigned event refuted by GitHub: still queued');
  }
  // The unsigned event's `repository` object is not evidence: GitHub's REST API says (cached).
  const visibilities =
    ctx.visibilities ?? new RepositoryVisibilities({ github: ctx.github, clock: ctx.clock });
  const visibility = await visibilities.get(job.repository);
  const { version: _v, updatedAt: _u, claimedCompletion: _c, visibility: _s, ...rest } = job;
  try {
    const record = await ctx.store.updateJob(
      {
        ...rest,
        ...(visibility ? { visibility } : {}),
        labels: fromGitHub.labels,
        runAttempt: fromGitHub.runAttempt,
        confirmation: 'confirmed',
        version: job.version,
        updatedAt: job.updatedAt,
      },
      ctx.fenced(),
    );
    if (ctx.confirmer.touchDue(job.repository)) {
      await ctx.store.touchRepository(job.repository, nowIso);
      ctx.confirmer.touched(job.repository);
    }
    return { job: record, demand: true };
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
    return { job, demand: false, retryInMs: 0, reason: 'the job record changed meanwhile' };
  }
}
