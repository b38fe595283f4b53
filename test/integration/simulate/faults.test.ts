// The fault suite: every scenario of test/scenarios/faults/ (each fault class alone, then all of
// them together) runs on the local cloud with the real controller, and every invariant must hold:
// each job not cancelled completed as the workload said, no GitHub runner, no running task and no
// unfinished runner record left, no job on a pool it does not match, no runner used twice. Each
// test also checks that its fault really happened, so a scenario cannot pass by luck of the dice.
// The scenarios run all at once: most of their real time is waiting (simulated task starts and
// jobs, real-time retry backoffs), not computing.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SimulationReport } from '../../../controller/simulate/report.ts';
import { runSimulation } from '../../../controller/simulate/run.ts';
import { loadScenario } from '../../../controller/simulate/scenario.ts';

const DIR = fileURLToPath(new URL('../../scenarios/faults/', import.meta.url));

/** What each scenario's fault must have done at least once. */
const FAULT_SEEN: Record<string, (r: SimulationReport) => void> = {
  'github-5xx': (r) =>
    expect(
      (r.faults.injected['github 5xx'] ?? 0) + (r.faults.injected['github 5xx (answer lost)'] ?? 0),
    ).toBeGreaterThan(0),
  'github-429': (r) => expect(r.rateLimitErrors.github.injected.tooManyRequests).toBeGreaterThan(0),
  'github-secondary-limit': (r) =>
    expect(r.rateLimitErrors.github.injected.secondary).toBeGreaterThan(0),
  'webhook-drop': (r) => expect(r.faults.webhooks.dropped).toBeGreaterThan(0),
  'webhook-duplicate': (r) => expect(r.faults.webhooks.duplicate).toBeGreaterThan(0),
  'webhook-reorder': (r) => expect(r.faults.webhooks.outOfOrder).toBeGreaterThan(0),
  'ecs-throttling': (r) => expect(r.rateLimitErrors.ecs.injected.throttling).toBeGreaterThan(0),
  'spot-shortage': (r) => {
    const failures = Object.entries(r.pools.linux!.failures);
    expect(failures.some(([k]) => /Capacity is unavailable/.test(k))).toBe(true);
    expect(r.pools.linux!.tasksByCapacityProvider.FARGATE).toBeGreaterThan(0);
  },
  // Each job lost its spot task mid-job; its one re-run (attempt 2) ran on FARGATE and succeeded.
  'spot-interruption': (r) => {
    expect(r.pools.linux!.failures['spot interruption']).toBeGreaterThan(0);
    const runs = new Map<number, typeof r.jobs>();
    for (const j of r.jobs) runs.set(j.runId, [...(runs.get(j.runId) ?? []), j]);
    expect(runs.size).toBe(2);
    for (const attempts of runs.values()) {
      // No loop: the interrupted attempt and one re-run, nothing more.
      expect(attempts.map((j) => j.runAttempt).sort()).toEqual([1, 2]);
      const [first, rerun] = attempts.sort((a, b) => a.runAttempt - b.runAttempt);
      expect(first!.capacityProvider).toBe('FARGATE_SPOT');
      expect(first!.conclusion).toBe('cancelled');
      expect(rerun!).toMatchObject({ conclusion: 'success', capacityProvider: 'FARGATE' });
    }
  },
  'task-start-failure': (r) =>
    expect(
      Object.values(r.pools).reduce((n, p) => n + (p.failures['task failed to start'] ?? 0), 0),
    ).toBeGreaterThan(0),
  'runner-crash': (r) => expect(r.faults.runnerCrashes).toBeGreaterThan(0),
  'controller-restart': (r) => expect(r.faults.controllerRestartsAt).toHaveLength(2),
  // A controller that knows no repository and receives no event at all: the resync discovers the
  // repositories of the org pool's installation, and every job (checked above) gets a runner and
  // completes. "Within one resync period" is asserted without real time in
  // test/unit/reconcile/resync-discovery.test.ts.
  'cold-start': (r) => {
    expect(r.faults.webhooks.dropped).toBeGreaterThan(0);
    expect(r.faults.webhooks.delivered ?? 0).toBe(0);
    expect(r.jobs.map((j) => j.repo).sort()).toEqual(['acme/app', 'acme/app', 'acme/lib']);
  },
  'all-faults': (r) => {
    expect(r.faults.controllerRestartsAt).toHaveLength(1);
    expect(Object.keys(r.faults.injected).length).toBeGreaterThan(3);
    expect(r.faults.webhooks.dropped).toBeGreaterThan(0);
  },
};

const CONCURRENCY = 3;
const reports = new Map<string, SimulationReport>();

describe('fault suite (test/scenarios/faults/)', () => {
  // A few scenarios at a time (each has its own simulators, store and controller on free ports).
  // More at once would slow every controller down in real time, which a sped-up clock magnifies.
  beforeAll(async () => {
    const queue = Object.keys(FAULT_SEEN);
    const worker = async () => {
      for (let name = queue.shift(); name; name = queue.shift()) {
        const scenario = await loadScenario(`${DIR}${name}.yaml`, `faults/${name}.yaml`);
        const { report } = await runSimulation(scenario, {
          logLevel: 'warn',
          keepData: 'on-failure',
        });
        reports.set(name, report);
        // A failing scenario keeps its logs and store; its report goes next to them.
        if (report.dataDir) {
          await writeFile(join(report.dataDir, 'report.json'), JSON.stringify(report, null, 2));
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  }, 120_000);

  for (const [name, faultSeen] of Object.entries(FAULT_SEEN)) {
    it(`${name}: every invariant holds`, () => {
      const report = reports.get(name)!;
      const failed = report.invariants.filter((i) => !i.ok);
      const where = report.dataDir ? ` (logs and report in ${report.dataDir})` : '';
      expect(failed, `${JSON.stringify(failed, null, 2)}${where}`).toEqual([]);
      expect(report.errors).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.invariants.map((i) => i.name)).toEqual(
        expect.arrayContaining([
          'jobs-completed',
          'no-github-runners-left',
          'no-tasks-running',
          'no-unfinished-records',
          'jobs-on-matching-pools',
        ]),
      );
      // Every job of the workload ran and was reported with its runner and task.
      expect(report.summary.jobs).toBeGreaterThan(0);
      for (const job of report.jobs) {
        expect(job.status).toBe('completed');
        expect(job.runner).toMatch(/^rctl-/);
        expect(job.task).toMatch(/^arn:aws:ecs:/);
        expect(job.runnerLaunchedAt).not.toBeNull();
      }
      faultSeen(report);
    });
  }
});
