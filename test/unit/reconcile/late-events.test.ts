// Job events arrive late: a runner can take a job, run it and exit before the store hears that
// the job left the queue. The job still looks queued; the runner that ran it is gone. The pool
// must not launch a second runner for that job.

import { describe, expect, it } from 'vitest';
import { jobRecordFrom } from '../../../controller/reconcile/jobs.ts';
import { World } from '../../support/fakes/world.ts';

describe('late job events', () => {
  it('a runner that ran a job before its events arrived still counts for that job', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(1, ['linux']);
    await w.queue(2, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();
    w.bootTasks();
    await c.reconcileOnce();
    const [r1, r2] = (await w.live()).sort((a, b) => (a.name < b.name ? -1 : 1));
    expect([r1!.state, r2!.state]).toEqual(['idle', 'idle']);

    // GitHub runs job 1 on r1 in a blink; r1 deregisters and its task exits. No event yet.
    w.github.assign(r1!.name, 1);
    w.github.complete(1);
    w.ecs.setStatus(r1!.taskArn!, 'STOPPED', { exitCode: 0 });
    c.enqueuePool('linux');
    await c.idle();
    expect((await w.store.getRunner(r1!.name))!.state).toBe('finished');
    expect((await w.store.getJob(1))!.status).toBe('queued'); // the store does not know yet
    expect(await w.runners()).toHaveLength(2); // no runner launched for job 1 again

    // The completed event arrives: job 1 leaves the queue, r2 is still there for job 2.
    const { record } = await w.store.recordJob(
      jobRecordFrom(w.github.jobs.get(1)!, new Date(w.clock.now()).toISOString()),
    );
    await c.onJobChanged(record);
    await c.idle();
    expect(await w.runners()).toHaveLength(2);
    expect((await w.live()).map((r) => r.name)).toEqual([r2!.name]);
  });

  it('never holds back a job queued after such a runner finished (a successor without hints)', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(1, ['linux']);
    const c = w.controller({}, 'a');
    await c.reconcileOnce();
    w.bootTasks();
    await c.reconcileOnce();
    const [r1] = await w.live();
    w.github.assign(r1!.name, 1);
    w.github.complete(1);
    w.ecs.setStatus(r1!.taskArn!, 'STOPPED', { exitCode: 0 });
    c.enqueuePool('linux');
    await c.idle();
    expect((await w.store.getRunner(r1!.name))!.state).toBe('finished');
    // Job 1's completed event is stored by ingestion; this replica then stops.
    const iso = () => new Date(w.clock.now()).toISOString();
    await w.store.recordJob(jobRecordFrom(w.github.jobs.get(1)!, iso()));
    await c.stop();
    await w.clock.advance(1_000);
    const job2 = w.github.queueJob({
      id: 2,
      labels: ['self-hosted', 'linux'],
      repository: 'acme/app',
      createdAt: iso(),
    });
    await w.store.recordJob(jobRecordFrom(job2, iso()));
    // A successor that never heard job 1's events launches for job 2 at once.
    const b = w.controller({}, 'b');
    await b.reconcileOnce();
    expect(await w.live()).toHaveLength(1);
  });

  it('counts such a runner only for a bounded window', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(1, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();
    w.bootTasks();
    await c.reconcileOnce();
    const [r1] = await w.live();
    // The runner deregisters without any job (an admin removed it); job 1 stays queued.
    w.github.runners.delete(w.github.runnerByName(r1!.name)!.id);
    w.ecs.setStatus(r1!.taskArn!, 'STOPPED', { exitCode: 0 });
    c.enqueuePool('linux');
    await c.idle();
    expect(await w.live()).toHaveLength(0); // held back: it may have run job 1
    await w.clock.advance(121_000);
    c.enqueuePool('linux');
    await c.idle();
    expect(await w.live()).toHaveLength(1); // job 1 is still queued: launched again
  });
});
