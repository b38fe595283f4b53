// Jobs as the reconcilers see them: which pools' scopes a job belongs to, and GitHub's job
// (REST) as a record to store.

import { repositoryRefusal } from '../api/repositories.ts';
import type { GitHubScopeSpec, RunnerPoolSpec } from '../api/types.ts';
import type { WorkflowJob } from '../github/types.ts';
import type { JobRecord, JobStatus } from '../store/types.ts';

/** Can a runner registered at `scope` run `job`? (org: the repository's owner; repo: that one.) */
export function jobInScope(
  job: Pick<JobRecord, 'owner' | 'repository'>,
  scope: GitHubScopeSpec,
): boolean {
  switch (scope.scope) {
    case 'org':
      return job.owner.toLowerCase() === scope.organization.toLowerCase();
    case 'repo':
      return job.repository.toLowerCase() === scope.repository.toLowerCase();
    case 'enterprise':
      return true;
  }
}

/** Is `job` demand for a pool with `spec`: in its scope, its repositories and visibility? */
export function poolServesJob(
  job: Pick<JobRecord, 'owner' | 'repository' | 'visibility'>,
  spec: Pick<RunnerPoolSpec, 'github' | 'repositories' | 'allowPublicRepositories'>,
): boolean {
  return jobInScope(job, spec.github) && repositoryRefusal(job, spec) === undefined;
}

/** GitHub's job status as demand sees it: pending/requested jobs are queued ones. */
export function jobStatusOf(status: WorkflowJob['status']): JobStatus {
  switch (status) {
    case 'waiting':
    case 'in_progress':
    case 'completed':
      return status;
    default:
      return 'queued';
  }
}

/** The record `recordJob` takes for a job read from the REST API. */
export function jobRecordFrom(
  job: WorkflowJob,
  nowIso: string,
): Omit<JobRecord, 'version' | 'updatedAt'> {
  const [owner = ''] = job.repository.split('/');
  return {
    id: job.id,
    runId: job.runId,
    runAttempt: job.runAttempt,
    repository: job.repository,
    owner,
    labels: job.labels,
    status: jobStatusOf(job.status),
    // GitHub's REST API said so: no unsigned event's claim stands against it.
    confirmation: 'confirmed',
    ...(job.conclusion ? { conclusion: job.conclusion } : {}),
    name: job.name,
    ...(job.workflowName ? { workflowName: job.workflowName } : {}),
    htmlUrl: job.htmlUrl,
    ...(job.runnerName ? { runnerName: job.runnerName } : {}),
    ...(job.runnerId ? { runnerId: job.runnerId } : {}),
    createdAt: job.createdAt || nowIso,
    ...(job.startedAt ? { startedAt: job.startedAt } : {}),
    ...(job.completedAt ? { completedAt: job.completedAt } : {}),
  };
}
