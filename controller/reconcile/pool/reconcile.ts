// The pool reconciler, a recipe: read the pool, its runner records and the queued jobs; look at
// GitHub and ECS once; step every runner record; if the pool is being deleted, drain it and then
// remove it; otherwise count demand against supply, cancel or remove what is not needed, launch
// what is missing (up to maxRunners); write the status once; return the earliest requeue.

import { TASK_STARTED_BY, TASK_TAG_POOL, TASK_TAG_RUNNER } from '../../api/constants.ts';
import { runnerLabels } from '../../api/matching.ts';
import type { Condition, RunnerPoolStatus } from '../../api/types.ts';
import { ConflictError, FencingError } from '../../store/errors.ts';
import type { JobRecord, PoolRecord, RunnerRecord } from '../../store/types.ts';
import { isoNow, listOurRunners, type ReconcileContext } from '../context.ts';
import { durationOr } from '../durations.ts';
import { LeaseLostError, ReconcileError, TerminalReconcileError } from '../errors.ts';
import { disallowedNetwork, pathToString } from '../../api/validate.ts';
import { JobConfirmer, needsConfirmation, settleJob } from '../confirm.ts';
import { poolServesJob } from '../jobs.ts';
import { githubScope, runnerName } from '../names.ts';
import {
  finish,
  stepRunner,
  type PoolTimeoutsMs,
  type RunnerObservation,
  type StepOutcome,
} from '../runner/lifecycle.ts';
import { LIVE_STATES, RAN_A_JOB, SUPPLY_STATES, lastEventAt } from '../runner/record.ts';
import { pendingInterruptions, stepSpotReruns } from '../runner/spot-rerun.ts';
import { earliestRequeue, type ReconcileResult } from '../types.ts';
import {
  capPerRepository,
  describeHeld,
  describeSpills,
  planPool,
  planState,
  routeDemand,
  summariseSpills,
  type DemandJob,
  type Plan,
  type SpillSummary,
} from './demand.ts';
import { describeAll, observeRunners } from './observe.ts';

export function poolTimeouts(ctx: ReconcileContext, pool: PoolRecord): PoolTimeoutsMs {
  const t = pool.spec.timeouts ?? {};
  const s = ctx.settings;
  try {
    return {
      registrationMs: durationOr(t.registration, s.registrationTimeoutMs, 'timeouts.registration'),
      idleMs: durationOr(t.idle, s.idleTimeoutMs, 'timeouts.idle'),
      maxJobMs: durationOr(t.maxJobDuration, s.maxJobDurationMs, 'timeouts.maxJobDuration'),
    };
  } catch (err) {
    throw new TerminalReconcileError(`pool ${pool.name}: ${(err as Error).message}`, pool.name, {
      cause: err,
    });
  }
}

/** Runs `fn` over `items`, `limit` at a time; every item runs even when some fail. */
async function eachLimited<T, R>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  const errors: unknown[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!);
      } catch (err) {
        errors.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (errors.length) throw errors[0];
  return results;
}

interface Demand {
  jobs: DemandJob[];
  matched: JobRecord[];
  refusals: string[];
  /** Queued jobs held back by maxRunnersPerRepository, per repository. */
  held: Map<string, number>;
  /** Where this pool's overflow went, and what it took over from paused or full pools. */
  spills: SpillSummary;
  /** Jobs of unsigned events GitHub has not confirmed (yet): not demand. */
  unconfirmed: { job: JobRecord; reason: string; retryInMs?: number }[];
}

