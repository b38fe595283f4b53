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

  it('public repositories only with allowPublicRepositories; unknown visibility is not public', () => {
    const job = { repository: 'acme/app', visibility: 'public' as const };
    expect(repositoryRefusal(job, {})).toMatch(/is public/);
    expect(repositoryRefusal(job, { allowPublicRepositories: true })).toBeUndefined();
    expect(repositoryRefusal({ ...job, visibility: 'private' }, {})).toBeUndefined();
    expect(repositoryRefusal({ repository: 'acme/app' }, {})).toBeUndefined();
    expect(repositoryRefusal({ repository: 'acme/app' }, { repositories: ['api-*'] })).toMatch(
      /not in the pool's repositories \[api-\*\]/,
    );
  });

  it('a job outside the allow-list or from a public repository launches nothing; another pool may serve it', async () => {
    const w = new World();
    await w.pool('narrow', { repositories: ['api-*'], priority: 10 });
    await w.queue(1, ['linux'], 'acme/web');
    const publicJob = await w.queue(2, ['linux'], 'acme/api-public');
    await w.store.recordJob({ ...publicJob, visibility: 'public' });
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
});
