import { afterEach, describe, expect, it } from 'vitest';
import { ControllerMetrics } from '../../../controller/observability/metrics.ts';
import {
  controllerReadiness,
  ecsProbe,
  githubProbe,
  storeProbe,
} from '../../../controller/observability/probes.ts';
import {
  metricsHandler,
  ReadinessChecker,
  readyzHandler,
  type Probe,
} from '../../../controller/server/health.ts';
import { HttpServer } from '../../../controller/server/http-server.ts';
import { FakeEcs } from '../../support/fakes/fake-ecs.ts';
import { MemoryStore } from '../../support/fakes/memory-store.ts';
import { poolSpec } from '../../support/fakes/world.ts';
import { API_VERSION, POOL_KIND } from '../../../controller/api/types.ts';

const ok: Probe = () => Promise.resolve();
const tick = () => new Promise((r) => setImmediate(r));

describe('ReadinessChecker', () => {
  it('is ready when every probe answers; a standby is ready too', async () => {
    const checker = new ReadinessChecker({
      probes: { store: ok, github: ok, ecs: ok },
      lease: () => ({ leader: false, holder: 'other-replica' }),
    });
    const r = await checker.check();
    expect(r.ready).toBe(true);
    expect(r.reasons).toEqual([]);
    expect(r.lease).toEqual({ leader: false, holder: 'other-replica' });
    expect(Object.keys(r.checks)).toEqual(['store', 'github', 'ecs']);
  });

  it('names each failing probe and the lease when they fail, scrubbed', async () => {
    const checker = new ReadinessChecker({
      probes: {
        store: ok,
        github: () => Promise.reject(new Error('cannot reach https://api.github.com: ENOTFOUND')),
        ecs: () => Promise.reject(new Error('token ghs_abcdefghijklmnopqrstuvwx refused')),
      },
      lease: () => Promise.reject(new Error('lease table gone')),
      scrub: (t) => t.replace(/ghs_\w+/g, '[redacted]'),
    });
    const r = await checker.check();
    expect(r.ready).toBe(false);
    expect(r.reasons).toEqual([
      'github: cannot reach https://api.github.com: ENOTFOUND',
      'ecs: token [redacted] refused',
      'lease: lease table gone',
    ]);
    expect(r.checks.store?.ok).toBe(true);
    expect(r.checks.ecs).toMatchObject({ ok: false, reason: 'token [redacted] refused' });
  });

  it('reuses a result for cacheMs and shares a probe in flight', async () => {
    let now = 0;
    let runs = 0;
    let release!: () => void;
    const checker = new ReadinessChecker({
      probes: {
        store: () => {
          runs += 1;
          return new Promise<void>((r) => (release = r));
        },
      },
      lease: () => ({ leader: true }),
      cacheMs: 5_000,
      now: () => now,
    });
    const first = checker.check();
    const second = checker.check();
    await tick();
    release();
    expect((await first).ready).toBe(true);
    expect((await second).ready).toBe(true);
    expect(runs).toBe(1);
    now = 4_999;
    await checker.check();
    expect(runs).toBe(1);
    now = 5_000;
    const third = checker.check();
    await tick();
    release();
    await third;
    expect(runs).toBe(2);
  });

  it('fails a probe that does not answer in time and aborts it', async () => {
    let aborted = false;
    const checker = new ReadinessChecker({
      probes: {
        ecs: (signal) =>
          new Promise((_, reject) => {
            signal.addEventListener('abort', () => {
              aborted = true;
              reject(new Error('aborted'));
            });
          }),
      },
      lease: () => ({ leader: true }),
      timeoutMs: 20,
    });
    const r = await checker.check();
    expect(r.reasons).toEqual(['ecs: no answer within 20 ms']);
    expect(aborted).toBe(true);
  });
});

