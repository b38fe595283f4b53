// Contract tests: the SQS consumer against the SQS simulator, ingesting into the real store
// (dynalite), through the real SDK client.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../../controller/events/ingest.ts';
import { SqsConsumer } from '../../../controller/events/sqs-consumer.ts';
import { startSqsSimulator, type SqsSimulator } from '../../../controller/sandbox/sqs/simulator.ts';
import { openStore } from '../../../controller/store/factory.ts';
import type { JobRecord, Store } from '../../../controller/store/types.ts';
import { scaledClock } from '../../../controller/util/clock.ts';
import { example } from '../../unit/events/webhook-examples.ts';

const credentials = { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'sandbox-secret' };
// 20x: a 20 s long poll is 1 s of real time, a 30 s visibility timeout 1.5 s.
const clock = scaledClock(20);
let sim: SqsSimulator;
let sqs: SQSClient;
let store: Store;
let dataDir: string;
let queueUrl: string;
let dlqUrl: string;

const envelope = (detail: unknown, over: Record<string, unknown> = {}) =>
  JSON.stringify({
    version: '0',
    id: 'evt',
    source: 'github.com',
    'detail-type': 'workflow_job',
    detail,
    ...over,
  });

async function eventually(check: () => boolean | Promise<boolean>, what: string) {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never happened: ${what}`);
}

async function depth(url: string): Promise<number> {
  const res = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(res.Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(res.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

function consumer(handle: (e: Parameters<typeof ingest>[0]) => Promise<unknown>) {
  return new SqsConsumer({
    queueUrl,
    deadLetterQueueUrl: dlqUrl,
    endpoint: sim.url,
    region: sim.region,
    credentials,
    clock,
    visibilityTimeoutSeconds: 30,
    handle,
  });
}

beforeAll(async () => {
  sim = await startSqsSimulator({ clock });
  sqs = new SQSClient({ endpoint: sim.url, region: sim.region, credentials, maxAttempts: 1 });
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'runnerctl-events' }))).QueueUrl!;
  dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'runnerctl-events-dlq' })))
    .QueueUrl!;
  dataDir = await mkdtemp(join(tmpdir(), 'rctl-sqs-'));
  store = await openStore({ kind: 'local', dataDir });
});

afterAll(async () => {
  sqs?.destroy();
  await store?.close();
  await sim?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('SqsConsumer against the SQS simulator', () => {
  it('stores each event and deletes it only then; duplicates change nothing', async () => {
    const changed: JobRecord[] = [];
    const c = consumer((event) =>
      ingest(event, { store, onJobChanged: (j) => void changed.push(j) }),
    );
    c.start();
    const queued = example('queued');
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: envelope(queued) }));
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: envelope(queued) }));
    const completed = example('completed', 1);
    await sqs.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: envelope(completed) }),
    );
    await eventually(() => c.stats.deleted === 3, 'three messages deleted');
    await c.stop();
    expect(await depth(queueUrl)).toBe(0);
    // Events through SQS are unsigned: their `completed` is a claim on the job, settled later by
    // the runner's exit or GitHub's listing (a forged one must not end a real job). The claim
    // survives whichever of queued and completed is stored first.
    const job = await store.getJob(289782451);
    expect(job?.status).toBe('queued');
    expect(job?.claimedCompletion?.conclusion).toBe('success');
    // Only a repository GitHub vouched for (a signed event, or its listing) joins the resync.
    expect((await store.listRepositories()).map((r) => r.fullName)).not.toContain(
      'Codertocat/Hello-World',
    );
    // queued then the claim (or the claim alone, if it was handled first): never a third change.
    expect(changed.length).toBeLessThanOrEqual(2);
    expect(changed.at(-1)?.claimedCompletion).toBeDefined();
  });

  it('poison messages go to the DLQ with the reason, and leave the queue', async () => {
    const c = consumer((event) => ingest(event, { store }));
    c.start();
    const bad = example('queued');
    delete (bad.workflow_job as Record<string, unknown>).run_id;
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '{{{' }));
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: envelope(example('queued'), { 'detail-type': 'push' }),
      }),
    );
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: envelope(bad) }));
    await eventually(() => c.stats.poisoned === 3, 'three poison messages');
    await c.stop();
    expect(await depth(queueUrl)).toBe(0);
    const dead = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlqUrl,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
      }),
    );
    const reasons = (dead.Messages ?? [])
      .map((m) => m.MessageAttributes?.['runnerctl-reason']?.StringValue)
      .sort();
    expect(reasons).toEqual([
      'detail-type: expected "workflow_job", got the string "push"',
      'detail.workflow_job.run_id: expected a positive integer, got nothing (missing)',
      'message body is not JSON',
    ]);
    expect((dead.Messages ?? []).map((m) => m.Body)).toContain('{{{');
  });

  it('a failed ingest leaves the message; it is redelivered and stored', async () => {
    let failures = 1;
    const c = consumer(async (event) => {
      if (failures-- > 0) throw new Error('DynamoDB unavailable');
      return ingest(event, { store });
    });
    c.start();
    const body = example('waiting');
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: envelope(body) }));
    await eventually(() => c.stats.deleted === 1, 'stored on redelivery');
    await c.stop();
    expect(c.stats.failed).toBe(1);
    expect(c.stats.received).toBe(2);
    expect((await store.getJob(12877621891))?.status).toBe('waiting');
    expect(await depth(queueUrl)).toBe(0);
  });

  it('stop() ends the long poll promptly and lets handlers in hand finish', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let finished = false;
    const c = consumer(async (event) => {
      await gate;
      await ingest(event, { store });
      finished = true;
    });
    c.start();
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: envelope(example('in_progress', 2)),
      }),
    );
    await eventually(() => c.stats.received === 1, 'received');
    const stopping = c.stop();
    release();
    await stopping;
    expect(finished).toBe(true);
    expect(c.stats.deleted).toBe(1);
  });
});
