// Decorators that count and time every call the controller makes to GitHub and ECS, by
// endpoint (the provider method) and outcome, without touching the providers: each implements
// the same narrow interface and forwards to the real (or simulated) provider. Results and
// errors pass through unchanged.

import type { RepositoryVisibility } from '../store/types.ts';
import { EcsError } from '../ecs/errors.ts';
import type { EcsProvider, RunnerLaunch, RunnerTask } from '../ecs/types.ts';
import { GitHubError } from '../github/errors.ts';
import type {
  GitHubProvider,
  GitHubRunner,
  ListRunnersOptions,
  GitHubScope,
  InstallationRepositories,
  OpenRun,
  RunJobs,
  JitConfig,
  JitConfigRequest,
  RateLimitSnapshot,
  WorkflowJob,
} from '../github/types.ts';
import type { ControllerMetrics } from './metrics.ts';

type ApiMetrics = Pick<ControllerMetrics, 'apiCalls' | 'apiCallDuration'>;

/**
 * The outcome label of a failed call: the typed error's kind in snake case
 * (RunnerBusyError -> runner_busy, CapacityUnavailableError -> capacity_unavailable), `http_<status>`
 * for a plain GitHubError with a status, otherwise `error`. Bounded: only the providers' own
 * error classes name an outcome.
 */
export function outcomeOf(err: unknown): string {
  if (err instanceof GitHubError || err instanceof EcsError) {
    if (err.name === 'GitHubError' || err.name === 'EcsError') {
      const status = err instanceof GitHubError ? err.status : undefined;
      return status ? `http_${status}` : 'error';
    }
    // GitHubAuthError -> auth, RunnerNameExistsError -> runner_name_exists.
    return err.name
      .replace(/Error$/, '')
      .replace(/^GitHub(?=[A-Z])/, '')
      .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
      .toLowerCase();
  }
  return 'error';
}

async function timed<T>(
  metrics: ApiMetrics,
  service: 'github' | 'ecs',
  endpoint: string,
  call: () => Promise<T>,
): Promise<T> {
  const end = metrics.apiCallDuration.startTimer({ service, endpoint });
  try {
    const result = await call();
    metrics.apiCalls.inc({ service, endpoint, outcome: 'ok' });
    return result;
  } catch (err) {
    metrics.apiCalls.inc({ service, endpoint, outcome: outcomeOf(err) });
    throw err;
  } finally {
    end();
  }
}

export class InstrumentedGitHubProvider implements GitHubProvider {
  constructor(
    private readonly inner: GitHubProvider,
    private readonly metrics: ApiMetrics,
  ) {}

  private call<T>(endpoint: string, fn: () => Promise<T>): Promise<T> {
    return timed(this.metrics, 'github', endpoint, fn);
  }

  generateJitConfig(scope: GitHubScope, request: JitConfigRequest): Promise<JitConfig> {
    return this.call('generateJitConfig', () => this.inner.generateJitConfig(scope, request));
  }
  getRunner(scope: GitHubScope, id: number): Promise<GitHubRunner | undefined> {
    return this.call('getRunner', () => this.inner.getRunner(scope, id));
  }
  findRunnerByName(scope: GitHubScope, name: string): Promise<GitHubRunner | undefined> {
    return this.call('findRunnerByName', () => this.inner.findRunnerByName(scope, name));
  }
  listRunners(
    scope: GitHubScope,
    namePrefix?: string,
    options?: ListRunnersOptions,
  ): Promise<GitHubRunner[]> {
    return this.call('listRunners', () => this.inner.listRunners(scope, namePrefix, options));
  }
  deleteRunner(scope: GitHubScope, id: number): Promise<void> {
    return this.call('deleteRunner', () => this.inner.deleteRunner(scope, id));
  }
  resolveRunnerGroupId(scope: GitHubScope, name: string): Promise<number> {
    return this.call('resolveRunnerGroupId', () => this.inner.resolveRunnerGroupId(scope, name));
  }
  runnerGroupAllowsPublicRepositories(scope: GitHubScope, name: string) {
    return this.call('runnerGroupAllowsPublicRepositories', () =>
      this.inner.runnerGroupAllowsPublicRepositories(scope, name),
    );
  }
  listQueuedJobs(repository: string): Promise<WorkflowJob[]> {
    return this.call('listQueuedJobs', () => this.inner.listQueuedJobs(repository));
  }
  listOpenRuns(repository: string): Promise<OpenRun[]> {
    return this.call('listOpenRuns', () => this.inner.listOpenRuns(repository));
  }
  getJob(repository: string, jobId: number): Promise<WorkflowJob | undefined> {
    return this.call('getJob', () => this.inner.getJob(repository, jobId));
  }
  listRunJobs(repository: string, runId: number): Promise<RunJobs | undefined> {
    return this.call('listRunJobs', () => this.inner.listRunJobs(repository, runId));
  }
  getRepositoryVisibility(repository: string): Promise<RepositoryVisibility | undefined> {
    return this.call('getRepositoryVisibility', () =>
      this.inner.getRepositoryVisibility(repository),
    );
  }
  rerunJob(repository: string, jobId: number): Promise<void> {
    return this.call('rerunJob', () => this.inner.rerunJob(repository, jobId));
  }
  listInstallationRepositories(owner: string): Promise<InstallationRepositories> {
    return this.call('listInstallationRepositories', () =>
      this.inner.listInstallationRepositories(owner),
    );
  }
  rateLimit(): RateLimitSnapshot | undefined {
    return this.inner.rateLimit();
  }
}

export class InstrumentedEcsProvider implements EcsProvider {
  constructor(
    private readonly inner: EcsProvider,
    private readonly metrics: ApiMetrics,
  ) {}

  private call<T>(endpoint: string, fn: () => Promise<T>): Promise<T> {
    return timed(this.metrics, 'ecs', endpoint, fn);
  }

  runTask(launch: RunnerLaunch): Promise<RunnerTask> {
    return this.call('RunTask', () => this.inner.runTask(launch));
  }
  describeTasks(cluster: string, taskArns: string[]): Promise<RunnerTask[]> {
    return this.call('DescribeTasks', () => this.inner.describeTasks(cluster, taskArns));
  }
  listTasks(
    cluster: string,
    filter: { startedBy: string; desiredStatus?: 'RUNNING' | 'STOPPED' },
  ): Promise<string[]> {
    return this.call('ListTasks', () => this.inner.listTasks(cluster, filter));
  }
  stopTask(cluster: string, taskArn: string, reason: string): Promise<void> {
    return this.call('StopTask', () => this.inner.stopTask(cluster, taskArn, reason));
  }
}
