// Drift on the local cloud: the GitHub and ECS simulators through the real clients, the embedded
// DynamoDB, the real controller. A healthy running system reports in sync; each kind of drift,
// made by hand, is named by the report (and by `runnerctl drift`, exit 3) with its objects;
// after the controller has run (and the admin cancelled the job no pool can run), drift reports
// in sync again (exit 0). Secrets (the App key, a JIT config) never reach the CLI output.

import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import {
  CreateClusterCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JIT_CONFIG_ENV, TASK_STARTED_BY } from '../../../controller/api/constants.ts';
import { API_VERSION, POOL_KIND, type RunnerPoolSpec } from '../../../controller/api/types.ts';
import { run } from '../../../controller/cli/run.ts';
import { buildDriftReport, type DriftDeps } from '../../../controller/drift/report.ts';
import { DRIFT_KINDS, type DriftReport } from '../../../controller/drift/types.ts';
import { SdkEcsProvider } from '../../../controller/ecs/sdk-provider.ts';
import { OctokitGitHubProvider } from '../../../controller/github/octokit-provider.ts';
import { createController, type Controller } from '../../../controller/reconcile/controller.ts';
import { silentLogger } from '../../../controller/reconcile/types.ts';
import { fakeRunnerRuntime } from '../../../controller/sandbox/ecs/fake-runner-runtime.ts';
import type { ContainerRuntime } from '../../../controller/sandbox/ecs/runtime.ts';
import { startEcsSimulator, type EcsSimulator } from '../../../controller/sandbox/ecs/simulator.ts';
import {
  startGitHubSimulator,
  type GitHubSimulator,
} from '../../../controller/sandbox/github/index.ts';
import { latenciesFor } from '../../../controller/sandbox/local-cloud.ts';
import type { SandboxInfo } from '../../../controller/sandbox/sandbox.ts';
import { openStore } from '../../../controller/store/factory.ts';
import { startLocalEngine, type LocalEngine } from '../../../controller/store/local-engine.ts';
import type { Store } from '../../../controller/store/types.ts';
import { systemClock } from '../../../controller/util/clock.ts';

const clock = systemClock;
const credentials = { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'sandbox' };
const ORG = { kind: 'org' as const, org: 'acme' };
const GRACE_MS = 1_000;
const RESYNC_MS = 1_000;
const MIN = 60_000;

let dir: string;
let engine: LocalEngine;
let store: Store;
let github: GitHubSimulator;
let ecsSim: EcsSimulator;
let deps: DriftDeps;
let gh: OctokitGitHubProvider;
let ecs: SdkEcsProvider;
let controller: Controller | undefined;
let configFile: string;
const secrets: string[] = [];

/** Containers without a JIT config stay up until stopped (a runner that never registers). */
const holdingRuntime = (): ContainerRuntime => {
  const fake = fakeRunnerRuntime({ clock, pollWaitMs: 1_000 });
  return {
    start(container) {
      if (container.environment[JIT_CONFIG_ENV]) return fake.start(container);
      return {
        exited: new Promise<number>((resolve) =>
          container.signal.addEventListener('abort', () => resolve(0), { once: true }),
        ),
      };
    },
  };
};

