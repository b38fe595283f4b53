// Events arrive twice, out of order, or never (shared/design.md). On the sandbox, with the
// GitHub simulator's delivery faults on both event paths (HTTP and EventBridge -> SQS):
// duplicated and reordered events launch no extra runner and never move a job backwards; jobs
// whose every event was dropped are found by the controller's resync and run all the same.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planOutcome } from '../../controller/sandbox/plan.ts';
import { testSandbox, until, type TestSandbox } from './helpers.ts';

let sandbox: TestSandbox;
const REPO = 'foo-organisation/jit-fargate-test';

beforeAll(async () => {
  sandbox = await testSandbox({ resyncSeconds: 2 });
  // A late event can leave a job looking queued after it ran, and demand is counted: a runner
  // launched for such stale demand waits idle for the pool's idle timeout. Keep that short.
  const seed = sandbox.pools.find((p) => p.pool.metadata.name === 'seed')!.pool;
  await sandbox.app.store.applyPool({
    ...seed,
    spec: { ...seed.spec, timeouts: { ...seed.spec.timeouts, idle: '2s' } },
  });
});

afterAll(async () => {
  await sandbox?.close();
});

function matrix(workflowName: string, n: number) {
  return {
    repo: REPO,
    workflowName,
    jobs: Array.from({ length: n }, (_, i) => ({
      name: `${workflowName} (${i + 1})`,
      runsOn: ['self-hosted', String((i % 2) + 1)],
      durationMs: 300,
    })),
  };
}

async function runToCompletion(runId: number) {
  const control = sandbox.cloud.github.control;
  await until(
    async () => (await planOutcome(control, [runId])).done,
    async () => JSON.stringify((await planOutcome(control, [runId])).jobs.map((j) => j.status)),
  );
  return planOutcome(control, [runId]);
}

/** The controller's job records caught up with GitHub, and every seed runner is gone. */
async function seedRunnersSettled(jobIds: number[]) {
  await until(async () => {
    const stored = await Promise.all(jobIds.map((id) => sandbox.app.store.getJob(id)));
    return stored.every((j) => j?.status === 'completed');
  }, 'job records completed');
  await until(
    async () => {
      const gh = await sandbox.cloud.github.control.listRunners();
      const live = (await sandbox.app.store.listRunners({ pool: 'seed' })).filter(
        (r) => r.state !== 'finished',
      );
      return gh.every((r) => !r.name.startsWith('rctl-seed-')) && live.length === 0;
    },
    async () => (await sandbox.leftovers()).join(', '),
  );
}

describe('duplicated, reordered and dropped events', () => {
  it('duplicates and reordering: every job runs once on its own runner, statuses only forward', async () => {
    const control = sandbox.cloud.github.control;
    await control.setFaults({ duplicateRate: 1, reorderRate: 0.5 });
    const runId = await sandbox.queue(matrix('dup', 4));
    const outcome = await runToCompletion(runId);
    expect(outcome.succeeded, JSON.stringify(outcome.jobs)).toBe(true);
    await seedRunnersSettled(outcome.jobs.map((j) => j.id));

    // Every delivery was doubled...
    await control.flushWebhooks();
    const deliveries = (
      await Promise.all(outcome.jobs.map((j) => control.deliveries({ jobId: j.id })))
    ).flat();
    expect(deliveries.some((d) => d.duplicate)).toBe(true);
    // ...yet each job ran on its own runner, no runner ran two jobs, every record is finished.
    const records = await sandbox.app.store.listRunners({ pool: 'seed' });
    const ran = outcome.jobs.map((j) => j.runnerName);
    expect(new Set(ran).size).toBe(outcome.jobs.length);
    expect(records.filter((r) => ran.includes(r.name))).toHaveLength(outcome.jobs.length);
    expect(records.every((r) => r.state === 'finished')).toBe(true);
    const stored = await Promise.all(outcome.jobs.map((j) => sandbox.app.store.getJob(j.id)));
    expect(stored.map((j) => j?.status)).toEqual(outcome.jobs.map(() => 'completed'));
  });

  it('dropped events: the resync finds the queued jobs and they run', async () => {
    const control = sandbox.cloud.github.control;
    // The controller has seen the repository (first test); now GitHub's deliveries all vanish.
    await control.setFaults({ duplicateRate: 0, reorderRate: 0, dropRate: 1 });
    const runId = await sandbox.queue(matrix('dropped', 2));
    const outcome = await runToCompletion(runId);
    expect(outcome.succeeded, JSON.stringify(outcome.jobs)).toBe(true);
    await control.flushWebhooks();
    for (const job of outcome.jobs) {
      const deliveries = await control.deliveries({ jobId: job.id });
      expect(deliveries.length).toBeGreaterThan(0);
      expect(deliveries.every((d) => d.outcome === 'dropped')).toBe(true);
      expect(job.runnerName).toMatch(/^rctl-seed-/);
    }
    await seedRunnersSettled(outcome.jobs.map((j) => j.id));
    await control.setFaults({ dropRate: 0 });
  });
});
