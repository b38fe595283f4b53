// Spot interruption re-runs (docs/reconcile.md "Spot interruption re-runs"). A runner whose
// FARGATE_SPOT task was stopped with stop code SpotInterruption while it ran a job leaves that job
// failed or cancelled on GitHub. The controller re-runs the job ONCE through GitHub's job re-run
// endpoint, and the job GitHub queues for it launches on on-demand capacity.
//
// Never a loop, and at most once per job:
// - the job record is claimed (`spotRerun.state = requesting`, a conditional write) BEFORE the
//   POST, so a crash or a second replica cannot re-run it twice;
// - the re-run job is marked `spotRerunOf`, and a job so marked is never re-run again;
// - everything ends within `spotRerunWindowMs` of the interruption (given up, visible on the job).

import { JobRerunRefusedError } from '../../github/errors.ts';
import { ConflictError } from '../../store/errors.ts';
import type { JobRecord, PoolRecord, RunnerRecord, SpotRerun } from '../../store/types.ts';
import { isoNow, type ReconcileContext } from '../context.ts';
import { saveRunner } from './record.ts';

/** ECS's stop code of a Fargate Spot task reclaimed by AWS. */
export const SPOT_INTERRUPTION = 'SpotInterruption';

/** Conclusions GitHub gives a job whose runner vanished mid-job. */
const INTERRUPTED_CONCLUSIONS = new Set(['failure', 'cancelled']);

function windowMs(ctx: ReconcileContext): number {
  return ctx.settings.spotRerunWindowMs;
}

/** Records that still need a decision: finished, interrupted, not yet handled. */
export function pendingInterruptions(records: RunnerRecord[]): RunnerRecord[] {
  const byName = new Map<string, RunnerRecord>();
  // Later copies (this pass's steps) win over the listing.
  for (const r of records) {
    const seen = byName.get(r.name);
    if (!seen || r.version >= seen.version) byName.set(r.name, r);
  }
  return [...byName.values()].filter(
    (r) => r.state === 'finished' && r.spotInterruption && !r.spotInterruption.handled,
  );
}

/** Writes the job with a new `spotRerun`, re-reading it on a conflict (events write jobs too). */
async function writeRerun(
  ctx: ReconcileContext,
  job: JobRecord,
  patch: (current: JobRecord) => SpotRerun | undefined,
): Promise<JobRecord | undefined> {
  let current = job;
  for (let attempt = 0; attempt < 4; attempt++) {
    const next = patch(current);
    if (!next) return undefined;
    try {
      return await ctx.store.updateJob({ ...current, spotRerun: next }, ctx.fenced());
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      const fresh = await ctx.store.getJob(job.id);
      if (!fresh) return undefined;
      current = fresh;
    }
  }
  return undefined;
}

async function handled(
  ctx: ReconcileContext,
  pool: PoolRecord,
  record: RunnerRecord,
  outcome: string,
  detail: string,
): Promise<void> {
  ctx.metrics?.spotRerun?.(pool.name, outcome);
  ctx.log.info(
    { runner: record.name, pool: pool.name, jobId: record.jobId, outcome, detail },
    'spot interruption handled',
  );
  try {
    await saveRunner(
      ctx,
      record,
      { spotInterruption: { ...record.spotInterruption!, handled: detail } },
      'spot-rerun',
      detail,
    );
  } catch (err) {
    // Another writer changed the record: the next pass decides again (the job record holds the
    // outcome, so the decision is the same).
    if (!(err instanceof ConflictError)) throw err;
  }
}

/**
 * The queued job GitHub created for the re-run of `job`: same repository, run and name, a later
 * attempt, created no earlier than the claim (GitHub's timestamps have whole seconds).
 */
function findRerunJob(job: JobRecord, queued: JobRecord[]): JobRecord | undefined {
  const claimedAt = Date.parse(job.spotRerun?.at ?? job.updatedAt) - 1_000;
  return queued.find(
    (q) =>
      q.id !== job.id &&
      q.repository === job.repository &&
      q.runId === job.runId &&
      q.name === job.name &&
      q.runAttempt > job.runAttempt &&
      Date.parse(q.createdAt) >= claimedAt,
  );
}

/**
 * One step for each interrupted runner of the pool: decide, request the re-run, then link the job
 * GitHub queued for it (marked `spotRerunOf`, so launch picks on-demand capacity). `queued` is the
 * store's queued jobs; the linked ones are returned updated, for this pass's demand.
 */
