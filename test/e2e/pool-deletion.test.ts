// Deleting a pool while one of its runners runs a job, on the local cloud: the busy runner is
// kept (its task is never stopped mid-job) and finishes its job, the idle ones are drained, and
// only then does the pool record go. Other pools are untouched.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planOutcome } from '../../controller/sandbox/plan.ts';
import { testSandbox, until, type TestSandbox } from './helpers.ts';

let sandbox: TestSandbox;

beforeAll(async () => {
  sandbox = await testSandbox({ taskStartMs: 300 });
});

afterAll(async () => {
  await sandbox?.close();
});

describe('pool deletion drains', () => {
  it('keeps a busy runner until its job is done, then removes the pool and leaves nothing', async () => {
    const { app, cloud } = sandbox;
    const control = cloud.github.control;
    const runId = await sandbox.queue({
      repo: 'foo-organisation/jit-fargate-test',
      workflowName: 'long',
      jobs: [{ name: 'long job', runsOn: ['self-hosted', '1'], durationMs: 4_000 }],
    });
    await until(
      async () => (await planOutcome(control, [runId])).jobs[0]?.status === 'in_progress',
      'the job running',
    );
    const runnerName = (await planOutcome(control, [runId])).jobs[0]!.runnerName!;
    const record = (await app.store.getRunner(runnerName))!;
    expect(record.pool).toBe('seed');

    await app.store.requestPoolDeletion('seed');
    app.controller.enqueuePool('seed');
    // While the job runs, the runner and its task stay, and so does the pool record.
    let observations = 0;
    while ((await planOutcome(control, [runId])).jobs[0]?.status !== 'completed') {
      const pool = await app.store.getPool('seed');
      const task = cloud.ecs.task((await app.store.getRunner(runnerName))!.taskArn!);
      const job = (await planOutcome(control, [runId])).jobs[0]!;
      if (job.status === 'completed') break;
      expect(pool, 'pool record while its runner is busy').toBeDefined();
      expect(task?.desiredStatus, 'busy runner task').toBe('RUNNING');
      observations++;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(observations).toBeGreaterThan(0);
    expect((await planOutcome(control, [runId])).succeeded).toBe(true);

    await until(
      async () => (await app.store.getPool('seed')) === undefined,
      'the seed pool removed after its runner finished',
    );
    const seedRecords = await app.store.listRunners({ pool: 'seed' });
    expect(seedRecords.filter((r) => r.state !== 'finished')).toEqual([]);
    expect((await control.listRunners()).filter((r) => r.name.startsWith('rctl-seed-'))).toEqual(
      [],
    );
    // The other example pools are still there.
    expect((await app.store.listPools()).map((p) => p.name).sort()).toEqual([
      'docker',
      'jit-fargate-test',
      'linux-x64',
    ]);
  }, 40_000);
});
