// The controller's Prometheus metrics (prom-client) on a Registry of its own: two replicas in one
// process (tests, the sandbox's startReplica) never share series. Three kinds of sources:
// - events counted where they happen: launches and launch failures, reconcile passes and the
//   work-queue depth (the ReconcileMetrics hooks), API calls (the provider decorators), job
//   timings (observed when a job's start is recorded);
// - state read at scrape time, cheaply: jobs and runners by state from the store's indexed
//   listings (live states only, at most once per `snapshotMaxAgeMs`), the lease, the GitHub
//   rate limit the provider last saw in response headers;
// - Node.js process metrics (prom-client's defaults).

import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type RegistryContentType,
} from 'prom-client';
import type { JobStatus, LeaseRecord, RunnerState, Store } from '../store/types.ts';
import type { RateLimitSnapshot } from '../github/types.ts';
import type { ReconcileMetrics } from './sink.ts';

/** Job states counted by `runnerctl_jobs` (completed jobs are history, not state). */
export const JOB_GAUGE_STATES: readonly JobStatus[] = ['queued', 'waiting', 'in_progress'];
/** Runner states counted by `runnerctl_runners` (finished records are history). */
export const RUNNER_GAUGE_STATES: readonly RunnerState[] = [
  'pending',
  'configured',
  'launching',
  'idle',
  'busy',
  'draining',
];

/** Seconds from a job being queued to its runner's launch, and to the job's start. */
export const JOB_LATENCY_BUCKETS = [1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1800];
export const RECONCILE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
export const API_CALL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** What the scrape-time gauges read. Each source is optional (unit tests give only some). */
export interface MetricsSources {
  store?: Pick<Store, 'listJobs' | 'listRunners' | 'listPools' | 'getLease'>;
  /** The lease the controller competes for. */
  leaseName?: string;
  /** This replica: does it hold the lease now? */
  isLeader?: () => boolean;
  /** The GitHub rate limit last seen in response headers. */
  rateLimit?: () => RateLimitSnapshot | undefined;
}

export interface MetricsOptions {
  /** Default: a new Registry (never prom-client's global one). */
  registry?: Registry;
  /** Node.js process metrics (process_cpu_seconds_total, nodejs_heap_size_*...). Default true. */
  processMetrics?: boolean;
  /** Store readings are reused for this long across scrapes. Default 5 s. */
  snapshotMaxAgeMs?: number;
  /** Wall clock for the snapshot age (tests). */
  now?: () => number;
}

interface Snapshot {
  jobs: Map<string, number>;
  runners: Map<string, Map<string, number>>;
  lease: LeaseRecord | undefined;
}

/** A launch failure text as a bounded label value. */
export function launchFailureReason(reason: string): string {
  if (/^task stopped before the runner came online/.test(reason)) return 'task_stopped';
  if (/^runner not online within/.test(reason)) return 'registration_timeout';
  if (/capacity is unavailable/i.test(reason)) return 'capacity_unavailable';
  if (/task ?definition/i.test(reason)) return 'task_definition_not_found';
  if (/^launch failed/.test(reason)) return 'run_task_failed';
  return 'other';
}

/** The work-queue key's kind: `pool/<name>` -> pool; `gc`, `resync` as they are. */
export function reconcileKind(key: string): string {
  const slash = key.indexOf('/');
  return slash >= 0 ? key.slice(0, slash) : key;
}

export class ControllerMetrics implements ReconcileMetrics {
  readonly registry: Registry;
  readonly jobs: Gauge<'state'>;
  readonly runners: Gauge<'pool' | 'state'>;
  readonly launches: Counter<'pool' | 'capacity_provider'>;
  readonly launchFailures: Counter<'pool' | 'reason'>;
  readonly spotReruns: Counter<'pool' | 'outcome'>;
  readonly costUsd: Counter<'pool' | 'repository'>;
  readonly queueToLaunch: Histogram<'pool'>;
  readonly queueToStart: Histogram<'pool'>;
  readonly reconcileDuration: Histogram<'kind' | 'outcome'>;
  readonly workQueueDepth: Gauge;
  readonly rateLimitRemaining: Gauge;
  readonly rateLimitLimit: Gauge;
  readonly apiCalls: Counter<'service' | 'endpoint' | 'outcome'>;
  readonly apiCallDuration: Histogram<'service' | 'endpoint'>;
  readonly leaseHolder: Gauge<'holder'>;
  readonly isLeader: Gauge;
  readonly collectErrors: Counter<'source'>;
  readonly webhookRefused: Counter<'reason'>;
  readonly jobConfirmations: Counter<'result'>;

  #sources: MetricsSources = {};
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  #snapshot: { at: number; value: Promise<Snapshot | undefined> } | undefined;

