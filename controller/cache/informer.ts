// The informer: one room that holds what the controller knows (records.ts: pools, open jobs, live
// runner records; tasks.ts: ECS tasks), fed one way — the controller's own writes (write
// through: the store write succeeds, then the cache takes the result; a conflict re-reads the
// item), workflow_job events, ECS Task State Change events, and a full relist as the safety net
// (every `relistMs`, jittered) — and read by every reconciler through `store` and `ecs`.
//
// Nothing acts before the first relist completed (`ready()`, the synced gate). A replica without
// the lease keeps relisting and taking events, so a takeover acts at once; it re-reads only the
// runner records (one paginated query) first, since only the lease holder writes those.

import type { EcsTaskEvent } from '../events/ecs-task-event.ts';
import { TASK_STARTED_BY } from '../api/constants.ts';
import type { EcsProvider } from '../ecs/types.ts';
import { ConflictError, NotFoundError } from '../store/errors.ts';
import type { JobRecord, JobStatus, PoolRecord, RunnerRecord, Store } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';
import { needsSpotDecision, OPEN_JOB_STATUSES, RecordCache } from './records.ts';
import { cachingEcs, TaskCache } from './tasks.ts';

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface InformerOptions {
  store: Store;
  ecs: EcsProvider;
  clock: Clock;
  log: Log;
  /** Period of the full relist (store, ECS). Default 5 min. */
  relistMs?: number;
  /** Relist periods vary by up to this fraction either way. Default 0.2. */
  jitter?: number;
  random?: () => number;
  /**
   * ECS Task State Change events reach this process (the cluster's EventBridge rule feeds the
   * queue): a task is described only when an event or a relist says it changed. Without them
   * every pass describes the tasks of its live records, as nothing else would say they stopped.
   */
  taskEvents?: boolean;
  /** How long finished runner records stay in the picture (late job events, launch backoff). */
  finishedTailMs: number;
  /** How long own writes win over a relist that does not show them. Default 60 s. */
  indexLagMs?: number;
}

export interface InformerStats {
  synced: boolean;
  relists: number;
  lastRelistMs?: number;
  pools: number;
  openJobs: number;
  liveRunners: number;
  tasks: number;
}

export interface Informer {
  /** The store, read from the cache once synced; every write goes to the store first. */
  store: Store;
  /** The ECS provider with every answer taken into the task cache. */
  ecs: EcsProvider;
  records: RecordCache;
  tasks: TaskCache;
  /** Task events arrive: cached task descriptions can be used until an event says otherwise. */
  trustTaskEvents: boolean;
  synced(): boolean;
  /** Resolves once the cache is synced (relisting if needed) and a takeover's re-read is done. */
  ready(): Promise<void>;
  /** The next ready() re-reads the runner records first (this replica just took the lease). */
  takeover(): void;
  relist(): Promise<void>;
  relistPools(): Promise<PoolRecord[]>;
  /** Relists the open jobs with these statuses (all open ones by default). */
  relistJobs(statuses?: readonly JobStatus[]): Promise<void>;
  /** A job record an event (ingestion, possibly on this replica) stored. */
  observeJob(job: JobRecord): void;
  /** An ECS task event: returns the pool of the runner it concerns when that is worth a look. */
  observeTaskEvent(event: EcsTaskEvent): string | undefined;
  /** Relists every `relistMs` until stop(), the first one at once. */
  start(): void;
  stop(): Promise<void>;
  stats(): InformerStats;
}

const jitterOf = (base: number, fraction: number, random: () => number) =>
  Math.max(1, Math.round(base * (1 + fraction * (2 * random() - 1))));

