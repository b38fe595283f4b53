// One step of a runner record's state machine, driven by what GitHub and ECS show now
// (docs/reconcile.md "Runner state machine"). Level-triggered: the step looks at the record and
// the observation, never at the event that woke the pool.
//
// Removal always deletes the GitHub runner FIRST, after re-reading it (the REST busy flag lags),
// and only then stops the task. "Busy" (re-read or a 422 on delete) means keep: a busy runner's
// task is never stopped.

import { EcsError, ThrottledError } from '../../ecs/errors.ts';
import type { RunnerTask } from '../../ecs/types.ts';
import { RunnerBusyError } from '../../github/errors.ts';
import type { GitHubRunner } from '../../github/types.ts';
import type { JobRecord, PoolRecord, RunnerRecord } from '../../store/types.ts';
import type { ReconcileContext } from '../context.ts';
import { githubScope } from '../names.ts';
import { isoNow } from '../context.ts';
import { runnerCost } from './cost.ts';
import { launchRunner } from './launch.ts';
import { SPOT_INTERRUPTION } from './spot-rerun.ts';
import { lastEventAt, saveRunner } from './record.ts';

/** What the outside world shows about one runner record. */
export interface RunnerObservation {
  /** The GitHub runner with the record's name, when registered. */
  ghRunner?: GitHubRunner;
  /**
   * When the GitHub listing behind `ghRunner` started (absent: a direct look, taken now). A
   * runner missing from a listing that started before it registered is not deregistered.
   */
  ghListedAtMs?: number;
  /** The record's task (by taskArn), or the task found by its runner tag when none is stored. */
  task?: RunnerTask;
  /** The job bound to this runner: an in_progress/completed job naming it, or record.jobId. */
  job?: JobRecord;
}

export interface PoolTimeoutsMs {
  registrationMs: number;
  idleMs: number;
  maxJobMs: number;
}

export interface StepOutcome {
  record: RunnerRecord;
  /** When this runner needs to be looked at again at the latest. */
  requeueAfterMs?: number;
  /** A launch attempt failed (for the pool's Degraded condition). */
  failure?: string;
}

function taskStopped(record: RunnerRecord, task: RunnerTask | undefined): boolean {
  if (!record.taskArn) return false;
  // DescribeTasks forgets tasks stopped for about an hour: missing counts as stopped.
  return !task || task.lastStatus === 'STOPPED' || task.desiredStatus === 'STOPPED';
}

function launchedAt(record: RunnerRecord): number {
  const times = ['task-started', 'task-adopted', 'runner-adopted']
    .map((e) => lastEventAt(record, e))
    .filter((t): t is number => t !== undefined);
  return times.length ? Math.max(...times) : Date.parse(record.updatedAt);
}

/** Failures of a launch that count as a failed attempt (not retried as-is). */
function isLaunchFailure(err: unknown): err is Error {
  return err instanceof EcsError && !(err instanceof ThrottledError);
}

