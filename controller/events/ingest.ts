// The one ingestion path shared by the SQS consumer and the HTTP webhook: de-duplicate,
// record the job (forward-only: the store never moves a status backwards), remember the
// repository for resync, and tell the controller when the job changed.
//
// A resolved ingest() means the event is durably recorded; callers acknowledge (delete the
// SQS message, answer 202) only then.

import type { JobRecord, JobStatus, Store } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';
import { systemClock } from '../util/clock.ts';
import type { Logger } from '../util/logger.ts';
import { silentLogger } from '../util/logger.ts';
import type { WorkflowJobEvent } from './normalise.ts';

export type IngestStore = Pick<Store, 'markSeen' | 'recordJob' | 'touchRepository' | 'getJob'>;

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

  const first = await store.markSeen(
    event.dedupKey,
    deps.dedupTtlSeconds ?? DEFAULT_DEDUP_TTL_SECONDS,
  );
  if (!first) {
    // Seen before. A first delivery may have been marked and then failed to record (and was
    // redelivered): a read tells whether the record already says at least this much.
    const stored = await store.getJob(event.job.id);
    if (stored && RANK[stored.status] >= RANK[event.action]) {
      log.debug({ dedupKey: event.dedupKey }, 'duplicate workflow_job event ignored');
      return { outcome: 'duplicate', job: stored };
    }
  }

  const { changed, record } = await store.recordJob(event.job);
  await store.touchRepository(event.job.repository, new Date(clock.now()).toISOString());
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
