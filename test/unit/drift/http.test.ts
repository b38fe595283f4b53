// GET /drift: the report as JSON, one pool with ?pool=, 404 for an unknown pool, and a short
// cache so that scrapes do not spend the GitHub budget.

import { afterEach, describe, expect, it } from 'vitest';
import { API_VERSION, POOL_KIND } from '../../../controller/api/types.ts';
import { driftHandler } from '../../../controller/drift/http.ts';
import type { DriftReport } from '../../../controller/drift/types.ts';
import { HttpServer } from '../../../controller/server/http-server.ts';
import { MemoryStore } from '../../support/fakes/memory-store.ts';
import { ManualClock } from '../../support/fakes/manual-clock.ts';

let server: HttpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('GET /drift', () => {
  it('serves the report, per pool, cached for a few seconds', async () => {
    const clock = new ManualClock(Date.parse('2026-11-27T12:00:00Z'));
    const store = new MemoryStore(() => clock.now());
    await store.applyPool({
      apiVersion: API_VERSION,
      kind: POOL_KIND,
      metadata: { name: 'linux' },
      spec: {
        github: { scope: 'org', organization: 'acme' },
        labels: ['linux'],
        maxRunners: 2,
        ecs: { cluster: 'c', taskDefinition: 't', subnets: ['s'] },
      },
    });
    let listings = 0;
    let orphans = [
      {
        id: 9,
        name: 'rctl-linux-deadbeef',
        os: 'Linux',
        status: 'offline' as const,
        busy: false,
        labels: [],
      },
    ];
    const github = {
      listRunners: async () => {
        listings++;
        return orphans;
      },
      getRunner: async (_s: unknown, id: number) => orphans.find((r) => r.id === id),
      listQueuedJobs: async () => [],
      getJob: async () => undefined,
    };
    const ecs = { listTasks: async () => [], describeTasks: async () => [] };
    server = new HttpServer();
    server.addRoute(
      'GET',
      '/drift',
      driftHandler({
        store,
        github,
        ecs,
        clock,
        config: { runnerNamePrefix: 'rctl', resyncSeconds: 60 },
      }),
    );
    const { url } = await server.listen(0, '127.0.0.1');

    const first = (await (await fetch(`${url}/drift`)).json()) as DriftReport;
    expect(first).toMatchObject({
      inSync: false,
      graceSeconds: 120,
      counts: { 'runner-without-record': 1 },
    });
    expect(first.findings[0]!.objects).toMatchObject({
      runner: 'rctl-linux-deadbeef',
      githubRunnerId: 9,
    });

    // Within the cache period the same report is served.
    orphans = [];
    await fetch(`${url}/drift`);
    expect(listings).toBe(1);
    await clock.advance(11_000);
    const later = (await (await fetch(`${url}/drift`)).json()) as DriftReport;
    expect(later.inSync).toBe(true);
    expect(listings).toBe(2);

    const pool = (await (await fetch(`${url}/drift?pool=linux`)).json()) as DriftReport;
    expect(pool).toMatchObject({ pool: 'linux', inSync: true });
    const unknown = await fetch(`${url}/drift?pool=nope`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: 'runnerpool "nope" not found' });
  });

  it('an unknown pool is 404 before any GitHub call; one report is built at a time', async () => {
    const clock = new ManualClock(Date.parse('2026-11-27T12:00:00Z'));
    const store = new MemoryStore(() => clock.now());
    await store.applyPool({
      apiVersion: API_VERSION,
      kind: POOL_KIND,
      metadata: { name: 'linux' },
      spec: {
        github: { scope: 'org', organization: 'acme' },
        labels: ['linux'],
        maxRunners: 2,
        ecs: { cluster: 'c', taskDefinition: 't', subnets: ['s'] },
      },
    });
    let listings = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const github = {
      listRunners: async () => {
        listings++;
        await gate;
        return [];
      },
      getRunner: async () => undefined,
      listQueuedJobs: async () => [],
      getJob: async () => undefined,
    };
    const ecs = { listTasks: async () => [], describeTasks: async () => [] };
    server = new HttpServer();
    server.addRoute(
      'GET',
      '/drift',
      driftHandler({
        store,
        github,
        ecs,
        clock,
        config: { runnerNamePrefix: 'rctl', resyncSeconds: 60 },
      }),
    );
    const { url } = await server.listen(0, '127.0.0.1');

    const unknown = await fetch(`${url}/drift?pool=${'x'.repeat(40)}`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: string }).error).toContain('x'.repeat(40));
    expect((await fetch(`${url}/drift?pool=${'y'.repeat(64)}`)).status).toBe(400);
    expect(listings).toBe(0);

    const all = fetch(`${url}/drift`);
    while (listings === 0) await new Promise((r) => setTimeout(r, 5));
    // Another report meanwhile: refused; the same one: shared.
    const other = await fetch(`${url}/drift?pool=linux`);
    expect(other.status).toBe(429);
    expect(other.headers.get('retry-after')).toBeTruthy();
    const same = fetch(`${url}/drift`);
    release();
    expect((await all).status).toBe(200);
    expect((await same).status).toBe(200);
    expect(listings).toBe(1);
    expect((await fetch(`${url}/drift?pool=linux`)).status).toBe(200);
  });
});
