// A small simulated world for reconcile tests: an in-memory store, GitHub and ECS, a manual
// clock, and the actions of the parties the controller does not control (tasks starting,
// runners connecting, GitHub handing out jobs, jobs finishing).

import { JIT_CONFIG_ENV } from '../../../controller/api/constants.ts';
import { API_VERSION, POOL_KIND, type RunnerPoolSpec } from '../../../controller/api/types.ts';
import {
  createController,
  type ControllerConfig,
  type Controller,
} from '../../../controller/reconcile/controller.ts';
import { DEFAULT_SETTINGS, type ReconcileContext } from '../../../controller/reconcile/context.ts';
import { jobRecordFrom } from '../../../controller/reconcile/jobs.ts';
import { silentLogger } from '../../../controller/reconcile/types.ts';
import type { RunnerRecord, Store } from '../../../controller/store/types.ts';
import { hookWrites, type AfterWrite } from './hooked-store.ts';
import { FakeEcs } from './fake-ecs.ts';
import { FakeGitHub } from './fake-github.ts';
import { ManualClock } from './manual-clock.ts';
import { MemoryStore } from './memory-store.ts';

export const ORG = 'acme';
export const REPO = 'acme/app';

export function poolSpec(overrides: Partial<RunnerPoolSpec> = {}): RunnerPoolSpec {
  return {
    github: { scope: 'org', organization: ORG },
    labels: ['linux'],
    maxRunners: 10,
    ecs: {
      cluster: 'runners',
      taskDefinition: 'runner:1',
      subnets: ['subnet-1'],
    },
    ...overrides,
  };
}

export class World {
  clock: ManualClock;
  store: Store;
  github = new FakeGitHub();
  ecs: FakeEcs;
  /** Called after every runner or job write; throwing simulates a crash right after it. */
  afterWrite?: AfterWrite;
  #suffix = 0;
  /** The controllers made here: a recorded event reaches their caches, as ingestion's does. */
  #controllers: Controller[] = [];

  /** `store`: another Store (e.g. the DynamoDB store on dynalite) sharing `clock`. */
  constructor(opts: { clock?: ManualClock; store?: Store } = {}) {
    this.clock = opts.clock ?? new ManualClock();
    const base = opts.store ?? new MemoryStore(() => this.clock.now());
    this.store = hookWrites(base, () => this.afterWrite);
    this.ecs = new FakeEcs(() => this.clock.now());
  }

  /** `wallClockSkewMs`: this replica's wall clock is off by that much (its monotonic one is not). */
  controller(config: ControllerConfig = {}, holder = 'replica-a', wallClockSkewMs = 0): Controller {
    const clock = this.clock;
    const controller = createController({
      store: this.store,
      github: this.github,
      ecs: this.ecs,
      clock: wallClockSkewMs
        ? {
            now: () => clock.now() + wallClockSkewMs,
            sleep: (ms, signal) => clock.sleep(ms, signal),
          }
        : clock,
      monotonicNow: () => clock.now(),
      log: silentLogger,
      config: { resyncMs: 60_000, ...config },
      leaseHolderId: holder,
      suffix: () => `s${String(++this.#suffix).padStart(4, '0')}`,
      random: () => 0.5,
    });
    this.#controllers.push(controller);
    return controller;
  }

  /** Records what an event says about a job, as ingestion does (the store, then the caches). */
  async #recordEvent(job: Parameters<Store['recordJob']>[0]) {
    const out = await this.store.recordJob(job);
    for (const c of this.#controllers) c.cache.observeJob(out.record);
    return out;
  }

  context(): ReconcileContext {
    return {
      store: this.store,
      github: this.github,
      ecs: this.ecs,
      clock: this.clock,
      log: silentLogger,
      settings: { ...DEFAULT_SETTINGS },
      fenced: () => ({}),
      suffix: () => `s${String(++this.#suffix).padStart(4, '0')}`,
    };
  }

  async pool(name: string, overrides: Partial<RunnerPoolSpec> = {}) {
    return this.store.applyPool({
      apiVersion: API_VERSION,
      kind: POOL_KIND,
      metadata: { name },
      spec: poolSpec(overrides),
    });
  }

