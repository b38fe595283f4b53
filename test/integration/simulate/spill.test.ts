// Demand goes where it can be served (test/scenarios/spill.yaml): the jobs of a paused pool run
// on the next matching pool, and a full pool's overflow spills over to it, on the local cloud
// with the real controller.

import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runSimulation } from '../../../controller/simulate/run.ts';
import { loadScenario } from '../../../controller/simulate/scenario.ts';

const FILE = fileURLToPath(new URL('../../scenarios/spill.yaml', import.meta.url));

describe('scenario spill (test/scenarios/spill.yaml)', () => {
  it('a paused pool and a full pool hand their jobs to the fallback pool; all complete', async () => {
    const scenario = await loadScenario(FILE, 'spill.yaml');
    const { report } = await runSimulation(scenario, { logLevel: 'warn', keepData: 'on-failure' });
    const failed = report.invariants.filter((i) => !i.ok);
    expect(failed, JSON.stringify(failed, null, 2)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.jobs).toHaveLength(8);
    for (const job of report.jobs) expect(job.status).toBe('completed');
    // The paused pool never launched; the full one stayed within its two runners.
    expect(report.pools.primary?.tasksStarted ?? 0).toBe(0);
    expect(report.pools.small!.peakRunners).toBeLessThanOrEqual(2);
    expect(report.pools.small!.tasksStarted).toBeGreaterThan(0);
    // The fallback served the paused pool's three jobs and the full pool's overflow.
    expect(report.pools.fallback!.tasksStarted).toBeGreaterThanOrEqual(3 + 1);
  }, 120_000);
});
