// The one ingestion path shared by the SQS consumer and the HTTP webhook: de-duplicate,
// record the job (forward-only: the store never moves a status backwards), remember the
// repository for resync, and tell the controller when the job changed.
//
// A resolved ingest() means the event is durably recorded; callers acknowledge (delete the
// SQS message, answer 202) only then.

import { ConflictError } from '../store/errors.ts';
import type { JobRecord, JobStatus, Store } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';
import { systemClock } from '../util/clock.ts';
import type { Logger } from '../util/logger.ts';
import { silentLogger } from '../util/logger.ts';
import type { WorkflowJobEvent } from './normalise.ts';

export type IngestStore = Pick<
  Store,
  'markSeen' | 'recordJob' | 'touchRepository' | 'getJob' | 'updateJob'
>;

export interface IngestDeps {
  store: IngestStore;
  /** Called after a write that changed the job (enqueue its pool). Errors are logged only. */
  onJobChanged?: (job: JobRecord) => void | Promise<void>;
  clock?: Clock;
  logger?: Logger;
  /** How long a (job, attempt, action) key is remembered. Default 3 days: GitHub's redelivery window. */
  dedupTtlSeconds?: number;
}

export interface IngestResult {
  outcome: 'recorded' | 'unchanged' | 'duplicate';
  job?: JobRecord;
}

export const DEFAULT_DEDUP_TTL_SECONDS = 3 * 24 * 3600;

const RANK: Record<JobStatus, number> = { queued: 0, waiting: 0, in_progress: 1, completed: 2 };

export async function ingest(event: WorkflowJobEvent, deps: IngestDeps): Promise<IngestResult> {
  const { store } = deps;
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? silentLogger();
  const log = logger.child({ jobId: event.job.id, repository: event.job.repository });

  // A signed webhook is GitHub's word; an EventBridge event is anyone's who may PutEvents.
  const trusted = event.source !== 'eventbridge';
  const first = await store.markSeen(
    event.dedupKey,
    deps.dedupTtlSeconds ?? DEFAULT_DEDUP_TTL_SECONDS,
  );
  if (!first) {
    // Seen before. A first delivery may have been marked and then failed to record (and was
    // redelivered): a read tells whether the record already says at least this much.
    const stored = await store.getJob(event.job.id);
    // A signed copy of an event first seen unsigned still confirms the job.
    const confirms = trusted && stored?.confirmation === 'pending';
    if (stored && RANK[stored.status] >= RANK[event.action] && !confirms) {
      log.debug({ dedupKey: event.dedupKey }, 'duplicate workflow_job event ignored');
      return { outcome: 'duplicate', job: stored };
    }
  }

  const nowIso = new Date(clock.now()).toISOString();
  const { changed, record } = trusted
    ? await store.recordJob({ ...event.job, confirmation: 'confirmed' })
    : event.action === 'completed'
      ? await claimCompletion(store, event, nowIso)
      : await store.recordJob({ ...event.job, confirmation: 'pending' });
  // Only a repository GitHub vouched for joins the resync's list (confirm.ts adds the others).
  if (trusted) await store.touchRepository(event.job.repository, nowIso);
  if (!changed) {
    log.debug(
      { action: event.action, status: record.status },
      'workflow_job event changed nothing',
    );
    return { outcome: 'unchanged', job: record };
  }
  log.info(
    {
      action: event.action,
      status: record.status,
      labels: record.labels,
      ...(record.runnerName ? { runner: record.runnerName } : {}),
    },
    'job recorded',
  );
  if (deps.onJobChanged) {
    try {
      await deps.onJobChanged(record);
    } catch (err) {
      // The job is stored; the periodic resync reconciles it even if this wake-up is lost.
      log.warn({ err }, 'onJobChanged failed; the next resync picks the job up');
    }
  }
  return { outcome: 'recorded', job: record };
}

/**
 * An unsigned `completed` does not end the job: it is kept as a claim on the record, settled by
 * the job's runner exiting (refreshFinishedJobs) or by GitHub's listing of the run (confirm.ts).
 * So a forged one cannot block a queued job. A job not seen before is recorded as a pending
 * queued job with the claim: GitHub's listing then says what it really is.
 */
async function claimCompletion(
  store: IngestStore,
  event: WorkflowJobEvent,
  nowIso: string,
): Promise<{ changed: boolean; record: JobRecord }> {
  const claim = {
    ...(event.job.conclusion ? { conclusion: event.job.conclusion } : {}),
    ...(event.job.completedAt ? { completedAt: event.job.completedAt } : {}),
    claimedAt: nowIso,
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    const stored = await store.getJob(event.job.id);
    if (!stored) {
      const {
        runnerName: _n,
        runnerId: _i,
        conclusion: _c,
        completedAt: _a,
        startedAt: _s,
        ...job
      } = event.job;
      return store.recordJob({
        ...job,
        status: 'queued',
        confirmation: 'pending',
        claimedCompletion: claim,
      });
    }
    if (stored.status === 'completed' || stored.claimedCompletion) {
      return { changed: false, record: stored };
    }
    try {
      const record = await store.updateJob({ ...stored, claimedCompletion: claim });
      return { changed: true, record };
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
  }
  throw new ConflictError(`job ${event.job.id}: others kept changing it`, `job#${event.job.id}`);
}
