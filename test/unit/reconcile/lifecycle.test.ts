import { describe, expect, it } from 'vitest';
import { World } from '../../support/fakes/world.ts';
import { poolTimeouts } from '../../../controller/reconcile/pool/reconcile.ts';
import { stepRunner } from '../../../controller/reconcile/runner/lifecycle.ts';

describe('runner lifecycle', () => {
  it('a runner not registered within the timeout is replaced, bounded, then the pool is Degraded', async () => {
    const w = new World();
    await w.pool('linux', { timeouts: { registration: '2m' } });
    await w.queue(1, ['linux']);
    const c = w.controller({ maxLaunchAttempts: 2, launchBackoffMs: 10 * 60_000 });
    await c.reconcileOnce();
    const [first] = await w.runners();
    expect(first!.attempts).toBe(1);

    // Tasks never boot. After the timeout: task stopped, registration deleted, relaunched.
    await w.clock.advance(2 * 60_000);
    await c.reconcileOnce();
    let r = (await w.store.getRunner(first!.name))!;
    expect(r).toMatchObject({ state: 'launching', attempts: 2 });
    expect(r.lastError).toMatch(/not online within 120s/);
    expect(w.ecs.running()).toHaveLength(1);
    expect(w.ecs.tasks.size).toBe(2);
    expect(w.github.runners.size).toBe(1);
    expect(w.github.runnerByName(first!.name)!.id).toBe(r.githubRunnerId);

    // Second timeout: attempts exhausted.
    await w.clock.advance(2 * 60_000);
    await c.reconcileOnce();
    r = (await w.store.getRunner(first!.name))!;
    expect(r.state).toBe('finished');
    expect(w.ecs.running()).toHaveLength(0);
    expect(w.github.runners.size).toBe(0);
    const pool = (await w.store.getPool('linux'))!;
    expect(pool.status!.conditions.find((x) => x.type === 'Degraded')).toMatchObject({
      status: 'True',
      reason: 'LaunchFailed',
    });
    // The job still waits, but the pool holds launches back for the backoff.
    await c.reconcileOnce();
    expect(await w.live()).toHaveLength(0);
    await w.clock.advance(10 * 60_000);
    await c.reconcileOnce();
    expect(await w.live()).toHaveLength(1);
  });

  it('a task that stops before its runner comes online is relaunched', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(1, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();
    const [task] = w.ecs.running();
    w.ecs.setStatus(task!.arn, 'STOPPED', {
      stopCode: 'TaskFailedToStart',
      stoppedReason: 'CannotPullContainerError',
    });
    await c.reconcileOnce();
    const [r] = await w.live();
    expect(r).toMatchObject({ state: 'launching', attempts: 2 });
    expect(r!.lastError).toMatch(/CannotPullContainerError/);
    w.bootTasks();
    await c.reconcileOnce();
    expect((await w.live())[0]!.state).toBe('idle');
    expect(w.github.runners.size).toBe(1);
  });

  it('a fast runner that ran its job between two looks finishes normally', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(1, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();
    w.bootTasks();
    const [r] = await w.runners();
    w.github.assign(r!.name, 1);
    w.github.complete(1);
    w.ecs.setStatus(r!.taskArn!, 'STOPPED', { exitCode: 0 });
    await c.reconcileOnce();
    const done = (await w.store.getRunner(r!.name))!;
    expect(done.state).toBe('finished');
    expect(done.attempts).toBe(1);
    expect(await w.live()).toHaveLength(0);
  });

  it('a runner whose own job completed finishes without asking GitHub about its registration', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(1, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();
    w.bootTasks();
    await c.reconcileOnce();
    const [r] = await w.runners();
    await w.start(1, r!.name);
    await c.reconcileOnce();
    await w.complete(1);
    w.github.calls = [];
    await c.reconcileOnce();
    expect((await w.store.getRunner(r!.name))!.state).toBe('finished');
    // GitHub removed the ephemeral registration itself: neither a GET nor a DELETE of it.
    expect(w.github.calls).not.toContain('getRunner');
    expect(w.github.calls).not.toContain('deleteRunner');
    expect(w.ecs.running()).toHaveLength(0);
  });

  it('a registration GitHub left behind after its job completed is deleted by garbage collection', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(1, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();
    w.bootTasks();
    await c.reconcileOnce();
    const [r] = await w.runners();
    await w.start(1, r!.name);
    await c.reconcileOnce();
    const leftover = { ...w.github.runnerByName(r!.name)! };
    await w.complete(1);
    // GitHub has not removed it (yet): it shows offline and not busy.
    w.github.runners.set(leftover.id, { ...leftover, busy: false, status: 'offline' });
    await c.reconcileOnce();
    expect((await w.store.getRunner(r!.name))!.state).toBe('finished');
    // The next listing (started after the record finished) shows the leftover: GC deletes it.
    await w.clock.advance(1_000);
    await c.reconcileOnce();
    expect(w.github.runnerByName(r!.name)).toBeUndefined();
  });

  it('at the registration deadline a runner the old background listing does not show is looked up directly', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(1, ['linux']);
    // The listing's period is far longer than the registration timeout (5 min).
    const c = w.controller({
      backgroundListing: true,
      listingBudget: { restPerHour: 5_000, share: 0.4, minPeriodMs: 3_600_000 },
      resyncMs: 24 * 3600_000,
    });
    await c.reconcileOnce();
    w.bootTasks(); // online on GitHub, after the only listing so far
    await w.clock.advance(6 * 60_000);
    await c.reconcileOnce();
    const [r] = await w.live();
    expect(r).toMatchObject({ state: 'idle', attempts: 1 });
    expect(w.github.runnerByName(r!.name)).toBeDefined();
  });

  it('a task STOPPED under a busy runner: GitHub runner deleted first, record finished', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(1, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();
    w.bootTasks();
    await c.reconcileOnce();
    const [r] = await w.runners();
    await w.start(1, r!.name);
    await c.reconcileOnce();
    // Spot reclaim kills the task; GitHub still says busy for a while.
    w.ecs.setStatus(r!.taskArn!, 'STOPPED', { stopCode: 'SpotInterruption' });
    await c.reconcileOnce();
    expect((await w.store.getRunner(r!.name))!.state).toBe('draining');
    expect(w.github.runnerByName(r!.name)).toBeDefined();
    // GitHub notices: the runner goes offline and not busy.
    Object.assign(w.github.runnerByName(r!.name)!, { busy: false, status: 'offline' });
    await c.reconcileOnce();
    expect((await w.store.getRunner(r!.name))!.state).toBe('finished');
    expect(w.github.runners.size).toBe(0);
  });

  it('a runner busy past maxJobDuration is kept while GitHub says busy, without writes', async () => {
    const w = new World();
    await w.pool('linux', { timeouts: { maxJobDuration: '1h' } });
    await w.queue(1, ['linux']);
    const c = w.controller({ resyncMs: 24 * 3600_000, runnerPollMs: 600_000 });
    await c.reconcileOnce();
    w.bootTasks();
    await c.reconcileOnce();
    const [r] = await w.runners();
    await w.start(1, r!.name);
    await c.reconcileOnce();
    const before = (await w.store.getRunner(r!.name))!;
    await w.clock.advance(2 * 3600_000);
    await c.reconcileOnce();
    await c.reconcileOnce();
    const after = (await w.store.getRunner(r!.name))!;
    expect(after.state).toBe('busy');
    expect(after.version).toBe(before.version);
    expect(w.ecs.running()).toHaveLength(1);
  });

  it('an idle runner that drops offline is replaced', async () => {
    const w = new World();
    await w.pool('linux', { minIdle: 1 });
    const c = w.controller();
    await c.reconcileOnce();
    w.bootTasks();
    await c.reconcileOnce();
    const [r] = await w.runners(['idle']);
    w.github.runnerByName(r!.name)!.status = 'offline';
    await c.reconcileOnce();
    expect((await w.store.getRunner(r!.name))!.state).toBe('finished');
    expect(w.ecs.tasks.get(r!.taskArn!)!.lastStatus).toBe('STOPPED');
    const live = await w.live();
    expect(live).toHaveLength(1);
    expect(live[0]!.name).not.toBe(r!.name);
  });

  it('binds the job from the in_progress event', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(7, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();
    w.bootTasks();
    const [r] = await w.runners();
    await w.start(7, r!.name);
    await c.onJobChanged((await w.store.getJob(7))!);
    await c.idle();
    expect(await w.store.getRunner(r!.name)).toMatchObject({ state: 'busy', jobId: 7 });
  });
});

