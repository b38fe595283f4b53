// The controller: one work queue of keys (`pool/<name>`, `gc`, `resync`) run only while this
// replica holds the DynamoDB lease. The lease version fences the writes that matter, so a replica
// that lost the lease without noticing cannot create or move runner records.

import { choosePool } from '../api/matching.ts';
import type { EcsProvider } from '../ecs/types.ts';
import type { GitHubProvider } from '../github/types.ts';
import { FencingError } from '../store/errors.ts';
import type { JobRecord, PoolRecord, Store } from '../store/types.ts';
import { LeaseLostError } from './errors.ts';
import type { Clock } from '../util/clock.ts';
import { DEFAULT_SETTINGS, type ReconcileContext, type ReconcileSettings } from './context.ts';
import { createGarbageCollector } from './gc.ts';
import { jobInScope } from './jobs.ts';
import { randomSuffix } from './names.ts';
import { createPoolReconciler } from './pool/reconcile.ts';
import { createJobResync } from './resync.ts';
import type { Logger, ReconcileResult } from './types.ts';
import { WorkQueue } from './workqueue.ts';

export const LEASE_NAME = 'controller';
export const GC_KEY = 'gc';
export const RESYNC_KEY = 'resync';
const POOL_KEY_PREFIX = 'pool/';

export const poolKey = (name: string) => `${POOL_KEY_PREFIX}${name}`;

export interface ControllerConfig extends Partial<ReconcileSettings> {
  /** Period of the full resync (every pool, garbage collection, queued jobs). Default 60 s. */
  resyncMs?: number;
  /** Lease time to live; renewed every third of it. Default 15 s. */
  leaseMs?: number;
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
}

export interface Controller {
  /** Starts competing for the lease; acts while it holds it. */
  start(): void;
  /** Stops acting, waits for running reconciles and releases the lease. */
  stop(): Promise<void>;
  /** Called by ingestion after a job record changed: wakes the pools concerned. */
  onJobChanged(job: JobRecord): Promise<void>;
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
  const { store, github, ecs, clock, log, leaseHolderId } = options;
  const config = options.config ?? {};
  const settings: ReconcileSettings = { ...DEFAULT_SETTINGS };
  for (const [k, v] of Object.entries(config)) {
    if (k in settings && v !== undefined) (settings as unknown as Record<string, unknown>)[k] = v;
  }
  const leaseMs = config.leaseMs ?? 15_000;
  let fence: number | undefined;
  let leaseExpiresAtMs = 0;
  let leader = false;
  let running = false;
  let leaseAbort: AbortController | undefined;
  let leaseLoop: Promise<void> | undefined;

  const ctx: ReconcileContext = {
    store,
    github,
    ecs,
    clock,
    log,
    settings,
    // Every fenced write first checks that the lease has not run out on this replica's clock
    // (a replica paused past its lease must not act on its way out); the store then checks the
    // fence against newer holders' writes.
    fenced: () => {
      if (!leader || clock.now() >= leaseExpiresAtMs) {
        throw new LeaseLostError(`lease of ${leaseHolderId} expired; not acting`);
      }
      return fence === undefined ? {} : { fence };
    },
    suffix: options.suffix ?? randomSuffix,
    jitConfigs: new Map(),
  };

  const reconcilePool = createPoolReconciler(ctx);
  const collectGarbage = createGarbageCollector(ctx);
  const resyncJobs = createJobResync(ctx, (job) => onJobChanged(job));

  async function dispatch(key: string): Promise<ReconcileResult | void> {
    // Woken after a pause longer than the lease: renew (or learn it is lost) before acting.
    if (clock.now() >= leaseExpiresAtMs) await tryLease();
    if (!leader) return;
    try {
      if (key.startsWith(POOL_KEY_PREFIX))
        return await reconcilePool(key.slice(POOL_KEY_PREFIX.length));
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
    } catch (err) {
      if (err instanceof FencingError || err instanceof LeaseLostError) {
        log.error({ key, err }, 'lease lost while acting: this replica stops acting');
        void loseLease();
        return;
      }
      throw err;
    }
  }

  const queue = new WorkQueue(dispatch, {
    clock,
    log,
    concurrency: config.concurrency ?? 4,
    resyncMs: config.resyncMs ?? 60_000,
    backoff: config.backoff ?? {},
    ...(options.random ? { random: options.random } : {}),
    listKeys: async () => [
      RESYNC_KEY,
      ...(await store.listPools()).map((p) => poolKey(p.name)),
      GC_KEY,
    ],
  });

  async function loseLease(): Promise<void> {
    if (!leader) return;
    leader = false;
    fence = undefined;
    await queue.stop();
  }

  /** One acquire-or-renew; starts or stops acting accordingly. */
  async function tryLease(): Promise<void> {
    let lease;
    try {
      lease = await store.tryAcquire(LEASE_NAME, leaseHolderId, leaseMs, clock.now());
    } catch (err) {
      log.warn({ err }, 'lease renewal failed');
      return;
    }
    if (lease && lease.holder === leaseHolderId) {
      leaseExpiresAtMs = lease.expiresAtMs;
      if (!leader || fence !== lease.leaseVersion) {
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

  // Events arrive in bursts (the SQS consumer handles 10 at once): concurrent wake-ups share
  // one pool listing in flight instead of each reading every pool. Nothing is kept after it.
  let poolsInFlight: Promise<PoolRecord[]> | undefined;
  const listPoolsShared = () =>
    (poolsInFlight ??= store.listPools().finally(() => {
      poolsInFlight = undefined;
    }));

  async function onJobChanged(job: JobRecord): Promise<void> {
    if (!leader) return;
    const pools = await listPoolsShared();
    const candidates = pools.filter(
      (p) => !p.deletionRequestedAt && jobInScope(job, p.spec.github),
    );
    const match = choosePool(job.labels, candidates);
    if (match.kind !== 'none') queue.enqueue(poolKey(match.pool));
    if (job.pool) queue.enqueue(poolKey(job.pool));
    if (job.runnerName) {
      const runner = await store.getRunner(job.runnerName);
      if (runner) queue.enqueue(poolKey(runner.pool));
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      const abort = new AbortController();
      leaseAbort = abort;
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
      leaseAbort?.abort(new Error('controller stopped'));
      await leaseLoop;
      const wasLeader = leader;
      await loseLease();
      if (wasLeader) await store.release(LEASE_NAME, leaseHolderId).catch(() => {});
    },
    onJobChanged,
    async reconcileOnce() {
      if (!leader) await tryLease();
      if (!leader) return false;
      await queue.resyncNow();
      await queue.idle();
      return true;
    },
    idle: () => queue.idle(),
    enqueuePool: (name) => queue.enqueue(poolKey(name)),
    isLeader: () => leader,
    leaseVersion: () => fence,
  };
}
