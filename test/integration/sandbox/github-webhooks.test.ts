// workflow_job webhooks of the GitHub simulator: signed HTTP deliveries whose payloads match
// @octokit/webhooks-schemas and the key sets of the real examples, EventBridge envelopes into the
// SQS simulator, and seeded delivery faults (drop, duplicate, reorder).

import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startGitHubSimulator,
  type GitHubSimulator,
} from '../../../controller/sandbox/github/index.ts';
import { startSqsSimulator } from '../../../controller/sandbox/sqs/simulator.ts';
import { runFakeRunner } from '../../../controller/sandbox/runner/fake-runner.ts';
import { appFor, newLog } from './github-helpers.ts';

const require = createRequire(import.meta.url);
// Only the definitions: the root `oneOf` over every event would make Ajv compile all of them.
const webhookSchema = {
  definitions: (require('@octokit/webhooks-schemas') as { definitions: object }).definitions,
};
const examples = (
  require('@octokit/webhooks-examples/api.github.com/index.json') as {
    name: string;
    examples: Record<string, unknown>[];
  }[]
).find((e) => e.name === 'workflow_job')!.examples;

const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
ajv.addSchema(webhookSchema, 'webhooks');
const validatorFor = (action: string) =>
  ajv.compile({ $ref: `webhooks#/definitions/workflow_job$${action}` });

interface Received {
  headers: IncomingHttpHeaders;
  raw: string;
  body: Record<string, unknown> & { action: string; workflow_job: { id: number; status: string } };
}

async function receiver(): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      received.push({ headers: req.headers, raw, body: JSON.parse(raw) as Received['body'] });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    server,
  };
}

const servers: Server[] = [];
const sims: GitHubSimulator[] = [];

afterAll(async () => {
  for (const s of sims) await s.close();
  for (const s of servers) await new Promise((r) => s.close(r));
});

async function world(options: Parameters<typeof startGitHubSimulator>[0] = {}) {
  const sim = await startGitHubSimulator(options);
  sims.push(sim);
  await sim.control.createOrg({ login: 'acme' });
  await sim.control.createRepo({ owner: 'acme', name: 'app' });
  const installationId = (await sim.control.createInstallation({ account: 'acme' })).id;
  return { sim, installationId };
}

