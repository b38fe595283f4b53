// The seed's test plan (shared/seeds/, part 3): in foo-organisation/jit-fargate-test, the
// workflow "AWS Fargate JIT test" runs a two-job matrix whose jobs ask for
// `runs-on: [self-hosted, 1]` and `[self-hosted, 2]`. Each job must get its own JIT runner in its
// own task, succeed, and leave nothing behind.

import type { GitHubSimControl, JobSpec, JobView, RunView } from './github/index.ts';

export const SEED_REPOSITORY = 'foo-organisation/jit-fargate-test';
export const SEED_WORKFLOW = 'AWS Fargate JIT test';

export interface WorkflowPlan {
  repo: string;
  workflowName: string;
  jobs: JobSpec[];
}

/** The seed's matrix, each job running `jobMs` once a runner took it. */
export function seedPlan(jobMs: number): WorkflowPlan {
  return {
    repo: SEED_REPOSITORY,
    workflowName: SEED_WORKFLOW,
    jobs: [1, 2].map((n) => ({
      name: `run-it (${n})`,
      runsOn: ['self-hosted', String(n)],
      durationMs: jobMs,
    })),
  };
}

/** Queues the plan's workflow run (the simulator sends the `queued` webhooks). */
export function queuePlan(control: GitHubSimControl, plan: WorkflowPlan): Promise<RunView> {
  return control.createWorkflowRun({
    repo: plan.repo,
    workflowName: plan.workflowName,
    event: 'push',
    headBranch: 'main',
    jobs: plan.jobs,
  });
}

export interface PlanOutcome {
  jobs: JobView[];
  /** Every job completed. */
  done: boolean;
  /** Every job completed with success. */
  succeeded: boolean;
}

export async function planOutcome(
  control: GitHubSimControl,
  runIds: number[],
): Promise<PlanOutcome> {
  const jobs: JobView[] = [];
  for (const runId of runIds) {
    const run = await control.getRun({ runId });
    for (const jobId of run.jobIds) jobs.push(await control.getJob({ jobId }));
  }
  const done = jobs.length > 0 && jobs.every((j) => j.status === 'completed');
  return { jobs, done, succeeded: done && jobs.every((j) => j.conclusion === 'success') };
}