describe('probes', () => {
  it('store: reads the lease item', async () => {
    const store = new MemoryStore();
    await store.tryAcquire('controller', 'a', 15_000, Date.now());
    await expect(storeProbe(store, 'controller')(new AbortController().signal)).resolves.toEqual(
      expect.objectContaining({ holder: 'a' }),
    );
  });

  it('github: any answer below 500 is reachable; 5xx and network errors are not', async () => {
    const seen: string[] = [];
    const answer = (status: number) =>
      ((url: string) => {
        seen.push(url);
        return Promise.resolve(new Response('{}', { status }));
      }) as unknown as typeof fetch;
    const signal = new AbortController().signal;
    await githubProbe('https://ghe.example/api/v3/', answer(200))(signal);
    await githubProbe('https://ghe.example/api/v3', answer(401))(signal);
    expect(seen).toEqual([
      'https://ghe.example/api/v3/rate_limit',
      'https://ghe.example/api/v3/rate_limit',
    ]);
    await expect(githubProbe('https://x', answer(503))(signal)).rejects.toThrow(
      'https://x/rate_limit answered 503',
    );
    const refused = (() =>
      Promise.reject(
        Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }),
      )) as unknown as typeof fetch;
    await expect(githubProbe('https://x', refused)(signal)).rejects.toThrow(
      'cannot reach https://x/rate_limit: ECONNREFUSED',
    );
  });

  it('ecs: lists our tasks in each pool cluster; no pools, nothing to check', async () => {
    const store = new MemoryStore();
    const ecs = new FakeEcs();
    const listed: string[] = [];
    ecs.beforeCall = (call, detail) => {
      if (call === 'listTasks') listed.push(String(detail));
    };
    const signal = new AbortController().signal;
    await ecsProbe(ecs, store)(signal);
    expect(listed).toEqual([]);
    await store.applyPool({
      apiVersion: API_VERSION,
      kind: POOL_KIND,
      metadata: { name: 'p' },
      spec: poolSpec(),
    });
    await ecsProbe(ecs, store)(signal);
    expect(listed).toHaveLength(1);
    ecs.beforeCall = () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:4566');
    };
    await expect(ecsProbe(ecs, store)(signal)).rejects.toThrow(
      'ListTasks in cluster runners: connect ECONNREFUSED 127.0.0.1:4566',
    );
  });
});

describe('controllerReadiness', () => {
  it('shows the stored holder while the lease is live, none once it expired', async () => {
    let now = 1_000_000;
    const store = new MemoryStore(() => now);
    await store.tryAcquire('controller', 'replica-b', 15_000, now);
    const readiness = controllerReadiness({
      store,
      ecs: new FakeEcs(),
      githubApiUrl: 'http://127.0.0.1:9',
      leaseName: 'controller',
      isLeader: () => false,
      now: () => now,
      cacheMs: 60_000,
    });
    const standby = await readiness.check();
    expect(standby.lease).toEqual({
      leader: false,
      holder: 'replica-b',
      expiresAt: new Date(now + 15_000).toISOString(),
    });
    // Nothing listens on port 9: GitHub is unreachable, the rest is fine.
    expect(standby.reasons).toEqual([
      expect.stringMatching(/^github: cannot reach http:\/\/127\.0\.0\.1:9\/rate_limit/),
    ]);
    now += 15_000;
    expect((await readiness.check()).lease).toEqual({ leader: false });
  });
});

describe('HTTP handlers', () => {
  let server: HttpServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('/readyz answers 200 with the lease state, 503 with reasons; /metrics serves the text', async () => {
    let ecsUp = true;
    const checker = new ReadinessChecker({
      probes: {
        store: ok,
        ecs: () => (ecsUp ? Promise.resolve() : Promise.reject(new Error('ECS down'))),
      },
      lease: () => ({ leader: true, holder: 'me' }),
      cacheMs: 0,
    });
    const metrics = new ControllerMetrics({ processMetrics: false });
    metrics.launched('p', 'FARGATE');
    server = new HttpServer();
    server.addRoute('GET', '/readyz', readyzHandler(checker));
    server.addRoute('GET', '/metrics', metricsHandler(metrics));
    const { url } = await server.listen(0, '127.0.0.1');

    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ready',
      lease: { leader: true, holder: 'me', state: 'leader' },
      checks: { store: { ok: true }, ecs: { ok: true } },
    });

    ecsUp = false;
    const down = await fetch(`${url}/readyz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({
      status: 'not ready',
      reasons: ['ecs: ECS down'],
      lease: { state: 'leader' },
    });

    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await res.text()).toContain(
      'runnerctl_launches_total{pool="p",capacity_provider="FARGATE"} 1',
    );
  });
});
