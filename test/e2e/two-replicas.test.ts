// Two controller replicas on the sandbox, as the ECS service may run them: one DynamoDB lease,
// so exactly one acts at a time; both ingest events. When the acting one stops, the other takes
// the lease and carries on. Every job runs once, on its own runner.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControllerApp } from '../../controller/app/app.ts';
import { planOutcome, seedPlan } from '../../controller/sandbox/plan.ts';
import { testSandbox, until, type TestSandbox } from './helpers.ts';

// Generous bounds, not windows: on a loaded machine (load 5 on 2 cores) a plan or a lease
// takeover can take far longer than on an idle one; the test waits for the outcome.
const WAIT_MS = 180_000;

let sandbox: TestSandbox;
let second: ControllerApp;

beforeAll(async () => {
  sandbox = await testSandbox();
  second = await sandbox.startReplica();
});

afterAll(async () => {
  await sandbox?.close();
});

async function runPlan() {
  const control = sandbox.cloud.github.control;
  const runId = await sandbox.queue(seedPlan(300));
  await until(
    async () => (await planOutcome(control, [runId])).done,
    async () => JSON.stringify((await planOutcome(control, [runId])).jobs.map((j) => j.status)),
    WAIT_MS,
  );
  return planOutcome(control, [runId]);
}

describe('two replicas, one lease', () => {
  it(
    'exactly one acts; the other takes over when it stops',
    async () => {
      const first = sandbox.app;
      await until(
        () => first.controller.isLeader() || second.controller.isLeader(),
        'a leader',
        WAIT_MS,
      );
      // Sample who acts while the plan runs: never both.
      let both = false;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          if (first.controller.isLeader() && second.controller.isLeader()) both = true;
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const leader = first.controller.isLeader() ? first : second;
      const follower = leader === first ? second : first;
      const one = await runPlan();
      expect(one.succeeded).toBe(true);
      expect(new Set(one.jobs.map((j) => j.runnerName)).size).toBe(2);

      // The acting replica stops (lease released); the other one takes over and runs the next plan.
      await leader.stop();
      await until(() => follower.controller.isLeader(), 'the follower took the lease', WAIT_MS);
      const two = await runPlan();
      sampling = false;
      await sampler;
      expect(two.succeeded).toBe(true);
      expect(both).toBe(false);

      // Every runner record of the seed pool ran at most one job; none is left live.
      await until(
        async () =>
          (await follower.store.listRunners({ pool: 'seed' })).every((r) => r.state === 'finished'),
        'seed records finished',
        WAIT_MS,
      );
      const records = await follower.store.listRunners({ pool: 'seed' });
      const jobsPerRunner = new Map<string, number>();
      for (const j of [...one.jobs, ...two.jobs]) {
        jobsPerRunner.set(j.runnerName!, (jobsPerRunner.get(j.runnerName!) ?? 0) + 1);
      }
      expect([...jobsPerRunner.values()].every((n) => n === 1)).toBe(true);
      for (const name of jobsPerRunner.keys()) {
        expect(records.map((r) => r.name)).toContain(name);
      }
    },
    4 * WAIT_MS,
  );
});
