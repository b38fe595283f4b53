// A Docker pool on ECS on EC2 runs its jobs to completion on the local cloud: the sandbox's Auto
// Scaling group starts with no instance, managed scaling adds instances after the scale-out
// delay, and
// every runner task runs on the group's capacity provider with the Docker task definition.

import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { runSimulation } from '../../../controller/simulate/run.ts';
import { loadScenario } from '../../../controller/simulate/scenario.ts';

const FILE = fileURLToPath(new URL('../../scenarios/docker.yaml', import.meta.url));

describe('scenario docker (test/scenarios/docker.yaml)', () => {
  it('every job runs on an EC2 runner with a Docker daemon and completes; nothing is left', async () => {
    const scenario = await loadScenario(FILE, 'docker.yaml');
    const { report } = await runSimulation(scenario, { logLevel: 'warn', keepData: 'on-failure' });
    const failed = report.invariants.filter((i) => !i.ok);
    expect(failed, JSON.stringify(failed, null, 2)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.jobs).toHaveLength(6);
    for (const job of report.jobs) expect(job.status).toBe('completed');
    // The group starts empty, so the first tasks waited for a scale-out. Six runners of 1 vCPU /
    // 3 GiB need at most two instances of 4 vCPU / 15,700 MiB (one when later jobs take the room
    // of finished ones, as on a slow machine).
    expect(report.faults.ec2.peakInstances).toBeGreaterThanOrEqual(1);
    expect(report.faults.ec2.peakInstances).toBeLessThanOrEqual(2);
    expect(report.faults.ec2.peakWaitingForCapacity).toBeGreaterThan(0);
    const pool = report.pools.docker!;
    expect(pool.tasksByCapacityProvider['runnerctl-docker']).toBe(pool.tasksStarted);
  }, 120_000);
});
