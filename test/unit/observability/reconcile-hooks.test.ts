// The reconcile loops report to the metrics sink: launches, failed attempts by reason, reconcile
// durations by key kind and outcome, and the work-queue depth.

import { describe, expect, it } from 'vitest';
import { ControllerMetrics } from '../../../controller/observability/metrics.ts';
import { createController } from '../../../controller/reconcile/controller.ts';
import { TerminalReconcileError } from '../../../controller/reconcile/errors.ts';
import { silentLogger } from '../../../controller/reconcile/types.ts';
import { WorkQueue } from '../../../controller/reconcile/workqueue.ts';
import { ManualClock } from '../../support/fakes/manual-clock.ts';
import { World } from '../../support/fakes/world.ts';

async function value(m: ControllerMetrics, name: string, labels: Record<string, string> = {}) {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name)!;
  return metric.values
    .filter((v) => Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l))
    .reduce((a, v) => a + v.value, 0);
}

function controllerWith(w: World, metrics: ControllerMetrics) {
  let n = 0;
  return createController({
    store: w.store,
    github: w.github,
    ecs: w.ecs,
    clock: w.clock,
    log: silentLogger,
    config: { resyncMs: 60_000 },
    leaseHolderId: 'replica-a',
    suffix: () => `s${++n}`,
    random: () => 0.5,
    metrics,
  });
}

describe('reconcile metrics', () => {
  it('counts launches, failed attempts by reason, and reconciles by kind', async () => {
    const w = new World();
    const metrics = new ControllerMetrics({ processMetrics: false });
    await w.pool('linux');
    await w.queue(1, ['linux']);
    const c = controllerWith(w, metrics);
    await c.reconcileOnce();
    expect(await value(metrics, 'runnerctl_launches_total', { pool: 'linux' })).toBe(1);
    expect(await value(metrics, 'runnerctl_launches_total', { capacity_provider: 'FARGATE' })).toBe(
      1,
    );
    expect(await value(metrics, 'runnerctl_launch_failures_total')).toBe(0);

    // The task dies before its runner registers: a failed attempt, then a relaunch.
    const [task] = w.ecs.running();
    await w.ecs.stopTask(task!.cluster, task!.arn, 'CannotPullContainerError');
    await c.reconcileOnce();
    expect(
      await value(metrics, 'runnerctl_launch_failures_total', {
        pool: 'linux',
        reason: 'task_stopped',
      }),
    ).toBe(1);
    await c.reconcileOnce();
    expect(await value(metrics, 'runnerctl_launches_total', { pool: 'linux' })).toBe(2);

    // The relaunched runner never comes online: the registration timeout counts too.
    await w.clock.advance(5 * 60_000 + 1);
    await c.reconcileOnce();
    expect(
      await value(metrics, 'runnerctl_launch_failures_total', { reason: 'registration_timeout' }),
    ).toBe(1);

    const text = await metrics.text();
    for (const kind of ['pool', 'gc', 'resync']) {
      expect(text).toMatch(
        new RegExp(
          `runnerctl_reconcile_duration_seconds_count\\{kind="${kind}",outcome="ok"\\} [1-9]`,
        ),
      );
    }
    expect(text).toContain('runnerctl_workqueue_depth 0');
    await c.stop();
  });

  it('the work queue reports outcomes and the keys waiting', async () => {
    const reconciled: [string, string][] = [];
    const depths: number[] = [];
    let release!: () => void;
    const blocked = new Promise<void>((r) => (release = r));
    const q = new WorkQueue(
      async (key) => {
        if (key === 'first') await blocked;
        if (key === 'bad') throw new Error('boom');
        if (key === 'fatal') throw new TerminalReconcileError('no', 'fatal');
      },
      {
        clock: new ManualClock(),
        log: silentLogger,
        concurrency: 1,
        random: () => 0.5,
        onReconcile: (key, ms, outcome) => {
          expect(ms).toBeGreaterThanOrEqual(0);
          reconciled.push([key, outcome]);
        },
        onDepth: (n) => depths.push(n),
      },
    );
    q.start();
    q.enqueue('first');
    q.enqueue('bad');
    q.enqueue('fatal');
    q.enqueue('good');
    expect(Math.max(...depths)).toBe(3);
    release();
    await q.idle();
    expect(reconciled).toEqual([
      ['first', 'ok'],
      ['bad', 'error'],
      ['fatal', 'terminal'],
      ['good', 'ok'],
    ]);
    expect(depths.at(-1)).toBe(0);
    await q.stop();
  });
});
