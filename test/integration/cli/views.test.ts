// The runner and job views, and drift, against a running sandbox (the real composition root on
// the local cloud), pointed at through its sandbox.json (`--data-dir`): after the seed's plan,
// `get runners|jobs` list what ran, `describe runner` shows the timeline with each step's
// duration and the task's state changes read from ECS, `describe job` the runner that ran it;
// drift is in sync from the CLI (exit 0) and from the controller's GET /drift. No secret (App
// key, webhook secret, JIT configs) ever reaches the output.

import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../controller/cli/run.ts';
import type { DriftReport } from '../../../controller/drift/types.ts';
import { JIT_CONFIG_ENV } from '../../../controller/api/constants.ts';
import { planOutcome, seedPlan } from '../../../controller/sandbox/plan.ts';
import type { JobRecord, RunnerRecord } from '../../../controller/store/types.ts';
import { testSandbox, until, type TestSandbox } from '../../e2e/helpers.ts';

let sandbox: TestSandbox;
const outputs: string[] = [];

beforeAll(async () => {
  sandbox = await testSandbox();
  const runId = await sandbox.queue(seedPlan(1_000));
  const control = sandbox.cloud.github.control;
  await until(async () => (await planOutcome(control, [runId])).done, 'the seed plan ran');
  // The seed pool's runners are gone (linux-x64 keeps a warm runner: minIdle 1).
  await until(
    async () =>
      (await sandbox.app.store.listRunners({ pool: 'seed' })).every(
        (r) => r.state === 'finished',
      ) && (await sandbox.app.store.listJobs()).every((j) => j.status === 'completed'),
    async () => (await sandbox.leftovers()).join(', '),
  );
});

afterAll(async () => {
  await sandbox?.close();
});

async function cli(...args: string[]) {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c) => (stdout += String(c)));
  err.on('data', (c) => (stderr += String(c)));
  const code = await run([...args, '--data-dir', sandbox.info.dataDir], {
    stdout: out,
    stderr: err,
    stdin: new PassThrough(),
    env: {},
    cwd: sandbox.dir,
  });
  outputs.push(stdout, stderr);
  return { code, stdout, stderr };
}

