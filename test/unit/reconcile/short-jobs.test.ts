// A short job can go from queued straight to completed: the in_progress event is lost, or never
// sent before the job ended. The completed event still names the runner: it binds the job to
// the runner record and finishes the runner, which must not stay idle (counted as supply) or
// leak.

import { describe, expect, it } from 'vitest';
import { jobRecordFrom } from '../../../controller/reconcile/jobs.ts';
import { World } from '../../support/fakes/world.ts';

async function idleRunner(w: World) {
  await w.pool('linux');
  await w.queue(1, ['linux']);
  const c = w.controller();
  await c.reconcileOnce();
  w.bootTasks();
  await c.reconcileOnce();
  const [record] = await w.live();
  expect(record!.state).toBe('idle');
  return { c, record: record! };
}

describe('a job that skips in_progress', () => {
  it('binds to its runner on the completed event and the runner finishes, task stopped', async () => {
    const w = new World();
    const { c, record } = await idleRunner(w);
    // GitHub ran job 1 on the runner; only the completed event arrives, and the runner has not
    // deregistered yet (its task is still shutting down).
    const runner = w.github.runnerByName(record.name)!;
    const job = w.github.jobs.get(1)!;
    Object.assign(job, {
      status: 'completed',
      conclusion: 'success',
      runnerName: record.name,
      runnerId: runner.id,
    });
    const { record: stored } = await w.store.recordJob(
      jobRecordFrom(job, new Date(w.clock.now()).toISOString()),
    );
    await c.onJobChanged(stored);
    await c.reconcileOnce();

    const after = (await w.store.getRunner(record.name))!;
    expect(after.state).toBe('finished');
    expect(after.jobId).toBe(1);
    expect(w.ecs.running()).toEqual([]);
    // The registration GitHub has not removed yet goes with garbage collection (finished record),
    // once a listing taken after the runner finished shows it.
    await w.clock.advance(1_000);
    await c.reconcileOnce();
    expect(w.github.runnerByName(record.name)).toBeUndefined();
  });

  it('a runner still launching when its job completed is finished too, and not replaced', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(1, ['linux']);
    await w.queue(2, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();
    const [first] = (await w.live()).sort((a, b) => (a.name < b.name ? -1 : 1));
    // Its runner came online, ran job 1 in a blink; the controller never saw it idle.
    w.bootTasks();
    const job = w.github.jobs.get(1)!;
    w.github.assign(first!.name, 1);
    Object.assign(job, { status: 'completed', conclusion: 'success' });
    w.github.runnerByName(first!.name)!.busy = false; // done, not deregistered yet
    const { record: stored } = await w.store.recordJob(
      jobRecordFrom(job, new Date(w.clock.now()).toISOString()),
    );
    await c.onJobChanged(stored);
    await c.reconcileOnce();
    const records = await w.runners();
    expect(records.find((r) => r.name === first!.name)).toMatchObject({
      state: 'finished',
      jobId: 1,
    });
    // Job 2 still has exactly one runner.
    expect(await w.live()).toHaveLength(1);
  });
});