  /** A job queued on GitHub, and the event about it recorded (`runId`: a matrix's shared run). */
  async queue(id: number, labels: string[], repository = REPO, runId?: number) {
    const job = this.github.queueJob({
      id,
      labels: ['self-hosted', ...labels],
      repository,
      ...(runId !== undefined ? { runId } : {}),
    });
    await this.store.touchRepository(repository, new Date(this.clock.now()).toISOString());
    // As the webhook says: the fake's repositories are private unless `github.visibilities` says.
    const visibility = this.github.visibilities.get(repository.toLowerCase()) ?? 'private';
    return (
      await this.#recordEvent({
        ...jobRecordFrom(job, new Date(this.clock.now()).toISOString()),
        visibility,
      })
    ).record;
  }

  /** The run is cancelled while the job is queued: GitHub completes it, the event is recorded. */
  async cancel(jobId: number) {
    const job = this.github.jobs.get(jobId)!;
    Object.assign(job, { status: 'completed', conclusion: 'cancelled' });
    await this.#recordEvent(jobRecordFrom(job, new Date(this.clock.now()).toISOString()));
  }

  /** An environment gate holds the job: queued -> waiting. */
  async hold(jobId: number) {
    const job = this.github.jobs.get(jobId)!;
    Object.assign(job, { status: 'waiting' });
    await this.#recordEvent(jobRecordFrom(job, new Date(this.clock.now()).toISOString()));
  }

  /** Tasks start and their runners connect to GitHub (PROVISIONING -> RUNNING, online). */
  bootTasks(): void {
    for (const task of this.ecs.running()) {
      if (task.lastStatus === 'RUNNING') continue;
      this.ecs.setStatus(task.arn, 'RUNNING', { startedAt: this.clock.now() });
      this.github.connect(task.launch.environment[JIT_CONFIG_ENV]!);
    }
  }

  /** GitHub gives a queued job to a runner; the in_progress event is recorded. */
  async start(jobId: number, runnerName: string, opts: { lag?: boolean } = {}) {
    this.github.assign(runnerName, jobId, opts.lag);
    const job = this.github.jobs.get(jobId)!;
    await this.#recordEvent(jobRecordFrom(job, new Date(this.clock.now()).toISOString()));
  }

  /** The job ends: the runner deregisters, its task exits 0, the completed event is recorded. */
  async complete(jobId: number, conclusion = 'success') {
    const job = this.github.jobs.get(jobId)!;
    this.github.complete(jobId, conclusion);
    const task = [...this.ecs.tasks.values()].find(
      (t) => t.tags['runnerctl.dev/runner'] === job.runnerName,
    );
    if (task)
      this.ecs.setStatus(task.arn, 'STOPPED', {
        exitCode: 0,
        stopCode: 'EssentialContainerExited',
      });
    await this.#recordEvent(jobRecordFrom(job, new Date(this.clock.now()).toISOString()));
  }

  /**
   * GitHub's dispatch: every queued job goes to an idle online runner whose labels cover the
   * job's (case-insensitive), picked by `pick` among the candidates: never necessarily the
   * runner launched for it. Returns the jobs started.
   */
  async dispatch(pick: (n: number) => number = () => 0): Promise<number[]> {
    const started: number[] = [];
    const queued = [...this.github.jobs.values()]
      .filter((j) => j.status === 'queued')
      .sort((a, b) => a.id - b.id);
    for (const job of queued) {
      const wanted = job.labels.map((l) => l.toLowerCase());
      const candidates = [...this.github.runners.values()].filter(
        (r) =>
          r.status === 'online' &&
          !r.busy &&
          wanted.every((l) => r.labels.map((x) => x.toLowerCase()).includes(l)),
      );
      if (!candidates.length) continue;
      const runner = candidates[pick(candidates.length) % candidates.length]!;
      await this.start(job.id, runner.name);
      started.push(job.id);
    }
    return started;
  }

  async runners(states?: RunnerRecord['state'][]): Promise<RunnerRecord[]> {
    return this.store.listRunners(states ? { states } : undefined);
  }

  async live(): Promise<RunnerRecord[]> {
    return (await this.store.listRunners()).filter((r) => r.state !== 'finished');
  }

  /** A summary of the outside world, for "same state, same actions" comparisons. */
  async snapshot() {
    const records = await this.store.listRunners();
    return {
      githubRunners: [...this.github.runners.values()]
        .map((r) => `${r.name}:${r.status}:${r.busy}`)
        .sort(),
      tasks: [...this.ecs.tasks.values()]
        .map((t) => `${t.tags['runnerctl.dev/runner']}:${t.lastStatus}`)
        .sort(),
      records: records.map((r) => `${r.name}:${r.state}:${r.version}`).sort(),
    };
  }
}
