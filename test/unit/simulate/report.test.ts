// The report and its invariants on hand-made worlds: what counts as a violation and what does
// not, per-pool peaks and failures, and endpoint names of the API call counts.

import { describe, expect, it } from 'vitest';
import { githubEndpoint, type ProxyStats } from '../../../controller/simulate/proxy.ts';
import { buildReport, reasonKey, type WorldSnapshot } from '../../../controller/simulate/report.ts';
import { parseScenario } from '../../../controller/simulate/scenario.ts';
import type { JobView } from '../../../controller/sandbox/github/index.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const SCENARIO = `name: unit
pools:
  - apiVersion: runnerctl.dev/v1alpha1
    kind: RunnerPool
    metadata: { name: linux }
    spec:
      github: { scope: org, organization: acme }
      labels: [self-hosted, linux]
      maxRunners: 3
      ecs: { cluster: c, taskDefinition: t, subnets: [subnet-0a1b2c3d] }
  - apiVersion: runnerctl.dev/v1alpha1
    kind: RunnerPool
    metadata: { name: gpu }
    spec:
      github: { scope: org, organization: acme }
      labels: [self-hosted, gpu]
      maxRunners: 1
      ecs: { cluster: c, taskDefinition: t, subnets: [subnet-0a1b2c3d] }
workload:
  - { at: 0s, repo: acme/app, jobs: [{ name: a, runsOn: [linux] }, { name: g, runsOn: [gpu] }] }