  constructor(options: MetricsOptions = {}) {
    this.registry = options.registry ?? new Registry();
    this.#maxAgeMs = options.snapshotMaxAgeMs ?? 5_000;
    this.#now = options.now ?? Date.now;
    const registers = [this.registry];
    // Arrow functions keep `this` (the metrics) inside prom-client's collect callbacks.
    const self = () => this;

    this.jobs = new Gauge({
      name: 'runnerctl_jobs',
      help: 'Jobs the controller knows of, by status (queued, waiting, in_progress), read from the store at scrape time.',
      labelNames: ['state'],
      registers,
      async collect() {
        const snap = await self().snapshot();
        if (!snap) return;
        this.reset();
        for (const [state, n] of snap.jobs) this.set({ state }, n);
      },
    });
    this.runners = new Gauge({
      name: 'runnerctl_runners',
      help: 'Runner records by pool and state (live states only), read from the store at scrape time.',
      labelNames: ['pool', 'state'],
      registers,
      async collect() {
        const snap = await self().snapshot();
        if (!snap) return;
        this.reset();
        for (const [pool, byState] of snap.runners) {
          for (const [state, n] of byState) this.set({ pool, state }, n);
        }
      },
    });
    this.launches = new Counter({
      name: 'runnerctl_launches_total',
      help: 'Runner tasks started with RunTask, by pool and capacity provider.',
      labelNames: ['pool', 'capacity_provider'],
      registers,
    });
    this.spotReruns = new Counter({
      name: 'runnerctl_spot_reruns_total',
      help: 'Jobs whose runner lost its FARGATE_SPOT task mid-job (stop code SpotInterruption), by pool and outcome of the one re-run on on-demand: requested, refused (a 403, retried), gave_up, not_needed, already_rerun.',
      labelNames: ['pool', 'outcome'],
      registers,
    });
    this.costUsd = new Counter({
      name: 'runnerctl_runner_cost_usd_total',
      help: 'Estimated USD of finished runner tasks (size x billed time x the price table; Spot at its configured estimate), by pool and the repository of the job the runner ran (unknown when it ran none). Data transfer, ECR, CloudWatch and failed launch attempts are not counted.',
      labelNames: ['pool', 'repository'],
      registers,
    });
    this.launchFailures = new Counter({
      name: 'runnerctl_launch_failures_total',
      help: 'Failed launch attempts by pool and reason (task_stopped, registration_timeout, capacity_unavailable, task_definition_not_found, run_task_failed, other).',
      labelNames: ['pool', 'reason'],
      registers,
    });
    this.queueToLaunch = new Histogram({
      name: 'runnerctl_job_queued_to_launch_seconds',
      help: "Seconds from a job being queued to the launch of the runner that ran it (0 when the runner was launched before the job was queued). Observed when the job's start is recorded.",
      labelNames: ['pool'],
      buckets: JOB_LATENCY_BUCKETS,
      registers,
    });
    this.queueToStart = new Histogram({
      name: 'runnerctl_job_queued_to_start_seconds',
      help: 'Seconds from a job being queued to the job starting on one of our runners.',
      labelNames: ['pool'],
      buckets: JOB_LATENCY_BUCKETS,
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: 'runnerctl_reconcile_duration_seconds',
      help: 'Duration of one reconcile of a work-queue key, by kind (pool, gc, resync) and outcome (ok, error, terminal).',
      labelNames: ['kind', 'outcome'],
      buckets: RECONCILE_BUCKETS,
      registers,
    });
    this.workQueueDepth = new Gauge({
      name: 'runnerctl_workqueue_depth',
      help: 'Work-queue keys waiting for a worker.',
      registers,
    });
    this.rateLimitRemaining = new Gauge({
      name: 'runnerctl_github_rate_limit_remaining',
      help: 'GitHub REST requests left in the current window, from the last response headers.',
      registers,
      collect() {
        const rl = self().#sources.rateLimit?.();
        if (rl) this.set(rl.remaining);
      },
    });
    this.rateLimitLimit = new Gauge({
      name: 'runnerctl_github_rate_limit_limit',
      help: 'GitHub REST requests allowed per window, from the last response headers.',
      registers,
      collect() {
        const rl = self().#sources.rateLimit?.();
        if (rl) this.set(rl.limit);
      },
    });
    this.apiCalls = new Counter({
      name: 'runnerctl_api_calls_total',
      help: 'Calls to GitHub and ECS by service, endpoint (provider method) and outcome (ok or the error kind).',
      labelNames: ['service', 'endpoint', 'outcome'],
      registers,
    });
    this.apiCallDuration = new Histogram({
      name: 'runnerctl_api_call_duration_seconds',
      help: 'Duration of calls to GitHub and ECS (client-side pacing included).',
      labelNames: ['service', 'endpoint'],
      buckets: API_CALL_BUCKETS,
      registers,
    });
    this.leaseHolder = new Gauge({
      name: 'runnerctl_lease_holder',
      help: 'The controller lease as stored: 1 for the current holder (label holder), none when free.',
      labelNames: ['holder'],
      registers,
      async collect() {
        const snap = await self().snapshot();
        if (!snap) return;
        this.reset();
        const now = self().#now();
        if (snap.lease && snap.lease.expiresAtMs > now) this.set({ holder: snap.lease.holder }, 1);
      },
    });
    this.isLeader = new Gauge({
      name: 'runnerctl_is_leader',
      help: '1 when this replica holds the lease and acts, 0 on a standby.',
      registers,
      collect() {
        const leader = self().#sources.isLeader;
        if (leader) this.set(leader() ? 1 : 0);
      },
    });
    this.collectErrors = new Counter({
      name: 'runnerctl_metrics_collect_errors_total',
      help: 'Scrape-time readings that failed (the gauges keep their last values).',
      labelNames: ['source'],
      registers,
    });
    this.webhookRefused = new Counter({
      name: 'runnerctl_webhook_refused_total',
      help: 'Deliveries to /webhook that were refused, by reason (missing_signature, malformed_signature, bad_signature, too_large, busy, not_json, malformed_payload, store_failed).',
      labelNames: ['reason'],
      registers,
    });
    this.jobConfirmations = new Counter({
      name: 'runnerctl_github_job_confirmations_total',
      help: 'Listings of a run that confirm jobs first seen in unsigned (EventBridge) events, by result (listed, not_modified, not_found, failed).',
      labelNames: ['result'],
      registers,
    });
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Connects the scrape-time gauges to their sources (the app calls it once wired). */
  setSources(sources: MetricsSources): void {
    this.#sources = { ...this.#sources, ...sources };
    this.#snapshot = undefined;
  }

  /** The Prometheus text exposition of every metric. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): RegistryContentType {
    return this.registry.contentType;
  }

  // ---- ReconcileMetrics ------------------------------------------------------------------

  launched(pool: string, capacityProvider: string | undefined): void {
    this.launches.inc({ pool, capacity_provider: capacityProvider ?? 'FARGATE' });
  }

  runnerCost(pool: string, repository: string, usd: number): void {
    if (usd > 0) this.costUsd.inc({ pool, repository }, usd);
  }

  jobConfirmation(result: string): void {
    this.jobConfirmations.inc({ result });
  }

  spotRerun(pool: string, outcome: string): void {
    this.spotReruns.inc({ pool, outcome });
  }

  launchFailed(pool: string, reason: string): void {
    this.launchFailures.inc({ pool, reason: launchFailureReason(reason) });
  }

  reconciled(key: string, durationMs: number, outcome: 'ok' | 'error' | 'terminal'): void {
    this.reconcileDuration.observe(
      { kind: reconcileKind(key), outcome },
      Math.max(0, durationMs) / 1000,
    );
  }

  queueDepth(waiting: number): void {
    this.workQueueDepth.set(waiting);
  }

  // ---- job timings -----------------------------------------------------------------------

  /**
   * A job started on one of our runners: seconds from queued to the runner's launch (clamped
   * at 0: a warm runner was there first) and to the job's start.
   */
  jobStarted(
    pool: string,
    timings: { queuedAtMs: number; launchedAtMs?: number; startedAtMs: number },
  ): void {
    const { queuedAtMs, launchedAtMs, startedAtMs } = timings;
    if (launchedAtMs !== undefined) {
      this.queueToLaunch.observe({ pool }, Math.max(0, launchedAtMs - queuedAtMs) / 1000);
    }
    this.queueToStart.observe({ pool }, Math.max(0, startedAtMs - queuedAtMs) / 1000);
  }

  // ---- scrape-time snapshot ----------------------------------------------------------------

  /** The store readings, shared by the gauges of one scrape and reused for a few seconds. */
  snapshot(): Promise<Snapshot | undefined> {
    const store = this.#sources.store;
    if (!store) return Promise.resolve(undefined);
    const now = this.#now();
    if (this.#snapshot && now - this.#snapshot.at < this.#maxAgeMs) return this.#snapshot.value;
    const value = this.#read(store).catch(() => {
      this.collectErrors.inc({ source: 'store' });
      // Nothing read: the gauges keep their last values; the next scrape tries again.
      this.#snapshot = undefined;
      return undefined;
    });
    this.#snapshot = { at: now, value };
    return value;
  }

  async #read(store: NonNullable<MetricsSources['store']>): Promise<Snapshot> {
    const jobs = new Map<string, number>();
    for (const state of JOB_GAUGE_STATES) {
      jobs.set(state, (await store.listJobs({ status: [state] })).length);
    }
    const runners = new Map<string, Map<string, number>>();
    for (const pool of await store.listPools()) {
      const byState = new Map<string, number>(RUNNER_GAUGE_STATES.map((s) => [s, 0]));
      for (const r of await store.listRunners({
        pool: pool.name,
        states: [...RUNNER_GAUGE_STATES],
      })) {
        byState.set(r.state, (byState.get(r.state) ?? 0) + 1);
      }
      runners.set(pool.name, byState);
    }
    const lease = this.#sources.leaseName
      ? await store.getLease(this.#sources.leaseName)
      : undefined;
    return { jobs, runners, lease };
  }
}
