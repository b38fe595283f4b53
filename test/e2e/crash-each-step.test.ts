// A controller crashing after each launch step on the local cloud, then a successor taking over:
// the job runs once, on the runner record written before the crash (no second runner), and
// nothing is left behind. The crash is simulated in process: right after the step took effect,
// every later call of the crashed controller fails (it never writes, renews or cleans up again),
// so its lease runs out like a killed process's would. The providers are the real Octokit and
// AWS SDK ones, talking to the simulators; the store is the sandbox's dynalite table.

import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TASK_STARTED_BY, TASK_TAG_POOL, TASK_TAG_RUNNER } from '../../controller/api/constants.ts';
import { SdkEcsProvider } from '../../controller/ecs/sdk-provider.ts';
import type { EcsProvider } from '../../controller/ecs/types.ts';
import { OctokitGitHubProvider } from '../../controller/github/octokit-provider.ts';
import type { GitHubProvider } from '../../controller/github/types.ts';
import { createController, type Controller } from '../../controller/reconcile/controller.ts';
import { silentLogger } from '../../controller/reconcile/types.ts';
import { planOutcome } from '../../controller/sandbox/plan.ts';
import type { Store } from '../../controller/store/types.ts';
import { systemClock } from '../../controller/util/clock.ts';
import { testSandbox, until, type TestSandbox } from './helpers.ts';

let sandbox: TestSandbox;
let github: GitHubProvider;
let ecs: EcsProvider;
const REPO = 'foo-organisation/jit-fargate-test';
const LEASE_MS = 3_000;

beforeAll(async () => {
  sandbox = await testSandbox({ taskStartMs: 300 });
  // The sandbox's own controller steps aside: the controllers of this test act instead.
  await sandbox.app.controller.stop();
  const { info } = sandbox;
  github = new OctokitGitHubProvider({
    appId: info.github.appId,
    privateKey: await readFile(info.github.privateKeyFile, 'utf8'),
    baseUrl: info.github.url,
    pacing: { restPerHour: 100_000 },
    retryBaseMs: 50,
  });
  ecs = new SdkEcsProvider({
    endpoint: info.ecs.endpoint,
    region: info.ecs.region,
    credentials: info.aws,
  });
});

afterAll(async () => {
  await sandbox?.close();
});

/** Tasks of the seed pool (tags read through ECS's DescribeTasks). */
async function seedTasks() {
  const cluster = sandbox.info.ecs.cluster;
  const arns = [
    ...(await ecs.listTasks(cluster, { startedBy: TASK_STARTED_BY })),
    ...(await ecs.listTasks(cluster, { startedBy: TASK_STARTED_BY, desiredStatus: 'STOPPED' })),
  ];
  const tasks = [];
  for (let i = 0; i < arns.length; i += 100) {
    tasks.push(...(await ecs.describeTasks(cluster, arns.slice(i, i + 100))));
  }
  return tasks.filter((t) => t.tags[TASK_TAG_POOL] === 'seed');
}

/** What the seed pool (the pool of this test's jobs) left behind: runners, tasks, records. */
async function seedLeftovers(): Promise<string[]> {
  const { app, cloud } = sandbox;
  const left: string[] = [];

  for (const r of await cloud.github.control.listRunners()) {
    if (r.name.startsWith('rctl-seed-')) left.push(`GitHub runner ${r.name}`);
  }
  for (const t of await seedTasks()) {
    if (t.lastStatus !== 'STOPPED')
      left.push(`task of ${t.tags[TASK_TAG_RUNNER]} (${t.lastStatus})`);
  }
  for (const r of await app.store.listRunners({ pool: 'seed' })) {
    if (r.state !== 'finished') left.push(`record ${r.name} (${r.state})`);
  }
  return left;
}

type Step =
  'record written' | 'JIT generated' | 'configured stored' | 'task started' | 'launching stored';

class CrashError extends Error {
  constructor(step: string) {
    super(`simulated crash after ${step}`);
    this.name = 'CrashError';
  }
}