describe('GitHub simulator webhooks over HTTP', () => {
  let sim: GitHubSimulator;
  let received: Received[];

  beforeAll(async () => {
    const w = await world();
    sim = w.sim;
    const r = await receiver();
    servers.push(r.server);
    received = r.received;
    await sim.control.addWebhookSink({ kind: 'http', url: r.url });
    // One job through its whole life, and one environment-gated job that gets approved.
    const octokit = await appFor(sim, newLog()).installation(w.installationId);
    const jit = await octokit.request('POST /orgs/{org}/actions/runners/generate-jitconfig', {
      org: 'acme',
      name: 'rctl-hook',
      runner_group_id: 1,
      labels: ['self-hosted', 'linux'],
    });
    const run = await sim.control.createWorkflowRun({
      repo: 'acme/app',
      jobs: [{ name: 'build', runsOn: ['self-hosted', 'linux'], durationMs: 20 }],
    });
    expect(
      await runFakeRunner({ encodedJitConfig: jit.data.encoded_jit_config, log: () => {} }),
    ).toBe(0);
    const gated = await sim.control.createWorkflowRun({
      repo: 'acme/app',
      jobs: [{ name: 'deploy', runsOn: ['self-hosted', 'none'], environment: 'production' }],
    });
    await sim.control.approveJob({ jobId: gated.jobIds[0]! });
    await sim.control.flushWebhooks();
    expect(run.jobIds.length).toBe(1);
  });

  it('sends queued, in_progress and completed, and queued -> waiting -> queued for a gated job', () => {
    const byJob = new Map<number, string[]>();
    for (const r of received) {
      const list = byJob.get(r.body.workflow_job.id) ?? [];
      list.push(`${r.body.action}:${r.body.workflow_job.status}`);
      byJob.set(r.body.workflow_job.id, list);
    }
    expect([...byJob.values()]).toEqual([
      ['queued:queued', 'in_progress:in_progress', 'completed:completed'],
      ['queued:queued', 'waiting:waiting', 'queued:queued'],
    ]);
  });

  it('signs every body with X-Hub-Signature-256 and carries the GitHub headers', () => {
    for (const r of received) {
      const expected = `sha256=${createHmac('sha256', sim.webhookSecret).update(r.raw).digest('hex')}`;
      const got = String(r.headers['x-hub-signature-256']);
      expect(got.length).toBe(expected.length);
      expect(timingSafeEqual(Buffer.from(got), Buffer.from(expected))).toBe(true);
      expect(r.headers['x-github-event']).toBe('workflow_job');
      expect(r.headers['x-github-delivery']).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
      );
      expect(r.headers['content-type']).toBe('application/json');
    }
    expect(new Set(received.map((r) => r.headers['x-github-delivery'])).size).toBe(received.length);
  });

  it('sends payloads valid against @octokit/webhooks-schemas', () => {
    for (const r of received) {
      const validate = validatorFor(r.body.action);
      expect(validate(r.body), `${r.body.action}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    }
  });

  it('uses the key sets of the real examples', () => {
    const exampleTopKeys = new Set(examples.flatMap((e) => Object.keys(e)));
    const newest = examples.find((e) => e.action === 'waiting')!;
    const jobKeys = Object.keys(newest.workflow_job as object).sort();
    const repoKeys = Object.keys(newest.repository as object).sort();
    for (const r of received) {
      for (const key of Object.keys(r.body)) expect(exampleTopKeys).toContain(key);
      expect(Object.keys(r.body.workflow_job).sort()).toEqual(jobKeys);
      expect(Object.keys(r.body.repository as object).sort()).toEqual(repoKeys);
      expect(Object.keys(r.body.installation as object).sort()).toEqual(['id', 'node_id']);
    }
  });
});

describe('GitHub simulator App delivery log', () => {
  it('lists a lost delivery as failed and redelivers it with the same guid', async () => {
    const { sim } = await world({ dropRate: 1 });
    const r = await receiver();
    servers.push(r.server);
    await sim.control.addWebhookSink({ kind: 'http', url: r.url });
    const run = await sim.control.createWorkflowRun({
      repo: 'acme/app',
      jobs: [{ name: 'lost', runsOn: ['self-hosted', 'nobody'] }],
    });
    await sim.control.flushWebhooks();
    expect(r.received).toEqual([]);
    await sim.control.setFaults({ dropRate: 0 });

    const log = newLog();
    const { app } = appFor(sim, log);
    const failed = await app.octokit.request('GET /app/hook/deliveries', { status: 'failure' });
    expect(failed.data.map((d) => [d.action, d.status_code, d.redelivery])).toEqual([
      ['queued', 0, false],
    ]);
    const guid = failed.data[0]!.guid;
    const attempt = await app.octokit.request('POST /app/hook/deliveries/{delivery_id}/attempts', {
      delivery_id: Number(failed.data[0]!.id),
    });
    expect(attempt.status).toBe(202);
    await sim.control.flushWebhooks();
    expect(r.received.map((x) => [x.headers['x-github-delivery'], x.body.workflow_job.id])).toEqual(
      [[guid, run.jobIds[0]]],
    );
    const ok = await app.octokit.request('GET /app/hook/deliveries', { status: 'success' });
    expect(ok.data.map((d) => [d.guid, d.redelivery, d.status_code])).toEqual([[guid, true, 202]]);
    expect(log.failures).toEqual([]);
  });
});

describe('GitHub simulator webhooks into SQS', () => {
  it('wraps the body as an EventBridge event and sends it with SendMessage', async () => {
    const sqs = await startSqsSimulator();
    try {
      const client = new SQSClient({
        endpoint: sqs.url,
        region: sqs.region,
        credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
      });
      const { QueueUrl } = await client.send(
        new CreateQueueCommand({ QueueName: 'github-events' }),
      );
      const { sim } = await world();
      await sim.control.addWebhookSink({ kind: 'sqs', queueUrl: QueueUrl!, region: sqs.region });
      const run = await sim.control.createWorkflowRun({
        repo: 'acme/app',
        jobs: [{ name: 'build', runsOn: ['self-hosted'] }],
      });
      await sim.control.flushWebhooks();
      const { Messages = [] } = await client.send(
        new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      expect(Messages.length).toBe(1);
      const event = JSON.parse(Messages[0]!.Body!) as Record<string, unknown> & {
        detail: Received['body'];
      };
      expect(Object.keys(event).sort()).toEqual(
        [
          'account',
          'detail',
          'detail-type',
          'id',
          'region',
          'resources',
          'source',
          'time',
          'version',
        ].sort(),
      );
      expect(event).toMatchObject({
        version: '0',
        'detail-type': 'workflow_job',
        source: 'github.com',
        resources: [],
      });
      expect(event.detail.action).toBe('queued');
      expect(event.detail.workflow_job.id).toBe(run.jobIds[0]);
      const validate = validatorFor('queued');
      expect(validate(event.detail), ajv.errorsText(validate.errors)).toBe(true);
      client.destroy();
    } finally {
      await sqs.close();
    }
  });
});

describe('GitHub simulator webhook faults', () => {
  async function playFaults(seed: number, faults: Record<string, number>) {
    const { sim } = await world({ seed, ...faults });
    const r = await receiver();
    servers.push(r.server);
    await sim.control.addWebhookSink({ kind: 'http', url: r.url });
    const run = await sim.control.createWorkflowRun({
      repo: 'acme/app',
      jobs: Array.from({ length: 40 }, (_, i) => ({
        name: `job-${i}`,
        runsOn: ['self-hosted', 'x'],
      })),
    });
    await sim.control.flushWebhooks();
    const deliveries = await sim.control.deliveries();
    return { run, received: r.received, deliveries };
  }

  it('drops and duplicates deliveries reproducibly for a fixed seed', async () => {
    const a = await playFaults(42, { dropRate: 0.25, duplicateRate: 0.25 });
    const b = await playFaults(42, { dropRate: 0.25, duplicateRate: 0.25 });
    const pattern = (d: typeof a.deliveries) =>
      d.map(
        (x) =>
          `${a.run.jobIds.indexOf(x.jobId) === -1 ? b.run.jobIds.indexOf(x.jobId) : a.run.jobIds.indexOf(x.jobId)}:${x.outcome}:${x.duplicate}`,
      );
    expect(pattern(a.deliveries)).toEqual(pattern(b.deliveries));

    const dropped = a.deliveries.filter((d) => d.outcome === 'dropped').length;
    const duplicates = a.deliveries.filter((d) => d.duplicate).length;
    expect(dropped).toBeGreaterThan(0);
    expect(duplicates).toBeGreaterThan(0);
    expect(a.received.length).toBe(40 - dropped + duplicates);
    // A duplicate carries the same delivery id (as a redelivery does).
    const ids = a.received.map((r) => r.headers['x-github-delivery']);
    expect(new Set(ids).size).toBe(40 - dropped);
    const receivedJobs = new Set(a.received.map((r) => r.body.workflow_job.id));
    expect(receivedJobs.size).toBe(40 - dropped);
  });

  it('delays a delivery by clock time, so that a later event overtakes it', async () => {
    const { sim } = await world({ delayRate: 1, delayMs: 300 });
    const r = await receiver();
    servers.push(r.server);
    await sim.control.addWebhookSink({ kind: 'http', url: r.url });
    const first = await sim.control.createWorkflowRun({
      repo: 'acme/app',
      jobs: [{ name: 'slow', runsOn: ['self-hosted', 'x'] }],
    });
    await sim.control.setFaults({ delayRate: 0 });
    const second = await sim.control.createWorkflowRun({
      repo: 'acme/app',
      jobs: [{ name: 'fast', runsOn: ['self-hosted', 'x'] }],
    });
    await sim.control.flushWebhooks();
    expect(r.received.map((x) => x.body.workflow_job.id)).toEqual([
      second.jobIds[0],
      first.jobIds[0],
    ]);
  });

  it('reorders deliveries: a held event arrives after the next one', async () => {
    const { run, received } = await playFaults(1, { reorderRate: 1 });
    const order = received.map((r) => run.jobIds.indexOf(r.body.workflow_job.id));
    expect(order.slice(0, 6)).toEqual([1, 0, 3, 2, 5, 4]);
    expect(order.length).toBe(40);
  });
});

describe('GitHub simulator webhooks: repository visibility', () => {
  it('carries repository.private and repository.visibility as GitHub does, for each visibility', async () => {
    const { sim } = await world();
    await sim.control.createRepo({ owner: 'acme', name: 'site', private: false });
    await sim.control.createRepo({ owner: 'acme', name: 'tools', visibility: 'internal' });
    const r = await receiver();
    servers.push(r.server);
    await sim.control.addWebhookSink({ kind: 'http', url: r.url });
    for (const repo of ['acme/app', 'acme/site', 'acme/tools']) {
      await sim.control.createWorkflowRun({ repo, jobs: [{ name: 'b', runsOn: ['self-hosted'] }] });
    }
    await sim.control.flushWebhooks();
    const seen = new Map<string, unknown>();
    for (const got of r.received) {
      const validate = validatorFor(got.body.action);
      expect(validate(got.body), ajv.errorsText(validate.errors)).toBe(true);
      const repo = got.body.repository as {
        full_name: string;
        private: boolean;
        visibility: string;
      };
      seen.set(repo.full_name, { private: repo.private, visibility: repo.visibility });
    }
    expect(Object.fromEntries(seen)).toEqual({
      'acme/app': { private: true, visibility: 'private' },
      'acme/site': { private: false, visibility: 'public' },
      'acme/tools': { private: true, visibility: 'internal' },
    });
    // The official examples carry both fields, consistently.
    for (const e of examples) {
      const repo = e.repository as { private: boolean; visibility: string };
      expect(typeof repo.private).toBe('boolean');
      expect(repo.private).toBe(repo.visibility !== 'public');
    }
  });

  it('refuses a visibility GitHub does not have and a contradicting private flag', async () => {
    const { sim } = await world();
    await expect(
      sim.control.createRepo({ owner: 'acme', name: 'x', visibility: 'secret' as 'private' }),
    ).rejects.toThrow(/visibility "secret"/);
    await expect(
      sim.control.createRepo({ owner: 'acme', name: 'y', private: false, visibility: 'internal' }),
    ).rejects.toThrow(/contradicts visibility internal/);
  });
});