export async function stepSpotReruns(
  ctx: ReconcileContext,
  pool: PoolRecord,
  interrupted: RunnerRecord[],
  queued: JobRecord[],
): Promise<{ linked: JobRecord[]; requeueAfterMs?: number }> {
  const linked: JobRecord[] = [];
  let requeueAfterMs: number | undefined;
  const now = ctx.clock.now();
  for (const record of interrupted) {
    const since = Date.parse(record.spotInterruption!.at);
    const expired = now - since > windowMs(ctx);
    if (record.jobId === undefined) {
      await handled(ctx, pool, record, 'not_needed', 'no re-run: no job ran on it');
      continue;
    }
    let job = await ctx.store.getJob(record.jobId);
    if (!job) {
      await handled(
        ctx,
        pool,
        record,
        'gave_up',
        `no re-run: job ${record.jobId} not in the store`,
      );
      continue;
    }
    if (job.spotRerunOf !== undefined) {
      await handled(
        ctx,
        pool,
        record,
        'already_rerun',
        `no re-run: job ${job.id} is itself the re-run of job ${job.spotRerunOf}`,
      );
      continue;
    }
    const rerun = job.spotRerun;
    if (rerun?.rerunJobId !== undefined || rerun?.state === 'gave-up') {
      const target = rerun.rerunJobId !== undefined ? ` as job ${rerun.rerunJobId}` : '';
      await handled(ctx, pool, record, 'done', `job ${job.id}: re-run ${rerun.state}${target}`);
      continue;
    }
    if (rerun && rerun.runner !== record.name) {
      await handled(ctx, pool, record, 'done', `job ${job.id} handled by runner ${rerun.runner}`);
      continue;
    }

    if (!rerun) {
      if (job.status !== 'completed') {
        if (expired) {
          await handled(ctx, pool, record, 'gave_up', `no re-run: job ${job.id} never completed`);
        } else {
          requeueAfterMs = ctx.settings.runnerPollMs; // its completed event is on its way
        }
        continue;
      }
      if (!INTERRUPTED_CONCLUSIONS.has(job.conclusion ?? '')) {
        await handled(
          ctx,
          pool,
          record,
          'not_needed',
          `no re-run: job ${job.id} concluded ${job.conclusion ?? 'without a conclusion'}`,
        );
        continue;
      }
      // Claim first: whatever happens next, this job is re-run at most once.
      const claimed = await writeRerun(ctx, job, (current) =>
        current.spotRerun
          ? undefined
          : { state: 'requesting', runner: record.name, at: isoNow(ctx) },
      );
      if (!claimed) continue; // someone else claimed it; the next pass reads their outcome
      job = claimed;
      await requestRerun(ctx, pool, record, job);
      job = (await ctx.store.getJob(job.id)) ?? job;
    } else if (rerun.state === 'requesting') {
      // Claimed but the outcome was never written (a crash around the POST): it may have been
      // sent, so it is never sent again. A re-run job that shows up is still linked below.
      job =
        (await writeRerun(ctx, job, (current) =>
          current.spotRerun?.state === 'requesting'
            ? { ...current.spotRerun, state: 'requested', error: 'outcome unknown (restart)' }
            : undefined,
        )) ?? job;
    } else if (rerun.state === 'refused') {
      const retryMs = ctx.settings.spotRerunRetryMs;
      const lastTry = Date.parse(job.updatedAt);
      if (expired) {
        await writeRerun(ctx, job, (current) =>
          current.spotRerun?.state === 'refused'
            ? { ...current.spotRerun, state: 'gave-up' }
            : undefined,
        );
        await handled(
          ctx,
          pool,
          record,
          'gave_up',
          `re-run of job ${job.id} given up: ${rerun.error}`,
        );
        continue;
      }
      if (now - lastTry >= retryMs) {
        await requestRerun(ctx, pool, record, job);
        job = (await ctx.store.getJob(job.id)) ?? job;
      } else {
        requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, retryMs - (now - lastTry));
      }
    }

    // Link the job GitHub queued for the re-run (its queued event may come a moment later).
    const next = findRerunJob(job, queued);
    if (next) {
      const marked = await markRerunJob(ctx, next, job.id);
      if (marked) linked.push(marked);
      await writeRerun(ctx, job, (current) =>
        current.spotRerun ? { ...current.spotRerun, rerunJobId: next.id } : undefined,
      );
      await handled(ctx, pool, record, 'linked', `job ${job.id} re-run as job ${next.id}`);
      continue;
    }
    if (expired) {
      await handled(ctx, pool, record, 'gave_up', `re-run of job ${job.id} never showed up`);
      continue;
    }
    requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, ctx.settings.runnerPollMs);
  }
  return { linked, ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}) };
}

async function requestRerun(
  ctx: ReconcileContext,
  pool: PoolRecord,
  record: RunnerRecord,
  job: JobRecord,
): Promise<void> {
  try {
    await ctx.github.rerunJob(job.repository, job.id);
  } catch (err) {
    // Refused (run still running) or transient: try again after a pause, within the window.
    const message = err instanceof Error ? err.message : String(err);
    ctx.log.warn({ jobId: job.id, runner: record.name, err }, 'spot re-run not accepted yet');
    ctx.metrics?.spotRerun?.(pool.name, err instanceof JobRerunRefusedError ? 'refused' : 'error');
    await writeRerun(ctx, job, (current) =>
      current.spotRerun ? { ...current.spotRerun, state: 'refused', error: message } : undefined,
    );
    return;
  }
  ctx.metrics?.spotRerun?.(pool.name, 'requested');
  ctx.log.info(
    { jobId: job.id, runner: record.name, pool: pool.name, repository: job.repository },
    'spot-interrupted job re-run on GitHub; it will launch on on-demand capacity',
  );
  await writeRerun(ctx, job, (current) =>
    current.spotRerun ? { ...current.spotRerun, state: 'requested', error: undefined } : undefined,
  );
}

async function markRerunJob(
  ctx: ReconcileContext,
  job: JobRecord,
  of: number,
): Promise<JobRecord | undefined> {
  let current: JobRecord | undefined = job;
  for (let attempt = 0; current && attempt < 4; attempt++) {
    if (current.spotRerunOf !== undefined) return current;
    try {
      return await ctx.store.updateJob({ ...current, spotRerunOf: of }, ctx.fenced());
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      current = await ctx.store.getJob(job.id);
    }
  }
  return current;
}