export function createInformer(options: InformerOptions): Informer {
  const { store: base, clock, log } = options;
  const relistMs = options.relistMs ?? 5 * 60_000;
  const jitter = options.jitter ?? 0.2;
  const random = options.random ?? Math.random;
  const now = () => clock.now();
  const records = new RecordCache({
    now,
    finishedTailMs: options.finishedTailMs,
    indexLagMs: options.indexLagMs ?? 60_000,
  });
  const tasks = new TaskCache({ now });
  const ecs = cachingEcs(options.ecs, tasks);
  let synced = false;
  let relists = 0;
  let lastRelistMs: number | undefined;
  let inFlight: Promise<void> | undefined;
  let runnersInFlight: Promise<void> | undefined;
  let takeoverPending = false;
  let abort: AbortController | undefined;
  let loop: Promise<void> | undefined;

  const relistPools = async () => {
    const startedAt = now();
    const pools = await base.listPools();
    records.relistPools(pools, startedAt);
    return records.pools();
  };
  const relistRunners = async () => {
    const startedAt = now();
    records.relistRunners(await base.listRunners({ live: true }), startedAt);
  };
  const relistJobs = async (statuses: readonly JobStatus[] = OPEN_JOB_STATUSES) => {
    const startedAt = now();
    records.relistJobs(await base.listJobs({ status: [...statuses] }), startedAt, statuses);
  };
  const relistTasks = async (clusters: Set<string>) => {
    for (const cluster of clusters) {
      const running = await options.ecs.listTasks(cluster, { startedBy: TASK_STARTED_BY });
      const describe = tasks.relisted(cluster, running);
      // Paced by the provider's read bucket; batches of 100 (DescribeTasks' limit).
      for (let i = 0; i < describe.length; i += 100) {
        await ecs.describeTasks(cluster, describe.slice(i, i + 100));
      }
    }
  };

  const relist = (): Promise<void> =>
    (inFlight ??= (async () => {
      const startedAt = now();
      try {
        const pools = await relistPools();
        await relistRunners();
        await relistJobs();
        await relistTasks(new Set([...pools.map((p) => p.spec.ecs.cluster), ...tasks.clusters()]));
        synced = true;
        relists++;
        lastRelistMs = now() - startedAt;
        log.debug({ ms: lastRelistMs, ...stats() }, 'cache relisted');
      } finally {
        inFlight = undefined;
      }
    })());

  function stats(): InformerStats {
    return {
      synced,
      relists,
      ...(lastRelistMs !== undefined ? { lastRelistMs } : {}),
      pools: records.pools().length,
      openJobs: records.openJobCount(),
      liveRunners: records.liveRunnerCount(),
      tasks: tasks.size,
    };
  }

  // ---------------------------------------------------------------- the cached store

  /** After a failed conditional write: the item as the store has it now. */
  const refreshRunner = async (name: string) => {
    const fresh = await base.getRunner(name).catch(() => undefined);
    if (fresh) records.putRunner(fresh);
    else records.removeRunner(name);
  };
  const refreshJob = async (id: number) => {
    const fresh = await base.getJob(id).catch(() => undefined);
    if (fresh) records.putJob(fresh);
  };
  const refreshPool = async (name: string) => {
    const fresh = await base.getPool(name).catch(() => undefined);
    if (fresh) records.putPool(fresh);
    else records.removePool(name);
  };
  const isConflict = (err: unknown) => err instanceof ConflictError || err instanceof NotFoundError;

  const overrides: Partial<Store> = {
    async getPool(name) {
      const pool = await base.getPool(name);
      if (pool) records.putPool(pool);
      else records.removePool(name);
      return pool;
    },
    async listPools() {
      return synced ? records.pools() : base.listPools();
    },
    async applyPool(pool) {
      const out = await base.applyPool(pool);
      records.putPool(out.record);
      return out;
    },
    async updatePoolStatus(name, status, expected, opts) {
      try {
        const record = await base.updatePoolStatus(name, status, expected, opts);
        records.putPool(record);
        return record;
      } catch (err) {
        if (isConflict(err)) await refreshPool(name);
        throw err;
      }
    },
    async requestPoolDeletion(name) {
      const record = await base.requestPoolDeletion(name);
      records.putPool(record);
      return record;
    },
    async removePool(name, expected, opts) {
      try {
        await base.removePool(name, expected, opts);
        records.removePool(name);
      } catch (err) {
        if (isConflict(err)) await refreshPool(name);
        throw err;
      }
    },

    async getJob(id) {
      const job = await base.getJob(id);
      if (job) records.putJob(job);
      return job;
    },
    async listJobs(filter = {}) {
      const statuses = filter.status ?? [];
      const open = statuses.length > 0 && statuses.every((s) => OPEN_JOB_STATUSES.includes(s));
      if (!synced || !open) return base.listJobs(filter);
      return records.jobs([...new Set(statuses)], filter.pool);
    },
    async recordJob(job) {
      const out = await base.recordJob(job);
      records.putJob(out.record);
      return out;
    },
    async updateJob(job, opts) {
      try {
        const record = await base.updateJob(job, opts);
        records.putJob(record);
        return record;
      } catch (err) {
        if (isConflict(err)) await refreshJob(job.id);
        throw err;
      }
    },

    async createRunner(runner, opts) {
      try {
        const record = await base.createRunner(runner, opts);
        records.putRunner(record);
        return record;
      } catch (err) {
        if (isConflict(err)) await refreshRunner(runner.name);
        throw err;
      }
    },
    async getRunner(name) {
      const record = await base.getRunner(name);
      if (record) records.putRunner(record);
      return record;
    },
    async listRunners(filter = {}) {
      if (!synced) return base.listRunners(filter);
      // The cache holds live records and the recently finished ones; finished history is read
      // from the store by the tools that show it (CLI, drift), not by reconcilers.
      const { states, live } = filter;
      return records
        .runners(filter.pool)
        .filter(
          (r: RunnerRecord) =>
            (!states || states.includes(r.state)) &&
            (!live || r.state !== 'finished' || needsSpotDecision(r)),
        );
    },
    async updateRunner(runner, opts) {
      try {
        const record = await base.updateRunner(runner, opts);
        records.putRunner(record);
        return record;
      } catch (err) {
        if (isConflict(err)) await refreshRunner(runner.name);
        throw err;
      }
    },
    async deleteRunner(name, expected, opts) {
      try {
        await base.deleteRunner(name, expected, opts);
        records.removeRunner(name);
      } catch (err) {
        if (isConflict(err)) await refreshRunner(name);
        throw err;
      }
    },
  };

  const store = new Proxy(base, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && Object.hasOwn(overrides, prop)) {
        return overrides[prop as keyof Store];
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });

  return {
    store,
    ecs,
    records,
    tasks,
    trustTaskEvents: options.taskEvents ?? false,
    synced: () => synced,
    async ready() {
      if (!synced) await relist();
      if (takeoverPending) {
        runnersInFlight ??= relistRunners()
          .then(() => {
            takeoverPending = false;
          })
          .finally(() => {
            runnersInFlight = undefined;
          });
        await runnersInFlight;
      }
    },
    takeover() {
      // The first sync reads everything anyway.
      if (synced) takeoverPending = true;
    },
    relist,
    relistPools,
    relistJobs,
    observeJob: (job) => records.putJob(job),
    observeTaskEvent(event) {
      const news = tasks.applyEvent(event);
      const runner = records.runnerOfTask(event.taskArn);
      return news && runner ? runner.pool : undefined;
    },
    start() {
      if (abort) return;
      const signal = (abort = new AbortController()).signal;
      loop = (async () => {
        while (!signal.aborted) {
          try {
            await relist();
          } catch (err) {
            log.warn({ err }, 'cache relist failed; the next one retries');
          }
          try {
            await clock.sleep(jitterOf(synced ? relistMs : 1_000, jitter, random), signal);
          } catch {
            return;
          }
        }
      })();
    },
    async stop() {
      abort?.abort(new Error('informer stopped'));
      abort = undefined;
      await loop;
      await inFlight?.catch(() => {});
    },
    stats,
  };
}
