// Observability of the real controller (the production composition root) on the local cloud:
// after a workflow run, /metrics shows the counters and histograms moved; /readyz answers 200 with
// the lease state on the leader and on a standby replica, and 503 naming ECS once the ECS
// endpoint is gone. The controller's debug log and the CLI's output never contain a JIT config
// or the App's private key. The sandbox prints (and records) where metrics and drift are served.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JIT_CONFIG_ENV } from '../../../controller/api/constants.ts';
import type { EcsTaskEvent } from '../../../controller/events/ecs-task-event.ts';
import { run } from '../../../controller/cli/run.ts';
import { planOutcome, seedPlan } from '../../../controller/sandbox/plan.ts';
import { runSandbox, type SandboxInfo } from '../../../controller/sandbox/sandbox.ts';
import { testSandbox, until, type TestSandbox } from '../../e2e/helpers.ts';

let sandbox: TestSandbox;
const taskEvents: EcsTaskEvent[] = [];

beforeAll(async () => {
  sandbox = await testSandbox({ logLevel: 'debug' });
  sandbox.app.onTaskEvent((event) => void taskEvents.push(event));
});

afterAll(async () => {
  await sandbox?.close();
});

/** One sample's value from Prometheus text: `name{labels} value` (labels matched as given). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number[] {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      found[pair[1]!] = pair[2]!;
    }
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) out.push(Number(m[4]));
  }
  return out;
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

async function get(url: string): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(url);
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    text: await res.text(),
  };
}

describe('runnerctl sandbox', () => {
  it('prints where its metrics and drift report are served; the metrics answer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rctl-observe-'));
    const printed: string[] = [];
    let scraped = '';
    try {
      const result = await runSandbox({
        dataDir: join(dir, 'sandbox'),
        taskStartMs: 300,
        jobMs: 200,
        runnerPollMs: 200,
        resyncSeconds: 2,
        timeoutMs: 25_000,
        print: (line) => printed.push(line),
        untilStopped: async () => {
          // Running: the lines printed so far say where to look.
          const urlOf = (label: string) =>
            printed
              .map((l) => new RegExp(`^\\s+${label}\\s+(http://\\S+)`).exec(l)?.[1])
              .find(Boolean);
          const metricsUrl = urlOf('metrics');
          expect(metricsUrl, printed.join('\n')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
          expect(urlOf('drift report'), printed.join('\n')).toBe(
            metricsUrl!.replace(/\/metrics$/, '/drift'),
          );
          const res = await fetch(metricsUrl!);
          expect(res.status).toBe(200);
          scraped = await res.text();
          const drift = await fetch(urlOf('drift report')!);
          expect(drift.status).toBe(200);
          expect(((await drift.json()) as { findings: unknown[] }).findings).toBeInstanceOf(Array);
        },
      });
      expect(result.problems).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    // The seed plan ran before: its launches and job starts are in the scrape.
    expect(sum(sample(scraped, 'runnerctl_launches_total'))).toBeGreaterThanOrEqual(2);
  });
});

describe('observability on the local cloud', () => {
  it('the sandbox prints and records where metrics, readiness and drift are served', async () => {
    const info = JSON.parse(
      await readFile(`${sandbox.info.dataDir}/sandbox.json`, 'utf8'),
    ) as SandboxInfo;
    expect(info.controller.metricsUrl).toBe(`${sandbox.app.operatorUrl}/metrics`);
    // The webhook listener serves neither metrics nor drift.
    expect((await fetch(`${sandbox.app.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${sandbox.app.url}/drift`)).status).toBe(404);
    expect(info.controller.readyUrl).toBe(`${sandbox.app.operatorUrl}/readyz`);
    expect(info.controller.driftUrl).toBe(`${sandbox.app.operatorUrl}/drift`);
    expect(new URL(sandbox.app.operatorUrl).hostname).toBe('127.0.0.1');
    const metrics = await get(info.controller.metricsUrl!);
    expect(metrics.status).toBe(200);
    expect(metrics.type).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('after a run, /metrics shows launches, job latencies, reconciles, API calls and the lease', async () => {
    const { cloud, app } = sandbox;
    const control = cloud.github.control;
    const runId = await sandbox.queue(seedPlan(300));
    await until(
      async () => (await planOutcome(control, [runId])).done,
      async () => JSON.stringify((await planOutcome(control, [runId])).jobs.map((j) => j.status)),
    );
    expect((await planOutcome(control, [runId])).succeeded).toBe(true);
    const jobs = (await planOutcome(control, [runId])).jobs;

    // The job-start events reach the controller through webhooks, and the runners' tasks are
    // described by a later pass: poll until both are observed.
    let text = '';
    const describes = () =>
      sum(
        sample(text, 'runnerctl_api_calls_total', {
          service: 'ecs',
          endpoint: 'DescribeTasks',
          outcome: 'ok',
        }),
      );
    await until(
      async () => {
        text = (await get(app.metricsUrl)).text;
        return (
          sum(sample(text, 'runnerctl_job_queued_to_start_seconds_count')) >= 2 && describes() >= 1
        );
      },
      () => `job start histogram never reached 2, or no DescribeTasks:\n${text}`,
    );

    expect(sum(sample(text, 'runnerctl_launches_total', { pool: 'seed' }))).toBeGreaterThanOrEqual(
      2,
    );
    expect(
      sample(text, 'runnerctl_launches_total', { pool: 'seed', capacity_provider: 'FARGATE_SPOT' })
        .length,
    ).toBe(1);
    // Both histograms have every bucket and a +Inf bucket equal to the count.
    for (const name of [
      'runnerctl_job_queued_to_launch_seconds',
      'runnerctl_job_queued_to_start_seconds',
    ]) {
      const count = sum(sample(text, `${name}_count`, { pool: 'seed' }));
      expect(count, name).toBeGreaterThanOrEqual(2);
      expect(sample(text, `${name}_bucket`, { pool: 'seed', le: '+Inf' })).toEqual([count]);
      expect(sum(sample(text, `${name}_sum`, { pool: 'seed' }))).toBeGreaterThanOrEqual(0);
    }

    for (const kind of ['pool', 'gc', 'resync']) {
      expect(
        sum(sample(text, 'runnerctl_reconcile_duration_seconds_count', { kind })),
        kind,
      ).toBeGreaterThanOrEqual(1);
    }
    expect(sample(text, 'runnerctl_workqueue_depth')).toHaveLength(1);

    // API calls by endpoint and outcome, for both services.
    const calls = (service: string, endpoint: string) =>
      sum(sample(text, 'runnerctl_api_calls_total', { service, endpoint, outcome: 'ok' }));
    expect(calls('github', 'generateJitConfig')).toBeGreaterThanOrEqual(2);
    expect(calls('github', 'listRunners')).toBeGreaterThanOrEqual(1);
    expect(calls('ecs', 'RunTask')).toBeGreaterThanOrEqual(2);
    expect(calls('ecs', 'DescribeTasks')).toBeGreaterThanOrEqual(1);
    expect(
      sum(
        sample(text, 'runnerctl_api_call_duration_seconds_count', {
          service: 'ecs',
          endpoint: 'RunTask',
        }),
      ),
    ).toBeGreaterThanOrEqual(2);

    // GitHub's rate limit from the response headers (the sandbox allows 100,000 an hour).
    const remaining = sample(text, 'runnerctl_github_rate_limit_remaining');
    expect(remaining).toHaveLength(1);
    expect(remaining[0]).toBeGreaterThan(0);
    expect(remaining[0]).toBeLessThan(100_000);

    // The lease: this replica holds it.
    expect(sample(text, 'runnerctl_is_leader')).toEqual([1]);
    const holders = sample(text, 'runnerctl_lease_holder');
    expect(holders).toEqual([1]);

    // Store-derived gauges exist for every live state of the pool and for the job states.
    for (const state of ['pending', 'launching', 'idle', 'busy', 'draining']) {
      expect(sample(text, 'runnerctl_runners', { pool: 'seed', state }), state).toHaveLength(1);
    }
    for (const state of ['queued', 'waiting', 'in_progress']) {
      expect(sample(text, 'runnerctl_jobs', { state }), state).toHaveLength(1);
    }
    // Process metrics come from the same registry.
    expect(sample(text, 'process_cpu_user_seconds_total')).toHaveLength(1);

    // Lines about the runners that ran the jobs carry the job id, runner name and task ARN.
    const names = jobs.map((j) => j.runnerName!);
    await until(async () => {
      const records = await Promise.all(names.map((n) => app.store.getRunner(n)));
      return records.every((r) => r?.state === 'finished');
    }, 'the runners that ran the jobs finished');
    const log = await readFile(sandbox.info.controller.logFile, 'utf8');
    const lines = log
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const job of jobs) {
      const record = await app.store.getRunner(job.runnerName!);
      expect(record?.taskArn).toBeDefined();
      const launched = lines.find((l) => l.runner === job.runnerName && l.event === 'task-started');
      expect(launched, `task-started line of ${job.runnerName}`).toMatchObject({
        level: 'info',
        pool: 'seed',
        taskArn: record!.taskArn,
      });
      // The job's start names its runner; the runner's end names its task.
      expect(
        lines.some(
          (l) => l.jobId === job.id && l.runner === job.runnerName && l.msg === 'job recorded',
        ),
      ).toBe(true);
      expect(
        lines.some(
          (l) =>
            l.runner === job.runnerName && l.event === 'finished' && l.taskArn === record!.taskArn,
        ),
      ).toBe(true);
    }
  });

  it("the cluster's task state changes reach the app's subscribers through the queue", async () => {
    const { cloud } = sandbox;
    // The seed plan's two tasks stop a little after their jobs complete: wait for them.
    const stoppedTasks = () => cloud.ecs.tasks().filter((t) => t.lastStatus === 'STOPPED');
    await until(
      async () => stoppedTasks().length >= 2,
      async () => `stopped tasks: ${stoppedTasks().length}`,
    );
    const stopped = stoppedTasks();
    await until(
      async () =>
        stopped.every((task) =>
          taskEvents.some((e) => e.taskArn === task.taskArn && e.lastStatus === 'STOPPED'),
        ),
      async () => `task events seen: ${taskEvents.length}`,
    );
    for (const task of stopped) {
      const mine = taskEvents.filter((e) => e.taskArn === task.taskArn);
      expect(mine.some((e) => e.lastStatus === 'RUNNING')).toBe(true);
      expect(mine.every((e) => e.clusterArn === task.clusterArn)).toBe(true);
    }
    // Task events are deleted, never dead-lettered.
    const dlq = cloud.sqs.queues().find((q) => q.url === cloud.deadLetterQueueUrl);
    expect(dlq?.visible).toBe(0);
  });

  it('no JIT config and no private key in the debug log or the CLI output', async () => {
    const { cloud } = sandbox;
    const jitConfigs = cloud.ecs
      .tasks()
      .map((t) => t.environment[JIT_CONFIG_ENV])
      .filter((v): v is string => !!v);
    expect(jitConfigs.length).toBeGreaterThanOrEqual(2);
    const key = await readFile(cloud.privateKeyFile, 'utf8');
    const keyLines = key.split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----'));
    expect(keyLines.length).toBeGreaterThan(3);

    const log = await readFile(sandbox.info.controller.logFile, 'utf8');
    expect(log).toContain('"level":"debug"');
    expect(log).toContain('JIT config generated');

    let stdout = '';
    let stderr = '';
    const io = {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      stdin: new PassThrough(),
      env: {
        AWS_ACCESS_KEY_ID: sandbox.info.aws.accessKeyId,
        AWS_SECRET_ACCESS_KEY: sandbox.info.aws.secretAccessKey,
        AWS_REGION: sandbox.info.aws.region,
      },
      cwd: sandbox.dir,
    };
    const storeFlags = ['--store', 'dynamodb', '--endpoint', sandbox.info.dynamodb.endpoint];
    // The AWS SDK reads its credentials from the process environment.
    const saved = { ...process.env };
    Object.assign(process.env, io.env);
    try {
      expect(await run(['get', 'pools', '-o', 'yaml', ...storeFlags], io), stderr).toBe(0);
      expect(await run(['describe', 'pool', 'seed', ...storeFlags], io), stderr).toBe(0);
    } finally {
      for (const k of Object.keys(io.env)) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
    expect(stdout).toContain('seed');

    for (const [what, text] of [
      ['log', log],
      ['CLI output', stdout + stderr],
      ['printed lines', sandbox.lines.join('\n')],
    ] as const) {
      for (const jit of jitConfigs) {
        expect(text.includes(jit), `${what} holds a JIT config`).toBe(false);
        expect(text.includes(jit.slice(0, 48)), `${what} holds part of a JIT config`).toBe(false);
      }
      expect(text).not.toContain('PRIVATE KEY');
      for (const line of keyLines) expect(text.includes(line), `${what} holds the key`).toBe(false);
    }
  });

  it('/readyz: 200 with the lease state on the leader and on a standby', async () => {
    const leader = await get(`${sandbox.app.url}/readyz`);
    expect(leader.status, leader.text).toBe(200);
    const body = JSON.parse(leader.text) as {
      status: string;
      lease: { leader: boolean; state: string; holder?: string };
      checks: Record<string, { ok: boolean }>;
    };
    expect(body.status).toBe('ready');
    expect(body.lease).toMatchObject({ leader: true, state: 'leader' });
    expect(body.lease.holder).toEqual(expect.any(String));
    expect(Object.keys(body.checks).sort()).toEqual(['ecs', 'github', 'store']);
    for (const c of Object.values(body.checks)) expect(c.ok).toBe(true);

    const replica = await sandbox.startReplica();
    const standby = await get(`${replica.url}/readyz`);
    expect(standby.status, standby.text).toBe(200);
    const standbyBody = JSON.parse(standby.text) as typeof body;
    expect(standbyBody.lease).toMatchObject({
      leader: false,
      state: 'standby',
      holder: body.lease.holder,
    });
    // Its own registry: not the leader, and none of the leader's launches.
    const text = (await get(replica.metricsUrl)).text;
    expect(sample(text, 'runnerctl_is_leader')).toEqual([0]);
    expect(sum(sample(text, 'runnerctl_launches_total'))).toBe(0);
    await replica.stop();
  });

  it('/readyz: 503 naming ECS when the ECS endpoint is down', async () => {
    await sandbox.cloud.ecs.close();
    let last = { status: 0, text: '' };
    await until(
      async () => {
        const r = await get(`${sandbox.app.url}/readyz`);
        last = r;
        return r.status === 503;
      },
      () => `readyz never answered 503: ${last.status} ${last.text}`,
    );
    const body = JSON.parse(last.text) as {
      status: string;
      reasons: string[];
      lease: { state: string };
      checks: Record<string, { ok: boolean; reason?: string }>;
    };
    expect(body.status).toBe('not ready');
    expect(body.checks.ecs?.ok).toBe(false);
    expect(body.checks.store?.ok).toBe(true);
    expect(body.checks.github?.ok).toBe(true);
    expect(body.reasons.some((r) => r.startsWith('ecs: '))).toBe(true);
    expect(body.lease.state).toBe('leader');
    // Liveness is another matter: the process is fine.
    expect((await get(`${sandbox.app.url}/healthz`)).status).toBe(200);
  });
});