describe('runner and job views on a running sandbox', () => {
  it('get runners and get jobs list what ran', async () => {
    const table = await cli('get', 'runners');
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+POOL\s+STATE\s+JOB\s+GITHUB-ID\s+TASK\s+AGE$/);
    expect(lines.slice(1).filter((l) => / finished /.test(l))).toHaveLength(2);

    const listed = JSON.parse((await cli('get', 'runners', '--pool', 'seed', '-o', 'json')).stdout)
      .items as RunnerRecord[];
    expect(listed.map((r) => r.state)).toEqual(['finished', 'finished']);
    // (A job can end before the controller sees its runner busy: jobId is then not set.)
    expect(listed.every((r) => r.taskArn)).toBe(true);

    const jobs = await cli('get', 'jobs', '-o', 'wide');
    expect(jobs.code).toBe(0);
    expect(jobs.stdout).toMatch(/WAITED\s+RAN\s+COST\s+URL/);
    expect(jobs.stdout.match(/completed\/success/g)).toHaveLength(2);
    // Each finished seed runner got a cost from its task (size x billed time, 60 s minimum).
    expect(listed.every((r) => r.cost && r.cost.usd > 0 && r.cost.billedSeconds >= 60)).toBe(true);
    const cost = await cli('cost', '--since', '1d', '--by', 'pool');
    expect(cost.code, cost.stderr).toBe(0);
    expect(cost.stdout).toMatch(/^POOL\s+RUNNERS\s+JOBS\s+TASK-HOURS\s+USD/);
    expect(cost.stdout).toMatch(/\nseed\s+2\s+/);
    expect(cost.stdout).toMatch(/\nTOTAL\s+\d+\s+\d+\s+[\d.]+\s+\$\d+\.\d{4}/);
    const none = await cli('get', 'runners', '--pool', 'no-such-pool');
    expect(none.stderr).toContain('No runner records found.');
  });

  it('describe runner shows the timeline with durations and the task state changes', async () => {
    const [record] = await sandbox.app.store.listRunners({ pool: 'seed' });
    const shown = await cli('describe', 'runner', record!.name);
    expect(shown.code, shown.stderr).toBe(0);
    const text = shown.stdout;
    expect(text).toContain(`Name:                 ${record!.name}`);
    expect(text).toContain(`Task:                 ${record!.taskArn}`);
    expect(text).toMatch(/GitHub:\s+no runner with this name/);
    expect(text).toMatch(/ECS:\s+task STOPPED/);
    // The steps a finished runner always has (registered and job bound can be too quick to
    // see on a loaded machine), in time order, each timed from the start and from the last.
    for (const step of [
      'record created',
      'JIT config generated',
      'task started',
      'task PROVISIONING',
      'task RUNNING',
      'task STOPPED',
      'removed (finished)',
    ]) {
      expect(text, step).toContain(step);
    }
    const rows = text
      .split('\n')
      .filter((l) => /^ {2}\d{4}-\d\d-\d\dT/.test(l))
      .map((l) => Date.parse(l.trim().split(/\s+/)[0]!));
    expect(rows.length).toBeGreaterThanOrEqual(7);
    expect([...rows].sort((a, b) => a - b)).toEqual(rows);
    expect(text).toMatch(/\+\d+(\.\d)?m?s\s+\+\d+(\.\d)?m?s\s+JIT config generated/);
    expect(text).toContain('task STOPPED');

    const json = JSON.parse((await cli('describe', 'runner', record!.name, '-o', 'json')).stdout);
    expect(json.steps.map((s: { event: string }) => s.event)).toContain('task RUNNING');
    const missing = await cli('describe', 'runner', 'rctl-nope');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('runner "rctl-nope" not found');
  });

  it('describe job shows its wait, run and the runner that ran it', async () => {
    const [job] = (await sandbox.app.store.listJobs()) as JobRecord[];
    const shown = await cli('describe', 'job', String(job!.id));
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`Runner:               ${job!.runnerName}`);
    expect(shown.stdout).toMatch(/Started:\s+\S+ \(waited \d/);
    expect(shown.stdout).toContain(`Runner ${job!.runnerName} (finished), from the job queued:`);
    expect(shown.stdout).toContain('removed (finished)');
    expect((await cli('describe', 'job', 'x1')).code).toBe(2);
  });

  it('drift is in sync from the CLI and from GET /drift', async () => {
    const drift = await cli('drift');
    expect(drift.code, drift.stdout).toBe(0);
    expect(drift.stdout).toMatch(/^in sync: \d+ pool\(s\)/);
    const response = await fetch(`${sandbox.app.operatorUrl}/drift`);
    expect(response.status).toBe(200);
    const report = (await response.json()) as DriftReport;
    expect(report).toMatchObject({ inSync: true, findings: [] });
    expect(report.checked.pools).toBeGreaterThan(0);
    const seed = (await (
      await fetch(`${sandbox.app.operatorUrl}/drift?pool=seed`)
    ).json()) as DriftReport;
    expect(seed).toMatchObject({ pool: 'seed', inSync: true });
    expect((await fetch(`${sandbox.app.operatorUrl}/drift?pool=nope`)).status).toBe(404);
  });

  it('no secret ever reached the output', () => {
    const secrets = [
      sandbox.cloud.github.privateKeyPem,
      sandbox.info.webhook.secret,
      ...sandbox.cloud.ecs.tasks().map((t) => t.environment[JIT_CONFIG_ENV]!),
    ];
    expect(secrets.length).toBeGreaterThan(3);
    const all = outputs.join('\n');
    expect(all.length).toBeGreaterThan(1000);
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(10);
      expect(all).not.toContain(secret);
    }
  });
});
