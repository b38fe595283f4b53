import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { API_VERSION, POOL_KIND } from '../../../controller/api/types.ts';
import {
  ControllerMetrics,
  launchFailureReason,
  reconcileKind,
} from '../../../controller/observability/metrics.ts';
import type { Store } from '../../../controller/store/types.ts';
import { MemoryStore } from '../../support/fakes/memory-store.ts';
import { poolSpec } from '../../support/fakes/world.ts';

async function value(m: ControllerMetrics, name: string, labels: Record<string, string> = {}) {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name);
  if (!metric) return undefined;
  return metric.values
    .filter((v) => Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l))
    .reduce((a, v) => a + v.value, 0);
}

describe('ControllerMetrics', () => {
  it('keeps its series in its own registry, never the global one', async () => {
    const a = new ControllerMetrics({ processMetrics: false });
    const b = new ControllerMetrics({ processMetrics: false });
    a.launched('linux', 'FARGATE_SPOT');
    a.launched('linux', undefined);
    expect(await value(a, 'runnerctl_launches_total', { pool: 'linux' })).toBe(2);
    expect(await value(a, 'runnerctl_launches_total', { capacity_provider: 'FARGATE' })).toBe(1);
    expect(await value(b, 'runnerctl_launches_total')).toBe(0);
    expect(globalRegistry.getSingleMetric('runnerctl_launches_total')).toBeUndefined();
    const text = await a.text();
    expect(text).toContain(
      'runnerctl_launches_total{pool="linux",capacity_provider="FARGATE_SPOT"} 1',
    );
    expect(a.contentType).toMatch(/^text\/plain/);
  });

  it('classifies launch failures into a bounded set of reasons', async () => {
    expect(launchFailureReason('task stopped before the runner came online: OOM')).toBe(
      'task_stopped',
    );
    expect(launchFailureReason('runner not online within 300s')).toBe('registration_timeout');
    expect(
      launchFailureReason(
        'launch failed: RunTask on FARGATE_SPOT failed: Capacity is unavailable at this time',
      ),
    ).toBe('capacity_unavailable');
    expect(launchFailureReason('launch failed: task definition runner:9 not found')).toBe(
      'task_definition_not_found',
    );
    expect(launchFailureReason('launch failed: RunTask failed: AGENT')).toBe('run_task_failed');
    expect(launchFailureReason('something else')).toBe('other');

    const m = new ControllerMetrics({ processMetrics: false });
    m.launchFailed('linux', 'runner not online within 300s');
    m.launchFailed('linux', 'runner not online within 60s');
    expect(
      await value(m, 'runnerctl_launch_failures_total', { reason: 'registration_timeout' }),
    ).toBe(2);
  });

  it('records reconcile durations by key kind and outcome, and the queue depth', async () => {
    expect(reconcileKind('pool/linux-x64')).toBe('pool');
    expect(reconcileKind('gc')).toBe('gc');
    const m = new ControllerMetrics({ processMetrics: false });
    m.reconciled('pool/a', 120, 'ok');
    m.reconciled('pool/b', 80, 'error');
    m.reconciled('gc', 5, 'ok');
    m.queueDepth(7);
    const text = await m.text();
    expect(text).toContain(
      'runnerctl_reconcile_duration_seconds_count{kind="pool",outcome="ok"} 1',
    );
    expect(text).toContain(
      'runnerctl_reconcile_duration_seconds_count{kind="pool",outcome="error"} 1',
    );
    expect(text).toContain(
      'runnerctl_reconcile_duration_seconds_sum{kind="pool",outcome="ok"} 0.12',
    );
    expect(text).toContain('runnerctl_reconcile_duration_seconds_count{kind="gc",outcome="ok"} 1');
    expect(text).toContain('runnerctl_workqueue_depth 7');
  });

  it('job latencies: queued to launch clamps at 0 for a warm runner', async () => {
    const m = new ControllerMetrics({ processMetrics: false });
    m.jobStarted('linux', { queuedAtMs: 10_000, launchedAtMs: 4_000, startedAtMs: 12_500 });
    m.jobStarted('linux', { queuedAtMs: 10_000, launchedAtMs: 40_000, startedAtMs: 95_000 });
    m.jobStarted('linux', { queuedAtMs: 10_000, startedAtMs: 11_000 });
    const text = await m.text();
    expect(text).toContain('runnerctl_job_queued_to_launch_seconds_count{pool="linux"} 2');
    expect(text).toContain('runnerctl_job_queued_to_launch_seconds_sum{pool="linux"} 30');
    expect(text).toContain('runnerctl_job_queued_to_launch_seconds_bucket{le="1",pool="linux"} 1');
    expect(text).toContain('runnerctl_job_queued_to_start_seconds_count{pool="linux"} 3');
    expect(text).toContain('runnerctl_job_queued_to_start_seconds_sum{pool="linux"} 88.5');
  });

  describe('scrape-time gauges', () => {
    async function world() {
      let now = Date.parse('2026-11-27T12:00:00Z');
      const store = new MemoryStore(() => now);
      for (const name of ['a', 'b']) {
        await store.applyPool({
          apiVersion: API_VERSION,
          kind: POOL_KIND,
          metadata: { name },
          spec: poolSpec(),
        });
      }
      const runner = (name: string, pool: string, state: 'idle' | 'busy' | 'finished') =>
        store.createRunner({
          name,
          pool,
          state,
          labels: ['self-hosted'],
          attempts: 1,
          createdAt: new Date(now).toISOString(),
          timeline: [],
        });
      await runner('r1', 'a', 'idle');
      await runner('r2', 'a', 'idle');
      await runner('r3', 'a', 'busy');
      await runner('r4', 'b', 'finished');
      const job = (id: number, status: 'queued' | 'in_progress' | 'completed') =>
        store.recordJob({
          id,
          runId: 1,
          runAttempt: 1,
          repository: 'acme/app',
          owner: 'acme',
          labels: ['self-hosted'],
          status,
          createdAt: new Date(now).toISOString(),
        });
      await job(1, 'queued');
      await job(2, 'queued');
      await job(3, 'in_progress');
      await job(4, 'completed');
      await store.tryAcquire('controller', 'replica-a', 15_000, now);
      let reads = 0;
      const counted = new Proxy(store, {
        get(target, prop, receiver) {
          const v = Reflect.get(target, prop, receiver) as unknown;
          if (prop === 'listPools') reads += 1;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      }) as Store;
      const metrics = new ControllerMetrics({
        processMetrics: false,
        snapshotMaxAgeMs: 5_000,
        now: () => now,
      });
      let leader = true;
      metrics.setSources({
        store: counted,
        leaseName: 'controller',
        isLeader: () => leader,
        rateLimit: () => ({ limit: 5000, remaining: 4321, resetAtMs: now + 60_000 }),
      });
      return {
        store,
        metrics,
        reads: () => reads,
        advance: (ms: number) => (now += ms),
        setLeader: (v: boolean) => (leader = v),
      };
    }

    it('reads runners by pool and live state, jobs by state, the lease and the rate limit', async () => {
      const { metrics } = await world();
      const text = await metrics.text();
      expect(text).toContain('runnerctl_runners{pool="a",state="idle"} 2');
      expect(text).toContain('runnerctl_runners{pool="a",state="busy"} 1');
      expect(text).toContain('runnerctl_runners{pool="a",state="pending"} 0');
      expect(text).toContain('runnerctl_runners{pool="b",state="idle"} 0');
      expect(text).not.toContain('state="finished"');
      expect(text).toContain('runnerctl_jobs{state="queued"} 2');
      expect(text).toContain('runnerctl_jobs{state="in_progress"} 1');
      expect(text).toContain('runnerctl_jobs{state="waiting"} 0');
      expect(text).not.toContain('state="completed"');
      expect(text).toContain('runnerctl_lease_holder{holder="replica-a"} 1');
      expect(text).toContain('runnerctl_is_leader 1');
      expect(text).toContain('runnerctl_github_rate_limit_remaining 4321');
      expect(text).toContain('runnerctl_github_rate_limit_limit 5000');
    });

    it('reuses one store reading per scrape and for snapshotMaxAgeMs, then reads again', async () => {
      const w = await world();
      await w.metrics.text();
      expect(w.reads()).toBe(1);
      await w.store.createRunner({
        name: 'r5',
        pool: 'b',
        state: 'busy',
        labels: [],
        attempts: 1,
        createdAt: '2026-11-27T12:00:00Z',
        timeline: [],
      });
      expect(await w.metrics.text()).toContain('runnerctl_runners{pool="b",state="busy"} 0');
      expect(w.reads()).toBe(1);
      w.advance(5_000);
      w.setLeader(false);
      const text = await w.metrics.text();
      expect(w.reads()).toBe(2);
      expect(text).toContain('runnerctl_runners{pool="b",state="busy"} 1');
      expect(text).toContain('runnerctl_is_leader 0');
    });

    it('an expired lease shows no holder', async () => {
      const w = await world();
      w.advance(60_000);
      const text = await w.metrics.text();
      expect(text).not.toMatch(/runnerctl_lease_holder\{/);
    });

    it('a store that fails keeps the last values and counts the error', async () => {
      const w = await world();
      expect(await w.metrics.text()).toContain('runnerctl_jobs{state="queued"} 2');
      const broken = {
        listJobs: () => Promise.reject(new Error('store down')),
        listRunners: () => Promise.reject(new Error('store down')),
        listPools: () => Promise.reject(new Error('store down')),
        getLease: () => Promise.reject(new Error('store down')),
      };
      w.metrics.setSources({ store: broken });
      const text = await w.metrics.text();
      expect(text).toContain('runnerctl_jobs{state="queued"} 2');
      // Counted as the reading fails (the text of this scrape was rendered concurrently).
      expect(await value(w.metrics, 'runnerctl_metrics_collect_errors_total')).toBeGreaterThan(0);
    });
  });

  it('includes Node.js process metrics unless turned off', async () => {
    expect(await new ControllerMetrics().text()).toContain('process_cpu_user_seconds_total');
    expect(await new ControllerMetrics({ processMetrics: false }).text()).not.toContain(
      'process_cpu_user_seconds_total',
    );
  });
});
