// Consumes the SQS queue that EventBridge rules fill with `workflow_job` events and with the
// cluster's ECS Task State Change events.
//
// - Task events go to `onTaskEvent` (the informer cache, spot re-runs) and are deleted whatever
//   it does with them: they are hints, the periodic relist is the truth. Without a subscriber
//   they are deleted as ignored. Only a malformed one is poison.
// - Long polling (WaitTimeSeconds 20), at most `concurrency` messages in hand at once.
// - A message is deleted ONLY after ingest resolved, i.e. the event is durably recorded.
// - A poison message (not JSON, wrong source/detail-type, invalid payload) can never succeed:
//   it is copied to the dead-letter queue with the reason and deleted, and a log line says why.
// - Any other failure leaves the message alone: SQS redelivers it after the visibility timeout
//   (and its redrive policy moves it to the DLQ if it keeps failing).
// - stop() ends the long poll, lets messages in hand finish, then resolves.

import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { awsClientSettings, SQS_REQUEST_TIMEOUT_MS } from '../util/aws-client.ts';
import type { Clock } from '../util/clock.ts';
import { systemClock } from '../util/clock.ts';
import type { Logger } from '../util/logger.ts';
import { silentLogger } from '../util/logger.ts';
import { InvalidEventError } from './errors.ts';
import {
  isEcsTaskStateChange,
  normaliseEcsTaskStateChange,
  type EcsTaskEvent,
} from './ecs-task-event.ts';
import { normaliseEventBridge, type WorkflowJobEvent } from './normalise.ts';

/** The narrow part of the SQS client the consumer uses (tests may inject their own). */
export interface SqsApi {
  send(
    command: ReceiveMessageCommand | DeleteMessageCommand | SendMessageCommand,
    options?: { abortSignal?: AbortSignal },
  ): Promise<unknown>;
}

export interface SqsConsumerOptions {
  queueUrl: string;
  /** Where poison messages go. Absent: they are left to the queue's own redrive policy. */
  deadLetterQueueUrl?: string;
  /** Stores the event; resolves once it is durably recorded (events/ingest.ts). */
  handle: (event: WorkflowJobEvent) => Promise<unknown>;
  /** Receives ECS Task State Change events; the message is deleted after it settles. */
  onTaskEvent?: (event: EcsTaskEvent) => unknown;
  client?: SqsApi;
  region?: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Messages handled at once. Default 10. */
  concurrency?: number;
  /** Long-poll wait. Default 20 s (the SQS maximum). */
  waitTimeSeconds?: number;
  /** Visibility timeout asked for on receive; absent: the queue's. */
  visibilityTimeoutSeconds?: number;
  clock?: Clock;
  logger?: Logger;
}

export interface SqsConsumerStats {
  received: number;
  /** Ingested and deleted. */
  deleted: number;
  /** Sent to the DLQ and deleted. */
  poisoned: number;
  /** Left for redelivery after a transient failure. */
  failed: number;
  /** Well-formed events the controller does not track (deleted). */
  ignored: number;
  /** ECS Task State Change events passed to onTaskEvent (deleted). */
  taskEvents: number;
}

export class SqsConsumerError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SqsConsumerError';
  }
}

class PoisonMessageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PoisonMessageError';
  }
}

const MAX_RECEIVE_BACKOFF_MS = 30_000;

type Parsed =
  | { kind: 'job'; event: WorkflowJobEvent }
  | { kind: 'task'; event: EcsTaskEvent }
  | { kind: 'ignored' };

export class SqsConsumer {
  readonly stats: SqsConsumerStats = {
    received: 0,
    deleted: 0,
    poisoned: 0,
    failed: 0,
    ignored: 0,
    taskEvents: 0,
  };
  private readonly api: SqsApi;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly concurrency: number;
  private readonly inFlight = new Set<Promise<void>>();
  private abort = new AbortController();
  private loop: Promise<void> | undefined;
  private running = false;

  constructor(private readonly options: SqsConsumerOptions) {
    if (!options.queueUrl) throw new SqsConsumerError('SQS consumer: queueUrl is required');
    this.api =
      options.client ??
      new SQSClient({
        ...awsClientSettings({ requestTimeoutMs: SQS_REQUEST_TIMEOUT_MS }),
        ...(options.region ? { region: options.region } : {}),
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
        ...(options.credentials ? { credentials: options.credentials } : {}),
      });
    this.clock = options.clock ?? systemClock;
    this.logger = (options.logger ?? silentLogger()).child({ component: 'sqs-consumer' });
    this.concurrency = Math.max(1, options.concurrency ?? 10);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.loop = this.pollLoop();
    this.logger.info({ queueUrl: this.options.queueUrl }, 'SQS consumer started');
  }

