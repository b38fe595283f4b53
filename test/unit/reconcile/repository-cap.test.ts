// maxRunnersPerRepository: one repository's queued jobs beyond the cap (less its running jobs)
// are not demand; other repositories still get runners; status and drift say so.

import { describe, expect, it } from 'vitest';
import { capPerRepository, describeHeld } from '../../../controller/reconcile/pool/demand.ts';
import { World } from '../../support/fakes/world.ts';

describe('capPerRepository', () => {
  it('keeps the oldest jobs of each repository up to the cap less its running ones', () => {
    const jobs = [
      { id: 1, repository: 'acme/app' },
      { id: 2, repository: 'acme/web' },
      { id: 3, repository: 'Acme/App' },
      { id: 4, repository: 'acme/app' },
      { id: 5, repository: 'acme/web' },
    ];
    const { kept, held } = capPerRepository(jobs, new Map([['acme/web', 1]]), 2);
    expect(kept.map((j) => j.id)).toEqual([1, 2, 3]);
    expect(describeHeld(held)).toBe('acme/app: 1, acme/web: 1');
    expect(capPerRepository(jobs, new Map(), undefined).kept).toHaveLength(5);
  });
});

describe('a pool with maxRunnersPerRepository', () => {
  it("launches at most the cap for one repository's matrix and still serves the others", async () => {
    const w = new World();
    await w.pool('ci', { maxRunners: 10, maxRunnersPerRepository: 2 });
    for (let id = 1; id <= 5; id++) await w.queue(id, ['linux'], 'acme/app');
    await w.queue(6, ['linux'], 'acme/web');
    const c = w.controller();
    await c.reconcileOnce();
    expect(await w.live()).toHaveLength(3);
    const pool = await w.store.getPool('ci');
    const ready = pool!.status!.conditions.find((x) => x.type === 'Ready')!;
    expect(ready.message).toMatch(/held by maxRunnersPerRepository 2: acme\/app: 3/);
    expect(pool!.status!.queuedJobs).toBe(6);

    // GitHub gives the three runners three app jobs (counted, not paired): the app now runs
    // more than its cap, so nothing is launched for its queued jobs, but the web job gets one.
    w.bootTasks();
    await c.reconcileOnce();
    expect(await w.dispatch()).toEqual([1, 2, 3]);
    await c.reconcileOnce();
    expect(await w.runners(['busy'])).toHaveLength(3);
    expect(await w.live()).toHaveLength(4);

    // Two app jobs finish: one app job runs, so one more may start (jobs 4 and 5 are queued).
    await w.complete(1);
    await w.complete(2);
    await c.reconcileOnce();
    await c.reconcileOnce();
    const starting = (await w.live()).filter((r) => r.state !== 'busy');
    expect(starting).toHaveLength(2); // the web job's and one app job's
    const status = (await w.store.getPool('ci'))!.status!;
    expect(status.conditions.find((x) => x.type === 'Ready')!.message).toMatch(/acme\/app: 1/);
  });
});
