// Smoke test of the benchmark harness (not the benchmark: no figure is asserted): a tiny burst
// and a tiny scale run through the same code as `npm run bench`, so the harness cannot rot.
// Each asserts what must hold whatever the machine: every job ran, nothing was left behind, the
// figures were measured. About 8 s on 2 idle cores (two controller processes start); the time limits are
// generous bounds so a loaded machine only makes it slower.

import { describe, expect, it } from 'vitest';
import { runBurst } from './burst.ts';
import { runScale } from './scale.ts';
import { runSteady } from './steady.ts';

const log = () => {};

describe('benchmark harness', () => {
  it('burst: every job runs on its own runner, the calls are counted, nothing is left', async () => {
    const r = await runBurst({
      jobs: 12,
      pools: 2,
      speed: 50,
      jobMs: 1_000,
      timeoutMs: 240_000,
      restPerHour: 100_000,
      log,
    });
    expect(r.completed).toBe(12);
    expect(r.succeeded).toBe(12);
    expect(r.launches).toBeGreaterThanOrEqual(12);
    expect(r.queuedToRunTaskSec.p50).toBeGreaterThan(0);
    expect(r.launchesPerMinute).toBeGreaterThan(0);
    expect(r.limits.bindingPerMinute).toBe(180);
    // Each launch needs a JIT config and a RunTask. At speed 50 a loaded machine stretches every
    // real delay 50-fold in simulated time, so attempts time out and are retried (118 JIT POSTs
    // for 12 launches at load 15): only the lower bound holds whatever the machine.
    const jit = r.calls['github POST /orgs/:org/actions/runners/generate-jitconfig'] ?? 0;
    const runTask = r.calls['ecs RunTask'] ?? 0;
    expect(jit).toBeGreaterThanOrEqual(r.launches);
    expect(runTask).toBeGreaterThanOrEqual(r.launches);
    expect(r.rateLimitErrors).toBe(0);
    expect(r.leftovers.githubRunners).toBe(r.surplusIdleRunners);
    expect(r.leftovers.liveTasks).toBe(r.surplusIdleRunners);
  }, 300_000);

  it('scale: the seeded records stay live through timed passes; launches, removals and latency samples', async () => {
    const r = await runScale({
      records: 100,
      pools: 2,
      busyShare: 0.8,
      passes: 1,
      churn: 2,
      latencySamples: 2,
      log,
    });
    expect(r.passMs).toHaveLength(1);
    expect(r.passMs[0]).toBeGreaterThan(0);
    // The churn stopped 2 idle runners' tasks: those were removed, the other 98 stay live.
    expect(r.liveAfter).toBe(98);
    // The churn's 2 jobs each launched a runner during the pass (retries only add calls).
    expect(r.calls['ecs RunTask'] ?? 0).toBeGreaterThanOrEqual(2);
    // Each sample's RunTask and removal were seen (none counted at the 60 s cap).
    expect(r.latency?.samples).toBe(2);
    expect(r.latency?.timedOut).toBe(0);
    expect(r.latency?.eventToRunTaskMs.max).toBeLessThan(60_000);
    expect(r.latency?.completedToRemovedMs.max).toBeLessThan(60_000);
    expect(r.controller.peakRssBytes).toBeGreaterThan(10 * 2 ** 20);
    expect(r.callsPerPass.github).toBeGreaterThan(0);
  }, 300_000);

  it('steady: spaced runs all complete, every GitHub call is charged to their jobs, nothing is left', async () => {
    const r = await runSteady({
      speed: 20,
      phaseMinutes: 1,
      jobMs: 5_000,
      pools: 2,
      restPerHour: 5_000,
      phases: ['mix'],
      idleMinutes: 1,
      drainTimeoutMs: 120_000,
      log,
    });
    const mix = r.phases.mix!;
    expect(mix.jobs).toBeGreaterThan(0);
    expect(mix.completed).toBe(mix.jobs);
    // Each job needs its runner's JIT config; 304s are a part of all calls.
    expect(
      r.perJobByRoute['POST /orgs/:org/actions/runners/generate-jitconfig'],
    ).toBeGreaterThanOrEqual(1);
    expect(r.grossGithubCallsPerJob).toBeGreaterThanOrEqual(r.githubChargedCallsPerJob);
    // The floor is measured, and a job costs at least its JIT POST above it.
    expect(r.idleFloor.callsPerMinute).toBeGreaterThan(0);
    expect(r.githubCallsPerJob).toBeLessThanOrEqual(r.grossGithubCallsPerJob);
    expect(r.rateLimitErrors).toBe(0);
    expect(r.leftovers.liveTasks).toBeLessThanOrEqual(r.leftovers.idleRunners);
    expect(r.leftovers.githubRunners).toBeLessThanOrEqual(r.leftovers.idleRunners);
    expect(r.leftovers.unfinishedRecords).toBe(0);
  }, 300_000);
});
