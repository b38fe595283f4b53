// The narrow GitHub interface the controller needs. The Octokit implementation and the
// local cloud both satisfy it and pass the same contract tests.

import type { RepositoryVisibility } from '../store/types.ts';

/** Which runner endpoints to call: /orgs/{org}, /repos/{owner}/{repo} or /enterprises/{enterprise}. */
export type GitHubScope =
  | { kind: 'org'; org: string }
  | { kind: 'repo'; owner: string; repo: string }
  | { kind: 'enterprise'; enterprise: string };

export interface GitHubRunner {
  id: number;
  name: string;
  os: string;
  status: 'online' | 'offline';
  busy: boolean;
  labels: string[];
  runnerGroupId?: number;
  ephemeral?: boolean;
}

export interface JitConfigRequest {
  name: string;
  runnerGroupId: number;
  /** Every label the runner carries, `self-hosted` included (1 to 100). */
  labels: string[];
  workFolder?: string;
}

export interface JitConfig {
  runner: GitHubRunner;
  /** Secret: never logged, never in an error message. */
  encodedJitConfig: string;
}

export interface WorkflowJob {
  id: number;
  runId: number;
  runAttempt: number;
  /** owner/name */
  repository: string;
  status: 'queued' | 'waiting' | 'in_progress' | 'completed' | 'pending' | 'requested';
  conclusion: string | null;
  labels: string[];
  name: string;
  workflowName: string | null;
  htmlUrl: string;
  runnerId: number | null;
  runnerName: string | null;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
}

export interface InstallationRepositories {
  /** owner/name of every repository the installation can access. */
  repositories: string[];
  /** GitHub answered 304 for every page: the list is the one the last call returned. */
  notModified: boolean;
}

/** A workflow run GitHub lists as open (queued, in_progress or waiting). */
export interface OpenRun {
  id: number;
  /** The run's latest attempt: a re-run raises it and brings new jobs. */
  runAttempt: number;
}

/** The jobs of one workflow run (latest attempt), as GET .../actions/runs/{run_id}/jobs lists them. */
export interface RunJobs {
  jobs: WorkflowJob[];
  /** GitHub answered 304 for every page: the jobs are the ones the last call returned. */
  notModified: boolean;
}

export interface RateLimitSnapshot {
  limit: number;
  remaining: number;
  resetAtMs: number;
}

/**
 * Contract:
 * - generateJitConfig throws RunnerNameExistsError on 409; callers look the runner up by name.
 * - deleteRunner resolves when the runner is gone (404 counts as gone) and throws
 *   RunnerBusyError while it runs a job: callers keep the runner and its task.
 * - rerunJob throws JobRerunRefusedError when GitHub answers 403 for another reason than a rate limit.
 * - Rate limits: calls are paced client-side; a 403/429 with retry-after throws RateLimitedError.
 */
export interface ListRunnersOptions {
  /**
   * Nobody waits for this listing (the cache's background listing): its pages take only the
   * REST budget left above the reserve kept for calls an event or a launch waits on.
   */
  background?: boolean;
  /** Set by the provider to the pages the listing read (what it cost). */
  pages?: number;
}

export interface GitHubProvider {
  generateJitConfig(scope: GitHubScope, request: JitConfigRequest): Promise<JitConfig>;
  getRunner(scope: GitHubScope, id: number): Promise<GitHubRunner | undefined>;
  findRunnerByName(scope: GitHubScope, name: string): Promise<GitHubRunner | undefined>;
  /** All self-hosted runners of the scope (paginated); filtered by name prefix when given. */
  listRunners(
    scope: GitHubScope,
    namePrefix?: string,
    options?: ListRunnersOptions,
  ): Promise<GitHubRunner[]>;
  deleteRunner(scope: GitHubScope, id: number): Promise<void>;
  /** Runner group id by name (org and enterprise scopes; repo scope is always group 1). */
  resolveRunnerGroupId(scope: GitHubScope, name: string): Promise<number>;
  /**
   * The runner group's `allows_public_repositories` (GET /orgs/{org}/actions/runner-groups/{id};
   * the enterprise form for enterprise scope). Undefined for repository scope (no groups).
   */
  runnerGroupAllowsPublicRepositories(
    scope: GitHubScope,
    name: string,
  ): Promise<boolean | undefined>;
  /**
   * Queued jobs of one repository: jobs of queued, in_progress (matrix legs) and waiting
   * (a sibling awaits environment approval) runs.
   */
  listQueuedJobs(repository: string): Promise<WorkflowJob[]>;
  /**
   * The repository's open runs: GET /repos/{owner}/{repo}/actions/runs with status queued,
   * in_progress and waiting (one status per listing: the endpoint takes one), every page,
   * conditional. A run in two listings (it moved meanwhile) appears once.
   */
  listOpenRuns(repository: string): Promise<OpenRun[]>;
  getJob(repository: string, jobId: number): Promise<WorkflowJob | undefined>;
  /**
   * Every job of the run's latest attempt (GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs,
   * filter=latest, per_page=100, every page). Conditional (If-None-Match): an unchanged listing
   * costs no rate limit and comes back with `notModified`. Undefined when GitHub has no such run
   * in that repository (404).
   */
  listRunJobs(repository: string, runId: number): Promise<RunJobs | undefined>;
  /**
   * The repository's visibility (GET /repos/{owner}/{repo}: `visibility`, else `private`),
   * conditional. Undefined when GitHub has no such repository for the installation (404).
   */
  getRepositoryVisibility(repository: string): Promise<RepositoryVisibility | undefined>;
  /**
   * Re-runs one completed job (POST /repos/{owner}/{repo}/actions/jobs/{job_id}/rerun, 201; the
   * App needs "Actions: write"). GitHub queues it again as a new job in the run's next attempt
   * and sends its workflow_job events. Throws JobRerunRefusedError on a 403 that is not a rate
   * limit (run still running, missing permission).
   */
  rerunJob(repository: string, jobId: number): Promise<void>;
  /**
   * The repositories the App's installation on `owner` can access (GET /installation/repositories
   * with that installation's token, every page). Conditional: an unchanged list costs no rate
   * limit and comes back with `notModified`. Throws GitHubAuthError when the App is not
   * installed on `owner`.
   */
  listInstallationRepositories(owner: string): Promise<InstallationRepositories>;
  rateLimit(): RateLimitSnapshot | undefined;
}
