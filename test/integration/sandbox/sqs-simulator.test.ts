import { createHash } from 'node:crypto';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  PurgeQueueCommand,
  QueueDoesNotExist,
  QueueNameExists,
  ReceiptHandleIsInvalid,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  BatchRequestTooLong,
  SQSClient,
  SQSServiceException,
  TooManyEntriesInBatchRequest,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSqsSimulator } from '../../../controller/sandbox/sqs/simulator.ts';
import type { SqsSimulator } from '../../../controller/sandbox/sqs/simulator.ts';
import {
  auditResponseFields,
  dummyCredentials,
  fieldsUnknownToSdk,
  ManualClock,
  RecordingHandler,
  settle,
  withoutMetadata,
} from './ecs-sqs-helpers.ts';

let sim: SqsSimulator;
let sqs: SQSClient;
let handler: RecordingHandler;
let audit: ReturnType<typeof auditResponseFields>;
const clock = new ManualClock();

beforeAll(async () => {
  sim = await startSqsSimulator({ clock });
  handler = new RecordingHandler();
  sqs = new SQSClient({
    endpoint: sim.url,
    region: sim.region,
    credentials: dummyCredentials,
    requestHandler: handler,
    maxAttempts: 1,
  });
  audit = auditResponseFields(sqs);
});

afterAll(async () => {
  sqs.destroy();
  await sim.close();
});

const MIB = 1_048_576;

let queueCounter = 0;
async function newQueue(attributes: Record<string, string> = {}): Promise<string> {
  queueCounter += 1;
  const out = await sqs.send(
    new CreateQueueCommand({ QueueName: `q-${queueCounter}`, Attributes: attributes }),
  );
  return out.QueueUrl!;
}

async function counts(queueUrl: string) {
  const out = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['All'] }),
  );
  return {
    visible: Number(out.Attributes!.ApproximateNumberOfMessages),
    inFlight: Number(out.Attributes!.ApproximateNumberOfMessagesNotVisible),
  };
}