  /** Ends the long poll, waits for messages in hand to be handled, then resolves. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort(new SqsConsumerError('SQS consumer stopped'));
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
    this.logger.info({ stats: this.stats }, 'SQS consumer stopped');
  }

  private async pollLoop(): Promise<void> {
    let backoffMs = 0;
    while (this.running) {
      // Never hold more than `concurrency` messages: wait for a slot first.
      while (this.inFlight.size >= this.concurrency && this.running) {
        await Promise.race(this.inFlight);
      }
      if (!this.running) break;
      let messages: Message[];
      try {
        const res = (await this.api.send(
          new ReceiveMessageCommand({
            QueueUrl: this.options.queueUrl,
            MaxNumberOfMessages: Math.min(10, this.concurrency - this.inFlight.size),
            WaitTimeSeconds: this.options.waitTimeSeconds ?? 20,
            ...(this.options.visibilityTimeoutSeconds !== undefined
              ? { VisibilityTimeout: this.options.visibilityTimeoutSeconds }
              : {}),
            MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          }),
          { abortSignal: this.abort.signal },
        )) as { Messages?: Message[] };
        messages = res.Messages ?? [];
        backoffMs = 0;
      } catch (err) {
        if (!this.running) break;
        backoffMs = Math.min(MAX_RECEIVE_BACKOFF_MS, backoffMs ? backoffMs * 2 : 500);
        this.logger.warn({ err, retryInMs: backoffMs }, 'SQS receive failed');
        await this.clock.sleep(backoffMs, this.abort.signal).catch(() => undefined);
        continue;
      }
      for (const message of messages) {
        this.stats.received += 1;
        const work: Promise<void> = this.process(message)
          .catch((err: unknown) => {
            this.stats.failed += 1;
            this.logger.error({ err, messageId: message.MessageId }, 'message handling failed');
          })
          .finally(() => this.inFlight.delete(work));
        this.inFlight.add(work);
      }
    }
  }

  private async process(message: Message): Promise<void> {
    const log = this.logger.child({
      messageId: message.MessageId,
      receiveCount: message.Attributes?.ApproximateReceiveCount,
    });
    let parsed: Parsed;
    try {
      parsed = this.parse(message);
    } catch (err) {
      if (err instanceof PoisonMessageError) return this.poison(message, err.message, log);
      throw err;
    }
    if (parsed.kind === 'task') {
      if (!this.options.onTaskEvent) {
        this.stats.ignored += 1;
        await this.delete(message, log);
        return;
      }
      try {
        await this.options.onTaskEvent(parsed.event);
      } catch (err) {
        // A hint lost: the subscriber's relist catches up, redelivery would not help more.
        log.warn({ err, taskArn: parsed.event.taskArn }, 'task event subscriber failed');
      }
      if (await this.delete(message, log)) this.stats.taskEvents += 1;
      return;
    }
    const event = parsed.kind === 'job' ? parsed.event : undefined;
    if (!event) {
      this.stats.ignored += 1;
      await this.delete(message, log);
      return;
    }
    try {
      await this.options.handle(event);
    } catch (err) {
      this.stats.failed += 1;
      log.warn(
        { err, jobId: event.job.id },
        'event not recorded; left on the queue for redelivery',
      );
      return;
    }
    if (await this.delete(message, log)) this.stats.deleted += 1;
  }

  /** What the message carries; `ignored` for an event that is valid but not tracked. */
  private parse(message: Message): Parsed {
    let body: unknown;
    try {
      body = JSON.parse(message.Body ?? '');
    } catch {
      throw new PoisonMessageError('message body is not JSON');
    }
    try {
      if (isEcsTaskStateChange(body)) {
        return { kind: 'task', event: normaliseEcsTaskStateChange(body)! };
      }
      const result = normaliseEventBridge(body);
      return result.kind === 'job' ? result : { kind: 'ignored' };
    } catch (err) {
      if (err instanceof InvalidEventError)
        throw new PoisonMessageError(err.message, { cause: err });
      throw err;
    }
  }

  private async poison(message: Message, reason: string, log: Logger): Promise<void> {
    if (!this.options.deadLetterQueueUrl) {
      this.stats.failed += 1;
      log.error(
        { reason },
        'poison message; no dead-letter queue configured, left to the redrive policy',
      );
      return;
    }
    try {
      await this.api.send(
        new SendMessageCommand({
          QueueUrl: this.options.deadLetterQueueUrl,
          MessageBody: message.Body ?? '',
          MessageAttributes: {
            'runnerctl-reason': { DataType: 'String', StringValue: reason.slice(0, 1000) },
            'runnerctl-source-message-id': {
              DataType: 'String',
              StringValue: message.MessageId ?? 'unknown',
            },
          },
        }),
      );
    } catch (err) {
      this.stats.failed += 1;
      log.warn({ err, reason }, 'poison message could not be sent to the DLQ; left for redelivery');
      return;
    }
    if (await this.delete(message, log)) {
      this.stats.poisoned += 1;
      log.error(
        { reason, deadLetterQueueUrl: this.options.deadLetterQueueUrl },
        'poison message moved to the DLQ',
      );
    }
  }

  private async delete(message: Message, log: Logger): Promise<boolean> {
    try {
      await this.api.send(
        new DeleteMessageCommand({
          QueueUrl: this.options.queueUrl,
          ReceiptHandle: message.ReceiptHandle,
        }),
      );
      return true;
    } catch (err) {
      // Redelivered later; ingest is idempotent, so the second time is harmless.
      log.warn({ err }, 'SQS delete failed; the message will be redelivered');
      return false;
    }
  }
}
