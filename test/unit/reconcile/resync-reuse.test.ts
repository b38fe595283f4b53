// The job resync reuses a run listing it holds while that listing still shows the whole run,
// and lists the run again when something could have added jobs to it (docs/reconcile.md
// "Job resync").
import { describe, expect, it } from 'vitest';
import { World } from '../../support/fakes/world.ts';

const listings = (w: World) => w.github.calls.filter((k) => k === 'listRunJobs').length;

/** Run 10 of acme/app with `jobs`, seen by the controller's first resync and running. */
async function runningRun(...jobs: number[]) {
  const w = new World();
  await w.pool('linux');
  for (const id of jobs) await w.queue(id, ['linux'], 'acme/app', 10);
  const c = w.controller();
  await c.reconcileOnce();
  w.bootTasks();
  await w.dispatch();
  return { w, c };
}

/** GitHub creates a job in run 10 whose events are all lost. */
const lostJob = (w: World, id: number, runAttempt = 1) =>
  w.github.queueJob({
    id,
    runId: 10,
    runAttempt,
    labels: ['self-hosted', 'linux'],
    repository: 'acme/app',
  });

describe('job resync: held run listings', () => {
  it('an open run whose listing still shows it whole is not listed again', async () => {
    const { w, c } = await runningRun(1, 2);
    expect(w.github.jobs.get(1)!.status).toBe('in_progress');
    const before = listings(w);
    await w.clock.advance(60_000);
    await c.reconcileOnce();
    // The run is still open (both jobs run): the held listing answers.
    expect(listings(w)).toBe(before);
    expect((await w.store.getJob(1))!.status).toBe('in_progress');
  });

  it('a job that completed makes the next resync list the run again and find a new job', async () => {
    const { w, c } = await runningRun(1, 2);
    await w.complete(1);
    // The app hands every recorded event to the controller.
    await c.onJobChanged((await w.store.getJob(1))!);
    // Job 3 `needs` job 1: GitHub creates it now; its queued event is lost.
    lostJob(w, 3);
    const before = listings(w);
    await w.clock.advance(60_000);
    await c.reconcileOnce();
    expect(listings(w)).toBeGreaterThan(before);
    expect((await w.store.getJob(3))?.status).toBe('queued');
  });

  it('without a completion, a job created after the listing is still found once the listing ages', async () => {
    const { w, c } = await runningRun(1);
    lostJob(w, 3);
    // Bounded: at most ten periods of reuse.
    for (let i = 0; i < 11 && !(await w.store.getJob(3)); i++) {
      await w.clock.advance(60_000);
      await c.reconcileOnce();
    }
    expect((await w.store.getJob(3))?.status).toBe('queued');
  });

  it('a new attempt of the run is listed again', async () => {
    const { w, c } = await runningRun(1);
    // Re-run: GitHub starts attempt 2 of run 10 with a new job; every event of it is lost.
    lostJob(w, 4, 2);
    await w.clock.advance(60_000);
    await c.reconcileOnce();
    expect((await w.store.getJob(4))?.status).toBe('queued');
  });

  it('a job stored as waiting makes its run listed at every resync (an approval has no event)', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(1, ['linux'], 'acme/app', 10);
    await w.hold(1);
    const c = w.controller();
    await c.reconcileOnce();
    // Approved: queued again; the event is lost.
    w.github.jobs.get(1)!.status = 'queued';
    await w.clock.advance(60_000);
    await c.reconcileOnce();
    expect((await w.store.getJob(1))?.status).toBe('queued');
  });
});
