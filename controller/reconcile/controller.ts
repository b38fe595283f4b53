// The controller: one work queue of keys (`pool/<name>`, `gc`, `resync`) run only while this
// replica holds the DynamoDB lease. The lease version fences the writes that matter, so a replica
// that lost the lease without noticing cannot create or move runner records.

import { choosePool, rankPools } from '../api/matching.ts';
import { createInformer, type Informer } from '../cache/informer.ts';
import type { EcsTaskEvent } from '../events/ecs-task-event.ts';
import type { EcsProvider } from '../ecs/types.ts';
import type { GitHubProvider } from '../github/types.ts';
import type { ReconcileMetrics } from '../observability/sink.ts';
import { FencingError } from '../store/errors.ts';
import type { JobRecord, LeaseRecord, PoolRecord, Store } from '../store/types.ts';
import { LeaseCallTimeoutError, LeaseLostError } from './errors.ts';
import { runActing } from '../util/acting.ts';
import { systemClock, type Clock } from '../util/clock.ts';
import { JobConfirmer } from './confirm.ts';
import { DEFAULT_SETTINGS, type ReconcileContext, type ReconcileSettings } from './context.ts';
import { createGarbageCollector } from './gc.ts';
import { poolServesJob } from './jobs.ts';
import { ownedPrefix, randomSuffix, runnerNamePrefixProblem } from './names.ts';
import { createRunnerListing, type ListingBudget } from './runner-listing.ts';
import { RepositoryVisibilities } from './visibility.ts';
import { createPoolReconciler } from './pool/reconcile.ts';
import { createJobResync } from './resync.ts';
import type { Logger, ReconcileResult } from './types.ts';
import { WorkQueue } from './workqueue.ts';

export const LEASE_NAME = 'controller';
export const GC_KEY = 'gc';
export const RESYNC_KEY = 'resync';
const POOL_KEY_PREFIX = 'pool/';

/** Runner-to-job hints kept (far more than runners live at once). */
const MAX_JOB_HINTS = 10_000;

export const poolKey = (name: string) => `${POOL_KEY_PREFIX}${name}`;

export interface ControllerConfig extends Partial<ReconcileSettings> {
  /** Period of the full resync (every pool, garbage collection, queued jobs). Default 60 s. */
  resyncMs?: number;
  /**
   * Least time between two listings of an organization's installation repositories (repository
   * discovery). Default: the resync period. The controller app uses 10 minutes: repositories
   * seen in events are known at once; discovery is for those whose every event was lost.
   */
  discoveryMs?: number;
  /** Lease time to live; renewed every third of it. Default 15 s. */
  leaseMs?: number;
  /**
   * Deadline of one acquire-or-renew (all its store calls together): the calls are aborted and
   * the attempt counts as failed once it passes. Default a quarter of the lease; always less
   * than a third, so a black-holed renewal is given up before the next one is due.
   */
  leaseCallTimeoutMs?: number;
  /**
   * This replica stops acting this long before its lease runs out by its own clock, so that
   * clock skew and requests still in flight cannot overlap with a successor. Default a fifth of
   * the lease (3 s), at least 1 s.
   */
  leaseSafetyMarginMs?: number;
  /**
   * How long one listing of a scope's GitHub runners is shared within a pass. Default half the
   * runner poll period, at most 5 s.
   */
  listingTtlMs?: number;
  /**
   * Period of the cache's full relist (pools, live runner records, open jobs, each cluster's
   * running tasks), jittered by a fifth either way. Default 5 min. Open jobs are also relisted
   * at every resync, since any replica may ingest a job event.
   */
  relistMs?: number;
  /**
   * ECS Task State Change events reach this controller (onTaskEvent): cached task descriptions
   * are used until an event or a relist says a task changed. Default false: every pass
   * describes the tasks of its live runners.
   */
  taskEvents?: boolean;
  /**
   * Passes read GitHub's runner listing from the last completed one while the next is taken
   * (runner-listing.ts), instead of waiting for it. Default false; the controller app turns it on.
   */
  backgroundListing?: boolean;
  /**
   * With `backgroundListing`: the share of the REST budget the runner listings may spend; a scope
   * is listed again once the period this allows has passed (runner-listing.ts). Without: once
   * per pass and `listingTtlMs`.
   */
  listingBudget?: ListingBudget;
  /** Keys reconciled at once. Default 4. */
  concurrency?: number;
  /** Backoff of failing keys. */
  backoff?: { baseMs?: number; maxMs?: number; jitter?: number };
}

