import { describe, expect, it } from 'vitest';
import { TASK_STARTED_BY } from '../../../controller/api/constants.ts';
import { FencingError } from '../../../controller/store/errors.ts';
import { assertActing } from '../../../controller/util/acting.ts';
import { World } from '../../support/fakes/world.ts';

describe('garbage collection', () => {
  it('deletes GitHub runners with our prefix and no record, keeps busy ones and foreign ones', async () => {
    const w = new World();
    await w.pool('linux');
    const scope = { kind: 'org' as const, org: 'acme' };
    const orphan = await w.github.generateJitConfig(scope, {
      name: 'rctl-linux-dead',
      runnerGroupId: 1,
      labels: ['self-hosted'],
    });
    const busy = await w.github.generateJitConfig(scope, {
      name: 'rctl-linux-busy',
      runnerGroupId: 1,
      labels: ['self-hosted'],
    });
    w.github.connect(busy.encodedJitConfig);
    w.github.runners.get(busy.runner.id)!.busy = true;
    await w.github.generateJitConfig(scope, {
      name: 'someone-else',
      runnerGroupId: 1,
      labels: ['self-hosted'],
    });
    const c = w.controller();
    await c.reconcileOnce();
    await w.clock.advance(60_000); // no record for a whole grace period: an orphan
    await c.reconcileOnce();
    const names = [...w.github.runners.values()].map((r) => r.name).sort();
    expect(names).toEqual(['rctl-linux-busy', 'someone-else']);
    expect(w.github.runners.has(orphan.runner.id)).toBe(false);
  });

  it('stops tasks we started that no record tracks, leaves other tasks alone', async () => {
    const w = new World();
    await w.pool('linux');
    const launch = {
      cluster: 'runners',
      taskDefinition: 'runner:1',
      containerName: 'runner',
      subnets: [],
      securityGroups: [],
      assignPublicIp: false,
      environment: {},
      tags: { 'runnerctl.dev/runner': 'rctl-linux-gone' },
    };
    const ours = await w.ecs.runTask({ ...launch, clientToken: 'a', startedBy: TASK_STARTED_BY });
    const theirs = await w.ecs.runTask({ ...launch, clientToken: 'b', startedBy: 'someone' });
    const c = w.controller();
    await c.reconcileOnce();
    expect(w.ecs.tasks.get(ours.arn)!.lastStatus).toBe('PROVISIONING'); // within its grace
    await w.clock.advance(60_000);
    await c.reconcileOnce();
    expect(w.ecs.tasks.get(ours.arn)!.lastStatus).toBe('STOPPED');
    expect(w.ecs.tasks.get(theirs.arn)!.lastStatus).toBe('PROVISIONING');
  });

  it('leaves a normal fleet alone', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(1, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();
    w.bootTasks();
    await c.reconcileOnce();
    await c.reconcileOnce();
    expect(w.ecs.running()).toHaveLength(1);
    expect(w.github.runners.size).toBe(1);
  });
});

describe('job resync', () => {
  it('recovers a lost queued event within one resync period', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(1, ['linux']);
    // Job 2's webhook is lost: it exists only on GitHub.
    w.github.queueJob({ id: 2, labels: ['self-hosted', 'linux'], repository: 'acme/app' });
    const c = w.controller();
    await c.reconcileOnce();
    expect((await w.store.getJob(2))!.status).toBe('queued');
    expect(await w.live()).toHaveLength(2);
  });

  it('a job cancelled while its events were lost stops being demand', async () => {
    const w = new World();
    await w.pool('linux', { timeouts: { idle: '1m' } });
    await w.queue(1, ['linux']);
    // GitHub cancels it; the completed event never arrives.
    Object.assign(w.github.jobs.get(1)!, { status: 'completed', conclusion: 'cancelled' });
    const c = w.controller();
    await c.reconcileOnce();
    expect((await w.store.getJob(1))!).toMatchObject({
      status: 'completed',
      conclusion: 'cancelled',
    });
    // The pass that ran beside the resync may have launched one runner for it: that runner is
    // surplus from then on and goes at the idle timeout; nothing more is launched for the job.
    expect((await w.live()).length).toBeLessThanOrEqual(1);
    w.bootTasks();
    await c.reconcileOnce();
    await w.clock.advance(61_000);
    await c.reconcileOnce();
    await c.reconcileOnce();
    expect(await w.live()).toHaveLength(0);
    expect(w.github.calls.filter((k) => k === 'generateJitConfig').length).toBeLessThanOrEqual(1);
  });

  it('never moves a job backwards', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(1, ['linux']);
    const job = (await w.store.getJob(1))!;
    await w.store.recordJob({ ...job, status: 'in_progress' });
    const c = w.controller();
    await c.reconcileOnce(); // GitHub still lists it as queued (lagging)
    expect((await w.store.getJob(1))!.status).toBe('in_progress');
    expect(await w.live()).toHaveLength(0);
  });
});

