// Forged EventBridge events (anyone allowed PutEvents can send `source: github.com`), sent into
// the sandbox's SQS queue next to GitHub's real deliveries: a forged queued event for a job GitHub
// does not have launches nothing, and a forged completed for a real queued job does not stop it
// getting a runner (docs/reconcile.md "Job confirmation").

import { randomUUID } from 'node:crypto';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planOutcome } from '../../controller/sandbox/plan.ts';
import { testSandbox, until, type TestSandbox } from './helpers.ts';

let sandbox: TestSandbox;
let sqs: SQSClient;
const REPO = 'foo-organisation/jit-fargate-test';

beforeAll(async () => {
  sandbox = await testSandbox({ resyncSeconds: 2 });
  sqs = new SQSClient({
    endpoint: sandbox.info.sqs.endpoint,
    region: sandbox.info.sqs.region,
    credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
  });
});

afterAll(async () => {
  sqs?.destroy();
  await sandbox?.close();
});

/** A workflow_job event as a forger would put it on the bus (no signature exists there). */
async function forge(action: string, job: { id: number; runId: number; labels: string[] }) {
  const now = new Date().toISOString();
  const detail = {
    action,
    workflow_job: {
      id: job.id,
      run_id: job.runId,
      run_attempt: 1,
      status: action,
      conclusion: action === 'completed' ? 'success' : null,
      labels: job.labels,
      name: 'forged',
      created_at: now,
      started_at: now,
      completed_at: action === 'completed' ? now : null,
      runner_id: null,
      runner_name: null,
    },
    repository: { full_name: REPO, private: true, visibility: 'private' },
  };
  const envelope = {
    version: '0',
    id: randomUUID(),
    'detail-type': 'workflow_job',
    source: 'github.com',
    account: '123456789012',
    time: now,
    region: sandbox.info.sqs.region,
    resources: [],
    detail,
  };
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: sandbox.info.sqs.queueUrl,
      MessageBody: JSON.stringify(envelope),
    }),
  );
}

async function seedRecords() {
  return sandbox.app.store.listRunners({ pool: 'seed' });
}

describe('forged EventBridge events', () => {
  it('a forged queued event for a job GitHub does not have launches nothing', async () => {
    const before = (await seedRecords()).length;
    await forge('queued', { id: 990_001, runId: 990_000, labels: ['self-hosted', '1'] });
    await until(async () => !!(await sandbox.app.store.getJob(990_001)), 'forged job ingested');
    // Two resync periods: the pool was reconciled with it, and the resync read GitHub.
    await until(
      async () => (await sandbox.app.store.getJob(990_001))?.status === 'completed',
      async () => JSON.stringify(await sandbox.app.store.getJob(990_001)),
    );
    expect((await sandbox.app.store.getJob(990_001))!.conclusion).toBe('not_found');
    expect((await seedRecords()).length).toBe(before);
    const metrics = await (await fetch(sandbox.app.metricsUrl)).text();
    expect(metrics).toMatch(/runnerctl_github_job_confirmations_total\{result="not_found"\} [1-9]/);
  });

  it('a forged completed for a real queued job does not stop it getting a runner', async () => {
    const control = sandbox.cloud.github.control;
    // The real deliveries are held back so the forged completed is the first word on the job.
    await control.setFaults({ delayRate: 1, delayMs: 1_500 });
    const runId = await sandbox.queue({
      repo: REPO,
      workflowName: 'forged-completed',
      jobs: [{ name: 'real', runsOn: ['self-hosted', '1'], durationMs: 300 }],
    });
    const [jobId] = (await control.getRun({ runId })).jobIds;
    await forge('completed', { id: jobId!, runId, labels: ['self-hosted', '1'] });
    await until(
      async () => !!(await sandbox.app.store.getJob(jobId!)),
      'forged completed ingested',
    );
    expect((await sandbox.app.store.getJob(jobId!))!.status).not.toBe('completed');
    await control.setFaults({ delayRate: 0 });
    await until(
      async () => (await planOutcome(control, [runId])).done,
      async () => JSON.stringify((await planOutcome(control, [runId])).jobs),
      30_000,
    );
    const outcome = await planOutcome(control, [runId]);
    expect(outcome.succeeded, JSON.stringify(outcome.jobs)).toBe(true);
    expect(outcome.jobs[0]!.runnerName).toMatch(/^rctl-seed-/);
  });
});