describe('pool deletion', () => {
  it('drains idle and launching runners, waits for busy ones, then removes the pool', async () => {
    const w = new World();
    await w.pool('linux');
    for (const id of [1, 2, 3]) await w.queue(id, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();
    // Two runners come online, one of them takes a job; the third stays launching.
    const [a, b, third] = await w.runners();
    for (const task of w.ecs.running().filter((t) => t.arn !== third!.taskArn)) {
      w.ecs.setStatus(task.arn, 'RUNNING');
      w.github.connect(task.launch.environment['RUNNERCTL_JIT_CONFIG']!);
    }
    await w.start(1, a!.name);
    await c.reconcileOnce();
    expect((await w.store.getRunner(b!.name))!.state).toBe('idle');

    await w.store.requestPoolDeletion('linux');
    await c.reconcileOnce();
    expect((await w.live()).map((r) => [r.name, r.state])).toEqual([[a!.name, 'busy']]);
    expect(w.ecs.running().map((t) => t.arn)).toEqual([a!.taskArn]);
    const pool = (await w.store.getPool('linux'))!;
    expect(pool.status!.conditions.find((x) => x.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'Deleting',
    });
    // Deleted pools take no new demand.
    await w.queue(4, ['linux']);
    await c.reconcileOnce();
    expect(await w.live()).toHaveLength(1);

    await w.complete(1);
    await c.reconcileOnce();
    expect(await w.store.getPool('linux')).toBeUndefined();
    expect(w.ecs.running()).toHaveLength(0);
    expect(w.github.runners.size).toBe(0);
  });
});

describe('deregistration needs a listing taken after registration', () => {
  it('an idle runner missing from an older listing is kept; from a newer one it finishes', async () => {
    const w = new World();
    await w.pool('linux', { minIdle: 1 });
    const c = w.controller();
    await c.reconcileOnce();
    w.bootTasks();
    await c.reconcileOnce();
    const [r] = await w.runners(['idle']);
    const idleAt = Date.parse(r!.timeline.find((e) => e.event === 'idle')!.at);
    const ctx = w.context();
    const pool = (await w.store.getPool('linux'))!;
    const timeouts = poolTimeouts(ctx, pool);
    const task = w.ecs.tasks.get(r!.taskArn!);
    const stale = await stepRunner(ctx, pool, r!, { task, ghListedAtMs: idleAt - 1 }, timeouts);
    expect(stale.record.state).toBe('idle');
    const fresh = await stepRunner(ctx, pool, r!, { task, ghListedAtMs: idleAt }, timeouts);
    expect(fresh.record.state).toBe('finished');
  });
});