/** Queued jobs (not waiting) that the matching rules give to this pool, and refusals. */
async function demandOf(
  ctx: ReconcileContext,
  pool: PoolRecord,
  pools: PoolRecord[],
): Promise<Demand> {
  const queued = await ctx.store.listJobs({ status: ['queued'] });
  const out: Demand = {
    jobs: [],
    matched: [],
    refusals: [],
    held: new Map(),
    spills: { to: [], from: [] },
    unconfirmed: [],
  };
  const candidatesOf = (job: JobRecord) => pools.filter((p) => poolServesJob(job, p.spec));
  // Jobs first seen in unsigned events are not demand anywhere until GitHub confirms them: the
  // pool they would go to asks (one listing per run), the others leave them out.
  const ours = routeDemand(queued, candidatesOf).filter(
    ({ job, match }) => needsConfirmation(job) && match.kind !== 'none' && match.pool === pool.name,
  );
  const confirmer = ctx.confirmer ?? new JobConfirmer({ github: ctx.github, clock: ctx.clock });
  const confirmed = await eachLimited(ours, ctx.settings.launchConcurrency, async ({ job }) => {
    const result = await settleJob({ ...ctx, confirmer }, job);
    if (result.demand) return result.job;
    out.unconfirmed.push({
      job,
      reason: result.reason ?? 'not confirmed',
      ...(result.retryInMs !== undefined ? { retryInMs: result.retryInMs } : {}),
    });
    return undefined;
  });
  const demand = [
    ...queued.filter((job) => !needsConfirmation(job)),
    ...confirmed.filter((job): job is JobRecord => job !== undefined),
  ];
  // Paused or full pools hand their overflow to the next match (routeDemand).
  const routed = routeDemand(demand, candidatesOf);
  out.spills = summariseSpills(routed, pool.name);
  for (const { job, match } of routed) {
    if (match.kind === 'none' || match.pool !== pool.name) continue;
    if (match.kind === 'refused') {
      out.refusals.push(match.reason);
      continue;
    }
    out.matched.push(job);
    out.jobs.push(match.sizeRequested && match.size ? { requestedSize: match.size.label } : {});
  }
  return out;
}

/**
 * Applies the pool's maxRunnersPerRepository: a repository's jobs beyond the cap, less the
 * pool's busy runners whose job (of that repository) has left the queue, are not demand.
 */
function capDemand(
  pool: PoolRecord,
  demand: Demand,
  busy: RunnerRecord[],
  observations: Map<string, RunnerObservation>,
): Demand {
  const cap = pool.spec.maxRunnersPerRepository;
  if (cap === undefined) return demand;
  const running = new Map<string, number>();
  for (const r of busy) {
    const job = observations.get(r.name)?.job;
    if (!job || !boundJobLeftQueue(r, observations)) continue;
    running.set(job.repository, (running.get(job.repository) ?? 0) + 1);
  }
  const indexed = demand.matched.map((job, k) => ({ repository: job.repository, k }));
  const { kept, held } = capPerRepository(indexed, running, cap);
  return {
    ...demand,
    matched: kept.map((x) => demand.matched[x.k]!),
    jobs: kept.map((x) => demand.jobs[x.k]!),
    held,
  };
}

function condition(
  previous: Condition[] | undefined,
  now: string,
  type: string,
  status: Condition['status'],
  reason: string,
  message: string,
): Condition {
  const old = previous?.find((c) => c.type === type);
  const unchanged = old && old.status === status && old.reason === reason;
  return {
    type,
    status,
    reason,
    message,
    lastTransitionTime: unchanged ? old.lastTransitionTime : now,
  };
}

function sameStatus(a: RunnerPoolStatus | undefined, b: RunnerPoolStatus): boolean {
  if (!a) return false;
  const strip = (s: RunnerPoolStatus) =>
    JSON.stringify({
      ...s,
      conditions: s.conditions.map((c) => ({ ...c, lastTransitionTime: '' })),
    });
  return strip(a) === strip(b);
}

async function writeStatus(
  ctx: ReconcileContext,
  pool: PoolRecord,
  build: (previous: RunnerPoolStatus | undefined) => RunnerPoolStatus,
): Promise<void> {
  let current = pool;
  for (let attempt = 0; ; attempt++) {
    const status = build(current.status);
    if (sameStatus(current.status, status)) return;
    try {
      await ctx.store.updatePoolStatus(current.name, status, current.resourceVersion, ctx.fenced());
      return;
    } catch (err) {
      if (!(err instanceof ConflictError) || attempt >= 2) throw err;
      const fresh = await ctx.store.getPool(current.name);
      if (!fresh) return;
      current = fresh;
    }
  }
}