/** Advances one record by what the world shows. */
export async function stepRunner(
  ctx: ReconcileContext,
  pool: PoolRecord,
  record: RunnerRecord,
  obs: RunnerObservation,
  timeouts: PoolTimeoutsMs,
): Promise<StepOutcome> {
  const now = ctx.clock.now();
  const poll = ctx.settings.runnerPollMs;
  const job = obs.job;
  const gh = obs.ghRunner;

  switch (record.state) {
    case 'pending':
    case 'configured':
      return launchOrFail(ctx, pool, record, obs);

    case 'launching': {
      if (job?.status === 'completed') return finish(ctx, pool, record, obs, 'job completed');
      if (gh?.busy || job?.status === 'in_progress') {
        return { record: await markBusy(ctx, record, job), requeueAfterMs: poll };
      }
      if (gh?.status === 'online') {
        return {
          record: await saveRunner(ctx, record, { state: 'idle' }, 'idle'),
          requeueAfterMs: poll,
        };
      }
      if (taskStopped(record, obs.task)) {
        // A fast runner may have come online, run its job and exited between two looks.
        const ranJob =
          !!job ||
          (!gh && obs.task?.exitCode === 0) ||
          (await registrationConsumed(ctx, pool, record));
        if (ranJob) return finish(ctx, pool, record, obs, 'task stopped after its job');
        const why = obs.task?.stoppedReason ?? 'task gone';
        return failAttempt(
          ctx,
          pool,
          record,
          obs,
          `task stopped before the runner came online: ${why}`,
        );
      }
      const deadline = launchedAt(record) + timeouts.registrationMs;
      if (now >= deadline) {
        // The background listing may be minutes old (its period follows the REST budget): before
        // giving up on the runner, one direct look at its registration.
        const fresh = await registrationNow(ctx, pool, record, obs);
        if (fresh?.busy) return { record: await markBusy(ctx, record, job), requeueAfterMs: poll };
        if (fresh?.status === 'online') {
          return {
            record: await saveRunner(ctx, record, { state: 'idle' }, 'idle'),
            requeueAfterMs: poll,
          };
        }
        return failAttempt(
          ctx,
          pool,
          record,
          obs,
          `runner not online within ${Math.round(timeouts.registrationMs / 1000)}s`,
        );
      }
      return { record, requeueAfterMs: Math.min(poll, deadline - now) };
    }

    case 'idle': {
      if (job?.status === 'completed') return finish(ctx, pool, record, obs, 'job completed');
      if (gh?.busy || job?.status === 'in_progress') {
        return { record: await markBusy(ctx, record, job), requeueAfterMs: poll };
      }
      if (!gh && listedAfterRegistration(record, obs)) {
        return finish(ctx, pool, record, obs, 'runner deregistered');
      }
      if (taskStopped(record, obs.task)) {
        // A JIT runner exits 0 only after its one job (run between two looks).
        const ranJob = obs.task?.exitCode === 0;
        return finish(
          ctx,
          pool,
          record,
          obs,
          ranJob ? 'task stopped after its job' : 'task stopped',
        );
      }
      // A listing older than the registration: look again next time.
      if (!gh) return { record, requeueAfterMs: poll };
      // An idle runner that dropped offline would count as supply forever: replace it.
      if (gh.status === 'offline') return finish(ctx, pool, record, obs, 'runner went offline');
      return { record, requeueAfterMs: poll };
    }

    case 'busy': {
      if (job?.status === 'completed') return finish(ctx, pool, record, obs, 'job completed');
      if (taskStopped(record, obs.task)) {
        // A busy runner's task that exited 0 ran its job to the end (a JIT runner exits after
        // it), unless AWS reclaimed the spot task under it.
        const ranJob = obs.task?.exitCode === 0 && obs.task.stopCode !== SPOT_INTERRUPTION;
        return finish(
          ctx,
          pool,
          record,
          obs,
          ranJob ? 'task stopped after its job' : 'task stopped',
        );
      }
      if (!gh && listedAfterRegistration(record, obs)) {
        return finish(ctx, pool, record, obs, 'runner deregistered');
      }
      if (!gh) return { record, requeueAfterMs: poll };
      const busySince = lastEventAt(record, 'busy') ?? now;
      if (now - busySince >= timeouts.maxJobMs) {
        // Stuck? Only GitHub can say the runner is free; a busy runner is kept.
        return finish(ctx, pool, record, obs, 'max job duration exceeded');
      }
      return { record, requeueAfterMs: poll };
    }

    case 'draining':
      return finish(ctx, pool, record, obs, 'resuming removal');

    case 'finished':
      return { record };
  }
}

/**
 * Whether the listing that lacks the runner was taken after the runner was known registered (its
 * first idle or busy entry): an older listing, or one started before the runner registered, says
 * nothing about it.
 */
function listedAfterRegistration(record: RunnerRecord, obs: RunnerObservation): boolean {
  if (obs.ghListedAtMs === undefined) return true;
  const registered = record.timeline.find((e) => e.event === 'idle' || e.event === 'busy');
  if (!registered) return true;
  return obs.ghListedAtMs >= Date.parse(registered.at);
}

async function launchOrFail(
  ctx: ReconcileContext,
  pool: PoolRecord,
  record: RunnerRecord,
  obs: RunnerObservation,
): Promise<StepOutcome> {
  const taskByTag = record.taskArn ? undefined : obs.task;
  try {
    const launched = await launchRunner(ctx, pool, record, taskByTag);
    return { record: launched, requeueAfterMs: ctx.settings.runnerPollMs };
  } catch (err) {
    if (!isLaunchFailure(err)) throw err;
    ctx.log.warn({ runner: record.name, pool: pool.name, err }, 'launch failed');
    const current = (await ctx.store.getRunner(record.name)) ?? record;
    return failAttempt(
      ctx,
      pool,
      current,
      { ...obs, task: undefined },
      `launch failed: ${err.message}`,
    );
  }
}

