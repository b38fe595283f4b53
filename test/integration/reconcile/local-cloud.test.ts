// The controller end to end on the local cloud, without event ingestion: the GitHub simulator
// (through the Octokit provider), the ECS simulator running fake runners (through the SDK
// provider), the in-memory store. Jobs are found by the job resync alone, so this also shows a
// controller recovering jobs whose events were all lost.

import {
  CreateClusterCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, POOL_KIND } from '../../../controller/api/types.ts';
import { SdkEcsProvider } from '../../../controller/ecs/sdk-provider.ts';
import { OctokitGitHubProvider } from '../../../controller/github/octokit-provider.ts';
import { createController, type Controller } from '../../../controller/reconcile/controller.ts';
import { silentLogger } from '../../../controller/reconcile/types.ts';
import { fakeRunnerRuntime } from '../../../controller/sandbox/ecs/fake-runner-runtime.ts';
import { startEcsSimulator, type EcsSimulator } from '../../../controller/sandbox/ecs/simulator.ts';
import {
  startGitHubSimulator,
  type GitHubSimulator,
} from '../../../controller/sandbox/github/index.ts';
import { scaledClock } from '../../../controller/util/clock.ts';
import { MemoryStore } from '../../support/fakes/memory-store.ts';

const clock = scaledClock(100);
const credentials = { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'sandbox-secret' };
let github: GitHubSimulator;
let ecsSim: EcsSimulator;
let controller: Controller | undefined;
let dump: (() => Promise<void>) | undefined;

beforeAll(async () => {
  github = await startGitHubSimulator({ clock });
  ecsSim = await startEcsSimulator({ clock, runtime: fakeRunnerRuntime({ clock }) });
  const ecs = new ECSClient({ endpoint: ecsSim.url, region: ecsSim.region, credentials });
  await ecs.send(
    new CreateClusterCommand({
      clusterName: 'runners',
      capacityProviders: ['FARGATE', 'FARGATE_SPOT'],
    }),
  );
  await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'runner',
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: '1024',
      memory: '2048',
      containerDefinitions: [{ name: 'runner', image: 'runner:latest', essential: true }],
    }),
  );
  ecs.destroy();
  await github.control.createOrg({ login: 'acme' });
  await github.control.createRepo({ owner: 'acme', name: 'app' });
  await github.control.createInstallation({ account: 'acme' });
});

afterAll(async () => {
  await controller?.stop();
  await ecsSim?.close();
  await github?.close();
});

