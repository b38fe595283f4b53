// A FARGATE_SPOT task reclaimed mid-job (stop code SpotInterruption): GitHub fails the job, the
// controller re-runs it once, and the job GitHub queues for it runs on FARGATE. Never a loop:
// the re-run is claimed on the job before the POST, and a re-run job is never re-run again.

import { describe, expect, it } from 'vitest';
import { describeJob } from '../../../controller/cli/runner-view.ts';
import { World } from '../../support/fakes/world.ts';
import { busyOnSpot, deliverRerun, interrupt } from '../../support/spot.ts';

describe('spot interruption re-runs', () => {
  it('re-runs the interrupted job once; its re-run launches on FARGATE and completes; nothing leaks', async () => {
    const w = new World();
    const { c, runner, task } = await busyOnSpot(w);
    await interrupt(w, 1, task.arn);
    await c.reconcileOnce();

    const job = (await w.store.getJob(1))!;
    expect(job.spotRerun).toMatchObject({ state: 'requested', runner: runner.name });
    expect(w.github.reruns.map((r) => r.of)).toEqual([1]);
    expect((await w.store.getRunner(runner.name))!.spotInterruption).toBeDefined();

    const rerunId = await deliverRerun(w, 1);
    await c.reconcileOnce();
    expect((await w.store.getJob(rerunId))!.spotRerunOf).toBe(1);
    expect((await w.store.getJob(1))!.spotRerun?.rerunJobId).toBe(rerunId);
    const [onDemand] = await w.live();
    expect(onDemand!.onDemand).toBe(true);
    const launched = w.ecs.running();
    expect(launched.map((t) => t.capacityProvider)).toEqual(['FARGATE']);

    w.bootTasks();
    await c.reconcileOnce();
    await w.start(rerunId, onDemand!.name);
    await w.complete(rerunId);
    for (let i = 0; i < 3; i++) await c.reconcileOnce();
    expect((await w.store.getJob(rerunId))!.conclusion).toBe('success');
    expect(await w.live()).toEqual([]);
    expect(w.ecs.running()).toEqual([]);
    expect([...w.github.runners.values()]).toEqual([]);
    expect(w.github.reruns).toHaveLength(1);
    const handled = (await w.store.getRunner(runner.name))!.spotInterruption!.handled;
    expect(handled).toMatch(`re-run as job ${rerunId}`);
    // describe job shows both sides.
    const old = describeJob((await w.store.getJob(1))!, [], w.clock.now());
    expect(old).toMatch(new RegExp(`Spot re-run: +requested as job ${rerunId} after runner`));
    const next = describeJob((await w.store.getJob(rerunId))!, [], w.clock.now());
    expect(next).toMatch(/Spot re-run of: +job 1 /);
  });

  it('never re-runs a re-run: an interruption of the re-run job (spot pool, odd placement) is not re-run again', async () => {
    const w = new World();
    const { c, task } = await busyOnSpot(w);
    await interrupt(w, 1, task.arn);
    await c.reconcileOnce();
    const rerunId = await deliverRerun(w, 1);
    await c.reconcileOnce();
    w.bootTasks();
    await c.reconcileOnce();
    const [second] = await w.live();
    await w.start(rerunId, second!.name);
    await c.reconcileOnce();
    const secondTask = [...w.ecs.tasks.values()].find(
      (t) => t.tags['runnerctl.dev/runner'] === second!.name,
    )!;
    await interrupt(w, rerunId, secondTask.arn);
    for (let i = 0; i < 3; i++) await c.reconcileOnce();
    expect(w.github.reruns).toHaveLength(1);
    expect((await w.store.getRunner(second!.name))!.spotInterruption!.handled).toMatch(
      /itself the re-run of job 1/,
    );
    expect(await w.live()).toEqual([]);
  });

  it('retries while GitHub refuses (the run still runs), then re-runs once; a claim is never repeated', async () => {
    const w = new World();
    const { c, task } = await busyOnSpot(w);
    // A sibling leg of the same run is still queued: GitHub answers 403.
    w.github.queueJob({
      id: 2,
      runId: 10,
      labels: ['self-hosted', 'other'],
      repository: 'acme/app',
    });
    await interrupt(w, 1, task.arn);
    await c.reconcileOnce();
    expect((await w.store.getJob(1))!.spotRerun?.state).toBe('refused');
    expect(w.github.reruns).toHaveLength(0);

    w.github.complete(2, 'success');
    await w.clock.advance(61_000);
    await c.reconcileOnce();
    expect((await w.store.getJob(1))!.spotRerun?.state).toBe('requested');
    expect(w.github.reruns).toHaveLength(1);
    for (let i = 0; i < 3; i++) {
      await w.clock.advance(61_000);
      await c.reconcileOnce();
    }
    expect(w.github.reruns).toHaveLength(1);
  });

  it('does not re-run a job that succeeded, nor a job of a task stopped for another reason', async () => {
    const w = new World();
    const { c, runner, task } = await busyOnSpot(w);
    await interrupt(w, 1, task.arn, 'success');
    await c.reconcileOnce();
    expect(w.github.reruns).toHaveLength(0);
    expect((await w.store.getRunner(runner.name))!.spotInterruption!.handled).toMatch(
      /concluded success/,
    );
    expect((await w.store.getJob(1))!.spotRerun).toBeUndefined();
  });

  it('gives up after the re-run window when the job never completes', async () => {
    const w = new World();
    const { c, runner, task } = await busyOnSpot(w);
    // The runner is gone, but GitHub never reports the job's end.
    w.ecs.setStatus(task.arn, 'STOPPED', { stopCode: 'SpotInterruption' });
    w.github.runners.delete(w.github.runnerByName(runner.name)!.id);
    await c.reconcileOnce();
    expect((await w.store.getRunner(runner.name))!.state).toBe('finished');
    expect(w.github.reruns).toHaveLength(0);
    await w.clock.advance(6 * 3600_000 + 1_000);
    await c.reconcileOnce();
    expect((await w.store.getRunner(runner.name))!.spotInterruption!.handled).toMatch(
      /never completed/,
    );
    expect(w.github.reruns).toHaveLength(0);
  });
});
