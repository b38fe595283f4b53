import type { SendMessageCommand } from '@aws-sdk/client-sqs';
import { DeleteMessageCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { SqsConsumer, type SqsApi } from '../../../controller/events/sqs-consumer.ts';
import type { WorkflowJobEvent } from '../../../controller/events/normalise.ts';
import type { EcsTaskEvent } from '../../../controller/events/ecs-task-event.ts';
import { example } from './webhook-examples.ts';

/** An in-memory queue: receive returns what is visible, or waits until stop aborts it. */
class MemoryQueue implements SqsApi {
  visible: Message[] = [];
  deleted: string[] = [];
  dlq: { body: string; reason: string }[] = [];
  receives = 0;
  private waiters: (() => void)[] = [];

  push(body: string) {
    const id = `m${this.visible.length + this.deleted.length + 1}`;
    this.visible.push({ MessageId: id, ReceiptHandle: `rh-${id}`, Body: body });
    for (const w of this.waiters.splice(0)) w();
  }

  async send(
    command: ReceiveMessageCommand | DeleteMessageCommand | SendMessageCommand,
    options?: { abortSignal?: AbortSignal },
  ) {
    if (command instanceof ReceiveMessageCommand) {
      this.receives += 1;
      const max = command.input.MaxNumberOfMessages ?? 1;
      if (this.visible.length === 0) {
        await new Promise<void>((resolve, reject) => {
          this.waiters.push(resolve);
          options?.abortSignal?.addEventListener(
            'abort',
            () => reject(options.abortSignal!.reason),
            { once: true },
          );
        });
      }
      return { Messages: this.visible.splice(0, max) };
    }
    if (command instanceof DeleteMessageCommand) {
      this.deleted.push(String(command.input.ReceiptHandle));
      return {};
    }
    this.dlq.push({
      body: String(command.input.MessageBody),
      reason: String(command.input.MessageAttributes?.['runnerctl-reason']?.StringValue),
    });
    return {};
  }
}

const envelope = (detail: unknown, over: Record<string, unknown> = {}) =>
  JSON.stringify({
    version: '0',
    source: 'github.com',
    'detail-type': 'workflow_job',
    detail,
    ...over,
  });

async function until(check: () => boolean) {
  for (let i = 0; i < 1000 && !check(); i++) await new Promise((r) => setImmediate(r));
  expect(check()).toBe(true);
}

describe('SqsConsumer (in memory)', () => {
  it('deletes only after the handler resolved; failures stay for redelivery; poison goes to the DLQ', async () => {
    const queue = new MemoryQueue();
    const handled: WorkflowJobEvent[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const consumer = new SqsConsumer({
      queueUrl: 'q',
      deadLetterQueueUrl: 'dlq',
      client: queue,
      handle: async (event) => {
        if (event.action === 'completed') throw new Error('store down');
        await gate;
        handled.push(event);
      },
    });
    queue.push(envelope(example('queued')));
    queue.push(envelope(example('completed')));
    queue.push('not json');
    queue.push(envelope(example('queued'), { source: 'aws.ecs' }));
    consumer.start();
    await until(() => consumer.stats.received === 4 && consumer.stats.poisoned === 2);
    // The queued event is still being handled: not deleted yet.
    expect(queue.deleted).toEqual(['rh-m3', 'rh-m4']);
    expect(queue.dlq.map((d) => d.reason)).toEqual([
      'message body is not JSON',
      'source: expected "github.com", got the string "aws.ecs"',
    ]);
    release();
    await until(() => consumer.stats.deleted === 1);
    expect(queue.deleted).toContain('rh-m1');
    expect(queue.deleted).not.toContain('rh-m2');
    expect(consumer.stats.failed).toBe(1);
    await consumer.stop();
    expect(handled.map((e) => e.job.id)).toEqual([289782451]);
  });

  it('never holds more than `concurrency` messages; stop() drains the ones in hand', async () => {
    const queue = new MemoryQueue();
    let active = 0;
    let maxActive = 0;
    const releases: (() => void)[] = [];
    const consumer = new SqsConsumer({
      queueUrl: 'q',
      client: queue,
      concurrency: 3,
      handle: async () => {
        active += 1;
        maxActive = Math.max(maxActive, active);
        await new Promise<void>((r) => releases.push(r));
        active -= 1;
      },
    });
    for (let i = 0; i < 8; i++) queue.push(envelope(example('queued')));
    consumer.start();
    await until(() => releases.length === 3);
    expect(queue.visible.length).toBe(5);
    const stopping = consumer.stop();
    for (const r of releases.splice(0)) r();
    await stopping;
    expect(maxActive).toBe(3);
    expect(consumer.stats.deleted).toBe(3);
    expect(queue.visible.length).toBe(5); // left for another consumer
  });
});

describe('SqsConsumer and ECS Task State Change events', () => {
  const taskEvent = (detail: Record<string, unknown> = {}) =>
    JSON.stringify({
      version: '0',
      source: 'aws.ecs',
      'detail-type': 'ECS Task State Change',
      detail: {
        taskArn: 'arn:aws:ecs:us-east-1:1:task/c/abc',
        clusterArn: 'arn:aws:ecs:us-east-1:1:cluster/c',
        lastStatus: 'STOPPED',
        desiredStatus: 'STOPPED',
        version: 7,
        ...detail,
      },
    });

  it('passes task events to onTaskEvent and deletes them, also when it throws', async () => {
    const queue = new MemoryQueue();
    const seen: EcsTaskEvent[] = [];
    const consumer = new SqsConsumer({
      queueUrl: 'q',
      deadLetterQueueUrl: 'dlq',
      client: queue,
      handle: async () => undefined,
      onTaskEvent: (event) => {
        seen.push(event);
        if (event.version === 8) throw new Error('cache busy');
      },
    });
    queue.push(taskEvent());
    queue.push(taskEvent({ version: 8 }));
    consumer.start();
    await until(() => consumer.stats.taskEvents === 2);
    await consumer.stop();
    expect(seen.map((e) => [e.taskArn, e.lastStatus, e.version])).toEqual([
      ['arn:aws:ecs:us-east-1:1:task/c/abc', 'STOPPED', 7],
      ['arn:aws:ecs:us-east-1:1:task/c/abc', 'STOPPED', 8],
    ]);
    expect(queue.deleted).toHaveLength(2);
    expect(queue.dlq).toEqual([]);
    expect(consumer.stats.poisoned).toBe(0);
  });

  it('deletes task events as ignored without a subscriber; a malformed one is poison', async () => {
    const queue = new MemoryQueue();
    const consumer = new SqsConsumer({
      queueUrl: 'q',
      deadLetterQueueUrl: 'dlq',
      client: queue,
      handle: async () => undefined,
    });
    queue.push(taskEvent());
    queue.push(taskEvent({ clusterArn: 42 }));
    consumer.start();
    await until(() => consumer.stats.ignored === 1 && consumer.stats.poisoned === 1);
    await consumer.stop();
    expect(queue.deleted).toHaveLength(2);
    expect(queue.dlq.map((d) => d.reason)).toEqual([
      'detail.clusterArn: expected a non-empty string, got number 42',
    ]);
  });
});
