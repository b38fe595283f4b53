import { describe, expect, it } from 'vitest';

import { createInformer } from '../../../controller/cache/informer.ts';
import type { EcsTaskEvent } from '../../../controller/events/ecs-task-event.ts';
import { ConflictError } from '../../../controller/store/errors.ts';
import type { RunnerRecord } from '../../../controller/store/types.ts';
import { silentLogger } from '../../../controller/reconcile/types.ts';
import { FakeEcs } from '../../support/fakes/fake-ecs.ts';
import { ManualClock } from '../../support/fakes/manual-clock.ts';
import { MemoryStore } from '../../support/fakes/memory-store.ts';
import { lagging } from '../reconcile/lagging-store.ts';

const iso = (ms: number) => new Date(ms).toISOString();

function setup(opts: { lagMs?: number; taskEvents?: boolean } = {}) {
  const clock = new ManualClock();
  const memory = new MemoryStore(() => clock.now());
  // Listings that lag like DynamoDB's index when asked; else the store itself.
  const store = lagging(memory, () => clock.now(), opts.lagMs ?? 0);
  const ecs = new FakeEcs(() => clock.now());
  const informer = createInformer({
    store: opts.lagMs === undefined ? memory : store,
    ecs,
    clock,
    log: silentLogger,
    taskEvents: opts.taskEvents ?? true,
    finishedTailMs: 60_000,
  });
  return { clock, memory, store, ecs, informer };
}

const runner = (name: string, pool = 'linux', clockMs = Date.UTC(2026, 0, 1)) =>
  ({
    name,
    pool,
    state: 'pending',
    labels: ['self-hosted', 'linux'],
    attempts: 0,
    createdAt: iso(clockMs),
    timeline: [],
  }) satisfies Omit<RunnerRecord, 'version' | 'updatedAt'>;