function counts(runners: RunnerRecord[]) {
  const n = (states: string[]) => runners.filter((r) => states.includes(r.state)).length;
  return {
    launching: n(['pending', 'configured', 'launching']),
    idle: n(['idle']),
    busy: n(['busy']),
  };
}

/** A runner that used up its launch attempts recently holds the pool's launches back. */
function recentLaunchFailure(
  ctx: ReconcileContext,
  records: RunnerRecord[],
): { error: string; retryInMs: number } | undefined {
  const now = ctx.clock.now();
  let latest: { at: number; error: string } | undefined;
  for (const r of records) {
    const at = lastEventAt(r, 'launch-failed');
    if (at !== undefined && (!latest || at > latest.at)) latest = { at, error: r.lastError ?? '' };
  }
  if (!latest) return undefined;
  const retryInMs = latest.at + ctx.settings.launchBackoffMs - now;
  return retryInMs > 0 ? { error: latest.error, retryInMs } : undefined;
}

/** Has the job a busy runner runs been reported as started (so it is no longer queued)? */
function boundJobLeftQueue(
  runner: RunnerRecord,
  observations: Map<string, RunnerObservation>,
): boolean {
  const job = observations.get(runner.name)?.job;
  return !!job && job.status !== 'queued' && job.status !== 'waiting';
}

/**
 * Runners that finished lately after running a job the store does not yet know left the queue
 * (its in_progress and completed events are late): that job still counts as queued demand, and
 * without this the pool would launch a second runner for it. Each counts as serving one queued
 * job of its size until its job's events arrive or `windowMs` passes (the resync recovers lost
 * events within one period).
 */
export function finishedUnbound(
  ctx: ReconcileContext,
  records: RunnerRecord[],
  windowMs: number,
): RunnerRecord[] {
  const now = ctx.clock.now();
  return records.filter((r) => {
    if (r.state !== 'finished' || r.jobId !== undefined) return false;
    if (ctx.jobHints?.has(r.name)) return false; // its job's events arrived
    const finishedAt = lastEventAt(r, 'finished');
    if (finishedAt === undefined || now - finishedAt > windowMs) return false;
    const finished = r.timeline.findLast((t) => t.event === 'finished');
    return r.timeline.some((t) => t.event === 'busy') || RAN_A_JOB.includes(finished?.detail ?? '');
  });
}

/**
 * Of the runners `finishedUnbound` found, those that may have run one of the queued jobs: each
 * is matched to a distinct queued job of its size (or naming none) that was created before the
 * runner finished. A job queued after a runner finished cannot be the one it ran, so a fresh
 * job is never held back by old runners.
 */
function lateJobRunners(runners: RunnerRecord[], demand: Demand): RunnerRecord[] {
  const used = new Set<number>();
  const out: RunnerRecord[] = [];
  const byFinish = [...runners].sort(
    (a, b) => (lastEventAt(a, 'finished') ?? 0) - (lastEventAt(b, 'finished') ?? 0),
  );
  for (const r of byFinish) {
    const finishedAt = lastEventAt(r, 'finished') ?? 0;
    const i = demand.matched.findIndex((job, k) => {
      // GitHub's created_at has whole seconds: a job of the same second is not counted.
      if (used.has(k) || Date.parse(job.createdAt) > finishedAt - 1_000) return false;
      const size = demand.jobs[k]!.requestedSize;
      return size === undefined || size.toLowerCase() === (r.size ?? '').toLowerCase();
    });
    if (i < 0) continue;
    used.add(i);
    out.push(r);
  }
  return out;
}

/**
 * A runner finished while the store still shows its job running. When the runner ran the job
 * and exited, that corroborates an unsigned completed claim: the job is completed now. Otherwise
 * the job's completed event is normally seconds away: the resync reads the jobs still
 * in_progress `completedEventGraceMs` after their runner finished (resync.ts), one listing per
 * run, so a lost event does not leave a job in_progress forever.
 */