async function markBusy(
  ctx: ReconcileContext,
  record: RunnerRecord,
  job: JobRecord | undefined,
): Promise<RunnerRecord> {
  const jobId = job && job.status !== 'queued' && job.status !== 'waiting' ? job.id : record.jobId;
  return saveRunner(
    ctx,
    record,
    { state: 'busy', ...(jobId !== undefined ? { jobId } : {}) },
    'busy',
    jobId !== undefined ? `job ${jobId}` : undefined,
  );
}

/**
 * This runner ran its job to the end: GitHub says the job is completed (a status only GitHub's
 * word sets; an unsigned `completed` is only a claim) and names this runner, or its task exited
 * 0. A JIT runner is ephemeral, so it takes no other job, and GitHub removes its registration
 * once the job is done.
 */
function ranOwnJob(record: RunnerRecord, obs: RunnerObservation): boolean {
  if (obs.job?.status === 'completed' && obs.job.runnerName === record.name) return true;
  // Its task exited 0: a JIT runner exits 0 only after its one job, and with the task gone there
  // is nothing a busy flag could protect.
  // (Not a spot reclaim: a runner stopped mid-job may exit 0 on SIGTERM while GitHub still
  // shows it busy; its removal waits for GitHub as before.)
  return (
    taskStopped(record, obs.task) &&
    obs.task?.exitCode === 0 &&
    obs.task.stopCode !== SPOT_INTERRUPTION
  );
}

/**
 * The runner's registration now: what the listing behind `obs` showed when it is younger than
 * one runner poll period (or a direct look), else one direct GET.
 */
async function registrationNow(
  ctx: ReconcileContext,
  pool: PoolRecord,
  record: RunnerRecord,
  obs: RunnerObservation,
): Promise<GitHubRunner | undefined> {
  if (record.githubRunnerId === undefined) return obs.ghRunner;
  const listedAt = obs.ghListedAtMs;
  if (listedAt === undefined || ctx.clock.now() - listedAt <= ctx.settings.runnerPollMs) {
    return obs.ghRunner;
  }
  return ctx.github.getRunner(githubScope(pool.spec.github), record.githubRunnerId);
}

/**
 * Before a stopped task counts as "never came online" (and its record relaunches under the same
 * name), one direct GET of its registration: GitHub removes a JIT runner once it has run its
 * job, so a registration that is gone was consumed, even if no listing saw the runner online (a
 * short job between two background listings) and the job's events have not arrived. A
 * registration still there, idle, never took a job.
 */
async function registrationConsumed(
  ctx: ReconcileContext,
  pool: PoolRecord,
  record: RunnerRecord,
): Promise<boolean> {
  if (record.githubRunnerId === undefined) return false;
  const fresh = await ctx.github.getRunner(githubScope(pool.spec.github), record.githubRunnerId);
  return !fresh || fresh.busy;
}

/**
 * Deletes the runner's GitHub registration after re-reading it. Returns 'busy' when GitHub says
 * the runner runs a job (re-read or 422): the caller keeps the runner and its task.
 */
async function deleteRegistration(
  ctx: ReconcileContext,
  pool: PoolRecord,
  record: RunnerRecord,
  obs: RunnerObservation,
): Promise<'deleted' | 'busy'> {
  const id = record.githubRunnerId ?? obs.ghRunner?.id;
  if (id === undefined) return 'deleted';
  const scope = githubScope(pool.spec.github);
  const fresh = await ctx.github.getRunner(scope, id);
  if (!fresh) return 'deleted';
  if (fresh.busy) return 'busy';
  try {
    await ctx.github.deleteRunner(scope, id);
    return 'deleted';
  } catch (err) {
    if (err instanceof RunnerBusyError) return 'busy';
    throw err;
  }
}

async function stopTaskOf(
  ctx: ReconcileContext,
  pool: PoolRecord,
  record: RunnerRecord,
  obs: RunnerObservation,
  reason: string,
): Promise<void> {
  const arn = record.taskArn ?? obs.task?.arn;
  if (!arn || obs.task?.lastStatus === 'STOPPED') return;
  await ctx.ecs.stopTask(pool.spec.ecs.cluster, arn, `runnerctl: ${reason}`.slice(0, 255));
}

/**
 * Removes a runner: draining (written first, so a crash resumes the removal), GitHub runner
 * deleted, then the task stopped, then finished with a TTL. Busy means keep.
 */
