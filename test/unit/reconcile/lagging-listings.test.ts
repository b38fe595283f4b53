// The store's listings (DynamoDB's global secondary index) lag behind its writes. Garbage
// collection must not take a fresh runner for an orphan, and a pool must not count a runner it
// just launched as missing supply.

import { describe, expect, it } from 'vitest';
import { TASK_STARTED_BY } from '../../../controller/api/constants.ts';
import { createGarbageCollector } from '../../../controller/reconcile/gc.ts';
import { ManualClock } from '../../support/fakes/manual-clock.ts';
import { MemoryStore } from '../../support/fakes/memory-store.ts';
import { World } from '../../support/fakes/world.ts';
import { lagging } from './lagging-store.ts';

function laggingWorld(lagMs: number) {
  const clock = new ManualClock();
  const store = lagging(new MemoryStore(() => clock.now()), () => clock.now(), lagMs);
  return { w: new World({ clock, store }), store };
}

describe('garbage collection with a lagging record listing', () => {
  it('keeps a runner launched a moment ago that the listing does not show yet', async () => {
    const { w, store } = laggingWorld(5_000);
    await w.pool('linux');
    await w.queue(1, ['linux']);
    await w.clock.advance(6_000); // the job is in the listing; what the controller writes is not
    const c = w.controller();
    await c.reconcileOnce();
    expect(w.github.runners.size).toBe(1);
    for (let i = 0; i < 3; i++) {
      await w.clock.advance(1_000); // still within the listing's lag
      await c.reconcileOnce();
    }
    expect(w.github.runners.size).toBe(1);
    expect(w.ecs.running()).toHaveLength(1);
    // ...and the pool launched no second runner for its one job.
    store.lagMs = 0;
    expect(await w.live()).toHaveLength(1);
    expect(w.ecs.tasks.size).toBe(1);
  });

  it('looks the record up by name before deleting (a collector that never saw the write)', async () => {
    const { w, store } = laggingWorld(0);
    await w.pool('linux');
    await w.queue(1, ['linux']);
    store.lagMs = 0;
    await w.controller().reconcileOnce();
    store.lagMs = 10 * 60_000;
    const [runner] = [...w.github.runners.values()];
    // Another process's collector: its listing does not show the record for a long while.
    const gc = createGarbageCollector(w.context());
    expect((await gc()).runnersDeleted).toEqual([]);
    await w.clock.advance(61_000); // past the grace period, the listing still lags
    const report = await gc();
    expect(report.runnersDeleted).toEqual([]);
    expect(report.tasksStopped).toEqual([]);
    expect(w.github.runners.has(runner!.id)).toBe(true);
    expect(w.ecs.running()).toHaveLength(1);
  });

  it('removes a runner and a task that have no record only after the grace period', async () => {
    const { w } = laggingWorld(0);
    await w.pool('linux');
    const scope = { kind: 'org' as const, org: 'acme' };
    const orphan = await w.github.generateJitConfig(scope, {
      name: 'rctl-linux-dead',
      runnerGroupId: 1,
      labels: ['self-hosted'],
    });
    const task = await w.ecs.runTask({
      cluster: 'runners',
      taskDefinition: 'runner:1',
      containerName: 'runner',
      subnets: [],
      securityGroups: [],
      assignPublicIp: false,
      environment: {},
      clientToken: 't',
      startedBy: TASK_STARTED_BY,
      tags: { 'runnerctl.dev/runner': 'rctl-linux-gone' },
    });
    const gc = createGarbageCollector(w.context());
    const first = await gc();
    expect(first.waiting.sort()).toEqual(['rctl-linux-dead', 'rctl-linux-gone']);
    await w.clock.advance(30_000);
    await gc();
    expect(w.github.runners.has(orphan.runner.id)).toBe(true);
    expect(w.ecs.tasks.get(task.arn)!.lastStatus).not.toBe('STOPPED');
    await w.clock.advance(31_000);
    const last = await gc();
    expect(last.runnersDeleted).toEqual(['rctl-linux-dead']);
    expect(last.tasksStopped).toEqual([task.arn]);
    expect(w.github.runners.has(orphan.runner.id)).toBe(false);
    expect(w.ecs.tasks.get(task.arn)!.lastStatus).toBe('STOPPED');
  });
});

describe('deleting a pool with a lagging record listing', () => {
  it('removes the pool record only once nothing of its runners is left', async () => {
    const { w, store } = laggingWorld(0);
    await w.pool('linux');
    await w.queue(1, ['linux']);
    const a = w.controller({}, 'a');
    await a.reconcileOnce(); // one runner launched by replica a
    await a.stop();
    await w.store.requestPoolDeletion('linux');
    // Replica b takes over; its listing does not show a's record for a long while.
    store.lagMs = 10 * 60_000;
    const b = w.controller({}, 'b');
    for (let i = 0; i < 4; i++) {
      await b.reconcileOnce();
      if (!(await w.store.getPool('linux'))) {
        // Gone: then nothing of it may be left behind.
        expect(w.ecs.running()).toEqual([]);
        expect(w.github.runners.size).toBe(0);
        expect((await w.store.getRunner('rctl-linux-s0001'))!.state).toBe('finished');
      }
      await w.clock.advance(6_000);
    }
    store.lagMs = 0;
    for (let i = 0; i < 3 && (await w.store.getPool('linux')); i++) {
      await w.clock.advance(6_000);
      await b.reconcileOnce();
    }
    expect(await w.store.getPool('linux')).toBeUndefined();
    expect(w.ecs.running()).toEqual([]);
    expect(w.github.runners.size).toBe(0);
    expect(await w.live()).toEqual([]);
  });
});
