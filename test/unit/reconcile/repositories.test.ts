import { describe, expect, it } from 'vitest';
import {
  repositoryPatternMatches,
  repositoryRefusal,
} from '../../../controller/api/repositories.ts';
import { World } from '../../support/fakes/world.ts';

describe('a pool serves only its repositories', () => {
  it('names and globs compare with the name, owner/name entries with the full name', () => {
    expect(repositoryPatternMatches('api-*', 'acme/api-gateway')).toBe(true);
    expect(repositoryPatternMatches('API-*', 'acme/api-gateway')).toBe(true);
    expect(repositoryPatternMatches('api-*', 'acme/web')).toBe(false);
    expect(repositoryPatternMatches('app', 'acme/app')).toBe(true);
    expect(repositoryPatternMatches('app', 'acme/apps')).toBe(false);
    expect(repositoryPatternMatches('a.p', 'acme/axp')).toBe(false);
    expect(repositoryPatternMatches('acme/*', 'acme/web')).toBe(true);
    expect(repositoryPatternMatches('other/*', 'acme/web')).toBe(false);
    expect(repositoryPatternMatches('we?', 'acme/web')).toBe(true);
  });

  it('public repositories, and those of unknown visibility, only with allowPublicRepositories', () => {
    const job = { repository: 'acme/app', visibility: 'public' as const };
    expect(repositoryRefusal(job, {})).toMatch(/is public/);
    expect(repositoryRefusal(job, { allowPublicRepositories: true })).toBeUndefined();
    expect(repositoryRefusal({ ...job, visibility: 'private' }, {})).toBeUndefined();
    expect(repositoryRefusal({ repository: 'acme/app' }, {})).toMatch(/not known yet/);
    expect(
      repositoryRefusal({ repository: 'acme/app' }, { allowPublicRepositories: true }),
    ).toBeUndefined();
    expect(repositoryRefusal({ repository: 'acme/app' }, { repositories: ['api-*'] })).toMatch(
      /not in the pool's repositories \[api-\*\]/,
    );
  });

  it('a job outside the allow-list or from a public repository launches nothing; another pool may serve it', async () => {
    const w = new World();
    await w.pool('narrow', { repositories: ['api-*'], priority: 10 });
    await w.queue(1, ['linux'], 'acme/web');
    w.github.visibilities.set('acme/api-public', 'public');
    await w.queue(2, ['linux'], 'acme/api-public');
    const c = w.controller();
    await c.reconcileOnce();
    expect(w.ecs.running()).toHaveLength(0);

    await w.queue(3, ['linux'], 'acme/api-gateway');
    await c.reconcileOnce();
    expect(await w.runners()).toHaveLength(1);
    expect((await w.runners())[0]!.pool).toBe('narrow');

    // A wider pool of lower priority takes the job the narrow one does not serve.
    await w.pool('wide', { allowPublicRepositories: true });
    await c.reconcileOnce();
    const pools = (await w.runners()).map((r) => r.pool).sort();
    expect(pools).toEqual(['narrow', 'wide', 'wide']);
  });

  it('the resync learns the visibility of the jobs it finds from GitHub (one look-up per repository)', async () => {
    const w = new World();
    await w.pool('private-only');
    w.github.visibilities.set('acme/site', 'public');
    // Jobs GitHub has whose events were lost: the resync finds them.
    w.github.queueJob({ id: 11, labels: ['self-hosted', 'linux'], repository: 'acme/site' });
    w.github.queueJob({ id: 12, labels: ['self-hosted', 'linux'], repository: 'acme/site' });
    w.github.queueJob({ id: 13, labels: ['self-hosted', 'linux'], repository: 'acme/app' });
    const c = w.controller();
    await c.reconcileOnce();
    expect((await w.store.getJob(11))!.visibility).toBe('public');
    expect((await w.store.getJob(13))!.visibility).toBe('private');
    // Only the private repository's job is demand for a pool without allowPublicRepositories.
    expect(await w.live()).toHaveLength(1);
    const lookups = w.github.calls.filter((x) => x === 'getRepositoryVisibility').length;
    expect(lookups).toBeGreaterThanOrEqual(2);
    expect(lookups).toBeLessThanOrEqual(2);
    await c.reconcileOnce();
    // Cached: a second resync within the TTL looks nothing up again.
    expect(w.github.calls.filter((x) => x === 'getRepositoryVisibility').length).toBe(lookups);
  });
});