`;

function stats(): ProxyStats {
  const zero = { primary: 0, secondary: 0, tooManyRequests: 0, throttling: 0 };
  return {
    calls: {},
    injected: {},
    rateLimited: { injected: { ...zero }, simulator: { ...zero } },
    statuses: {},
  };
}

function job(over: Partial<JobView>): JobView {
  return {
    id: 1,
    runId: 10,
    runAttempt: 1,
    repo: 'acme/app',
    name: 'a',
    labels: ['linux'],
    status: 'completed',
    conclusion: 'success',
    runnerId: 100,
    runnerName: 'rctl-linux-1',
    environment: null,
    createdAtMs: T0,
    startedAtMs: T0 + 60_000,
    completedAtMs: T0 + 120_000,
    ...over,
  };
}

function task(arn: string, group: string, created: number, stopped?: number, over = {}) {
  return {
    taskArn: arn,
    clusterArn: 'c',
    family: 't',
    lastStatus: stopped === undefined ? ('RUNNING' as const) : ('STOPPED' as const),
    desiredStatus: stopped === undefined ? ('RUNNING' as const) : ('STOPPED' as const),
    capacityProvider: 'FARGATE' as const,
    group,
    createdAt: T0 + created,
    ...(stopped !== undefined ? { stoppedAt: T0 + stopped } : {}),
    ...over,
  };
}

function world(over: Partial<WorldSnapshot>): WorldSnapshot {
  const jobs = over.jobs ?? [];
  return {
    jobs,
    allJobs: jobs,
    runners: [],
    tasks: [],
    taskRunners: {},
    records: [],
    pools: [],
    deliveries: [],
    runTasks: [],
    github: stats(),
    ecs: stats(),
    crashes: [],
    ...over,
  };
}

async function report(
  w: WorldSnapshot,
  cancelled = { jobs: new Set<number>(), runs: new Set<number>() },
) {
  const scenario = await parseScenario(SCENARIO, 'unit.yaml', '.');
  return buildReport({
    scenario,
    speed: 100,
    seed: 1,
    startMs: T0,
    endMs: T0 + 600_000,
    realSeconds: 6,
    workloadDoneS: 300,
    drainDoneS: 400,
    timedOut: false,
    drained: true,
    restartsAt: [],
    errors: [],
    expected: new Map([['10:a', 'success']]),
    cancelled,
    world: w,
  });
}

const byName = (r: Awaited<ReturnType<typeof report>>) =>
  Object.fromEntries(r.invariants.map((i) => [i.name, i]));

describe('simulation report', () => {
  it('holds every invariant for a clean world and reports the job with its runner and task', async () => {
    const r = await report(
      world({
        jobs: [job({})],
        tasks: [task('arn:t1', 'runnerctl:linux', 5_000, 130_000)],
        taskRunners: { 'arn:t1': 'rctl-linux-1' },
      }),
    );
    expect(r.ok).toBe(true);
    expect(r.jobs[0]).toMatchObject({
      queuedAt: 0,
      runnerLaunchedAt: 5,
      startedAt: 60,
      completedAt: 120,
      waitSeconds: 60,
      runner: 'rctl-linux-1',
      pool: 'linux',
      task: 'arn:t1',
    });
    expect(r.pools.linux).toMatchObject({ tasksStarted: 1, peakRunners: 1, jobsRun: 1 });
  });

  it('flags unfinished jobs, wrong conclusions, leftovers, wrong pools and reused runners', async () => {
    const r = await report(
      world({
        jobs: [
          job({
            id: 1,
            status: 'queued',
            conclusion: null,
            runnerId: null,
            runnerName: null,
            startedAtMs: null,
            completedAtMs: null,
          }),
          job({ id: 2, conclusion: 'failure', runnerId: 7, runnerName: 'rctl-gpu-1' }),
          job({ id: 3, conclusion: 'success', runnerId: 7, runnerName: 'rctl-gpu-1' }),
          job({ id: 4, conclusion: 'cancelled', runnerId: 8, runnerName: 'rctl-linux-2' }),
        ],
        runners: [
          {
            id: 9,
            name: 'rctl-linux-3',
            scope: 'org:acme',
            labels: [],
            status: 'offline',
            busy: false,
            jobId: null,
            os: 'Linux',
            version: null,
          },
        ],
        tasks: [task('arn:t2', 'runnerctl:gpu', 0)],
        taskRunners: { 'arn:t2': 'rctl-gpu-1' },
        records: [
          {
            name: 'rctl-gpu-1',
            pool: 'gpu',
            state: 'busy',
            labels: [],
            attempts: 1,
            createdAt: '',
            updatedAt: '',
            timeline: [],
            version: 1,
          },
        ],
      }),
    );
    expect(r.ok).toBe(false);
    const inv = byName(r);
    expect(inv['jobs-completed']!.violations).toEqual([
      'job 1 "a" (run 10 attempt 1, acme/app) is still queued',
      'job 2 "a" (run 10 attempt 1, acme/app) concluded failure, expected success',
    ]);
    expect(inv['no-github-runners-left']!.violations).toEqual([
      'GitHub runner rctl-linux-3 (id 9, offline) in org:acme',
    ]);
    expect(inv['no-tasks-running']!.violations[0]).toMatch(
      /^task arn:t2 \(RUNNING, runner rctl-gpu-1/,
    );
    expect(inv['no-unfinished-records']!.violations).toEqual([
      'runner record rctl-gpu-1 of pool gpu is busy',
    ]);
    // A [linux] job on a gpu runner; a runner nobody launched.
    expect(inv['jobs-on-matching-pools']!.violations).toEqual([
      expect.stringMatching(
        /job 2 .* ran on rctl-gpu-1 of pool gpu \[self-hosted, gpu\], which it does not match/,
      ),
      expect.stringMatching(/job 3 .* ran on rctl-gpu-1 of pool gpu/),
      expect.stringMatching(/job 4 .* ran on rctl-linux-2, a runner runnerctl did not launch/),
    ]);
    expect(inv['runners-single-use']!.violations).toEqual([
      'runner rctl-gpu-1 (id 7) ran jobs 2, 3',
    ]);
    // Cancelled without the workload asking: a busy runner was stopped.
    expect(inv['no-unexpected-cancellations']!.violations).toEqual([
      expect.stringMatching(/^job 4 "a" .* was cancelled on runner rctl-linux-2/),
    ]);
  });

  it('accepts cancellations the workload made', async () => {
    const r = await report(
      world({ jobs: [job({ id: 4, conclusion: 'cancelled', runnerId: null, runnerName: null })] }),
      { jobs: new Set(), runs: new Set([10]) },
    );
    expect(byName(r)['no-unexpected-cancellations']!.ok).toBe(true);
    expect(byName(r)['jobs-completed']!.ok).toBe(true);
  });

  it('computes peak runners per pool, failures by reason and webhook deliveries', async () => {
    const r = await report(
      world({
        tasks: [
          task('arn:a', 'runnerctl:linux', 0, 100),
          task('arn:b', 'runnerctl:linux', 50, 200),
          // Starts when a stops: not at the same time.
          task('arn:c', 'runnerctl:linux', 100, 300, { stopCode: 'TaskFailedToStart' }),
          task('arn:d', 'runnerctl:linux', 400, 500, {
            stopCode: 'EssentialContainerExited',
            exitCode: 1,
          }),
        ],
        crashes: ['arn:d'],
        // Job 1: queued at 0, started at 60 s, completed at 120 s.
        jobs: [job({ runnerId: null, runnerName: null })],
        deliveries: [
          { action: 'queued', atMs: 1, outcome: 'delivered' },
          { action: 'completed', atMs: 2, outcome: 'delivered' },
          { action: 'in_progress', atMs: 3, outcome: 'delivered' },
          { action: 'completed', atMs: 4, outcome: 'delivered', duplicate: true },
          { action: 'completed', atMs: 5, outcome: 'dropped' },
        ].map((d) => ({
          deliveryId: 'x',
          event: 'workflow_job' as const,
          jobId: 1,
          runAttempt: 1,
          sinkId: 'sink-1',
          duplicate: false,
          ...d,
          outcome: d.outcome as 'delivered' | 'dropped',
        })),
        runTasks: [
          {
            atMs: 0,
            pool: 'linux',
            runner: 'rctl-linux-9',
            taskArns: [],
            failures: ['Capacity is unavailable at this time'],
          },
        ],
      }),
    );
    expect(r.pools.linux).toMatchObject({
      tasksStarted: 4,
      peakRunners: 2,
      runTaskCalls: 1,
      failures: {
        'task failed to start': 1,
        'runner crashed before registration': 1,
        'RunTask: Capacity is unavailable at this time': 1,
      },
    });
    expect(r.faults.runnerCrashes).toBe(1);
    expect(r.faults.webhooks).toEqual({ delivered: 4, dropped: 1, duplicate: 1, outOfOrder: 1 });
  });

  it('names endpoints without ids and reasons without task ARNs', () => {
    expect(githubEndpoint('GET', '/repos/acme/app/actions/runs/12/jobs?filter=latest')).toBe(
      'GET /repos/{owner}/{repo}/actions/runs/{id}/jobs',
    );
    expect(githubEndpoint('POST', '/orgs/acme/actions/runners/generate-jitconfig')).toBe(
      'POST /orgs/{org}/actions/runners/generate-jitconfig',
    );
    expect(githubEndpoint('DELETE', '/enterprises/big/actions/runners/42')).toBe(
      'DELETE /enterprises/{enterprise}/actions/runners/{id}',
    );
    expect(reasonKey('task arn:aws:ecs:us-east-1:0:task/c/abc stopped for rctl-linux-1f2e')).toBe(
      'task <task> stopped for <runner>',
    );
  });
});