async function refreshFinishedJobs(
  ctx: ReconcileContext,
  finished: RunnerRecord[],
  observations: Map<string, RunnerObservation>,
): Promise<void> {
  for (const runner of finished) {
    const job = observations.get(runner.name)?.job;
    if (!job || job.status !== 'in_progress') continue;
    const ended = runner.timeline.findLast((t) => t.event === 'finished')?.detail ?? '';
    if (!job.claimedCompletion || job.runnerName !== runner.name || !RAN_A_JOB.includes(ended)) {
      continue;
    }
    try {
      // Our runner ran the job and exited: that corroborates the claimed completion.
      const { version: _v, updatedAt: _u, claimedCompletion: claim, ...rest } = job;
      await ctx.store.recordJob({
        ...rest,
        status: 'completed',
        ...(claim.conclusion ? { conclusion: claim.conclusion } : {}),
        ...(claim.completedAt ? { completedAt: claim.completedAt } : {}),
        confirmation: 'confirmed',
      });
    } catch (err) {
      ctx.log.warn(
        { jobId: job.id, runner: runner.name, err },
        'could not settle the claimed completion of a finished runner',
      );
    }
  }
}

/**
 * Before a deleted pool's record goes, confirm that nothing of it is left: every record the
 * listing showed is re-read by name (a consistent read), and GitHub runners named for the pool
 * and tasks tagged with it must be gone (a record written a moment ago may be missing from the
 * lagging listing, but what it created outside is not). Returns what is left, by name.
 */
async function leftBehind(
  ctx: ReconcileContext,
  pool: PoolRecord,
  records: RunnerRecord[],
): Promise<string[]> {
  const left = new Set<string>();
  for (const r of records) {
    const fresh = await ctx.store.getRunner(r.name);
    if (fresh && fresh.state !== 'finished') left.add(r.name);
  }
  const finished = new Set(records.filter((r) => !left.has(r.name)).map((r) => r.name));
  // The name every runner of this pool starts with (the pool part may be shortened).
  const namePrefix = runnerName(ctx.settings.runnerNamePrefix, pool.name, 'x'.repeat(8)).slice(
    0,
    -8,
  );
  for (const gh of (await listOurRunners(ctx, githubScope(pool.spec.github))).runners) {
    if (gh.name.startsWith(namePrefix) && !finished.has(gh.name)) left.add(gh.name);
  }
  const cluster = pool.spec.ecs.cluster;
  const arns = await ctx.ecs.listTasks(cluster, { startedBy: TASK_STARTED_BY });
  for (const task of arns.length ? await describeAll(ctx, cluster, arns) : []) {
    if (task.tags[TASK_TAG_POOL] !== pool.name || task.lastStatus === 'STOPPED') continue;
    const runner = task.tags[TASK_TAG_RUNNER] ?? task.arn;
    if (!finished.has(runner)) left.add(runner);
  }
  return [...left].sort();
}

