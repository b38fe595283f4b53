import { describe, expect, it } from 'vitest';
import { JIT_CONFIG_ENV, TASK_STARTED_BY } from '../../../controller/api/constants.ts';
import { ThrottledError } from '../../../controller/ecs/errors.ts';
import { DEFAULT_SETTINGS } from '../../../controller/reconcile/context.ts';
import { World } from '../../support/fakes/world.ts';

const SIZES = [
  { label: 'small', cpu: 512, memory: 1024 },
  { label: 'large', cpu: 4096, memory: 8192 },
];

describe('pool reconcile', () => {
  it('never launches into a subnet or security group the deployment does not allow', async () => {
    const w = new World();
    await w.pool('linux', {
      ecs: { cluster: 'runners', taskDefinition: 'runner:1', subnets: ['subnet-0bad0bad'] },
    });
    await w.pool('allowed', {
      labels: ['allowed'],
      ecs: { cluster: 'runners', taskDefinition: 'runner:1', subnets: ['subnet-11111111'] },
    });
    await w.queue(1, ['linux']);
    await w.queue(2, ['allowed']);
    const c = w.controller({ allowedNetwork: { subnets: ['subnet-11111111'] } });
    await c.reconcileOnce();
    const live = await w.live();
    expect(live.map((r) => r.pool)).toEqual(['allowed']);
    expect(w.ecs.running().every((t) => JSON.stringify(t).includes('subnet-11111111'))).toBe(true);
  });

  it('launches one JIT runner per queued job, then converges through its lifecycle', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(1, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();

    const [runner] = await w.runners();
    expect(runner).toMatchObject({ pool: 'linux', state: 'launching', attempts: 1 });
    expect(runner!.name).toMatch(/^rctl-linux-s\d+$/);
    expect(runner!.labels).toEqual(['self-hosted', 'linux']);
    const gh = w.github.runnerByName(runner!.name)!;
    expect(gh).toMatchObject({ status: 'offline', ephemeral: true });
    expect(runner!.githubRunnerId).toBe(gh.id);
    const [task] = w.ecs.running();
    expect(task!.arn).toBe(runner!.taskArn);
    expect(task!.startedBy).toBe(TASK_STARTED_BY);
    expect(task!.tags).toEqual({
      'runnerctl.dev/runner': runner!.name,
      'runnerctl.dev/pool': 'linux',
    });
    expect(task!.launch.environment[JIT_CONFIG_ENV]).toMatch(/^jit-secret-/);
    expect(task!.launch.clientToken).toMatch(/^[0-9a-f]{64}$/);
    // The JIT config never reaches the store.
    expect(JSON.stringify(await w.store.listRunners())).not.toContain('jit-secret');

    w.bootTasks();
    await c.reconcileOnce();
    expect((await w.store.getRunner(runner!.name))!.state).toBe('idle');

    await w.start(1, runner!.name);
    await c.reconcileOnce();
    expect(await w.store.getRunner(runner!.name)).toMatchObject({ state: 'busy', jobId: 1 });

    await w.complete(1);
    await c.reconcileOnce();
    const done = (await w.store.getRunner(runner!.name))!;
    expect(done.state).toBe('finished');
    expect(done.expiresAt).toBeGreaterThan(w.clock.now() / 1000);
    expect(w.github.runners.size).toBe(0);
    expect(w.ecs.running()).toHaveLength(0);

    const pool = (await w.store.getPool('linux'))!;
    expect(pool.status).toMatchObject({
      observedGeneration: 1,
      queuedJobs: 0,
      launching: 0,
      idle: 0,
      busy: 0,
    });
    expect(pool.status!.conditions.find((x) => x.type === 'Ready')?.status).toBe('True');
  });

  it('the same state reached twice produces the same actions', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(1, ['linux']);
    await w.queue(2, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();
    const first = await w.snapshot();
    await c.reconcileOnce();
    await c.reconcileOnce();
    expect(await w.snapshot()).toEqual(first);
    expect(first.tasks).toHaveLength(2);
  });

  it('counts demand and never pairs: a runner launched for one job may run another', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(1, ['linux']);
    await w.queue(2, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();
    w.bootTasks();
    await c.reconcileOnce();
    const [a, b] = (await w.runners()).map((r) => r.name).sort();
    // GitHub hands job 2 to the first runner and job 1 to the second: nothing cares.
    await w.start(2, a!);
    await w.start(1, b!);
    await c.reconcileOnce();
    expect((await w.runners()).map((r) => r.state)).toEqual(['busy', 'busy']);
    // A third job needs a third runner: busy runners are not supply.
    await w.queue(3, ['linux']);
    await c.reconcileOnce();
    expect((await w.runners()).filter((r) => r.state === 'launching')).toHaveLength(1);
    expect(w.ecs.running()).toHaveLength(3);
  });

  it('waiting jobs are not demand; minIdle is', async () => {
    const w = new World();
    await w.pool('linux', { minIdle: 2 });
    await w.queue(1, ['linux']);
    await w.hold(1);
    const c = w.controller();
    await c.reconcileOnce();
    expect(await w.live()).toHaveLength(2);
  });

  it('launches up to maxRunners, counting busy runners', async () => {
    const w = new World();
    await w.pool('linux', { maxRunners: 3 });
    for (let i = 1; i <= 5; i++) await w.queue(i, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();
    expect(await w.live()).toHaveLength(3);
    w.bootTasks();
    await c.reconcileOnce();
    const names = (await w.runners()).map((r) => r.name);
    for (let i = 0; i < 3; i++) await w.start(i + 1, names[i]!);
    await c.reconcileOnce();
    expect(await w.live()).toHaveLength(3);
    expect((await w.store.getPool('linux'))!.status!.conditions[0]!.message).toMatch(
      /capped by maxRunners 3/,
    );
    await w.complete(1);
    await c.reconcileOnce();
    expect((await w.live()).filter((r) => r.state === 'launching')).toHaveLength(1);
  });

  it('starts a named size with task-level cpu/memory and the size label; default size otherwise', async () => {
    const w = new World();
    await w.pool('sized', { sizes: SIZES, defaultSize: 'small' });
    await w.queue(1, ['linux', 'LARGE']);
    await w.queue(2, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();
    const launches = w.ecs.running().map((t) => t.launch);
    expect(launches.map((l) => [l.cpu, l.memory]).sort()).toEqual([
      [4096, 8192],
      [512, 1024],
    ]);
    const large = (await w.runners()).find((r) => r.size === 'large')!;
    expect(large).toMatchObject({ cpu: 4096, memory: 8192 });
    expect(large.labels).toEqual(['self-hosted', 'linux', 'large']);
    expect(w.github.runnerByName(large.name)!.labels).toContain('large');
  });

  it('refuses a size the pool does not offer: no launch, Degraded with the reason', async () => {
    const w = new World();
    await w.pool('sized', { sizes: SIZES, defaultSize: 'small' });
    await w.queue(1, ['linux', 'xlarge']);
    const c = w.controller();
    await c.reconcileOnce();
    expect(await w.runners()).toHaveLength(0);
    const degraded = (await w.store.getPool('sized'))!.status!.conditions.find(
      (x) => x.type === 'Degraded',
    )!;
    expect(degraded).toMatchObject({ status: 'True', reason: 'SizeRefused' });
    expect(degraded.message).toContain('size xlarge not offered by pool sized');
  });

  it('a size-requesting job is not served by a runner of another size', async () => {
    const w = new World();
    await w.pool('sized', { sizes: SIZES, defaultSize: 'small', minIdle: 1 });
    const c = w.controller();
    await c.reconcileOnce();
    expect((await w.live()).map((r) => r.size)).toEqual(['small']);
    await w.queue(1, ['large']);
    await c.reconcileOnce();
    expect((await w.live()).map((r) => r.size).sort()).toEqual(['large', 'small']);
  });

  it('launches FARGATE_SPOT first and falls back to FARGATE on a capacity shortage', async () => {
    const w = new World();
    const spot = {
      capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT' as const, weight: 1 }],
    };
    await w.pool('spot', {
      ecs: { ...(await import('../../support/fakes/world.ts')).poolSpec().ecs, ...spot },
    });
    await w.queue(1, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();
    expect(w.ecs.running()[0]!.capacityProvider).toBe('FARGATE_SPOT');

    w.ecs.spotAvailable = false;
    await w.queue(2, ['linux']);
    await c.reconcileOnce();
    const providers = w.ecs
      .running()
      .map((t) => t.capacityProvider)
      .sort();
    expect(providers).toEqual(['FARGATE', 'FARGATE_SPOT']);
    const fallback = (await w.runners()).find((r) => r.capacityProvider === 'FARGATE')!;
    expect(fallback.state).toBe('launching');
  });

  it('without onDemandFallback a spot shortage fails the attempt instead', async () => {
    const w = new World();
    const ecs = {
      ...(await import('../../support/fakes/world.ts')).poolSpec().ecs,
      capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT' as const }],
      onDemandFallback: false,
    };
    await w.pool('spot', { ecs });
    w.ecs.spotAvailable = false;
    await w.queue(1, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();
    expect(w.ecs.tasks.size).toBe(0);
    const [r] = await w.runners();
    expect(r!.lastError).toMatch(/Capacity is unavailable/);
    // Its GitHub registration was removed with the failed attempt.
    expect(w.github.runners.size).toBe(0);
  });

  it('a FARGATE_SPOT of weight 0 gets no task: the strategy goes to RunTask as written', async () => {
    const w = new World();
    const strategy = [
      { capacityProvider: 'FARGATE' as const, weight: 1 },
      { capacityProvider: 'FARGATE_SPOT' as const, weight: 0 },
    ];
    await w.pool('od', {
      ecs: {
        ...(await import('../../support/fakes/world.ts')).poolSpec().ecs,
        capacityProviderStrategy: strategy,
      },
    });
    for (let job = 1; job <= 6; job++) await w.queue(job, ['linux']);
    await w.controller().reconcileOnce();
    const tasks = [...w.ecs.tasks.values()];
    expect(tasks.length).toBeGreaterThanOrEqual(6);
    expect(tasks.filter((t) => t.capacityProvider === 'FARGATE_SPOT')).toEqual([]);
    for (const t of tasks) expect(t.launch.capacityProviderStrategy).toEqual(strategy);
  });

  it("an ARM64 pool naming the stack's plain family launches its -arm64 family", async () => {
    const w = new World();
    const ecs = (await import('../../support/fakes/world.ts')).poolSpec().ecs;
    await w.pool('arm', {
      ecs: {
        ...ecs,
        taskDefinition: 'runnerctl-runner-small',
        runtimePlatform: { cpuArchitecture: 'ARM64' },
      },
    });
    await w.queue(1, ['linux']);
    await w.controller({ runnerArchitectures: ['X86_64', 'ARM64'] }).reconcileOnce();
    const tasks = [...w.ecs.tasks.values()];
    expect(tasks.length).toBeGreaterThanOrEqual(1);
    for (const t of tasks) expect(t.launch.taskDefinition).toBe('runnerctl-runner-small-arm64');
  });

  it('a FARGATE base of 2 wins every one-task RunTask call, as ECS applies a base per call', async () => {
    const w = new World();
    const strategy = [
      { capacityProvider: 'FARGATE' as const, base: 2 },
      { capacityProvider: 'FARGATE_SPOT' as const, weight: 1 },
    ];
    await w.pool('based', {
      ecs: {
        ...(await import('../../support/fakes/world.ts')).poolSpec().ecs,
        capacityProviderStrategy: strategy,
      },
    });
    for (let job = 1; job <= 4; job++) await w.queue(job, ['linux']);
    await w.controller().reconcileOnce();
    const providers = [...w.ecs.tasks.values()].map((t) => t.capacityProvider);
    expect(providers.length).toBeGreaterThanOrEqual(4);
    expect(new Set(providers)).toEqual(new Set(['FARGATE']));
  });

  it('a spot-weighted strategy falls back to FARGATE only on a capacity failure', async () => {
    const w = new World();
    const strategy = [
      { capacityProvider: 'FARGATE' as const, weight: 1 },
      { capacityProvider: 'FARGATE_SPOT' as const, weight: 3 },
    ];
    await w.pool('mixed', {
      ecs: {
        ...(await import('../../support/fakes/world.ts')).poolSpec().ecs,
        capacityProviderStrategy: strategy,
      },
    });
    w.ecs.spotAvailable = false;
    for (let job = 1; job <= 4; job++) await w.queue(job, ['linux']);
    await w.controller().reconcileOnce();
    const running = w.ecs.running();
    expect(running.length).toBeGreaterThanOrEqual(4);
    expect(running.every((t) => t.capacityProvider === 'FARGATE')).toBe(true);
    // Launches that ECS placed on FARGATE kept the strategy; the others retried on FARGATE alone.
    for (const t of running) {
      expect([strategy, [{ capacityProvider: 'FARGATE', weight: 1 }]]).toContainEqual(
        t.launch.capacityProviderStrategy,
      );
    }
  });

  it('a paused pool hands its jobs to the next matching pool; both statuses say so', async () => {
    const w = new World();
    await w.pool('preferred', { priority: 10, maxRunners: 0 });
    await w.pool('spare', { maxRunners: 5 });
    await w.queue(1, ['linux']);
    await w.queue(2, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();
    await c.reconcileOnce();
    const live = await w.live();
    expect(live.map((r) => r.pool)).toEqual(['spare', 'spare']);
    const preferred = (await w.store.getPool('preferred'))!.status!;
    expect(preferred.spilledTo).toEqual([
      { pool: 'spare', jobs: 2, reason: 'preferred paused (maxRunners 0)' },
    ]);
    expect(preferred.conditions.find((x) => x.type === 'Ready')!.message).toContain(
      '2 queued job(s) spilled to pool spare: preferred paused (maxRunners 0)',
    );
    expect((await w.store.getPool('spare'))!.status!.takenOverFrom).toEqual([
      { pool: 'preferred', jobs: 2, reason: 'preferred paused (maxRunners 0)' },
    ]);
  });

  it('removes idle runners beyond demand after the idle timeout, keeps minIdle', async () => {
    const w = new World();
    await w.pool('linux', { minIdle: 1, timeouts: { idle: '5m' } });
    await w.queue(1, ['linux']);
    await w.queue(2, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();
    w.bootTasks();
    await c.reconcileOnce();
    expect(await w.runners(['idle'])).toHaveLength(3);
    // Both jobs are cancelled before a runner took them.
    await w.cancel(1);
    await w.cancel(2);
    await c.reconcileOnce();
    expect(await w.runners(['idle'])).toHaveLength(3);
    await w.clock.advance(5 * 60_000);
    await c.reconcileOnce();
    expect(await w.runners(['idle'])).toHaveLength(1);
    expect(w.ecs.running()).toHaveLength(1);
    expect(w.github.runners.size).toBe(1);
  });

  it('never stops a busy runner: a lagging busy flag on removal means keep', async () => {
    const w = new World();
    await w.pool('linux', { timeouts: { idle: '1m' } });
    await w.queue(1, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();
    w.bootTasks();
    await c.reconcileOnce();
    const [r] = await w.runners();
    // The job is cancelled, but GitHub gives the runner a second job it has not reported yet.
    await w.cancel(1);
    w.github.queueJob({ id: 9, labels: ['self-hosted', 'linux'], repository: 'acme/app' });
    w.github.assign(r!.name, 9, true);
    await w.clock.advance(60_000);
    await c.reconcileOnce();
    expect(w.github.runnerByName(r!.name)).toBeDefined();
    expect(w.ecs.running()).toHaveLength(1);
    expect((await w.store.getRunner(r!.name))!.state).toBe('busy');
  });

  it('a runner GitHub shows busy before the in_progress event does not cause an extra launch', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(1, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();
    w.bootTasks();
    await c.reconcileOnce();
    const [r] = await w.runners();
    w.github.assign(r!.name, 1); // the event is late: the store still says queued
    await c.reconcileOnce();
    expect((await w.store.getRunner(r!.name))!.state).toBe('busy');
    expect(w.ecs.tasks.size).toBe(1);
  });

  it('re-reads the job of a finished runner when its completed event was lost', async () => {
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
    // The job completes on GitHub; the completed event never arrives.
    w.github.complete(1);
    w.ecs.setStatus(r!.taskArn!, 'STOPPED', { exitCode: 0 });
    w.github.calls = [];
    await c.reconcileOnce();
    expect((await w.store.getRunner(r!.name))!.state).toBe('finished');
    // Within the grace the completed event may still come: no read of the job yet.
    expect(w.github.calls.filter((k) => k === 'getJob' || k === 'listRunJobs')).toEqual([]);
    expect((await w.store.getJob(1))!.status).toBe('in_progress');
    // Past the grace, the next resync reads the run's jobs once.
    await w.clock.advance(DEFAULT_SETTINGS.completedEventGraceMs + 60_000);
    await c.reconcileOnce();
    expect(await w.store.getJob(1)).toMatchObject({ status: 'completed', conclusion: 'success' });
  });

  it('lost completed events of a matrix are read back with one listing of the run, after the grace', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(1, ['linux'], undefined, 100);
    await w.queue(2, ['linux'], undefined, 100);
    const c = w.controller();
    await c.reconcileOnce();
    w.bootTasks();
    await c.reconcileOnce();
    const [a, b] = await w.runners();
    await w.start(1, a!.name);
    await w.start(2, b!.name);
    await c.reconcileOnce();
    // Both jobs complete on GitHub; neither completed event arrives; the tasks exit.
    for (const [id, r] of [
      [1, a!],
      [2, b!],
    ] as const) {
      w.github.complete(id);
      w.ecs.setStatus(r.taskArn!, 'STOPPED', { exitCode: 0 });
    }
    await c.reconcileOnce();
    expect((await w.live()).length).toBe(0);
    expect((await w.store.getJob(1))!.status).toBe('in_progress');
    await w.clock.advance(DEFAULT_SETTINGS.completedEventGraceMs + 60_000);
    w.github.calls = [];
    await c.reconcileOnce();
    expect((await w.store.getJob(1))!.status).toBe('completed');
    expect((await w.store.getJob(2))!.status).toBe('completed');
    // One listing of run 100 answers for both jobs: no GET per job.
    expect(w.github.calls.filter((k) => k === 'getJob')).toEqual([]);
    expect(w.github.calls.filter((k) => k === 'listRunJobs').length).toBeLessThanOrEqual(1);
  });

  it('a throttled RunTask is retried with the same registration, not a new JIT config', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(1, ['linux']);
    let throttled = false;
    w.ecs.beforeCall = (call) => {
      if (call === 'runTask' && !throttled) {
        throttled = true;
        throw new ThrottledError('Rate exceeded');
      }
    };
    const c = w.controller({ backoff: { baseMs: 1_000, jitter: 0 } });
    await c.reconcileOnce();
    await w.clock.advance(1_000);
    await c.idle();
    const [r] = await w.runners();
    expect(r).toMatchObject({ state: 'launching', attempts: 1 });
    expect(throttled).toBe(true);
    expect(w.github.calls.filter((x) => x === 'generateJitConfig')).toHaveLength(1);
    expect(w.ecs.running()).toHaveLength(1);
  });

  it('one runner whose removal keeps failing does not hold up launches for the pool', async () => {
    const w = new World();
    await w.pool('linux', { timeouts: { idle: '1m' } });
    await w.queue(1, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();
    w.bootTasks();
    await c.reconcileOnce();
    const [stuck] = await w.runners();
    await w.cancel(1);
    // Deleting this runner fails with a server error, every time.
    w.github.beforeCall = (call, id) => {
      if (call === 'deleteRunner' && id === stuck!.githubRunnerId)
        throw new Error('502 Bad Gateway');
    };
    await w.clock.advance(60_000);
    await w.queue(2, ['linux']);
    await w.queue(3, ['linux']);
    await c.reconcileOnce();
    // The stuck runner is draining (not supply): both jobs get runners despite the failure.
    expect((await w.store.getRunner(stuck!.name))!.state).toBe('draining');
    expect((await w.live()).filter((r) => r.name !== stuck!.name)).toHaveLength(2);
  });
});
