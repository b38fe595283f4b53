// An in-memory GitHubProvider with GitHub's behaviour where the controller depends on it:
// 409 on a taken runner name, 422 on deleting a busy runner, 404 (undefined) on unknown ids,
// a REST busy flag that can lag the truth, and JIT runners that deregister after their job.

import {
  GitHubAuthError,
  JobRerunRefusedError,
  RunnerBusyError,
  RunnerNameExistsError,
} from '../../../controller/github/errors.ts';
import type {
  GitHubProvider,
  GitHubRunner,
  GitHubScope,
  InstallationRepositories,
  JitConfig,
  JitConfigRequest,
  OpenRun,
  RunJobs,
  WorkflowJob,
} from '../../../controller/github/types.ts';
import type { RepositoryVisibility } from '../../../controller/store/types.ts';

interface StoredRunner extends GitHubRunner {
  scope: string;
  /** What reads report while the real flag changes (the REST busy flag lags). */
  staleBusy?: boolean;
}

export type GitHubCall =
  | 'generateJitConfig'
  | 'deleteRunner'
  | 'listRunners'
  | 'getRunner'
  | 'findRunnerByName'
  | 'listInstallationRepositories'
  | 'listQueuedJobs'
  | 'listOpenRuns'
  | 'listRunJobs'
  | 'getJob'
  | 'getRepositoryVisibility'
  | 'rerunJob';

function scopeKey(scope: GitHubScope): string {
  switch (scope.kind) {
    case 'org':
      return `org:${scope.org.toLowerCase()}`;
    case 'repo':
      return `repo:${scope.owner.toLowerCase()}/${scope.repo.toLowerCase()}`;
    case 'enterprise':
      return `enterprise:${scope.enterprise.toLowerCase()}`;
  }
}

export class FakeGitHub implements GitHubProvider {
  runners = new Map<number, StoredRunner>();
  jobs = new Map<number, WorkflowJob>();
  /** JIT configs handed out: encoded config -> runner id. */
  jitConfigs = new Map<string, number>();
  groups = new Map<string, number>([['default', 1]]);
  /** Called after a call took effect; throwing simulates a crash (or a lost response) after it. */
  afterCall?: (call: GitHubCall, detail: unknown) => void;
  /** Called before a call; throwing makes the call fail without effect. */
  beforeCall?: (call: GitHubCall, detail: unknown) => void;
  calls: GitHubCall[] = [];
  /**
   * Repositories that exist besides those of `jobs` (the App is installed on every owner with
   * access to all its repositories, except the owners in `notInstalled`).
   */
  repositories = new Set<string>();
  notInstalled = new Set<string>();
  /** What each owner's installation listing last answered, as an ETag would remember it. */
  #lastListing = new Map<string, string>();
  #lastRunListing = new Map<string, string>();
  #nextId = 100;
  #nextJobId = 900_000;
  /** Jobs re-run through rerunJob: the original id and the new job's id. */
  reruns: { of: number; id: number }[] = [];

