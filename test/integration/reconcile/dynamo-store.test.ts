// The reconcile core on the real store (DynamoStore on dynalite, in-process) with the in-memory
// GitHub and ECS: conditional writes, fencing and forward-only jobs as DynamoDB does them.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JIT_CONFIG_ENV } from '../../../controller/api/constants.ts';
import { openStore } from '../../../controller/store/factory.ts';
import type { Store } from '../../../controller/store/types.ts';
import { startDynalite, type DynamoEngine } from '../../support/dynamodb-engines.ts';
import { ManualClock } from '../../support/fakes/manual-clock.ts';
import { World } from '../../support/fakes/world.ts';
import { busyOnSpot, deliverRerun, interrupt } from '../../support/spot.ts';

let engine: DynamoEngine;
const stores: Store[] = [];
let tables = 0;

beforeAll(async () => {
  engine = await startDynalite();
});

afterAll(async () => {
  for (const s of stores) await s.close();
  await engine.stop();
});

async function world(): Promise<World> {
  const clock = new ManualClock();
  const store = await openStore({
    kind: 'dynamodb',
    endpoint: engine.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    table: `reconcile-${++tables}`,
    createTable: true,
    clock,
  });
  stores.push(store);
  return new World({ clock, store });
}

describe('reconcile on the DynamoDB store (dynalite)', () => {
  it('runs a job from queued to a removed runner', async () => {
    const w = await world();
    await w.pool('linux', {
      sizes: [{ label: 'large', cpu: 4096, memory: 8192 }],
      defaultSize: 'large',
    });
    await w.queue(1, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();
    const [r] = await w.runners();
    expect(r).toMatchObject({ state: 'launching', size: 'large', cpu: 4096 });
    expect(JSON.stringify(r)).not.toContain('jit-secret');
    w.bootTasks();
    await c.reconcileOnce();
    await w.start(1, r!.name);
    await c.reconcileOnce();
    expect(await w.store.getRunner(r!.name)).toMatchObject({ state: 'busy', jobId: 1 });
    await w.complete(1);
    await c.reconcileOnce();
    expect((await w.store.getRunner(r!.name))!.state).toBe('finished');
    expect(w.github.runners.size).toBe(0);
    expect(w.ecs.running()).toHaveLength(0);
    const pool = (await w.store.getPool('linux'))!;
    expect(pool.status).toMatchObject({ observedGeneration: 1, busy: 0, idle: 0, launching: 0 });
  });

  for (const step of ['configured', 'launching'] as const) {
    it(`recovers from a crash after the "${step}" write with exactly one runner`, async () => {
      const w = await world();
      await w.pool('linux');
      await w.queue(1, ['linux']);
      let fired = false;
      w.afterWrite = (op, record) => {
        if (!fired && op === 'updateRunner' && (record as { state: string }).state === step) {
          fired = true;
          throw new Error('simulated crash');
        }
      };
      const a = w.controller({}, 'a');
      await a.reconcileOnce();
      await a.stop();
      expect(fired).toBe(true);
      await w.clock.advance(20_000);
      const b = w.controller({}, 'b');
      await b.reconcileOnce();
      w.bootTasks();
      await b.reconcileOnce();
      const live = await w.live();
      expect(live.map((r) => r.state)).toEqual(['idle']);
      expect(w.ecs.tasks.size).toBe(1);
      const gh = [...w.github.runners.values()];
      expect(gh.map((g) => g.status)).toEqual(['online']);
      expect(w.github.jitConfigs.get(w.ecs.running()[0]!.launch.environment[JIT_CONFIG_ENV]!)).toBe(
        live[0]!.githubRunnerId,
      );
      await b.stop();
    });
  }

  it('two replicas: one acts; a takeover fences the old holder', async () => {
    const w = await world();
    await w.pool('linux');
    await w.queue(1, ['linux']);
    const a = w.controller({ leaseMs: 15_000 }, 'a');
    const b = w.controller({ leaseMs: 15_000 }, 'b');
    expect(await a.reconcileOnce()).toBe(true);
    expect(await b.reconcileOnce()).toBe(false);
    await w.clock.advance(16_000);
    expect(await b.reconcileOnce()).toBe(true);
    a.enqueuePool('linux');
    await a.idle();
    expect(a.isLeader()).toBe(false);
    expect(w.ecs.tasks.size).toBe(1);
  });

  it('drains a deleted pool and removes it', async () => {
    const w = await world();
    await w.pool('linux', { minIdle: 2 });
    const c = w.controller();
    await c.reconcileOnce();
    w.bootTasks();
    await c.reconcileOnce();
    expect(await w.runners(['idle'])).toHaveLength(2);
    await w.store.requestPoolDeletion('linux');
    await c.reconcileOnce();
    expect(await w.store.getPool('linux')).toBeUndefined();
    expect(w.ecs.running()).toHaveLength(0);
    expect(w.github.runners.size).toBe(0);
  });

  it('spot re-run: the claim, the link and the on-demand runner are stored and read back', async () => {
    const w = await world();
    const { c, runner, task } = await busyOnSpot(w);
    await interrupt(w, 1, task.arn);
    await c.reconcileOnce();
    expect((await w.store.getJob(1))!.spotRerun).toMatchObject({
      state: 'requested',
      runner: runner.name,
    });
    const rerunId = await deliverRerun(w, 1);
    await c.reconcileOnce();
    expect((await w.store.getJob(rerunId))!.spotRerunOf).toBe(1);
    const live = await w.live();
    expect(live.map((r) => r.onDemand)).toEqual([true]);
    expect(w.ecs.running().map((t) => t.capacityProvider)).toEqual(['FARGATE']);
    expect((await w.store.getRunner(runner.name))!.spotInterruption?.handled).toMatch(/re-run as/);
    expect(w.github.reruns).toHaveLength(1);
  });
});