export interface ControllerOptions {
  store: Store;
  github: GitHubProvider;
  ecs: EcsProvider;
  clock: Clock;
  log: Logger;
  config?: ControllerConfig;
  /** Unique per replica (e.g. hostname + pid + random). */
  leaseHolderId: string;
  /** Runner name suffixes (default: random hex). */
  suffix?: () => string;
  /** Jitter source of the backoff. */
  random?: () => number;
  /** Metrics sink: launches, launch failures, reconcile durations, queue depth. */
  metrics?: ReconcileMetrics;
  /**
   * A clock that never jumps, in ms, to judge the lease by. Default performance.now() with the
   * system clock, else the given clock's time (a simulation's scaled or manual time).
   */
  monotonicNow?: () => number;
}

export interface Controller {
  /** Starts competing for the lease; acts while it holds it. */
  start(): void;
  /** Stops acting, waits for running reconciles and releases the lease. */
  stop(): Promise<void>;
  /** Called by ingestion after a job record changed: wakes the pools concerned. */
  onJobChanged(job: JobRecord): Promise<void>;
  /** An ECS Task State Change event: updates the cache and wakes the runner's pool. */
  onTaskEvent(event: EcsTaskEvent): void;
  /** The informer cache (what the reconcilers read). */
  cache: Informer;
  /** Tests and tools: takes the lease if free, reconciles every key once, waits until idle. */
  reconcileOnce(): Promise<boolean>;
  /** Resolves when no key is waiting or running. */
  idle(): Promise<void>;
  /** Wakes one pool now. */
  enqueuePool(name: string): void;
  isLeader(): boolean;
  leaseVersion(): number | undefined;
}