describe('SQS simulator through @aws-sdk/client-sqs', () => {
  it('creates queues idempotently and refuses a different attribute value', async () => {
    const url = await newQueue({ VisibilityTimeout: '45' });
    const name = `q-${queueCounter}`;
    const again = await sqs.send(
      new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: '45' } }),
    );
    expect(again.QueueUrl).toBe(url);
    await expect(
      sqs.send(
        new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: '10' } }),
      ),
    ).rejects.toBeInstanceOf(QueueNameExists);
    const byName = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    expect(byName.QueueUrl).toBe(url);
    const attrs = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }),
    );
    expect(attrs.Attributes).toMatchObject({
      VisibilityTimeout: '45',
      ApproximateNumberOfMessages: '0',
      QueueArn: `arn:aws:sqs:${sim.region}:${sim.accountId}:${name}`,
    });
  });

  it('answers an unknown queue with QueueDoesNotExist and its query-compatible code', async () => {
    const error = await sqs
      .send(new GetQueueUrlCommand({ QueueName: 'does-not-exist' }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueDoesNotExist);
    expect((error as QueueDoesNotExist).message).toBe('The specified queue does not exist.');
    expect((error as { Code?: string }).Code).toBe('AWS.SimpleQueueService.NonExistentQueue');
  });

  it('returns the MD5 of body and attributes that the SDK verifies', async () => {
    const url = await newQueue();
    const body = 'héllo, wörld ✓';
    const sent = await sqs.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: body,
        MessageAttributes: { kind: { DataType: 'String', StringValue: 'workflow_job' } },
      }),
    );
    expect(sent.MD5OfMessageBody).toBe(createHash('md5').update(body, 'utf8').digest('hex'));
    expect(sent.MD5OfMessageAttributes).toMatch(/^[0-9a-f]{32}$/);
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MessageAttributeNames: ['All'] }),
    );
    expect(received.Messages).toHaveLength(1);
    expect(received.Messages![0]!.Body).toBe(body);
    expect(received.Messages![0]!.MessageAttributes?.kind?.StringValue).toBe('workflow_job');
    expect(received.Messages![0]!.MD5OfMessageAttributes).toBe(sent.MD5OfMessageAttributes);
    expect(fieldsUnknownToSdk(handler.last(), withoutMetadata(received))).toEqual([]);
  });

  it('long polling returns as soon as a message arrives, without time passing', async () => {
    const url = await newQueue();
    const polling = sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 20 }));
    await settle();
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'wake up' }));
    const out = await polling;
    expect(out.Messages?.map((m) => m.Body)).toEqual(['wake up']);
  });

  it('long polling returns empty once the wait time has passed on the clock', async () => {
    const url = await newQueue();
    const polling = sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 5 }));
    await settle();
    await clock.advance(5_000);
    const out = await polling;
    expect(out.Messages ?? []).toEqual([]);
  });

  it('redelivers an unacknowledged message after the visibility timeout', async () => {
    const url = await newQueue({ VisibilityTimeout: '30' });
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'job-1' }));
    const first = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MessageSystemAttributeNames: ['All'] }),
    );
    expect(first.Messages![0]!.Attributes?.ApproximateReceiveCount).toBe('1');
    expect(await counts(url)).toEqual({ visible: 0, inFlight: 1 });

    const hidden = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url }));
    expect(hidden.Messages ?? []).toEqual([]);

    await clock.advance(30_001);
    const second = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
    );
    const again = second.Messages![0]!;
    expect(again.MessageId).toBe(first.Messages![0]!.MessageId);
    expect(again.Attributes?.ApproximateReceiveCount).toBe('2');
    expect(again.ReceiptHandle).not.toBe(first.Messages![0]!.ReceiptHandle);

    // The superseded receipt handle succeeds but does not delete; the latest one does.
    await sqs.send(
      new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: first.Messages![0]!.ReceiptHandle }),
    );
    expect(await counts(url)).toEqual({ visible: 0, inFlight: 1 });
    await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: again.ReceiptHandle }));
    expect(await counts(url)).toEqual({ visible: 0, inFlight: 0 });
    // Deleting again is idempotent.
    await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: again.ReceiptHandle }));
  });

  it('ChangeMessageVisibility to 0 makes a message receivable at once', async () => {
    const url = await newQueue({ VisibilityTimeout: '600' });
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'retry-me' }));
    const first = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url }));
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: url,
        ReceiptHandle: first.Messages![0]!.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    const second = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url }));
    expect(second.Messages?.map((m) => m.Body)).toEqual(['retry-me']);
  });

  it('rejects a receipt handle it never issued', async () => {
    const url = await newQueue();
    await expect(
      sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: 'not-a-handle' })),
    ).rejects.toBeInstanceOf(ReceiptHandleIsInvalid);
  });

  it('moves a message to the dead-letter queue after maxReceiveCount receives', async () => {
    const dlqUrl = await newQueue();
    const dlqArn = (
      await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }),
      )
    ).Attributes!.QueueArn!;
    const url = await newQueue({
      VisibilityTimeout: '10',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 2 }),
    });
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'poison' }));
    for (let i = 0; i < 2; i += 1) {
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url }));
      expect(out.Messages?.map((m) => m.Body)).toEqual(['poison']);
      await clock.advance(10_001);
    }
    const third = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url }));
    expect(third.Messages ?? []).toEqual([]);
    expect(await counts(url)).toEqual({ visible: 0, inFlight: 0 });
    const dead = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlqUrl, MessageSystemAttributeNames: ['All'] }),
    );
    expect(dead.Messages?.map((m) => m.Body)).toEqual(['poison']);
    expect(dead.Messages![0]!.Attributes?.DeadLetterQueueSourceArn).toContain(':q-');
    expect(fieldsUnknownToSdk(handler.last(), withoutMetadata(dead))).toEqual([]);
  });

  it('defaults MaximumMessageSize to 1 MiB and refuses a larger setting', async () => {
    const url = await newQueue();
    const out = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['MaximumMessageSize'] }),
    );
    expect(out.Attributes?.MaximumMessageSize).toBe(String(MIB));
    await expect(newQueue({ MaximumMessageSize: String(MIB + 1) })).rejects.toMatchObject({
      name: 'InvalidAttributeValue',
    });
  });

  it('refuses a message whose body and attributes exceed the size, as SQS does', async () => {
    const url = await newQueue();
    const exact = await sqs.send(
      new SendMessageCommand({ QueueUrl: url, MessageBody: 'x'.repeat(MIB) }),
    );
    expect(exact.MessageId).toBeDefined();
    const tooLong = await sqs
      .send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x'.repeat(MIB + 1) }))
      .catch((e: unknown) => e);
    expect(tooLong).toBeInstanceOf(SQSServiceException);
    expect(tooLong).toMatchObject({
      name: 'InvalidParameterValue',
      message: `One or more parameters are invalid. Reason: Message must be shorter than ${MIB} bytes.`,
    });
    // Attribute name, type and value count too: a body that fits alone no longer does.
    const withAttribute = await sqs
      .send(
        new SendMessageCommand({
          QueueUrl: url,
          MessageBody: 'x'.repeat(MIB - 10),
          MessageAttributes: { kind: { DataType: 'String', StringValue: 'workflow' } },
        }),
      )
      .catch((e: unknown) => e);
    expect(withAttribute).toMatchObject({ name: 'InvalidParameterValue' });
    expect(await counts(url)).toEqual({ visible: 1, inFlight: 0 });
  });

  it('refuses a batch whose messages together exceed 1 MiB', async () => {
    const url = await newQueue();
    const half = 'y'.repeat(MIB / 2);
    await expect(
      sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: url,
          Entries: [
            { Id: 'a', MessageBody: half },
            { Id: 'b', MessageBody: half + 'z' },
          ],
        }),
      ),
    ).rejects.toBeInstanceOf(BatchRequestTooLong);
    expect(await counts(url)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('keeps a message the dead-letter queue cannot hold, counting its attributes', async () => {
    const dlqUrl = await newQueue({ MaximumMessageSize: '1024' });
    const dlqArn = (
      await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }),
      )
    ).Attributes!.QueueArn!;
    const url = await newQueue({
      VisibilityTimeout: '10',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 1 }),
    });
    // The body alone fits the dead-letter queue; with its attribute it does not.
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: 'p'.repeat(1000),
        MessageAttributes: { origin: { DataType: 'String', StringValue: 'o'.repeat(40) } },
      }),
    );
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'small' }));
    const first = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }),
    );
    expect(first.Messages).toHaveLength(2);
    await clock.advance(10_001);
    const second = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }),
    );
    expect(second.Messages?.map((m) => m.Body!.length)).toEqual([1000]);
    const dead = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10 }),
    );
    expect(dead.Messages?.map((m) => m.Body)).toEqual(['small']);
  });

  it('sends and deletes in batches of at most 10', async () => {
    const url = await newQueue();
    const entries = Array.from({ length: 10 }, (_, i) => ({
      Id: `m${i}`,
      MessageBody: `body-${i}`,
    }));
    const sent = await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }));
    expect(sent.Successful).toHaveLength(10);
    for (const entry of sent.Successful!) {
      const body = `body-${entry.Id!.slice(1)}`;
      expect(entry.MD5OfMessageBody).toBe(createHash('md5').update(body).digest('hex'));
    }
    await expect(
      sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: url,
          Entries: [...entries, { Id: 'm10', MessageBody: 'x' }],
        }),
      ),
    ).rejects.toBeInstanceOf(TooManyEntriesInBatchRequest);

    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }),
    );
    expect(received.Messages).toHaveLength(10);
    const deleted = await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: url,
        Entries: [
          ...received
            .Messages!.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle! }))
            .slice(0, 9),
          { Id: 'bad', ReceiptHandle: 'garbage' },
        ],
      }),
    );
    expect(deleted.Successful).toHaveLength(9);
    expect(deleted.Failed).toEqual([
      expect.objectContaining({ Id: 'bad', Code: 'ReceiptHandleIsInvalid', SenderFault: true }),
    ]);
    expect(fieldsUnknownToSdk(handler.last(), withoutMetadata(deleted))).toEqual([]);
    expect(await counts(url)).toEqual({ visible: 0, inFlight: 1 });
  });

  it('purges a queue', async () => {
    const url = await newQueue();
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'a' }));
    await sqs.send(new PurgeQueueCommand({ QueueUrl: url }));
    expect(await counts(url)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('answered every operation only with fields of the SDK output shapes', async () => {
    await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'q-' }));
    expect([...audit.checked].sort()).toEqual([
      'ChangeMessageVisibility',
      'CreateQueue',
      'DeleteMessage',
      'DeleteMessageBatch',
      'GetQueueAttributes',
      'GetQueueUrl',
      'ListQueues',
      'PurgeQueue',
      'ReceiveMessage',
      'SendMessage',
      'SendMessageBatch',
    ]);
    expect(audit.unknown).toEqual([]);
  });

  it('rejects requests without a signature as AWS does', async () => {
    const response = await fetch(sim.url, {
      method: 'POST',
      headers: {
        'x-amz-target': 'AmazonSQS.ListQueues',
        'content-type': 'application/x-amz-json-1.0',
      },
      body: '{}',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ message: 'Missing Authentication Token' });
  });
});