  async generateJitConfig(scope: GitHubScope, request: JitConfigRequest): Promise<JitConfig> {
    this.#before('generateJitConfig', request.name);
    const key = scopeKey(scope);
    if ([...this.runners.values()].some((r) => r.scope === key && r.name === request.name)) {
      throw new RunnerNameExistsError(request.name);
    }
    const runner: StoredRunner = {
      id: this.#nextId++,
      name: request.name,
      os: 'linux',
      status: 'offline',
      busy: false,
      labels: [...request.labels],
      runnerGroupId: request.runnerGroupId,
      ephemeral: true,
      scope: key,
    };
    this.runners.set(runner.id, runner);
    const encodedJitConfig = `jit-secret-${runner.id}-${request.name}`;
    this.jitConfigs.set(encodedJitConfig, runner.id);
    this.#after('generateJitConfig', runner.id);
    return { runner: this.#view(runner), encodedJitConfig };
  }

  async getRunner(scope: GitHubScope, id: number) {
    this.#before('getRunner', id);
    const r = this.runners.get(id);
    return r && r.scope === scopeKey(scope) ? this.#view(r) : undefined;
  }

  async findRunnerByName(scope: GitHubScope, name: string) {
    this.#before('findRunnerByName', name);
    const key = scopeKey(scope);
    const r = [...this.runners.values()].find((x) => x.scope === key && x.name === name);
    return r && this.#view(r);
  }

  async listRunners(scope: GitHubScope, namePrefix?: string) {
    this.#before('listRunners', namePrefix);
    const key = scopeKey(scope);
    return [...this.runners.values()]
      .filter((r) => r.scope === key && (!namePrefix || r.name.startsWith(namePrefix)))
      .map((r) => this.#view(r));
  }

  async deleteRunner(scope: GitHubScope, id: number) {
    this.#before('deleteRunner', id);
    const r = this.runners.get(id);
    if (!r || r.scope !== scopeKey(scope)) return;
    if (r.busy) throw new RunnerBusyError(id);
    this.runners.delete(id);
    this.#after('deleteRunner', id);
  }

  async resolveRunnerGroupId(_scope: GitHubScope, name: string) {
    const id = this.groups.get(name);
    if (id === undefined) throw new Error(`runner group ${name} not found`);
    return id;
  }

  /** Runner groups (by lower-case name) whose allows_public_repositories is on. */
  publicGroups = new Set<string>();

  async runnerGroupAllowsPublicRepositories(scope: GitHubScope, name: string) {
    if (scope.kind === 'repo') return undefined;
    return this.publicGroups.has(name.toLowerCase());
  }

  async listQueuedJobs(repository: string) {
    this.#before('listQueuedJobs', repository);
    return [...this.jobs.values()]
      .filter((j) => j.repository === repository && j.status === 'queued')
      .map((j) => ({ ...j }));
  }

  /** Runs whose latest attempt has a job that is not completed. */
  async listOpenRuns(repository: string): Promise<OpenRun[]> {
    this.#before('listOpenRuns', repository);
    const byRun = new Map<number, WorkflowJob[]>();
    for (const j of this.jobs.values()) {
      if (j.repository.toLowerCase() !== repository.toLowerCase()) continue;
      byRun.set(j.runId, [...(byRun.get(j.runId) ?? []), j]);
    }
    const open: OpenRun[] = [];
    for (const [id, all] of byRun) {
      const runAttempt = Math.max(...all.map((j) => j.runAttempt));
      const latest = all.filter((j) => j.runAttempt === runAttempt);
      if (latest.every((j) => j.status === 'completed')) continue;
      open.push({ id, runAttempt });
    }
    return open;
  }

  async getJob(_repository: string, jobId: number) {
    this.#before('getJob', jobId);
    const j = this.jobs.get(jobId);
    return j && { ...j };
  }

  /** The run's latest attempt; notModified when nothing changed since the last listing of it. */
  async listRunJobs(repository: string, runId: number): Promise<RunJobs | undefined> {
    this.#before('listRunJobs', runId);
    const all = [...this.jobs.values()].filter(
      (j) => j.runId === runId && j.repository.toLowerCase() === repository.toLowerCase(),
    );
    if (!all.length) return undefined;
    const latest = Math.max(...all.map((j) => j.runAttempt));
    const jobs = all.filter((j) => j.runAttempt === latest).map((j) => ({ ...j }));
    const etag = JSON.stringify(jobs);
    const key = `${repository.toLowerCase()}#${runId}`;
    const notModified = this.#lastRunListing.get(key) === etag;
    this.#lastRunListing.set(key, etag);
    return { jobs, notModified };
  }

  /** Visibility per repository (lower case); unlisted ones are private. */
  visibilities = new Map<string, RepositoryVisibility>();

  async getRepositoryVisibility(repository: string): Promise<RepositoryVisibility | undefined> {
    this.#before('getRepositoryVisibility', repository);
    return this.visibilities.get(repository.toLowerCase()) ?? 'private';
  }

  /** Re-runs a completed job as GitHub does: a new job (new id) in the run's next attempt. */
  async rerunJob(repository: string, jobId: number): Promise<void> {
    this.#before('rerunJob', jobId);
    const job = this.jobs.get(jobId);
    if (!job || job.repository !== repository) throw new JobRerunRefusedError(jobId, 'Not Found');
    const attempts = [...this.jobs.values()].filter((j) => j.runId === job.runId);
    if (attempts.some((j) => j.status !== 'completed')) {
      throw new JobRerunRefusedError(jobId, 'the workflow run is still running');
    }
    const latest = Math.max(...attempts.map((j) => j.runAttempt));
    if (job.runAttempt !== latest) throw new JobRerunRefusedError(jobId, 'not the latest attempt');
    const id = this.#nextJobId++;
    this.jobs.set(id, {
      ...job,
      id,
      runAttempt: latest + 1,
      status: 'queued',
      conclusion: null,
      runnerId: null,
      runnerName: null,
      createdAt: new Date().toISOString(),
      startedAt: null,
      completedAt: null,
    });
    this.reruns.push({ of: jobId, id });
    this.#after('rerunJob', id);
  }

  async listInstallationRepositories(owner: string): Promise<InstallationRepositories> {
    this.#before('listInstallationRepositories', owner);
    const key = owner.toLowerCase();
    if (this.notInstalled.has(key)) {
      throw new GitHubAuthError(`the GitHub App is not installed on ${owner}`);
    }
    const repositories = [
      ...new Set([...this.repositories, ...[...this.jobs.values()].map((j) => j.repository)]),
    ]
      .filter((r) => r.split('/')[0]?.toLowerCase() === key)
      .sort();
    const etag = JSON.stringify(repositories);
    const notModified = this.#lastListing.get(key) === etag;
    this.#lastListing.set(key, etag);
    return { repositories, notModified };
  }

  rateLimit() {
    return undefined;
  }

  // ---- The world's side: what runners and workflow authors do. ----

  /** The runner process starts with its JIT config and connects. */
  connect(encodedJitConfig: string): GitHubRunner | undefined {
    const id = this.jitConfigs.get(encodedJitConfig);
    const r = id === undefined ? undefined : this.runners.get(id);
    if (!r) return undefined;
    r.status = 'online';
    return this.#view(r);
  }

  runnerByName(name: string): StoredRunner | undefined {
    return [...this.runners.values()].find((r) => r.name === name);
  }

  /** GitHub gives a job to a runner: it is busy; reads may keep saying not busy (`lag`). */
  assign(runnerName: string, jobId: number, lag = false): void {
    const r = this.runnerByName(runnerName);
    if (!r) throw new Error(`no runner ${runnerName}`);
    r.busy = true;
    if (lag) r.staleBusy = false;
    const job = this.jobs.get(jobId);
    if (job) {
      Object.assign(job, {
        status: 'in_progress',
        runnerName,
        runnerId: r.id,
        startedAt: new Date().toISOString(),
      });
    }
  }

  /** The job ends; the ephemeral runner deregisters itself. */
  complete(jobId: number, conclusion = 'success'): void {
    const job = this.jobs.get(jobId);
    if (!job) throw new Error(`no job ${jobId}`);
    Object.assign(job, { status: 'completed', conclusion, completedAt: new Date().toISOString() });
    const r = job.runnerId === null ? undefined : this.runners.get(job.runnerId);
    if (r) this.runners.delete(r.id);
  }

  queueJob(
    job: Partial<WorkflowJob> & { id: number; labels: string[]; repository: string },
  ): WorkflowJob {
    const full: WorkflowJob = {
      runId: job.id * 10,
      runAttempt: 1,
      status: 'queued',
      conclusion: null,
      name: `job ${job.id}`,
      workflowName: 'ci',
      htmlUrl: `https://github.com/${job.repository}/actions/runs/${job.id * 10}/job/${job.id}`,
      runnerId: null,
      runnerName: null,
      createdAt: new Date(0).toISOString(),
      startedAt: null,
      completedAt: null,
      ...job,
    };
    this.jobs.set(full.id, full);
    return full;
  }

  #view(r: StoredRunner): GitHubRunner {
    const { scope: _scope, staleBusy, ...runner } = r;
    return { ...runner, labels: [...r.labels], busy: staleBusy ?? r.busy };
  }

  #before(call: GitHubCall, detail: unknown) {
    this.calls.push(call);
    this.beforeCall?.(call, detail);
  }

  #after(call: GitHubCall, detail: unknown) {
    this.afterCall?.(call, detail);
  }
}