describe('informer cache', () => {
  it('reads the store until the first relist completed, then answers from memory', async () => {
    const { informer, store } = setup({ lagMs: 0 });
    await store.createRunner(runner('rctl-linux-a'));
    expect(informer.synced()).toBe(false);
    const before = store.listings;
    expect(await informer.store.listRunners({ pool: 'linux' })).toHaveLength(1);
    expect(store.listings).toBeGreaterThan(before); // not synced: the store answered

    await informer.ready();
    expect(informer.synced()).toBe(true);
    const afterSync = store.listings;
    expect((await informer.store.listRunners({ pool: 'linux' })).map((r) => r.name)).toEqual([
      'rctl-linux-a',
    ]);
    expect(await informer.store.listRunners({ pool: 'other' })).toEqual([]);
    expect(store.listings).toBe(afterSync); // synced: memory answered
  });

  it("shows its own writes at once although the store's listings lag", async () => {
    const { informer, clock } = setup({ lagMs: 5_000 });
    await informer.ready();
    const created = await informer.store.createRunner(runner('rctl-linux-a'));
    const moved = await informer.store.updateRunner({ ...created, state: 'configured' });
    const listed = await informer.store.listRunners({ pool: 'linux' });
    expect(listed.map((r) => [r.name, r.state, r.version])).toEqual([
      ['rctl-linux-a', 'configured', moved.version],
    ]);
    // A relist from the lagging index (which does not show the record yet) keeps it.
    await clock.advance(1_000);
    await informer.relist();
    expect((await informer.store.listRunners()).map((r) => r.state)).toEqual(['configured']);
  });

  it('a failed conditional write refreshes the item from the store', async () => {
    const { informer, memory } = setup();
    await informer.ready();
    const created = await informer.store.createRunner(runner('rctl-linux-a'));
    // Another writer (a former lease holder) moved it meanwhile.
    await memory.updateRunner({ ...created, state: 'configured' });
    await expect(
      informer.store.updateRunner({ ...created, state: 'launching' }),
    ).rejects.toBeInstanceOf(ConflictError);
    const [cached] = await informer.store.listRunners();
    expect(cached!.state).toBe('configured');
    expect(cached!.version).toBe(created.version + 1);
  });

  it('a relist drops what is gone from the store, never moves a record back', async () => {
    const { informer, memory, clock } = setup();
    const a = await memory.createRunner(runner('rctl-linux-a'));
    await memory.createRunner(runner('rctl-linux-b'));
    await informer.ready();
    const newer = await informer.store.updateRunner({ ...a, state: 'configured' });
    // Removed behind the cache's back (another holder), long after the cache's own writes.
    memory.runners.delete('rctl-linux-b');
    await clock.advance(120_000);
    await informer.relist();
    const names = (await informer.store.listRunners()).map((r) => `${r.name}:${r.version}`);
    expect(names).toEqual([`rctl-linux-a:${newer.version}`]);
  });

  it('keeps finished records for the tail window, and spot interruptions until handled', async () => {
    const { informer, clock } = setup();
    await informer.ready();
    const a = await informer.store.createRunner(runner('rctl-linux-a'));
    const b = await informer.store.createRunner(runner('rctl-linux-b'));
    await informer.store.updateRunner({ ...a, state: 'finished' });
    const spot = await informer.store.updateRunner({
      ...b,
      state: 'finished',
      spotInterruption: { at: iso(clock.now()) },
    });
    expect(await informer.store.listRunners({ live: true })).toHaveLength(1);
    expect(await informer.store.listRunners()).toHaveLength(2);
    await clock.advance(61_000);
    expect((await informer.store.listRunners()).map((r) => r.name)).toEqual(['rctl-linux-b']);
    await informer.store.updateRunner({
      ...spot,
      spotInterruption: { ...spot.spotInterruption!, handled: 'rerun requested' },
    });
    await clock.advance(61_000);
    expect(await informer.store.listRunners()).toEqual([]);
  });

  it('holds open jobs only, indexed by the runner that runs them', async () => {
    const { informer } = setup();
    await informer.ready();
    const base = {
      runId: 1,
      runAttempt: 1,
      repository: 'acme/app',
      owner: 'acme',
      labels: ['self-hosted', 'linux'],
      createdAt: iso(Date.UTC(2026, 0, 1)),
    };
    await informer.store.recordJob({ ...base, id: 1, status: 'queued' });
    await informer.store.recordJob({ ...base, id: 2, status: 'in_progress', runnerName: 'r2' });
    expect((await informer.store.listJobs({ status: ['queued'] })).map((j) => j.id)).toEqual([1]);
    expect(informer.records.jobOfRunner('r2')?.id).toBe(2);
    await informer.store.recordJob({ ...base, id: 2, status: 'completed', runnerName: 'r2' });
    expect(informer.records.jobOfRunner('r2')).toBeUndefined();
    expect(informer.records.openJobCount()).toBe(1);
    // A late in_progress event (a lower version than the completed record) cannot reopen it.
    informer.observeJob({
      ...base,
      id: 2,
      status: 'in_progress',
      runnerName: 'r2',
      version: 2,
      updatedAt: iso(0),
    });
    expect(informer.records.jobOfRunner('r2')).toBeUndefined();
  });

  it('describes a task again only after an event or a relist says it changed', async () => {
    const { informer, ecs, clock } = setup({ taskEvents: true });
    await informer.ready();
    const task = await informer.ecs.runTask({
      cluster: 'runners',
      taskDefinition: 'runner:1',
      containerName: 'runner',
      subnets: ['subnet-1'],
      securityGroups: [],
      assignPublicIp: false,
      environment: {},
      clientToken: 'rctl-linux-a',
      startedBy: 'runnerctl',
      tags: { 'runnerctl.dev/runner': 'rctl-linux-a' },
    });
    let described = 0;
    ecs.beforeCall = (call) => {
      if (call === 'describeTasks') described++;
    };
    const resolve = () => informer.tasks.resolve(informer.ecs, 'runners', [task.arn], true);
    expect((await resolve()).get(task.arn)?.lastStatus).toBe(task.lastStatus);
    expect(described).toBe(0); // known from RunTask's answer

    ecs.setStatus(task.arn, 'STOPPED', { exitCode: 0 });
    const event: EcsTaskEvent = {
      taskArn: task.arn,
      clusterArn: 'arn:aws:ecs:us-east-1:123456789012:cluster/runners',
      startedBy: 'runnerctl',
      lastStatus: 'STOPPED',
      desiredStatus: 'STOPPED',
      version: 3,
    };
    expect(informer.tasks.applyEvent(event)).toBe(true);
    expect(informer.tasks.applyEvent({ ...event, version: 2 })).toBe(false); // stale duplicate
    const after = (await resolve()).get(task.arn);
    expect(after?.lastStatus).toBe('STOPPED');
    expect(after?.exitCode).toBe(0);
    expect(described).toBeGreaterThan(0);

    // A lost event: the relist no longer lists a task believed running, so it is described.
    const second = await informer.ecs.runTask({
      cluster: 'runners',
      taskDefinition: 'runner:1',
      containerName: 'runner',
      subnets: ['subnet-1'],
      securityGroups: [],
      assignPublicIp: false,
      environment: {},
      clientToken: 'rctl-linux-b',
      startedBy: 'runnerctl',
      tags: { 'runnerctl.dev/runner': 'rctl-linux-b' },
    });
    ecs.setStatus(second.arn, 'STOPPED', { exitCode: 1 });
    await clock.advance(1_000);
    await informer.relist();
    expect(informer.tasks.lookup(second.arn)).toMatchObject({
      fresh: true,
      task: { lastStatus: 'STOPPED' },
    });
  });

  it('ignores task events of tasks it did not start', () => {
    const { informer } = setup();
    expect(
      informer.tasks.applyEvent({
        taskArn: 'arn:aws:ecs:us-east-1:123456789012:task/runners/x',
        clusterArn: 'runners',
        startedBy: 'ecs-svc/123',
        lastStatus: 'RUNNING',
        desiredStatus: 'RUNNING',
        version: 1,
      }),
    ).toBe(false);
  });

  it('a takeover re-reads the runner records before acting', async () => {
    const { informer, memory } = setup();
    await informer.ready();
    // The other holder created a record this replica never saw.
    await memory.createRunner(runner('rctl-linux-z'));
    expect(await informer.store.listRunners()).toEqual([]);
    informer.takeover();
    await informer.ready();
    expect((await informer.store.listRunners()).map((r) => r.name)).toEqual(['rctl-linux-z']);
  });
});
