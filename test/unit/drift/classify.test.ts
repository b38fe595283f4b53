// Drift classification on fixed snapshots: each kind of disagreement, its grace, its action.

import { describe, expect, it } from 'vitest';
import type { RunnerPoolSpec } from '../../../controller/api/types.ts';
import { classifyDrift, poolOfRunnerName } from '../../../controller/drift/classify.ts';
import { renderDriftText } from '../../../controller/drift/render.ts';
import { driftSettings } from '../../../controller/drift/report.ts';
import type { DriftReport, DriftSnapshot } from '../../../controller/drift/types.ts';
import type { RunnerTask } from '../../../controller/ecs/types.ts';
import type { GitHubRunner, WorkflowJob } from '../../../controller/github/types.ts';
import type {
  JobRecord,
  PoolRecord,
  RunnerRecord,
  RunnerState,
} from '../../../controller/store/types.ts';

const NOW = Date.parse('2026-11-27T12:00:00Z');
const GRACE = 60_000;
const settings = driftSettings({ graceMs: GRACE, resyncSeconds: 60 });
const ago = (ms: number) => new Date(NOW - ms).toISOString();
const MIN = 60_000;
const ORG = { kind: 'org' as const, org: 'acme' };

function pool(name: string, spec: Partial<RunnerPoolSpec> = {}): PoolRecord {
  return {
    name,
    metadata: { name },
    spec: {
      github: { scope: 'org', organization: 'acme' },
      labels: ['linux'],
      maxRunners: 5,
      ecs: { cluster: 'runners', taskDefinition: 'runner', subnets: ['subnet-a'] },
      ...spec,
    },
    generation: 1,
    resourceVersion: 1,
    createdAt: ago(60 * MIN),
    updatedAt: ago(60 * MIN),
  };
}

let n = 0;
function record(state: RunnerState, patch: Partial<RunnerRecord> = {}): RunnerRecord {
  n++;
  return {
    name: `rctl-linux-0000000${n}`,
    pool: 'linux',
    state,
    labels: ['self-hosted', 'linux'],
    attempts: 1,
    createdAt: ago(30 * MIN),
    updatedAt: ago(10 * MIN),
    timeline: [{ at: ago(30 * MIN), event: 'created' }],
    version: 1,
    ...patch,
  };
}

function gh(name: string, patch: Partial<GitHubRunner> = {}): DriftSnapshot['githubRunners'][0] {
  return {
    scope: ORG,
    runner: { id: 100 + n, name, os: 'Linux', status: 'online', busy: false, labels: [], ...patch },
  };
}

function task(arn: string, runner: string, patch: Partial<RunnerTask> = {}): RunnerTask {
  return {
    arn,
    cluster: 'runners',
    lastStatus: 'RUNNING',
    desiredStatus: 'RUNNING',
    startedBy: 'runnerctl',
    tags: { 'runnerctl.dev/runner': runner, 'runnerctl.dev/pool': 'linux' },
    createdAt: NOW - 20 * MIN,
    ...patch,
  };
}

function job(id: number, labels: string[], patch: Partial<WorkflowJob> = {}): WorkflowJob {
  return {
    id,
    runId: 1,
    runAttempt: 1,
    repository: 'acme/app',
    status: 'queued',
    conclusion: null,
    labels,
    name: `job ${id}`,
    workflowName: 'ci',
    htmlUrl: `https://github.com/acme/app/actions/runs/1/job/${id}`,
    runnerId: null,
    runnerName: null,
    createdAt: ago(5 * MIN),
    startedAt: null,
    completedAt: null,
    ...patch,
  };
}

function snapshot(patch: Partial<DriftSnapshot> = {}): DriftSnapshot {
  return {
    nowMs: NOW,
    pools: [pool('linux')],
    records: [],
    storedJobs: [],
    githubRunners: [],
    tasks: [],
    queuedJobs: [],
    repositories: ['acme/app'],
    warnings: [],
    ...patch,
  };
}

const kinds = (s: DriftSnapshot) => classifyDrift(s, settings).map((f) => f.kind);

