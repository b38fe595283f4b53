// `runnerctl controller --config FILE` as its own process (as the ECS service runs it), pointed
// at the local cloud by its settings: killed with SIGKILL in the middle of launching the seed
// plan's runners, then started again. The new process takes the lease once the dead one's
// expires, adopts what was half launched, and the plan completes with no duplicate runner and
// nothing leaked. SIGTERM then stops it cleanly (exit 0, lease released).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validatePoolYaml } from '../../controller/api/validate.ts';
import { LEASE_NAME } from '../../controller/reconcile/controller.ts';
import {
  sandboxCredentials,
  startLocalCloud,
  writeSecretFile,
  type LocalCloud,
} from '../../controller/sandbox/local-cloud.ts';
import { planOutcome, seedPlan } from '../../controller/sandbox/plan.ts';
import { openStore } from '../../controller/store/factory.ts';
import { startLocalEngine, type LocalEngine } from '../../controller/store/local-engine.ts';
import type { Store } from '../../controller/store/types.ts';
import { until } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let dir: string;
let engine: LocalEngine;
let cloud: LocalCloud;
let store: Store;
let configFile: string;
const children: ChildProcess[] = [];

interface Running {
  child: ChildProcess;
  url: Promise<string>;
  exited: Promise<number | null>;
  output: () => string;
}

function startController(): Running {
  const creds = sandboxCredentials();
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bin/runnerctl.js'), 'controller', '--config', configFile],
    {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        AWS_ACCESS_KEY_ID: creds.accessKeyId,
        AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let out = '';
  const url = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"controller started"/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', () => reject(new Error(`controller exited before it started:\n${out}`)));
  });
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { child, url, exited, output: () => out };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rctl-ctl-'));
  engine = await startLocalEngine(join(dir, 'store'));
  store = await openStore({
    kind: 'dynamodb',
    endpoint: engine.endpoint,
    region: 'us-east-1',
    credentials: sandboxCredentials(),
  });
  // Tasks take a while to start, so that the kill lands in the middle of the launches.
  cloud = await startLocalCloud({ dataDir: dir, taskStartMs: 2_500 });
  await cloud.ensureRepository('foo-organisation/jit-fargate-test');
  const seedYaml = await readFile(join(ROOT, 'crds/examples/seed-org-pool.yaml'), 'utf8');
  for (const { pool } of validatePoolYaml(seedYaml)) await store.applyPool(pool);

  const secretFile = join(dir, 'webhook-secret');
  await writeSecretFile(secretFile, cloud.github.webhookSecret);
  configFile = join(dir, 'controller.yaml');
  await writeFile(
    configFile,
    [
      'github:',
      `  appId: ${cloud.github.appId}`,
      `  privateKey: { file: ${cloud.privateKeyFile} }`,
      `  webhookSecret: { file: ${secretFile} }`,
      `  apiUrl: ${cloud.github.url}`,
      'aws:',
      `  region: ${cloud.region}`,
      `  dynamodbEndpoint: ${engine.endpoint}`,
      `  ecsEndpoint: ${cloud.ecs.url}`,
      `  sqsEndpoint: ${cloud.sqs.url}`,
      'table: runnerctl',
      `queueUrl: ${cloud.queueUrl}`,
      'server: { port: 0, metricsPort: 0 }',
      'resyncSeconds: 5',
      'leaseSeconds: 5',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await cloud?.close();
  await store?.close();
  await engine?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('runnerctl controller as a process', () => {
  it('survives SIGKILL mid-launch: the restarted process adopts, no duplicate, nothing leaked', async () => {
    const first = startController();
    await first.url;
    // Only the SQS path: the webhook URL changes with each process.
    const runId = (
      await cloud.github.control.createWorkflowRun({
        repo: 'foo-organisation/jit-fargate-test',
        workflowName: 'crash',
        jobs: seedPlan(500).jobs,
      })
    ).runId;

    // Kill it as soon as a runner is half launched (record written, task not yet running).
    await until(
      async () => (await store.listRunners()).some((r) => r.state !== 'finished'),
      () => `a launch started\n${first.output()}`,
    );
    first.child.kill('SIGKILL');
    expect(await first.exited).toBeNull();
    const atKill = await store.listRunners();

    const second = startController();
    await second.url;
    const control = cloud.github.control;
    await until(
      async () => (await planOutcome(control, [runId])).done,
      async () =>
        `plan done: ${JSON.stringify((await planOutcome(control, [runId])).jobs.map((j) => j.status))}\n${second.output()}`,
      25_000,
    );
    const outcome = await planOutcome(control, [runId]);
    expect(outcome.succeeded).toBe(true);
    expect(new Set(outcome.jobs.map((j) => j.runnerName)).size).toBe(2);

    // Nothing leaked, nothing launched twice: every record finished, one task per record at most,
    // no GitHub runner left, every task stopped; the records written before the kill were
    // carried on by the new process, not replaced.
    await until(
      async () => {
        const records = await store.listRunners();
        const gh = await control.listRunners();
        return (
          records.every((r) => r.state === 'finished') &&
          gh.length === 0 &&
          cloud.ecs.tasks().every((t) => t.lastStatus === 'STOPPED')
        );
      },
      async () => JSON.stringify((await store.listRunners()).map((r) => [r.name, r.state])),
    );
    const records = await store.listRunners();
    for (const before of atKill) {
      expect(records.map((r) => r.name)).toContain(before.name);
    }
    const taskArns = records.map((r) => r.taskArn).filter(Boolean);
    expect(new Set(taskArns).size).toBe(taskArns.length);
    expect(cloud.ecs.tasks().length).toBe(taskArns.length);

    // SIGTERM: a graceful stop, exit 0, the lease released for the next replica.
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(second.output()).toContain('controller stopping');
    const lease = await store.tryAcquire(LEASE_NAME, 'next-replica', 5_000, Date.now());
    expect(lease?.holder).toBe('next-replica');
  }, 60_000);
});