async function applyPool(name: string, spec: Partial<RunnerPoolSpec>) {
  await store.applyPool({
    apiVersion: API_VERSION,
    kind: POOL_KIND,
    metadata: { name },
    spec: {
      github: { scope: 'org', organization: 'acme' },
      labels: [name],
      maxRunners: 3,
      ecs: { cluster: 'runners', taskDefinition: 'runner', subnets: ['subnet-a'] },
      ...spec,
    },
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rctl-drift-'));
  github = await startGitHubSimulator({ clock });
  ecsSim = await startEcsSimulator({
    clock,
    runtime: holdingRuntime(),
    latencies: latenciesFor(300),
  });
  const client = new ECSClient({ endpoint: ecsSim.url, region: ecsSim.region, credentials });
  await client.send(
    new CreateClusterCommand({ clusterName: 'runners', capacityProviders: ['FARGATE'] }),
  );
  await client.send(
    new RegisterTaskDefinitionCommand({
      family: 'runner',
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: '1024',
      memory: '2048',
      containerDefinitions: [{ name: 'runner', image: 'runner:latest', essential: true }],
    }),
  );
  client.destroy();
  await github.control.createOrg({ login: 'acme' });
  await github.control.createRepo({ owner: 'acme', name: 'app' });
  const installation = await github.control.createInstallation({ account: 'acme' });

  engine = await startLocalEngine(join(dir, 'engine'));
  store = await openStore({
    kind: 'dynamodb',
    endpoint: engine.endpoint,
    region: 'us-east-1',
    table: 'runnerctl',
    credentials,
    clock,
  });
  gh = new OctokitGitHubProvider({
    appId: github.appId,
    privateKey: github.privateKeyPem,
    baseUrl: github.url,
    clock,
    retryBaseMs: 5,
  });
  ecs = new SdkEcsProvider({ endpoint: ecsSim.url, region: ecsSim.region, credentials, clock });
  deps = { store, github: gh, ecs, clock };
  secrets.push(github.privateKeyPem);

  // A resync can record a job as queued just before it ran; the runner launched for that stale
  // demand waits idle for the idle timeout: keep it short.
  await applyPool('linux', { maxRunners: 10, timeouts: { registration: '1m', idle: '2s' } });
  await applyPool('gpu', {});
  await applyPool('small', { maxRunners: 1 });
  await store.touchRepository('acme/app', new Date().toISOString());

  // What `runnerctl drift --data-dir` reads: the sandbox's description of its endpoints.
  const keyFile = join(dir, 'github-app.pem');
  await writeFile(keyFile, github.privateKeyPem, { mode: 0o600 });
  const info: SandboxInfo = {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    dataDir: dir,
    webhook: { url: 'http://127.0.0.1:1/webhook', secret: 'unused', secretFile: '/dev/null' },
    controller: { url: 'http://127.0.0.1:1', logFile: '/dev/null' },
    github: {
      url: github.url,
      controlUrl: `${github.url}/_sim/`,
      appId: github.appId,
      privateKeyFile: keyFile,
      organizations: { acme: { installationId: installation.id } },
      repository: 'acme/app',
    },
    ecs: {
      endpoint: ecsSim.url,
      region: ecsSim.region,
      cluster: 'runners',
      taskDefinition: 'runner',
    },
    sqs: {
      endpoint: 'http://127.0.0.1:1',
      region: 'us-east-1',
      queueUrl: '',
      deadLetterQueueUrl: '',
    },
    dynamodb: { endpoint: engine.endpoint, region: 'us-east-1', table: 'runnerctl' },
    aws: { region: 'us-east-1', ...credentials },
    runnerNamePrefix: 'rctl',
  };
  await writeFile(join(dir, 'sandbox.json'), JSON.stringify(info), { mode: 0o600 });
  // What `runnerctl drift --config` reads: the controller's settings file.
  configFile = join(dir, 'controller.yaml');
  await writeFile(
    configFile,
    [
      'github:',
      `  appId: ${github.appId}`,
      `  privateKey: { file: ${keyFile} }`,
      `  apiUrl: ${github.url}`,
      'aws:',
      '  region: us-east-1',
      `  dynamodbEndpoint: ${engine.endpoint}`,
      `  ecsEndpoint: ${ecsSim.url}`,
      'table: runnerctl',
      'resyncSeconds: 5',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await controller?.stop();
  await store?.close();
  await engine?.close();
  await ecsSim?.close();
  await github?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function startController(): Controller {
  const c = createController({
    store,
    github: gh,
    ecs,
    clock,
    log: silentLogger,
    config: {
      resyncMs: RESYNC_MS,
      runnerPollMs: 200,
      leaseMs: 10_000,
      // Garbage collection leaves an orphan alone for a grace period; keep it short here.
      orphanGraceMs: 500,
    },
    leaseHolderId: `drift-test-${Math.random()}`,
  });
  c.start();
  return c;
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, what: string, ms = 20_000) {
  const start = Date.now();
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() - start > ms) throw new Error(`never happened: ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function cli(args: string[], env: Record<string, string> = {}) {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c) => (stdout += String(c)));
  err.on('data', (c) => (stderr += String(c)));
  const where = args.includes('--data-dir') ? [] : ['--data-dir', dir];
  const code = await run([...args, ...where], {
    stdout: out,
    stderr: err,
    stdin: new PassThrough(),
    env,
    cwd: dir,
  });
  return { code, stdout, stderr };
}

const report = (graceMs = GRACE_MS) =>
  buildDriftReport(deps, { graceMs, resyncSeconds: 1, runnerNamePrefix: 'rctl' });
const kindsOf = (r: DriftReport) => r.findings.map((f) => f.kind).sort();

describe('runnerctl drift on the local cloud', () => {
  it('a healthy system running jobs reports in sync at every look', async () => {
    controller = startController();
    const runJob = await github.control.createWorkflowRun({
      repo: 'acme/app',
      workflowName: 'healthy',
      jobs: [1, 2].map((i) => ({
        name: `build ${i}`,
        runsOn: ['self-hosted', 'linux'],
        durationMs: 500,
      })),
    });
    const looks: DriftReport[] = [];
    try {
      await until(
        async () => {
          // Five resync periods: a loaded machine may take seconds to pick a job up.
          looks.push(await report(5_000));
          const jobs = await github.control.listJobs({ repo: 'acme/app' });
          const live = (await store.listRunners()).filter((r) => r.state !== 'finished');
          const done = jobs.filter((j) => runJob.jobIds.includes(j.id) && j.status === 'completed');
          return { done: done.length, live: live.map((r) => `${r.name} ${r.state}`) };
        },
        (v) => v.done === 2 && v.live.length === 0,
        'both jobs completed and every runner finished',
      );
    } finally {
      await controller.stop();
      controller = undefined;
    }
    expect(looks.length).toBeGreaterThan(2);
    for (const look of looks) expect(look.findings).toEqual([]);
  });

  it('names each kind of drift made by hand, and is in sync after the controller ran', async () => {
    // 1. A GitHub runner with our prefix and no record.
    const orphanJit = await gh.generateJitConfig(ORG, {
      name: 'rctl-linux-0rphan01',
      runnerGroupId: 1,
      labels: ['self-hosted', 'linux'],
    });
    secrets.push(orphanJit.encodedJitConfig);
    // 2. A task we started with no record.
    const launch = (runner: string, pool = 'linux') =>
      ecs.runTask({
        cluster: 'runners',
        taskDefinition: 'runner',
        containerName: 'runner',
        subnets: ['subnet-a'],
        securityGroups: [],
        assignPublicIp: false,
        environment: {},
        clientToken: `drift-${runner}`,
        startedBy: TASK_STARTED_BY,
        tags: { 'runnerctl.dev/runner': runner, 'runnerctl.dev/pool': pool },
      });
    const orphanTask = await launch('rctl-linux-0rphan02');
    // 3. A busy record whose task ECS never heard of.
    const goneArn = `arn:aws:ecs:us-east-1:000000000000:task/runners/${'d'.repeat(32)}`;
    const longAgo = new Date(Date.now() - 10 * MIN).toISOString();
    await store.createRunner({
      name: 'rctl-linux-n0task01',
      pool: 'linux',
      state: 'busy',
      labels: ['self-hosted', 'linux'],
      taskArn: goneArn,
      attempts: 1,
      createdAt: longAgo,
      timeline: [{ at: longAgo, event: 'created' }],
    });
    // 4. A task running for 10 minutes whose runner never came online (registration 1m).
    const noRegJit = await gh.generateJitConfig(ORG, {
      name: 'rctl-linux-n0reg001',
      runnerGroupId: 1,
      labels: ['self-hosted', 'linux'],
    });
    secrets.push(noRegJit.encodedJitConfig);
    const noRegTask = await launch('rctl-linux-n0reg001');
    await store.createRunner({
      name: 'rctl-linux-n0reg001',
      pool: 'linux',
      state: 'launching',
      labels: ['self-hosted', 'linux'],
      githubRunnerId: noRegJit.runner.id,
      taskArn: noRegTask.arn,
      attempts: 1,
      createdAt: longAgo,
      timeline: [{ at: longAgo, event: 'task-started', detail: noRegTask.arn }],
    });
    // 5. An idle record whose runner GitHub shows offline while the task runs.
    const offlineJit = await gh.generateJitConfig(ORG, {
      name: 'rctl-linux-0ffline1',
      runnerGroupId: 1,
      labels: ['self-hosted', 'linux'],
    });
    secrets.push(offlineJit.encodedJitConfig);
    const offlineTask = await launch('rctl-linux-0ffline1');
    await store.createRunner({
      name: 'rctl-linux-0ffline1',
      pool: 'linux',
      state: 'idle',
      labels: ['self-hosted', 'linux'],
      githubRunnerId: offlineJit.runner.id,
      taskArn: offlineTask.arn,
      attempts: 1,
      createdAt: longAgo,
      timeline: [{ at: longAgo, event: 'idle' }],
    });
    // 6. A queued job of pool gpu, no runner coming (the controller is not running).
    const gpuRun = await github.control.createWorkflowRun({
      repo: 'acme/app',
      workflowName: 'gpu',
      jobs: [{ name: 'train', runsOn: ['self-hosted', 'gpu'], durationMs: 300 }],
    });
    // 7. A queued self-hosted job no pool matches.
    const winRun = await github.control.createWorkflowRun({
      repo: 'acme/app',
      workflowName: 'windows',
      jobs: [{ name: 'win', runsOn: ['self-hosted', 'windows'] }],
    });
    // 8. Pool small (maxRunners 1) with two records stuck pending for 10 minutes.
    for (const name of ['rctl-small-stuck001', 'rctl-small-stuck002']) {
      await store.createRunner({
        name,
        pool: 'small',
        state: 'pending',
        labels: ['self-hosted', 'small'],
        attempts: 0,
        createdAt: longAgo,
        timeline: [{ at: longAgo, event: 'created' }],
      });
    }
    // 9. A record draining for 10 minutes.
    await store.createRunner({
      name: 'rctl-linux-dra1n001',
      pool: 'linux',
      state: 'draining',
      labels: ['self-hosted', 'linux'],
      attempts: 1,
      createdAt: longAgo,
      timeline: [{ at: longAgo, event: 'draining', detail: 'idle timeout' }],
    });
    // 10. An idle record whose GitHub runner is gone while its task runs.
    const noRunnerTask = await launch('rctl-linux-n0runnr1');
    await store.createRunner({
      name: 'rctl-linux-n0runnr1',
      pool: 'linux',
      state: 'idle',
      labels: ['self-hosted', 'linux'],
      taskArn: noRunnerTask.arn,
      attempts: 1,
      createdAt: longAgo,
      timeline: [{ at: longAgo, event: 'idle' }],
    });
    // 11. A job the store holds as queued that GitHub has finished (cancelled).
    const staleRun = await github.control.createWorkflowRun({
      repo: 'acme/app',
      workflowName: 'stale',
      jobs: [{ name: 'old', runsOn: ['self-hosted', 'windows'] }],
    });
    const staleId = staleRun.jobIds[0]!;
    await github.control.cancelJob({ jobId: staleId });
    await store.recordJob({
      id: staleId,
      runId: staleRun.runId,
      runAttempt: 1,
      repository: 'acme/app',
      owner: 'acme',
      labels: ['self-hosted', 'windows'],
      status: 'queued',
      createdAt: longAgo,
    });
    // Everything is now older than the grace.
    await new Promise((r) => setTimeout(r, GRACE_MS + 200));

    const found = await report();
    expect(found.inSync).toBe(false);
    // Every kind the report knows was made, and named.
    expect([...new Set(kindsOf(found))]).toEqual([...DRIFT_KINDS].sort());
    const by = (kind: string, key: string, value: unknown) =>
      found.findings.find(
        (f) => f.kind === kind && (f.objects as Record<string, unknown>)[key] === value,
      );
    expect(by('runner-without-record', 'runner', 'rctl-linux-0rphan01')).toMatchObject({
      pool: 'linux',
      objects: { githubRunnerId: orphanJit.runner.id },
      actor: 'controller',
    });
    expect(by('task-without-record', 'taskArn', orphanTask.arn)).toMatchObject({
      objects: { runner: 'rctl-linux-0rphan02' },
    });
    expect(by('record-without-task', 'runner', 'rctl-linux-n0task01')).toMatchObject({
      objects: { taskArn: goneArn },
    });
    expect(by('runner-not-registered', 'runner', 'rctl-linux-n0reg001')).toMatchObject({
      objects: { taskArn: noRegTask.arn, githubRunnerId: noRegJit.runner.id },
    });
    expect(by('runner-offline', 'runner', 'rctl-linux-0ffline1')).toMatchObject({
      objects: { taskArn: offlineTask.arn, githubRunnerId: offlineJit.runner.id },
    });
    const gpuJob = by('job-without-runner', 'jobId', gpuRun.jobIds[0]);
    expect(gpuJob).toMatchObject({ pool: 'gpu' });
    expect(gpuJob!.objects.jobUrl).toMatch(new RegExp(`/job/${gpuRun.jobIds[0]}$`));
    expect(by('job-without-pool', 'jobId', winRun.jobIds[0])!.objects.labels).toEqual([
      'self-hosted',
      'windows',
    ]);
    expect(found.findings.find((f) => f.kind === 'pool-above-max')).toMatchObject({
      pool: 'small',
    });
    expect(by('record-without-runner', 'runner', 'rctl-linux-n0runnr1')).toMatchObject({
      objects: { taskArn: noRunnerTask.arn },
    });
    expect(by('job-record-stale', 'jobId', staleId)).toMatchObject({ actor: 'controller' });
    expect(by('record-stuck', 'runner', 'rctl-small-stuck001')).toBeDefined();
    expect(by('record-stuck', 'runner', 'rctl-linux-dra1n001')).toBeDefined();

    // The same through the CLI: exit 3, table and JSON, and --pool narrows it.
    const text = await cli(['drift', '--grace', '1s']);
    expect(text.code, text.stderr).toBe(3);
    expect(text.stdout).toMatch(/^drift: \d+ findings/);
    for (const name of ['rctl-linux-0rphan01', 'rctl-linux-n0reg001', orphanTask.arn]) {
      expect(text.stdout).toContain(name);
    }
    expect(text.stdout).toContain('[self-hosted, windows]');
    const json = await cli(['drift', '--grace', '1s', '-o', 'json', '--pool', 'small']);
    expect(json.code).toBe(3);
    const small = JSON.parse(json.stdout) as DriftReport;
    expect(small.pool).toBe('small');
    expect(kindsOf(small)).toEqual(['pool-above-max', 'record-stuck', 'record-stuck']);
    // The deployed controller's way: its settings file, credentials from the environment.
    const viaConfig = await cli(['drift', '--grace', '1s', '-o', 'json', '--config', configFile], {
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    });
    expect(viaConfig.code, viaConfig.stderr).toBe(3);
    expect(kindsOf(JSON.parse(viaConfig.stdout) as DriftReport)).toEqual(kindsOf(found));
    // A sandbox that has stopped left its sandbox.json behind: said so, not a connection error.
    const stoppedDir = join(dir, 'stopped');
    await mkdir(stoppedDir);
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const stale = JSON.parse(await readFile(join(dir, 'sandbox.json'), 'utf8')) as SandboxInfo;
    await writeFile(join(stoppedDir, 'sandbox.json'), JSON.stringify({ ...stale, pid: dead }));
    const stopped = await cli(['drift', '--data-dir', stoppedDir]);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toContain(`the sandbox in ${stoppedDir} is not running`);
    const unknown = await cli(['drift', '--pool', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('runnerpool "nope" not found');
    for (const out of [text, json, viaConfig, unknown]) {
      for (const secret of secrets) {
        expect(out.stdout).not.toContain(secret);
        expect(out.stderr).not.toContain(secret);
      }
    }
    expect(JSON.stringify(found)).not.toContain(orphanJit.encodedJitConfig);

    // The controller resolves its part; the admin cancels the job no pool can run.
    controller = startController();
    await github.control.cancelJob({ jobId: winRun.jobIds[0]! });
    // In sync as soon as a gpu runner is coming; wait for its job to run, then look again.
    await until(
      () => github.control.getJob({ jobId: gpuRun.jobIds[0]! }),
      (j) => j.status === 'completed',
      'the gpu job ran',
    );
    // Two resync periods of grace: the job the gpu runner ran may still be recorded as queued.
    const after = await until(
      () => report(2 * RESYNC_MS + 1_000),
      (r) => r.inSync,
      'drift resolved by the controller',
      30_000,
    );
    expect(after.findings).toEqual([]);
    expect(await github.control.getJob({ jobId: gpuRun.jobIds[0]! })).toMatchObject({
      conclusion: 'success',
    });
    const clean = await cli(['drift', '--grace', '3s']);
    expect(clean.code, clean.stdout).toBe(0);
    expect(clean.stdout).toMatch(/^in sync: 3 pool\(s\)/);
  });
});
