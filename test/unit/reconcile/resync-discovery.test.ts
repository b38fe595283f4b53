// The resync discovers the repositories the App's installations can access, so a repository
// whose every event was lost (or a controller newly installed) still has its queued jobs found.

import { describe, expect, it } from 'vitest';
import { World } from '../../support/fakes/world.ts';

const LINUX = ['self-hosted', 'linux'];

function listings(w: World): number {
  return w.github.calls.filter((c) => c === 'listInstallationRepositories').length;
}

describe('resync discovery of repositories', () => {
  it('a repository never seen in an event has a queued job: one resync launches a runner for it', async () => {
    const w = new World();
    await w.pool('linux');
    // Every event of acme/lib was lost: the job exists only on GitHub.
    w.github.queueJob({ id: 1, labels: LINUX, repository: 'acme/lib' });
    expect(await w.store.listRepositories()).toEqual([]);
    const c = w.controller();
    await c.reconcileOnce();
    expect((await w.store.getJob(1))!).toMatchObject({ status: 'queued', pool: 'linux' });
    expect(await w.live()).toHaveLength(1);
    expect((await w.store.listRepositories()).map((r) => r.fullName)).toEqual(['acme/lib']);
  });

  it('lists at most once per resync period, and an unchanged (304) listing writes nothing', async () => {
    const w = new World();
    await w.pool('linux');
    w.github.repositories.add('acme/lib');
    const c = w.controller();
    await c.reconcileOnce();
    const [first] = await w.store.listRepositories();
    expect(first!.fullName).toBe('acme/lib');
    expect(listings(w)).toBe(1);

    await w.clock.advance(10_000);
    await c.reconcileOnce(); // within the period: the last listing is reused
    expect(listings(w)).toBe(1);

    await w.clock.advance(60_000);
    await c.reconcileOnce(); // a new period: listed again, not modified
    expect(listings(w)).toBe(2);
    // No store write: the repository keeps the time it was discovered.
    expect(await w.store.listRepositories()).toEqual([first]);

    // A repository added to the installation is found at the next listing, and its job served.
    w.github.queueJob({ id: 7, labels: LINUX, repository: 'acme/new' });
    await w.clock.advance(60_000);
    await c.reconcileOnce();
    expect(listings(w)).toBe(3);
    expect((await w.store.listRepositories()).map((r) => r.fullName).sort()).toEqual([
      'acme/lib',
      'acme/new',
    ]);
    expect((await w.store.getJob(7))!.status).toBe('queued');
    expect(await w.live()).toHaveLength(1);
  });

  it('an organization without the App installed does not stop the resync of the others', async () => {
    const w = new World();
    await w.pool('linux');
    await w.pool('other', { github: { scope: 'org', organization: 'globex' } });
    w.github.notInstalled.add('globex');
    w.github.queueJob({ id: 3, labels: LINUX, repository: 'acme/lib' });
    const c = w.controller();
    await c.reconcileOnce();
    expect((await w.store.getJob(3))!.status).toBe('queued');
    expect(await w.live()).toHaveLength(1);
  });

  it('repository pools name their repository; enterprise pools are not listed', async () => {
    const w = new World();
    await w.pool('app', { github: { scope: 'repo', repository: 'acme/app' }, labels: ['app'] });
    await w.pool('ent', {
      github: { scope: 'enterprise', enterprise: 'acme-corp' },
      labels: ['ent'],
    });
    w.github.queueJob({ id: 4, labels: ['self-hosted', 'app'], repository: 'acme/app' });
    const c = w.controller();
    await c.reconcileOnce();
    expect(listings(w)).toBe(0);
    expect((await w.store.getJob(4))!).toMatchObject({ status: 'queued', pool: 'app' });
    expect(await w.live()).toHaveLength(1);
  });
});