/** Wraps `target` so that every call fails once `dead()`, and `after` may kill it. */
function crashable<T extends object>(
  target: T,
  dead: () => boolean,
  after: (method: string, args: unknown[], result: unknown) => void,
): T {
  return new Proxy(target, {
    get(t, prop, receiver) {
      const value = Reflect.get(t, prop, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        if (dead()) throw new CrashError('(already dead)');
        const result = await value.apply(t, args);
        after(String(prop), args, result);
        return result;
      };
    },
  });
}

/** A controller that dies right after `step` took effect. */
function doomed(step: Step): { controller: Controller; crashed: () => boolean } {
  let dead = false;
  const die = (matches: boolean) => {
    if (matches && !dead) {
      dead = true;
      throw new CrashError(step);
    }
  };
  const state = (r: unknown) => (r as { state?: string } | undefined)?.state;
  const store = crashable<Store>(
    sandbox.app.store,
    () => dead,
    (method, _args, result) => {
      die(step === 'record written' && method === 'createRunner');
      die(
        step === 'configured stored' && method === 'updateRunner' && state(result) === 'configured',
      );
      die(
        step === 'launching stored' && method === 'updateRunner' && state(result) === 'launching',
      );
    },
  );
  const gh = crashable(
    github,
    () => dead,
    (method) => die(step === 'JIT generated' && method === 'generateJitConfig'),
  );
  const aws = crashable(
    ecs,
    () => dead,
    (method) => die(step === 'task started' && method === 'runTask'),
  );
  const controller = createController({
    store,
    github: gh,
    ecs: aws,
    clock: systemClock,
    log: silentLogger,
    config: { leaseMs: LEASE_MS, resyncMs: 1_000, runnerPollMs: 200 },
    leaseHolderId: `doomed-${step}`,
  });
  return { controller, crashed: () => dead };
}

function successor(step: Step): Controller {
  return createController({
    store: sandbox.app.store,
    github,
    ecs,
    clock: systemClock,
    log: silentLogger,
    config: { leaseMs: LEASE_MS, resyncMs: 1_000, runnerPollMs: 200 },
    leaseHolderId: `successor-${step}`,
  });
}

const STEPS: Step[] = [
  'record written',
  'JIT generated',
  'configured stored',
  'task started',
  'launching stored',
];

describe('a crash after each launch step, then a successor', () => {
  it('runs every job once on the runner record written before the crash; nothing leaks', async () => {
    const { app, cloud } = sandbox;
    const control = cloud.github.control;
    for (const step of STEPS) {
      const before = new Set((await app.store.listRunners()).map((r) => r.name));
      const runId = await sandbox.queue({
        repo: REPO,
        workflowName: `crash after ${step}`,
        jobs: [{ name: step, runsOn: ['self-hosted', '1'], durationMs: 300 }],
      });
      const first = doomed(step);
      first.controller.start();
      await until(first.crashed, `the controller crashed after "${step}"`);

      const second = successor(step);
      second.start(); // acts once the crashed controller's lease has run out
      await until(
        async () => (await planOutcome(control, [runId])).done,
        async () => `${step}: ${JSON.stringify((await planOutcome(control, [runId])).jobs)}`,
      );
      const outcome = await planOutcome(control, [runId]);
      expect(outcome.succeeded, step).toBe(true);
      const created = (await app.store.listRunners({ pool: 'seed' })).filter(
        (r) => !before.has(r.name),
      );
      expect(
        created.map((r) => r.name),
        `${step}: one runner record`,
      ).toEqual([outcome.jobs[0]!.runnerName]);
      await until(
        async () => (await seedLeftovers()).length === 0,
        async () => `${step}: ${(await seedLeftovers()).join(', ')}`,
      );
      await second.stop();
      await first.controller.stop();
    }
    // One task per job: none started twice for one record.
    const tasks = await seedTasks();
    expect(tasks.length).toBeGreaterThanOrEqual(STEPS.length);
    expect(new Set(tasks.map((t) => t.tags[TASK_TAG_RUNNER])).size).toBe(tasks.length);
  }, 60_000);
});