export function createPoolReconciler(ctx: ReconcileContext) {
  return async function reconcilePool(name: string): Promise<ReconcileResult | void> {
    const pool = await ctx.store.getPool(name);
    if (!pool) return;
    const timeouts = poolTimeouts(ctx, pool);
    const records = await ctx.store.listRunners({ pool: name });
    const live = records.filter((r) => LIVE_STATES.includes(r.state));
    const observations = await observeRunners(ctx, pool, live);
    const obs = (r: RunnerRecord): RunnerObservation => observations.get(r.name) ?? {};
    const requeues: (number | undefined)[] = [];
    const failures: string[] = [];
    const note = (o: StepOutcome) => {
      requeues.push(o.requeueAfterMs);
      if (o.failure) failures.push(o.failure);
      return o.record;
    };

    // 1. Step every record that has something outside (pending ones wait for the plan).
    // A deleted pool does not finish launches: configured records are drained instead.
    const waits = (r: RunnerRecord) =>
      r.state === 'pending' || (!!pool.deletionRequestedAt && r.state === 'configured');
    // One runner that cannot be stepped (an API error) must not hold up the rest of the pool:
    // it keeps its record for this pass, and the pass fails at the end so the key backs off.
    const stepErrors: unknown[] = [];
    const stepped = await eachLimited(live, ctx.settings.launchConcurrency, async (r) => {
      if (waits(r)) return r;
      try {
        return note(await stepRunner(ctx, pool, r, obs(r), timeouts));
      } catch (err) {
        if (err instanceof LeaseLostError || err instanceof FencingError) throw err;
        ctx.log.warn(
          { runner: r.name, pool: name, taskArn: r.taskArn, jobId: r.jobId, err },
          'runner step failed',
        );
        stepErrors.push(err);
        return r;
      }
    });
    let current = stepped.filter((r) => r.state !== 'finished');
    await refreshFinishedJobs(
      ctx,
      stepped.filter((r) => r.state === 'finished'),
      observations,
    );

    // 2. Deleted pool: drain everything not busy, wait for the busy ones, then remove it.
    if (pool.deletionRequestedAt) {
      const toDrain = current.filter((r) => r.state !== 'busy' && r.state !== 'draining');
      const drained = await eachLimited(toDrain, ctx.settings.launchConcurrency, async (r) =>
        note(await finish(ctx, pool, r, obs(r), 'pool deleted')),
      );
      const remaining = [
        ...current.filter((r) => r.state === 'busy' || r.state === 'draining'),
        ...drained.filter((r) => r.state !== 'finished'),
      ];
      const leftOutside = remaining.length ? [] : await leftBehind(ctx, pool, records);
      if (!remaining.length && !leftOutside.length) {
        const fresh = await ctx.store.getPool(name);
        if (fresh) await ctx.store.removePool(name, fresh.resourceVersion, ctx.fenced());
        ctx.log.info({ pool: name }, 'pool drained and removed');
        return;
      }
      if (leftOutside.length) {
        // The record listing lags: what it does not show yet is drained on a later pass.
        ctx.log.info({ pool: name, left: leftOutside }, 'pool not removed yet: runners left');
      }
      const leftCount = remaining.length + leftOutside.length;
      const now = isoNow(ctx);
      await writeStatus(ctx, pool, (prev) => ({
        observedGeneration: pool.generation,
        queuedJobs: 0,
        ...counts(remaining),
        conditions: [
          condition(
            prev?.conditions,
            now,
            'Ready',
            'False',
            'Deleting',
            `draining: ${leftCount} runner(s) left, busy ones finish their job first`,
          ),
          condition(prev?.conditions, now, 'Degraded', 'False', 'AsExpected', ''),
        ],
      }));
      return { requeueAfterMs: earliestRequeue(...requeues, ctx.settings.runnerPollMs) };
    }

    // 3. Count demand against supply.
    const pools = (await ctx.store.listPools()).filter((p) => !p.deletionRequestedAt);
    const allDemand = await demandOf(ctx, pool, pools);
    const demand = capDemand(
      pool,
      allDemand,
      current.filter((r) => r.state === 'busy'),
      observations,
    );

    // 4. Spot interruptions: re-run the interrupted job once, and find the job GitHub queued for
    // it among this demand (so a re-run counted now is known as one before anything launches).
    const interrupted = pendingInterruptions([...records, ...stepped]);
    const linked = interrupted.length
      ? await stepSpotReruns(ctx, pool, interrupted, demand.matched)
      : { linked: [] };
    requeues.push(linked.requeueAfterMs);
    const plan: Plan = planPool({
      maxRunners: pool.spec.maxRunners,
      minIdle: pool.spec.minIdle ?? 0,
      defaultSize: pool.spec.defaultSize,
      jobs: demand.jobs,
      busyUnbound: [
        ...current.filter((r) => r.state === 'busy' && !boundJobLeftQueue(r, observations)),
        ...lateJobRunners(
          finishedUnbound(
            ctx,
            [...records.filter((r) => r.state === 'finished'), ...stepped],
            ctx.settings.unboundJobWindowMs,
          ),
          demand,
        ),
      ].map((r) => ({ size: r.size })),
      runners: current.map((r) => ({
        name: r.name,
        // What the cache says now, not at the observation: the demand was read after it.
        state: planState(r, ctx.cache?.records.jobOfRunner(r.name)),
        size: r.size,
        idleSinceMs: lastEventAt(r, 'idle'),
      })),
      nowMs: ctx.clock.now(),
      idleTimeoutMs: timeouts.idleMs,
    });
    requeues.push(plan.nextIdleExpiryMs);
    for (const u of demand.unconfirmed) {
      if (u.retryInMs !== undefined) requeues.push(Math.max(1_000, u.retryInMs));
    }

    // 5. Cancel pending records and remove idle runners no job needs.
    const byName = new Map(current.map((r) => [r.name, r]));
    const unneeded = [...plan.cancel, ...plan.remove].map((n) => byName.get(n)!);
    await eachLimited(unneeded, ctx.settings.launchConcurrency, async (r) => {
      const reason = r.state === 'pending' ? 'not needed any more' : 'idle timeout, no demand';
      try {
        byName.set(r.name, note(await finish(ctx, pool, r, obs(r), reason)));
      } catch (err) {
        if (err instanceof LeaseLostError || err instanceof FencingError) throw err;
        ctx.log.warn(
          { runner: r.name, pool: name, taskArn: r.taskArn, jobId: r.jobId, err },
          'runner removal failed',
        );
        stepErrors.push(err);
      }
    });

    // 6. Launch: pending records still needed, plus new ones. Held back after repeated failures.
    // Spot re-runs queued without an on-demand runner starting for them get one.
    const held = recentLaunchFailure(ctx, [...records, ...stepped]);
    const toLaunch: RunnerRecord[] = [];
    // A pool written past apply's check (or before the deployment narrowed its network) never
    // launches into a subnet or security group the deployment does not allow.
    const network = disallowedNetwork(pool, ctx.settings.allowedNetwork);
    if (network.length > 0) {
      stepErrors.push(
        new TerminalReconcileError(
          `pool ${name}: ${network.map((n) => `${pathToString(n.segments)}: ${n.message}`).join('; ')}`,
          name,
        ),
      );
    } else if (held) {
      requeues.push(held.retryInMs);
    } else {
      toLaunch.push(...[...byName.values()].filter((r) => r.state === 'pending'));
      const onDemand = spotRerunsWithoutRunner(pool, demand, linked.linked, [...byName.values()]);
      for (const sizeLabel of plan.launch) {
        const i = onDemand.indexOf(sizeKey(sizeLabel));
        if (i >= 0) onDemand.splice(i, 1);
        toLaunch.push(await createRecord(ctx, pool, sizeLabel, i >= 0));
      }
    }
    await eachLimited(toLaunch, ctx.settings.launchConcurrency, async (r) => {
      byName.set(r.name, note(await stepRunner(ctx, pool, r, obs(r), timeouts)));
    });
    current = [...byName.values()].filter((r) => r.state !== 'finished');

    // 7. Remember the pool on the jobs it counts (for drift and the timeline).
    for (const job of allDemand.matched) {
      if (job.pool === name) continue;
      try {
        await ctx.store.updateJob({ ...job, pool: name }, ctx.fenced());
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
      }
    }

    // 8. Status, written only when it changed.
    const failure = failures.at(-1) ?? held?.error;
    const refused = [...new Set(demand.refusals)];
    const wasRefusing = pool.status?.conditions.some((x) => x.reason === 'SizeRefused');
    if (refused.length && !wasRefusing)
      ctx.log.warn({ pool: name, refused }, 'jobs refused by pool');
    const now = isoNow(ctx);
    await writeStatus(ctx, pool, (prev) => ({
      observedGeneration: pool.generation,
      queuedJobs: allDemand.jobs.length,
      ...counts(current),
      ...(demand.spills.to.length ? { spilledTo: demand.spills.to } : {}),
      ...(demand.spills.from.length ? { takenOverFrom: demand.spills.from } : {}),
      conditions: [
        condition(
          prev?.conditions,
          now,
          'Ready',
          'True',
          'Reconciled',
          `${plan.supply} runner(s) starting or idle for a demand of ${plan.demand}` +
            (plan.atMaxRunners ? ` (capped by maxRunners ${pool.spec.maxRunners})` : '') +
            (demand.held.size
              ? `; queued jobs held by maxRunnersPerRepository ${pool.spec.maxRunnersPerRepository}: ${describeHeld(demand.held)}`
              : '') +
            (demand.spills.to.length || demand.spills.from.length
              ? `; ${describeSpills(demand.spills)}`
              : ''),
        ),
        failure
          ? condition(prev?.conditions, now, 'Degraded', 'True', 'LaunchFailed', failure)
          : refused.length
            ? condition(
                prev?.conditions,
                now,
                'Degraded',
                'True',
                'SizeRefused',
                `${demand.refusals.length} queued job(s) refused: ${refused.join('; ')}`,
              )
            : condition(prev?.conditions, now, 'Degraded', 'False', 'AsExpected', ''),
      ],
    }));

    if (stepErrors.length) {
      throw new ReconcileError(
        `pool ${name}: ${stepErrors.length} runner(s) could not be stepped: ${(stepErrors[0] as Error).message}`,
        { cause: stepErrors[0] },
      );
    }
    return {
      requeueAfterMs: earliestRequeue(
        ...requeues,
        current.length || demand.jobs.length ? ctx.settings.runnerPollMs : undefined,
      ),
    };
  };
}