export async function finish(
  ctx: ReconcileContext,
  pool: PoolRecord,
  record: RunnerRecord,
  obs: RunnerObservation,
  reason: string,
): Promise<StepOutcome> {
  let current = record;
  const alive = !taskStopped(current, obs.task) && !!(current.taskArn || obs.task);
  const ranItsJob = ranOwnJob(current, obs);
  if (current.state !== 'draining' && alive && obs.ghRunner?.busy && !ranItsJob) {
    // Busy at the last look: keep it without a write (a stuck runner is looked at every poll).
    if (current.state !== 'busy') current = await markBusy(ctx, current, obs.job);
    return { record: current, requeueAfterMs: ctx.settings.runnerPollMs };
  }
  if (current.state !== 'draining') {
    // Bind the job it ran when nothing did before (a job that skipped in_progress).
    const job = obs.job;
    const bind =
      job && current.jobId === undefined && job.runnerName === current.name
        ? { jobId: job.id }
        : {};
    // AWS reclaimed the spot task: its job is re-run once on on-demand (runner/spot-rerun.ts).
    const interrupted =
      obs.task?.stopCode === SPOT_INTERRUPTION && !current.spotInterruption
        ? { spotInterruption: { at: isoNow(ctx) } }
        : {};
    current = await saveRunner(
      ctx,
      current,
      { state: 'draining', ...bind, ...interrupted },
      'draining',
      bind.jobId !== undefined ? `${reason} (job ${bind.jobId})` : reason,
    );
  }
  // A JIT runner that ran its one job is removed by GitHub itself: no GET, no DELETE (a
  // registration GitHub left behind is deleted by garbage collection, after a re-read).
  if (!ranItsJob && (await deleteRegistration(ctx, pool, current, obs)) === 'busy') {
    if (alive) {
      // Alive and running a job: it stays, whatever the reason for removing it was.
      current = await saveRunner(ctx, current, { state: 'busy' }, 'busy', 'kept: GitHub says busy');
    }
    // Task gone but GitHub still says busy: its flag lags. Look again later.
    return { record: current, requeueAfterMs: ctx.settings.runnerPollMs };
  }
  await stopTaskOf(ctx, pool, current, obs, reason);
  ctx.jitConfigs?.delete(current.name);
  const cost = runnerCost(ctx, current, obs);
  current = await saveRunner(
    ctx,
    current,
    {
      state: 'finished',
      expiresAt: Math.floor(ctx.clock.now() / 1000) + ctx.settings.finishedTtlSeconds,
      ...(cost ? { cost } : {}),
    },
    'finished',
    reason,
  );
  if (cost && !record.cost) {
    ctx.metrics?.runnerCost?.(pool.name, cost.repository ?? 'unknown', cost.usd);
  }
  return { record: current };
}

/**
 * A launch attempt failed (task did not start, runner did not register in time, RunTask failed):
 * remove what exists outside, then relaunch the same record or, after the last attempt, finish it
 * with the error (the pool turns Degraded).
 */
async function failAttempt(
  ctx: ReconcileContext,
  pool: PoolRecord,
  record: RunnerRecord,
  obs: RunnerObservation,
  reason: string,
): Promise<StepOutcome> {
  if ((await deleteRegistration(ctx, pool, record, obs)) === 'busy') {
    // It came online and took a job after all.
    return {
      record: await markBusy(ctx, record, obs.job),
      requeueAfterMs: ctx.settings.runnerPollMs,
    };
  }
  await stopTaskOf(ctx, pool, record, obs, reason);
  ctx.jitConfigs?.delete(record.name);
  const taskArn = record.taskArn ?? obs.task?.arn;
  ctx.log.warn(
    { runner: record.name, pool: pool.name, taskArn, attempts: record.attempts, reason },
    'launch attempt failed',
  );
  ctx.metrics?.launchFailed(pool.name, reason);
  if (record.attempts >= ctx.settings.maxLaunchAttempts) {
    const finished = await saveRunner(
      ctx,
      record,
      {
        state: 'finished',
        lastError: reason,
        expiresAt: Math.floor(ctx.clock.now() / 1000) + ctx.settings.finishedTtlSeconds,
      },
      'launch-failed',
      reason,
    );
    return { record: finished, failure: reason };
  }
  const relaunch = await saveRunner(
    ctx,
    record,
    {
      state: 'pending',
      githubRunnerId: undefined,
      taskArn: undefined,
      capacityProvider: undefined,
      lastError: reason,
    },
    'relaunch',
    reason,
  );
  return { record: relaunch, requeueAfterMs: 0, failure: reason };
}