async function until(check: () => Promise<boolean>, what: string, limitMs = 20_000) {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > limitMs) {
      if (process.env.DEBUG_RECONCILE) await dump?.();
      throw new Error(`never happened: ${what}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('controller on the local cloud', () => {
  it("runs the seed's two-job matrix on two JIT runners and leaves nothing behind", async () => {
    const store = new MemoryStore(() => clock.now());
    await store.applyPool({
      apiVersion: API_VERSION,
      kind: POOL_KIND,
      metadata: { name: 'seed' },
      spec: {
        github: { scope: 'org', organization: 'acme', runnerGroup: 'Default' },
        labels: ['self-hosted', '1', '2'],
        maxRunners: 10,
        ecs: {
          cluster: 'runners',
          taskDefinition: 'runner',
          subnets: ['subnet-a'],
          capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }],
        },
      },
    });
    // No webhooks: the resync reads the repository's queue.
    await store.touchRepository('acme/app', new Date(clock.now()).toISOString());
    const run = await github.control.createWorkflowRun({
      repo: 'acme/app',
      workflowName: 'matrix',
      jobs: [
        { name: 'build (1)', runsOn: ['self-hosted', '1'] },
        { name: 'build (2)', runsOn: ['self-hosted', '2'] },
      ],
    });

    controller = createController({
      store,
      github: new OctokitGitHubProvider({
        appId: github.appId,
        privateKey: github.privateKeyPem,
        baseUrl: github.url,
        clock,
        retryBaseMs: 5,
      }),
      ecs: new SdkEcsProvider({ endpoint: ecsSim.url, region: ecsSim.region, credentials, clock }),
      clock,
      log: process.env.DEBUG_RECONCILE
        ? {
            debug: () => {},
            info: (o, m) => console.log('INFO', m, JSON.stringify(o)),
            warn: (o, m) => console.log('WARN', m, JSON.stringify(o), (o as { err?: Error }).err),
            error: (o, m) => console.log('ERROR', m, JSON.stringify(o), (o as { err?: Error }).err),
          }
        : silentLogger,
      config: { resyncMs: 20_000, runnerPollMs: 5_000, leaseMs: 60_000 },
      leaseHolderId: 'local-cloud-test',
    });
    controller.start();
    dump = async () => {
      console.log('RECORDS', JSON.stringify(await store.listRunners(), null, 1));
      console.log('JOBS', JSON.stringify(await store.listJobs()));
      console.log('GH', JSON.stringify(await github.control.listRunners()));
      console.log('TASKS', JSON.stringify(ecsSim.tasks().map((t) => [t.taskArn, t.lastStatus])));
    };

    const jobsOf = async () =>
      (await store.listJobs()).filter((j) => j.runId === run.runId).map((j) => j.status);
    await until(async () => {
      const statuses = await jobsOf();
      return statuses.length === 2 && statuses.every((s) => s === 'completed');
    }, 'both jobs completed');
    await until(
      async () => (await store.listRunners()).every((r) => r.state === 'finished'),
      'every runner record finished',
    );

    const records = await store.listRunners();
    expect(records).toHaveLength(2);
    expect(records.every((r) => r.name.startsWith('rctl-seed-'))).toBe(true);
    expect(records.every((r) => r.capacityProvider === 'FARGATE_SPOT')).toBe(true);
    expect(records.flatMap((r) => r.timeline.map((t) => t.event))).toContain('busy');
    // The jobs succeeded on our runners.
    const jobs = await store.listJobs();
    expect(jobs.map((j) => j.conclusion)).toEqual(['success', 'success']);
    expect(jobs.every((j) => j.runnerName?.startsWith('rctl-seed-'))).toBe(true);
    // Nothing left: no GitHub runner, no task that is not stopped.
    await until(
      async () => ecsSim.tasks().every((t) => t.lastStatus === 'STOPPED'),
      'every task STOPPED',
    );
    expect((await github.control.listRunners()).filter((r) => r.name.startsWith('rctl-'))).toEqual(
      [],
    );
    const pool = (await store.getPool('seed'))!;
    expect(pool.status).toMatchObject({ queuedJobs: 0, launching: 0, idle: 0, busy: 0 });
  });

  it('falls back to on-demand on a spot shortage and relaunches tasks that fail to start', async () => {
    await controller?.stop();
    ecsSim.setFaults({ spotCapacityShortage: 1, failToStart: 0.4 });
    const store = new MemoryStore(() => clock.now());
    await store.applyPool({
      apiVersion: API_VERSION,
      kind: POOL_KIND,
      metadata: { name: 'faulty' },
      spec: {
        github: { scope: 'org', organization: 'acme' },
        labels: ['self-hosted', 'faulty'],
        maxRunners: 10,
        ecs: {
          cluster: 'runners',
          taskDefinition: 'runner',
          subnets: ['subnet-a'],
          capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }],
        },
        timeouts: { idle: '2m' },
      },
    });
    await store.touchRepository('acme/app', new Date(clock.now()).toISOString());
    const run = await github.control.createWorkflowRun({
      repo: 'acme/app',
      workflowName: 'faults',
      jobs: [1, 2, 3, 4].map((i) => ({ name: `job ${i}`, runsOn: ['self-hosted', 'faulty'] })),
    });
    controller = createController({
      store,
      github: new OctokitGitHubProvider({
        appId: github.appId,
        privateKey: github.privateKeyPem,
        baseUrl: github.url,
        clock,
        retryBaseMs: 5,
      }),
      ecs: new SdkEcsProvider({ endpoint: ecsSim.url, region: ecsSim.region, credentials, clock }),
      clock,
      log: silentLogger,
      config: { resyncMs: 20_000, runnerPollMs: 5_000, leaseMs: 60_000, maxLaunchAttempts: 10 },
      leaseHolderId: 'local-cloud-faults',
    });
    controller.start();
    await until(async () => {
      const jobs = (await store.listJobs()).filter((j) => j.runId === run.runId);
      return jobs.length === 4 && jobs.every((j) => j.status === 'completed');
    }, 'all four jobs completed');
    await until(
      async () => (await store.listRunners()).every((r) => r.state === 'finished'),
      'every runner record finished',
    );
    const records = await store.listRunners();
    // Every launch went to FARGATE after the spot refusal.
    // (A record cancelled while waiting for its relaunch has no capacity provider.)
    const providers = records.flatMap((r) => (r.capacityProvider ? [r.capacityProvider] : []));
    expect(providers.length).toBeGreaterThan(0);
    expect(providers.every((p) => p === 'FARGATE')).toBe(true);
    const jobs = (await store.listJobs()).filter((j) => j.runId === run.runId);
    expect(jobs.map((j) => j.conclusion)).toEqual(['success', 'success', 'success', 'success']);
    await until(
      async () => ecsSim.tasks().every((t) => t.lastStatus === 'STOPPED'),
      'every task STOPPED',
    );
    expect((await github.control.listRunners()).filter((r) => r.name.startsWith('rctl-'))).toEqual(
      [],
    );
    const attempts = records.reduce((n, r) => n + r.attempts, 0);
    console.log(`faults: 4 jobs, ${records.length} runner records, ${attempts} launch attempts`);
  });
});