function createdDetail(size: string | undefined, onDemand: boolean): { detail?: string } {
  const parts = [
    ...(size ? [`size ${size}`] : []),
    ...(onDemand ? ['on-demand for a spot re-run'] : []),
  ];
  return parts.length ? { detail: parts.join(', ') } : {};
}

const sizeKey = (size: string | undefined) => size?.toLowerCase() ?? '';

/**
 * The sizes (lower case; '' for none) of the queued spot re-runs of this pool beyond the on-demand
 * runners of that size starting or idle: each needs its launch on on-demand capacity.
 */
function spotRerunsWithoutRunner(
  pool: PoolRecord,
  demand: Demand,
  linked: JobRecord[],
  runners: RunnerRecord[],
): string[] {
  const linkedIds = new Set(linked.map((j) => j.id));
  const need: string[] = [];
  demand.matched.forEach((job, k) => {
    if (job.spotRerunOf === undefined && !linkedIds.has(job.id)) return;
    need.push(sizeKey(demand.jobs[k]!.requestedSize ?? pool.spec.defaultSize));
  });
  for (const r of runners) {
    if (!r.onDemand || !SUPPLY_STATES.includes(r.state)) continue;
    const i = need.indexOf(sizeKey(r.size));
    if (i >= 0) need.splice(i, 1);
  }
  return need;
}

async function createRecord(
  ctx: ReconcileContext,
  pool: PoolRecord,
  sizeLabel: string | undefined,
  onDemand = false,
): Promise<RunnerRecord> {
  const size = pool.spec.sizes?.find((s) => s.label === sizeLabel);
  const now = isoNow(ctx);
  const name = runnerName(ctx.settings.runnerNamePrefix, pool.name, ctx.suffix());
  return ctx.store.createRunner(
    {
      name,
      pool: pool.name,
      state: 'pending',
      labels: runnerLabels(pool, size),
      ...(size ? { size: size.label, cpu: size.cpu, memory: size.memory } : {}),
      ...(size?.ephemeralStorageGiB ? { ephemeralStorageGiB: size.ephemeralStorageGiB } : {}),
      ...(onDemand ? { onDemand: true } : {}),
      attempts: 0,
      createdAt: now,
      timeline: [{ at: now, event: 'created', ...createdDetail(size?.label, onDemand) }],
    },
    ctx.fenced(),
  );
}