describe('lease', () => {
  it('exactly one of two replicas acts', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(1, ['linux']);
    const a = w.controller({}, 'a');
    const b = w.controller({}, 'b');
    expect(await a.reconcileOnce()).toBe(true);
    expect(await b.reconcileOnce()).toBe(false);
    expect(a.isLeader()).toBe(true);
    expect(b.isLeader()).toBe(false);
    expect(w.ecs.tasks.size).toBe(1);
  });

  it('the standby takes over when the leader stops renewing; the old leader stops acting', async () => {
    const w = new World();
    await w.pool('linux');
    const a = w.controller({ leaseMs: 15_000 }, 'a');
    const b = w.controller({ leaseMs: 15_000 }, 'b');
    await a.reconcileOnce();
    expect(await b.reconcileOnce()).toBe(false); // b sees a's lease
    await w.clock.advance(16_000); // a is paused (GC, network) and does not renew
    expect(await b.reconcileOnce()).toBe(true);
    expect(b.leaseVersion()).toBeGreaterThan(a.leaseVersion()!);
    // a wakes up with work to do: it notices the lease is gone before acting.
    await w.queue(1, ['linux']);
    a.enqueuePool('linux');
    await a.idle();
    expect(a.isLeader()).toBe(false);
    expect(await w.live()).toHaveLength(0);
  });

  it('a leader paused in the middle of a launch cannot finish it after a takeover', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(1, ['linux']);
    const a = w.controller({ leaseMs: 15_000 }, 'a');
    const b = w.controller({ leaseMs: 15_000 }, 'b');
    // a's first RunTask hangs (a long pause between JIT config and RunTask).
    let release!: () => void;
    const paused = new Promise<void>((r) => (release = r));
    const runTask = w.ecs.runTask.bind(w.ecs);
    let first = true;
    w.ecs.runTask = async (launch) => {
      if (first) {
        first = false;
        await paused;
      }
      return runTask(launch);
    };
    const aDone = a.reconcileOnce();
    while (!a.isLeader()) await new Promise((r) => setTimeout(r, 1));
    expect(await b.reconcileOnce()).toBe(false); // b sees a's lease
    await w.clock.advance(16_000);
    expect(await b.reconcileOnce()).toBe(true); // b replaces the registration and launches
    release();
    await aDone; // a's RunTask goes through, but it may not record it
    expect(a.isLeader()).toBe(false);
    await b.cache.relist(); // b's next relist lists the cluster's tasks
    await b.reconcileOnce(); // garbage collection stops a's stray task
    const live = await w.live();
    expect(live).toHaveLength(1);
    expect(w.ecs.running().map((t) => t.arn)).toEqual([live[0]!.taskArn]);
    expect(w.github.runners.size).toBe(1);
    await expect(
      w.store.updateRunner({ ...live[0]! }, { fence: a.leaseVersion() ?? 1 }),
    ).rejects.toBeInstanceOf(FencingError);
  });

  it('a wall clock 12 s ahead does not let a standby take a lease that is still renewed', async () => {
    const w = new World();
    await w.pool('linux');
    const a = w.controller({ leaseMs: 15_000 }, 'a');
    const b = w.controller({ leaseMs: 15_000 }, 'b', 12_000);
    expect(await a.reconcileOnce()).toBe(true);
    expect(await b.reconcileOnce()).toBe(false);
    // By b's wall clock a's lease ran out 1 s ago; by elapsed time a still holds it.
    await w.clock.advance(4_000);
    expect(await b.reconcileOnce()).toBe(false);
    expect(a.isLeader()).toBe(true);
    expect(b.isLeader()).toBe(false);
    // a renews (its renewal changes the record): b starts counting again.
    expect(await a.reconcileOnce()).toBe(true);
    await w.clock.advance(9_000);
    expect(await b.reconcileOnce()).toBe(false);
    // a stops renewing: a whole lease after b last saw the record change, b takes over, and by
    // then a has stopped acting on its own (monotonic) clock.
    await w.clock.advance(16_000);
    expect(a.isLeader()).toBe(false);
    expect(await b.reconcileOnce()).toBe(true);
  });

  it('every GitHub and ECS call made after the lease ran out is refused before it is sent', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(1, ['linux']);
    const a = w.controller({ leaseMs: 15_000 }, 'a');
    // The pacing wait before RunTask outlasts the lease (a rate limiter inside the provider).
    const runTask = w.ecs.runTask.bind(w.ecs);
    let sent = 0;
    w.ecs.runTask = async (launch) => {
      await w.clock.advance(20_000);
      assertActing();
      sent++;
      return runTask(launch);
    };
    await a.reconcileOnce();
    expect(sent).toBe(0);
    expect(a.isLeader()).toBe(false);
  });

  it('start() acquires and renews; stop() releases for the next replica', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(1, ['linux']);
    const a = w.controller({ leaseMs: 15_000 }, 'a');
    a.start();
    await w.clock.advance(0);
    await a.idle();
    expect(a.isLeader()).toBe(true);
    expect(w.ecs.tasks.size).toBe(1);
    await w.clock.advance(60_000); // renewed every 5 s
    expect(a.isLeader()).toBe(true);
    await a.stop();
    const b = w.controller({ leaseMs: 15_000 }, 'b');
    expect(await b.reconcileOnce()).toBe(true);
  });
});
