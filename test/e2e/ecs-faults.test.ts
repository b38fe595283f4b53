// Fargate failures on the sandbox: a Spot capacity shortage makes the seed pool (FARGATE_SPOT
// with onDemandFallback) launch on on-demand FARGATE; tasks that fail to start (image pull
// errors) are relaunched with bounded attempts until one starts, and the jobs still succeed.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planOutcome, seedPlan } from '../../controller/sandbox/plan.ts';
import { testSandbox, until, type TestSandbox } from './helpers.ts';

let sandbox: TestSandbox;

beforeAll(async () => {
  sandbox = await testSandbox();
});

afterAll(async () => {
  await sandbox?.close();
});

async function runPlan() {
  const control = sandbox.cloud.github.control;
  const runId = await sandbox.queue(seedPlan(300));
  await until(
    async () => (await planOutcome(control, [runId])).done,
    async () => JSON.stringify((await planOutcome(control, [runId])).jobs.map((j) => j.status)),
  );
  return planOutcome(control, [runId]);
}

describe('Fargate failures', () => {
  it('Spot capacity shortage: the launch falls back to on-demand FARGATE', async () => {
    sandbox.cloud.ecs.setFaults({ spotCapacityShortage: 1 });
    const before = new Set(sandbox.cloud.ecs.tasks().map((t) => t.taskArn));
    const outcome = await runPlan();
    expect(outcome.succeeded).toBe(true);
    const records = await sandbox.app.store.listRunners({ pool: 'seed' });
    const used = records.filter((r) => outcome.jobs.some((j) => j.runnerName === r.name));
    expect(used).toHaveLength(2);
    for (const r of used) expect(r.capacityProvider).toBe('FARGATE');
    const started = sandbox.cloud.ecs.tasks().filter((t) => !before.has(t.taskArn));
    expect(started.filter((t) => t.capacityProvider === 'FARGATE_SPOT')).toEqual([]);
    sandbox.cloud.ecs.setFaults({ spotCapacityShortage: 0 });
  });

  it('tasks that fail to start are relaunched; the jobs still run', async () => {
    const { cloud, app } = sandbox;
    const control = cloud.github.control;
    const before = new Set(cloud.ecs.tasks().map((t) => t.taskArn));
    // Image pulls fail until the first task has failed to start, then work again.
    cloud.ecs.setFaults({ failToStart: 1 });
    const runId = await sandbox.queue(seedPlan(300));
    await until(
      () =>
        cloud.ecs.tasks().some((t) => !before.has(t.taskArn) && t.stopCode === 'TaskFailedToStart'),
      'a task failed to start',
    );
    cloud.ecs.setFaults({ failToStart: 0 });
    await until(
      async () => (await planOutcome(control, [runId])).done,
      async () => JSON.stringify((await planOutcome(control, [runId])).jobs.map((j) => j.status)),
    );
    expect((await planOutcome(control, [runId])).succeeded).toBe(true);

    // The runner whose task failed was launched again (a new attempt, a new task).
    const failedArns = new Set(
      cloud.ecs
        .tasks()
        .filter((t) => !before.has(t.taskArn) && t.stopCode === 'TaskFailedToStart')
        .map((t) => t.taskArn),
    );
    const records = await app.store.listRunners({ pool: 'seed' });
    const hit = records.filter((r) =>
      r.timeline.some((e) => [...failedArns].some((arn) => e.detail?.includes(arn))),
    );
    expect(hit.length).toBeGreaterThan(0);
    expect(hit.some((r) => r.attempts >= 2 || r.state === 'finished')).toBe(true);
    // Nothing of the seed pool is left running or registered.
    await until(
      async () => {
        const live = (await app.store.listRunners({ pool: 'seed' })).filter(
          (r) => r.state !== 'finished',
        );
        const gh = (await control.listRunners()).filter((r) => r.name.startsWith('rctl-seed-'));
        return live.length === 0 && gh.length === 0;
      },
      async () => (await sandbox.leftovers()).join(', '),
    );
  });
});