describe('drift classification', () => {
  it('a healthy pool in every state reports nothing', () => {
    const launching = record('launching', {
      taskArn: 'arn:t1',
      githubRunnerId: 1,
      updatedAt: ago(MIN),
      timeline: [{ at: ago(MIN), event: 'task-started' }],
    });
    const idle = record('idle', { taskArn: 'arn:t2', githubRunnerId: 2 });
    const busy = record('busy', { taskArn: 'arn:t3', githubRunnerId: 3, jobId: 7 });
    const pending = record('pending', { createdAt: ago(10_000), updatedAt: ago(10_000) });
    const finished = record('finished', { taskArn: 'arn:t0' });
    const s = snapshot({
      records: [launching, idle, busy, pending, finished],
      githubRunners: [
        gh(launching.name, { status: 'offline' }),
        gh(idle.name),
        gh(busy.name, { busy: true }),
      ],
      tasks: [
        task('arn:t1', launching.name, { lastStatus: 'PENDING', createdAt: NOW - MIN }),
        task('arn:t2', idle.name),
        task('arn:t3', busy.name),
        // A task just started for a pending record whose write has not landed yet.
        task('arn:t4', pending.name, { createdAt: NOW - 5_000 }),
      ],
      // Two queued jobs: the pending runner and the idle one serve them.
      queuedJobs: [job(8, ['linux']), job(9, ['self-hosted', 'linux'])],
    });
    expect(classifyDrift(s, settings)).toEqual([]);
  });

  it('a GitHub runner with our prefix and no record, once past the grace of a removal', () => {
    const done = record('finished', { updatedAt: ago(10_000) });
    const s = snapshot({
      records: [done],
      githubRunners: [gh('rctl-linux-deadbeef', { id: 42, status: 'offline' }), gh(done.name)],
    });
    const findings = classifyDrift(s, settings);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      kind: 'runner-without-record',
      pool: 'linux',
      objects: { runner: 'rctl-linux-deadbeef', githubRunnerId: 42 },
      actor: 'controller',
    });
    expect(findings[0]!.action).toMatch(/garbage collection deletes it/);
    // The finished record's runner is reported once the removal had time to land.
    expect(kinds({ ...s, records: [{ ...done, updatedAt: ago(5 * MIN) }] })).toEqual([
      'runner-without-record',
      'runner-without-record',
    ]);
  });

  it('a task we started that no live record tracks (not a launch in flight)', () => {
    const configured = record('configured', { updatedAt: ago(10_000) });
    const s = snapshot({
      records: [configured],
      tasks: [
        task('arn:orphan', 'rctl-linux-cafecafe'),
        task('arn:young', 'rctl-linux-0badf00d', { createdAt: NOW - 5_000 }),
        task('arn:adopt', configured.name),
        task('arn:gone', 'rctl-linux-12345678', { lastStatus: 'STOPPED' }),
      ],
    });
    const findings = classifyDrift(s, settings);
    expect(findings.map((f) => f.objects.taskArn)).toEqual(['arn:orphan']);
    expect(findings[0]).toMatchObject({ kind: 'task-without-record', pool: 'linux' });
    expect(findings[0]!.action).toMatch(/garbage collection stops it/);
  });

  it('a record whose task stopped or vanished, after the grace', () => {
    const busy = record('busy', { taskArn: 'arn:b' });
    const idle = record('idle', { taskArn: 'arn:missing', updatedAt: ago(5 * MIN) });
    const fresh = record('idle', { taskArn: 'arn:fresh' });
    const s = snapshot({
      records: [busy, idle, fresh],
      githubRunners: [gh(busy.name, { busy: true }), gh(idle.name), gh(fresh.name)],
      tasks: [
        task('arn:b', busy.name, { lastStatus: 'STOPPED', stoppedAt: NOW - 2 * MIN }),
        task('arn:fresh', fresh.name, { lastStatus: 'STOPPED', stoppedAt: NOW - 5_000 }),
      ],
    });
    const findings = classifyDrift(s, settings);
    expect(findings.map((f) => [f.kind, f.objects.runner])).toEqual([
      ['record-without-task', busy.name],
      ['record-without-task', idle.name],
    ]);
    expect(findings[1]!.message).toMatch(/ECS no longer knows the task/);
  });

  it('a task running without its runner coming online past the registration timeout', () => {
    const launched = (attempts: number) =>
      record('launching', {
        taskArn: `arn:l${attempts}`,
        githubRunnerId: 5,
        attempts,
        timeline: [{ at: ago(7 * MIN), event: 'task-started' }],
      });
    const second = launched(2);
    const last = launched(3);
    const young = record('launching', {
      taskArn: 'arn:young',
      timeline: [{ at: ago(5 * MIN - 30_000), event: 'task-started' }],
    });
    const s = snapshot({
      records: [second, last, young],
      githubRunners: [
        gh(second.name, { status: 'offline' }),
        gh(last.name, { status: 'offline' }),
        gh(young.name, { status: 'offline' }),
      ],
      tasks: [
        task('arn:l2', second.name),
        task('arn:l3', last.name),
        task('arn:young', young.name),
      ],
    });
    const findings = classifyDrift(s, settings);
    expect(findings.map((f) => [f.kind, f.objects.runner])).toEqual([
      ['runner-not-registered', second.name],
      ['runner-not-registered', last.name],
    ]);
    expect(findings[0]!.action).toMatch(/relaunches \(attempt 2 of 3\)/);
    expect(findings[1]!.action).toMatch(/gives up .*Degraded\/LaunchFailed/);
    expect(findings[0]!.objects).toMatchObject({ taskArn: 'arn:l2', githubRunnerId: 5 });
  });

  it('a runner offline on GitHub while its task runs: idle is the controller, busy the admin', () => {
    const idle = record('idle', { taskArn: 'arn:i' });
    const busy = record('busy', { taskArn: 'arn:b', jobId: 3 });
    const gone = record('idle', { taskArn: 'arn:g' });
    const s = snapshot({
      records: [idle, busy, gone],
      githubRunners: [gh(idle.name, { status: 'offline' }), gh(busy.name, { status: 'offline' })],
      tasks: [task('arn:i', idle.name), task('arn:b', busy.name), task('arn:g', gone.name)],
    });
    const findings = classifyDrift(s, settings);
    expect(findings.map((f) => [f.kind, f.actor])).toEqual([
      ['runner-offline', 'controller'],
      ['runner-offline', 'admin'],
      ['record-without-runner', 'controller'],
    ]);
    expect(findings[1]!.action).toContain('aws ecs stop-task --cluster runners --task arn:b');
  });

  it('queued jobs are counted against supply; the newest unserved ones past the grace are named', () => {
    const pending = record('pending', { createdAt: ago(10_000) });
    const jobs = [
      job(1, ['linux'], { createdAt: ago(10 * MIN) }),
      job(2, ['linux'], { createdAt: ago(8 * MIN) }),
      job(3, ['linux'], { createdAt: ago(10_000) }),
    ];
    const stored: JobRecord = {
      id: 2,
      runId: 1,
      runAttempt: 1,
      repository: 'acme/app',
      owner: 'acme',
      labels: ['linux'],
      status: 'queued',
      visibility: 'private',
      createdAt: ago(8 * MIN),
      updatedAt: ago(8 * MIN),
      version: 1,
    };
    const s = snapshot({ records: [pending], queuedJobs: jobs, storedJobs: [stored] });
    const findings = classifyDrift(s, settings);
    // One runner coming for three jobs: jobs 2 and 3 go without; job 3 is within the grace.
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      kind: 'job-without-runner',
      pool: 'linux',
      objects: { jobId: 2, jobUrl: 'https://github.com/acme/app/actions/runs/1/job/2' },
      actor: 'controller',
    });
    // A job the store never heard of: the resync will record it.
    const lost = classifyDrift({ ...s, storedJobs: [] }, settings);
    expect(lost[0]!.action).toMatch(/has not recorded the job.*resync/);
    // At maxRunners the admin is told.
    const capped = classifyDrift({ ...s, pools: [pool('linux', { maxRunners: 1 })] }, settings);
    expect(capped[0]).toMatchObject({ actor: 'admin' });
    expect(capped[0]!.action).toMatch(/maxRunners \(1\/1\)/);
  });

  it("jobs beyond maxRunnersPerRepository are named with the cap, the repository's running and queued counts", () => {
    const running: JobRecord = {
      id: 9,
      runId: 1,
      runAttempt: 1,
      repository: 'acme/app',
      owner: 'acme',
      labels: ['linux'],
      status: 'in_progress',
      runnerName: 'rctl-linux-busy',
      createdAt: ago(20 * MIN),
      updatedAt: ago(10 * MIN),
      version: 2,
    };
    const busy = record('busy', { name: 'rctl-linux-busy', jobId: 9 });
    const idle = record('idle');
    const s = snapshot({
      pools: [pool('linux', { maxRunnersPerRepository: 1 })],
      records: [busy, idle],
      runningJobs: [running],
      queuedJobs: [
        job(1, ['linux'], { createdAt: ago(10 * MIN) }),
        job(2, ['linux'], { createdAt: ago(9 * MIN), repository: 'acme/web' }),
      ],
    });
    const jobFindings = (x: DriftSnapshot) =>
      classifyDrift(x, settings).filter((f) => f.kind === 'job-without-runner');
    const findings = jobFindings(s);
    // The web job has the idle runner; the app job is held by the cap (its one runner is busy).
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ kind: 'job-without-runner', actor: 'admin' });
    expect(findings[0]!.message).toMatch(
      /job 1 .* held by pool linux's maxRunnersPerRepository 1 \(1 running, 1 queued for the repository\)/,
    );
    // Without the cap the idle runner serves the older (app) job and the web job is unserved.
    const uncapped = jobFindings({ ...s, pools: [pool('linux')] });
    expect(uncapped.map((f) => f.objects.jobId)).toEqual([2]);
  });

  it("a paused pool's job is routed to the next match and the finding says where and why", () => {
    const s = snapshot({
      pools: [pool('linux', { priority: 10, maxRunners: 0 }), pool('spare')],
      records: [],
      queuedJobs: [job(1, ['linux'], { createdAt: ago(10 * MIN) })],
    });
    const findings = classifyDrift(s, settings).filter((f) => f.kind === 'job-without-runner');
    expect(findings).toHaveLength(1);
    expect(findings[0]!.pool).toBe('spare');
    expect(findings[0]!.message).toMatch(
      /has no runner of pool spare .*; spilled from pool linux \(linux paused \(maxRunners 0\)\)/,
    );
  });

  it('a job of an unsigned event GitHub does not list is reported unconfirmed', () => {
    const forged: JobRecord = {
      id: 77,
      runId: 7,
      runAttempt: 1,
      repository: 'acme/app',
      owner: 'acme',
      labels: ['linux'],
      status: 'queued',
      confirmation: 'pending',
      createdAt: ago(10 * MIN),
      updatedAt: ago(10 * MIN),
      version: 1,
    };
    const findings = classifyDrift(snapshot({ storedJobs: [forged] }), settings);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.message).toMatch(/job 77 .* is unconfirmed: .*unsigned EventBridge event/);
    expect(findings[0]!.action).toMatch(/events:PutEvents/);
  });

  it('queued self-hosted jobs no pool matches show their labels; refused sizes name the pool', () => {
    const s = snapshot({
      pools: [
        pool('linux'),
        pool('sized', {
          labels: ['arm'],
          sizes: [{ label: 'small', cpu: 1024, memory: 2048 }],
          defaultSize: 'small',
        }),
      ],
      queuedJobs: [
        job(1, ['self-hosted', 'gpu', 'cuda']),
        job(2, ['ubuntu-latest']),
        job(3, ['self-hosted', 'arm', 'huge']),
        job(4, ['self-hosted', 'gpu', 'cuda'], { createdAt: ago(10_000) }),
      ],
    });
    const findings = classifyDrift(s, settings);
    expect(findings.map((f) => [f.kind, f.objects.jobId, f.pool])).toEqual([
      ['job-without-pool', 1, undefined],
      ['job-without-pool', 3, 'sized'],
    ]);
    expect(findings[0]!.message).toContain('runs-on [self-hosted, gpu, cuda]');
    expect(findings[0]!.objects.labels).toEqual(['self-hosted', 'gpu', 'cuda']);
    expect(findings[1]!.message).toContain('size huge not offered by pool sized');
  });

  it('a stored queued job GitHub no longer lists as queued', () => {
    const stored: JobRecord = {
      id: 5,
      runId: 1,
      runAttempt: 1,
      repository: 'acme/app',
      owner: 'acme',
      labels: ['linux'],
      status: 'queued',
      createdAt: ago(10 * MIN),
      updatedAt: ago(10 * MIN),
      version: 1,
    };
    expect(kinds(snapshot({ storedJobs: [stored] }))).toEqual(['job-record-stale']);
    // Not when the repository could not be read.
    expect(kinds(snapshot({ storedJobs: [stored], repositories: [] }))).toEqual([]);
  });

  it('a pool with more live records than maxRunners', () => {
    const a = record('pending', { createdAt: ago(10_000) });
    const b = record('pending', { createdAt: ago(10_000) });
    const s = snapshot({ pools: [pool('linux', { maxRunners: 1 })], records: [a, b] });
    const findings = classifyDrift(s, settings);
    expect(findings).toEqual([expect.objectContaining({ kind: 'pool-above-max', pool: 'linux' })]);
    expect(findings[0]!.message).toMatch(/2 live runner records, above maxRunners 1/);
  });

  it('records stuck past their state timeouts', () => {
    const pending = record('pending', { createdAt: ago(7 * MIN) });
    const draining = record('draining', {
      timeline: [{ at: ago(3 * MIN), event: 'draining' }],
    });
    const busy = record('busy', {
      taskArn: 'arn:b',
      timeline: [{ at: ago(7 * 3600_000), event: 'busy' }],
    });
    const idle = record('idle', {
      taskArn: 'arn:i',
      timeline: [{ at: ago(15 * MIN), event: 'idle' }],
    });
    const s = snapshot({
      records: [pending, draining, busy, idle],
      githubRunners: [gh(busy.name, { busy: true }), gh(idle.name)],
      tasks: [task('arn:b', busy.name), task('arn:i', idle.name)],
    });
    const findings = classifyDrift(s, settings);
    expect(findings.map((f) => [f.kind, f.objects.runner])).toEqual([
      ['record-stuck', pending.name],
      ['record-stuck', draining.name],
      ['record-stuck', busy.name],
      ['record-stuck', idle.name],
    ]);
    // minIdle keeps the idle runner wanted: not stuck.
    const warm = classifyDrift({ ...s, pools: [pool('linux', { minIdle: 1 })] }, settings);
    expect(warm.map((f) => f.objects.runner)).not.toContain(idle.name);
  });

  it('a record of a pool that no longer exists', () => {
    const orphan = record('idle', { pool: 'gone', taskArn: 'arn:x' });
    const findings = classifyDrift(snapshot({ records: [orphan] }), settings);
    expect(findings).toEqual([
      expect.objectContaining({ kind: 'record-stuck', pool: 'gone', actor: 'admin' }),
    ]);
  });

  it('finds the pool of a runner name, shortened pool parts included', () => {
    const pools = [{ name: 'linux' }, { name: 'linux-arm' }, { name: 'a'.repeat(60) }];
    expect(poolOfRunnerName('rctl-linux-0a1b2c3d', 'rctl', pools)).toBe('linux');
    expect(poolOfRunnerName('rctl-linux-arm-0a1b2c3d', 'rctl', pools)).toBe('linux-arm');
    expect(poolOfRunnerName(`rctl-${'a'.repeat(45)}-0a1b2c3d`, 'rctl', pools)).toBe('a'.repeat(60));
    expect(poolOfRunnerName('other-linux-0a1b2c3d', 'rctl', pools)).toBeUndefined();
    expect(poolOfRunnerName('rctl-mac-0a1b2c3d', 'rctl', pools)).toBeUndefined();
  });

  it('renders findings with their objects and actions, or one in-sync line', () => {
    const s = snapshot({ githubRunners: [gh('rctl-linux-deadbeef', { id: 42 })] });
    const findings = classifyDrift(s, settings);
    const report: DriftReport = {
      generatedAt: new Date(NOW).toISOString(),
      inSync: false,
      graceSeconds: 60,
      checked: { pools: 1, records: 0, githubRunners: 1, tasks: 0, repositories: 1, queuedJobs: 0 },
      counts: { 'runner-without-record': 1 },
      findings,
      warnings: [],
    };
    const text = renderDriftText(report);
    expect(text).toMatch(/^drift: 1 finding in 1 pool/);
    expect(text).toContain('runner-without-record');
    expect(text).toContain('rctl-linux-deadbeef (#42)');
    expect(text).toContain('action (controller):');
    const clean = renderDriftText({ ...report, inSync: true, findings: [], counts: {} });
    expect(clean).toMatch(/^in sync: 1 pool\(s\)/);
  });
});
