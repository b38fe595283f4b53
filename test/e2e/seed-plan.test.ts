// The seed's test plan through the real controller on the local cloud (built by the production
// composition root): webhooks arrive both over HTTP and through EventBridge -> SQS; each matrix
// job gets its own JIT runner in its own Fargate Spot task, succeeds, and leaves nothing behind.
// Then a queued job cancelled before it ran, and pool deletion draining the warm runner.

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

describe('the seed plan on the sandbox', () => {
  it('runs each matrix job on its own JIT runner and cleans up', async () => {
    const { cloud, app } = sandbox;
    const runId = await sandbox.queue(seedPlan(800));
    const control = cloud.github.control;

    await until(
      async () => (await planOutcome(control, [runId])).done,
      async () => JSON.stringify((await planOutcome(control, [runId])).jobs.map((j) => j.status)),
    );
    const { jobs, succeeded } = await planOutcome(control, [runId]);
    expect(succeeded).toBe(true);
    const runnerNames = jobs.map((j) => j.runnerName);
    expect(new Set(runnerNames).size).toBe(2);
    for (const name of runnerNames) expect(name).toMatch(/^rctl-seed-[0-9a-f]+$/);

    // The runners that ran the jobs: finished records, gone from GitHub, tasks stopped cleanly.
    await until(async () => {
      const records = await app.store.listRunners({ pool: 'seed' });
      return records.length >= 2 && records.every((r) => r.state === 'finished');
    }, 'seed runner records finished');
    const records = await app.store.listRunners({ pool: 'seed' });
    const used = records.filter((r) => runnerNames.includes(r.name));
    expect(used).toHaveLength(2);
    const ghNames = (await control.listRunners()).map((r) => r.name);
    for (const record of used) {
      expect(ghNames).not.toContain(record.name);
      expect(record.capacityProvider).toBe('FARGATE_SPOT');
      await until(
        () => cloud.ecs.task(record.taskArn!)?.lastStatus === 'STOPPED',
        `task of ${record.name} STOPPED`,
      );
      const task = cloud.ecs.task(record.taskArn!)!;
      expect(task).toMatchObject({ exitCode: 0, stopCode: 'EssentialContainerExited' });
      expect(task.capacityProvider).toBe('FARGATE_SPOT');
      expect(record.timeline.map((t) => t.event)).toContain('busy');
    }

    // Both event paths delivered every event of the plan: HTTP /webhook and EventBridge -> SQS.
    await control.flushWebhooks();
    for (const job of jobs) {
      const deliveries = await control.deliveries({ jobId: job.id });
      const sinks = new Set(
        deliveries.filter((d) => d.outcome === 'delivered').map((d) => d.sinkId),
      );
      expect(sinks.size, JSON.stringify(deliveries)).toBe(2);
    }
    await until(() => {
      const queue = cloud.sqs.queues().find((q) => q.url === cloud.queueUrl)!;
      return queue.visible === 0 && queue.inFlight === 0;
    }, 'the SQS queue consumed');
    expect(cloud.sqs.queues().find((q) => q.url === cloud.deadLetterQueueUrl)?.visible).toBe(0);

    // The controller's own records agree with GitHub.
    const stored = await Promise.all(jobs.map((j) => app.store.getJob(j.id)));
    expect(stored.map((j) => [j?.status, j?.conclusion, j?.runnerName])).toEqual(
      jobs.map((j) => ['completed', 'success', j.runnerName]),
    );
  });

  it('removes the runner launched for a job cancelled before it ran, once idle too long', async () => {
    const { cloud, app } = sandbox;
    const control = cloud.github.control;
    // Idle runners beyond demand go after the pool's idle timeout (10m in the example): shorten it.
    const seed = sandbox.pools.find((p) => p.pool.metadata.name === 'seed')!.pool;
    await app.store.applyPool({
      ...seed,
      spec: { ...seed.spec, timeouts: { ...seed.spec.timeouts, idle: '2s' } },
    });
    // Cancelled while its runner's task is still starting (or before the launch).
    const runId = await sandbox.queue({
      repo: 'foo-organisation/jit-fargate-test',
      workflowName: 'cancelled',
      jobs: [{ name: 'never runs', runsOn: ['self-hosted', '2'], durationMs: 500 }],
    });
    const [jobId] = (await control.getRun({ runId })).jobIds;
    // The controller launches a runner for it; cancel the job before the runner takes it.
    let launched: string | undefined;
    await until(async () => {
      const live = (await app.store.listRunners({ pool: 'seed' })).find(
        (r) => r.state !== 'finished',
      );
      launched = live?.name;
      return launched !== undefined;
    }, 'a seed runner launched for the job');
    await control.cancelJob({ jobId: jobId! });
    expect((await control.getJob({ jobId: jobId! })).conclusion).toBe('cancelled');

    await until(
      async () => (await app.store.getJob(jobId!))?.status === 'completed',
      'the cancellation recorded',
    );
    // The runner it launched is removed after the idle timeout: no seed runner or task is left.
    await until(
      async () => {
        const gh = (await control.listRunners()).filter((r) => r.name.startsWith('rctl-seed-'));
        const live = (await app.store.listRunners({ pool: 'seed' })).filter(
          (r) => r.state !== 'finished',
        );
        return gh.length === 0 && live.length === 0;
      },
      async () =>
        JSON.stringify(
          (await app.store.listRunners({ pool: 'seed' })).map((r) => [r.name, r.state]),
        ),
    );
    const record = (await app.store.getRunner(launched!))!;
    expect(record.state).toBe('finished');
    expect(record.jobId).toBeUndefined();
    await until(
      () => cloud.ecs.task(record.taskArn!)?.lastStatus === 'STOPPED',
      `task of ${record.name} STOPPED`,
    );
  });

  it('drains every pool on deletion, warm runners included', async () => {
    const { app } = sandbox;
    // linux-x64 keeps one warm runner (minIdle 1).
    await until(
      async () =>
        (await app.store.listRunners({ pool: 'linux-x64' })).some((r) => r.state === 'idle'),
      'the warm linux-x64 runner idle',
    );
    await sandbox.deletePools();
    await until(
      async () =>
        (await sandbox.leftovers()).length === 0 && (await app.store.listPools()).length === 0,
      async () => (await sandbox.leftovers()).join(', '),
    );
    expect(await sandbox.leftovers()).toEqual([]);
  });
});