export function createController(options: ControllerOptions): Controller {
  const { github, clock, log, leaseHolderId } = options;
  const config = options.config ?? {};
  const settings: ReconcileSettings = { ...DEFAULT_SETTINGS };
  for (const [k, v] of Object.entries(config)) {
    if (k in settings && v !== undefined) (settings as unknown as Record<string, unknown>)[k] = v;
  }
  // What the reconcilers read: the store and ECS through the informer cache (cache/informer.ts).
  const informer = createInformer({
    store: options.store,
    ecs: options.ecs,
    clock,
    log,
    ...(config.relistMs !== undefined ? { relistMs: config.relistMs } : {}),
    ...(options.random ? { random: options.random } : {}),
    taskEvents: config.taskEvents ?? false,
    // A pass still counts runners that finished a moment ago (late job events, launch backoff).
    finishedTailMs:
      Math.max(settings.unboundJobWindowMs, settings.launchBackoffMs) + settings.runnerPollMs,
  });
  const store = informer.store;
  const ecs = informer.ecs;
  // Fail at start, not at the first launch: a prefix too long makes every runner name invalid.
  const prefixProblem = runnerNamePrefixProblem(settings.runnerNamePrefix);
  if (prefixProblem) throw new RangeError(`runnerNamePrefix: ${prefixProblem}`);
  const leaseMs = config.leaseMs ?? 15_000;
  const leaseMarginMs = Math.min(
    config.leaseSafetyMarginMs ?? Math.max(1_000, Math.floor(leaseMs / 5)),
    Math.floor(leaseMs / 2),
  );
  const leaseCallTimeoutMs = Math.min(
    config.leaseCallTimeoutMs ?? Math.floor(leaseMs / 4),
    Math.ceil(leaseMs / 3) - 1,
  );
  // The lease is judged on a monotonic clock, never by comparing wall clocks across replicas:
  // the holder acts until leaseMs minus the margin after it SENT its last successful renewal;
  // a contender takes over only once it has seen the same lease record, unchanged, for leaseMs
  // of its own time (a record released or never written is free at once). A wall clock that is
  // ahead or behind on either replica changes neither.
  const mono =
    options.monotonicNow ?? (clock === systemClock ? () => performance.now() : () => clock.now());
  let fence: number | undefined;
  /** Until when this replica may act, in monotonic ms. */
  let leaseValidUntil = 0;
  const leaseRunOut = () => mono() >= leaseValidUntil;
  /** The other holder's record as last seen, and since when (monotonic) it has not changed. */
  let observed: { holder: string; version: number; since: number } | undefined;
  /** The acquire-or-renew in flight: one at a time, so a replica never races itself. */
  let leaseAttempt: Promise<void> | undefined;
  let leader = false;
  let running = false;
  /** stop() was called: a lease answer arriving now must not start acting again. */
  let stopping = false;
  let leaseAbort: AbortController | undefined;
  let leaseLoop: Promise<void> | undefined;

  const ctx: ReconcileContext = {
    store,
    github,
    ecs,
    clock,
    log,
    ...(options.metrics ? { metrics: options.metrics } : {}),
    settings,
    // Every fenced write first checks that the lease has not run out on this replica's clock
    // (a replica paused past its lease must not act on its way out); the store then checks the
    // fence against newer holders' writes.
    cache: informer,
    fenced: () => {
      if (!leader || leaseRunOut()) {
        throw new LeaseLostError(`lease of ${leaseHolderId} expired; not acting`);
      }
      return fence === undefined ? {} : { fence };
    },
    suffix: options.suffix ?? randomSuffix,
    jitConfigs: new Map(),
    jobHints: new Map(),
    confirmer: new JobConfirmer({
      github,
      clock,
      ...(options.metrics?.jobConfirmation
        ? { onCall: options.metrics.jobConfirmation.bind(options.metrics) }
        : {}),
    }),
    visibilities: new RepositoryVisibilities({ github, clock }),
    runnerListing: createRunnerListing(
      github,
      clock,
      ownedPrefix(settings.runnerNamePrefix),
      config.listingTtlMs ?? Math.min(5_000, settings.runnerPollMs / 2),
      {
        background: config.backgroundListing ?? false,
        ...(config.listingBudget
          ? {
              budget: config.listingBudget,
              onPeriod: (periodMs: number, pages: number) =>
                log.info({ periodMs, pages }, 'runner listing period'),
            }
          : {}),
      },
    ),
  };

  const reconcilePool = createPoolReconciler(ctx);
  const collectGarbage = createGarbageCollector(ctx);
  const resyncJobs = createJobResync(ctx, (job) => onJobChanged(job), {
    periodMs: config.resyncMs ?? 60_000,
    discoveryIntervalMs: config.discoveryMs ?? config.resyncMs ?? 60_000,
  });

  async function dispatch(key: string): Promise<ReconcileResult | void> {
    // Woken after a pause longer than the lease: renew (or learn it is lost) before acting.
    if (leaseRunOut()) await tryLease();
    if (!leader || leaseRunOut()) return;
    // The synced gate: nothing acts on a picture that has not been listed once.
    await informer.ready();
    if (!leader || leaseRunOut()) return;
    try {
      // Every GitHub and ECS request of this reconcile checks the lease after its pacing wait.
      return await runActing(
        () => void ctx.fenced(),
        () => reconcileKey(key),
      );
    } catch (err) {
      if (err instanceof FencingError || err instanceof LeaseLostError) {
        log.error({ key, err }, 'lease lost while acting: this replica stops acting');
        void loseLease();
        return;
      }
      throw err;
    }
  }

  async function reconcileKey(key: string): Promise<ReconcileResult | void> {
    if (key.startsWith(POOL_KEY_PREFIX)) return reconcilePool(key.slice(POOL_KEY_PREFIX.length));
    if (key === GC_KEY) {
      const report = await collectGarbage();
      if (report.runnersDeleted.length || report.tasksStopped.length) {
        log.info({ ...report }, 'garbage collected');
      }
      return;
    }
    if (key === RESYNC_KEY) {
      await resyncJobs();
      return;
    }
    log.warn({ key }, 'unknown work queue key');
  }

  const queue = new WorkQueue(dispatch, {
    clock,
    log,
    concurrency: config.concurrency ?? 4,
    resyncMs: config.resyncMs ?? 60_000,
    backoff: config.backoff ?? {},
    ...(options.metrics ? metricsHooks(options.metrics) : {}),
    ...(options.random ? { random: options.random } : {}),
    listKeys: async () => {
      // A new pass: pools of one GitHub scope share one fresh runner listing.
      ctx.runnerListing?.nextPass();
      // Pools are applied by the CLI and jobs ingested by any replica: pools and the demand
      // (queued and waiting jobs: ranges of the index that history never enters) are read again
      // at every pass; in-progress jobs at the cache's relist.
      const [pools] = await Promise.all([
        informer.relistPools(),
        informer.relistJobs(['queued', 'waiting']),
      ]);
      return [RESYNC_KEY, ...pools.map((p) => poolKey(p.name)), GC_KEY];
    },
  });

  async function loseLease(): Promise<void> {
    if (!leader) return;
    leader = false;
    fence = undefined;
    await queue.stop();
  }

  /** One acquire-or-renew at a time (callers arriving meanwhile share the one in flight). */
  function tryLease(): Promise<void> {
    leaseAttempt ??= acquireOrRenew().finally(() => {
      leaseAttempt = undefined;
    });
    return leaseAttempt;
  }

  /**
   * Runs one attempt's store calls under the lease-call deadline: the signal aborts their
   * requests, and the race gives up even on a store that ignores it, so the loop goes on.
   */
  async function withLeaseDeadline<T>(attempt: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const abort = new AbortController();
    const timer = new AbortController();
    const deadline = new Promise<never>((_, reject) => {
      clock.sleep(leaseCallTimeoutMs, timer.signal).then(
        () => {
          const err = new LeaseCallTimeoutError(leaseCallTimeoutMs);
          abort.abort(err);
          reject(err);
        },
        () => {},
      );
    });
    try {
      return await Promise.race([attempt(abort.signal), deadline]);
    } finally {
      timer.abort();
    }
  }

  /** Starts or stops acting by the answer; a failed renewal stops acting at once. */
  async function acquireOrRenew(): Promise<void> {
    let lease;
    const sentAt = mono();
    try {
      lease = await withLeaseDeadline((signal) => readAndAcquire(signal));
      if (lease === 'waiting') return;
    } catch (err) {
      if (leader) {
        log.warn({ err, holder: leaseHolderId }, 'lease renewal failed: stopping until renewed');
        void loseLease();
      } else {
        log.warn({ err }, 'lease acquisition failed');
      }
      return;
    }
    settleLease(lease, sentAt);
  }

  /** The store calls of one attempt; 'waiting' while another replica's lease is still fresh. */
  async function readAndAcquire(signal: AbortSignal) {
    let nowMs = clock.now();
    if (!leader) {
      const current = await store.getLease(LEASE_NAME, { signal });
      if (current && current.holder !== leaseHolderId && current.expiresAtMs > 0) {
        const same = observed?.holder === current.holder && observed.version === current.version;
        if (!same) observed = { holder: current.holder, version: current.version, since: mono() };
        // Held by another replica: wait until it has not renewed for a whole lease.
        if (mono() - observed!.since < leaseMs) return 'waiting' as const;
        // Long enough on this replica's own clock, whatever the stored expiry says.
        nowMs = Math.max(nowMs, current.expiresAtMs);
      }
    }
    return store.tryAcquire(LEASE_NAME, leaseHolderId, leaseMs, nowMs, { signal });
  }

  /** Acts on an attempt's answer: lead (again), or stop when another replica holds it. */
  function settleLease(lease: LeaseRecord | undefined, sentAt: number): void {
    if (lease && lease.holder === leaseHolderId) {
      // The others take over a lease after a whole leaseMs without renewal, counted from when
      // they saw it, which is after this request was sent: stop a margin before that.
      leaseValidUntil = sentAt + leaseMs - leaseMarginMs;
      observed = undefined;
      if (stopping) return;
      if (leaseRunOut()) {
        // The answer took too long to be worth acting on.
        if (leader) void loseLease();
        return;
      }
      if (!leader || fence !== lease.leaseVersion) {
        // Another holder may have written runner records meanwhile: re-read them first.
        informer.takeover();
        fence = lease.leaseVersion;
        leader = true;
        log.info({ holder: leaseHolderId, leaseVersion: fence }, 'lease acquired: acting');
        queue.start();
      }
    } else if (leader) {
      log.warn({ holder: leaseHolderId }, 'lease lost: stopping');
      // Not awaited: this may run inside a reconcile, which the queue's stop waits for.
      void loseLease();
    }
  }

  function rememberJobHint(runnerName: string, jobId: number): void {
    const hints = ctx.jobHints!;
    hints.delete(runnerName);
    hints.set(runnerName, jobId);
    // The oldest go first (a Map iterates in insertion order).
    while (hints.size > MAX_JOB_HINTS) hints.delete(hints.keys().next().value!);
  }

  // Events arrive in bursts (the SQS consumer handles 10 at once): concurrent wake-ups share
  // one pool listing in flight instead of each reading every pool. Nothing is kept after it.
  let poolsInFlight: Promise<PoolRecord[]> | undefined;
  const listPoolsShared = () =>
    (poolsInFlight ??= store.listPools().finally(() => {
      poolsInFlight = undefined;
    }));

  async function onJobChanged(job: JobRecord): Promise<void> {
    // Remembered by every replica, so that a successor knows too.
    if (job.runnerName && (job.status === 'in_progress' || job.status === 'completed')) {
      rememberJobHint(job.runnerName, job.id);
    }
    // Every replica keeps its cache warm.
    informer.observeJob(job);
    // Jobs that `needs` it may exist now: the resync lists the run again, not from memory.
    if (job.status === 'completed') ctx.confirmer?.jobCompleted(job.repository, job.runId);
    if (!leader) return;
    const pools = await listPoolsShared();
    const candidates = pools.filter((p) => !p.deletionRequestedAt && poolServesJob(job, p.spec));
    const match = choosePool(job.labels, candidates);
    if (match.kind !== 'none') queue.enqueue(poolKey(match.pool));
    // A paused or full pool hands the job to the next match: wake those too.
    for (const next of rankPools(job.labels, candidates).slice(1)) {
      queue.enqueue(poolKey(next.pool));
    }
    if (job.pool) queue.enqueue(poolKey(job.pool));
    if (job.runnerName) {
      const runner =
        informer.records.runner(job.runnerName) ??
        (informer.synced() ? undefined : await store.getRunner(job.runnerName));
      if (runner) queue.enqueue(poolKey(runner.pool));
    }
  }

  function onTaskEvent(event: EcsTaskEvent): void {
    const pool = informer.observeTaskEvent(event);
    if (pool && leader) queue.enqueue(poolKey(pool));
  }

  return {
    start() {
      if (running) return;
      running = true;
      stopping = false;
      const abort = new AbortController();
      leaseAbort = abort;
      informer.start();
      leaseLoop = (async () => {
        while (!abort.signal.aborted) {
          await tryLease();
          try {
            await clock.sleep(leaseMs / 3, abort.signal);
          } catch {
            return;
          }
        }
      })();
    },
    async stop() {
      running = false;
      stopping = true;
      leaseAbort?.abort(new Error('controller stopped'));
      await leaseLoop;
      await leaseAttempt;
      const wasLeader = leader;
      await loseLease();
      await informer.stop();
      if (wasLeader) {
        // Under the same deadline: a black-holed table must not hold up shutting down.
        await withLeaseDeadline((signal) =>
          store.release(LEASE_NAME, leaseHolderId, { signal }),
        ).catch(() => {});
      }
    },
    onJobChanged,
    onTaskEvent,
    cache: informer,
    async reconcileOnce() {
      if (!leader || leaseRunOut()) await tryLease();
      if (!leader || leaseRunOut()) return false;
      await queue.resyncNow();
      await queue.idle();
      return true;
    },
    idle: () => queue.idle(),
    enqueuePool: (name) => queue.enqueue(poolKey(name)),
    isLeader: () => leader && !leaseRunOut(),
    leaseVersion: () => fence,
  };
}

function metricsHooks(metrics: ReconcileMetrics) {
  return {
    onReconcile: metrics.reconciled.bind(metrics),
    onDepth: metrics.queueDepth.bind(metrics),
  };
}
