// A standard-queue SQS simulator speaking the AWS JSON 1.0 protocol (query-compatible errors),
// as @aws-sdk/client-sqs talks to it. Time comes from the injected Clock.

import { randomUUID } from 'node:crypto';
import type { Clock } from '../../util/clock.ts';
import { systemClock } from '../../util/clock.ts';
import {
  AwsServiceError,
  optionalArray,
  optionalNumber,
  optionalObject,
  optionalString,
  startAwsJsonServer,
} from '../aws-json.ts';
import type { AwsRequestContext } from '../aws-json.ts';
import { md5Hex, md5OfMessageAttributes } from './md5.ts';
import type { MessageAttributeValue } from './md5.ts';

export interface SqsSimulatorOptions {
  host?: string;
  port?: number;
  clock?: Clock;
  region?: string;
  accountId?: string;
}

export interface QueueSummary {
  name: string;
  url: string;
  arn: string;
  visible: number;
  inFlight: number;
  delayed: number;
}

export interface SqsSimulator {
  url: string;
  region: string;
  accountId: string;
  /** Messages per queue, for tests and the sandbox UI. */
  queues(): QueueSummary[];
  close(): Promise<void>;
}

interface StoredMessage {
  id: string;
  body: string;
  md5OfBody: string;
  messageAttributes?: Record<string, MessageAttributeValue>;
  md5OfMessageAttributes?: string;
  sentAt: number;
  visibleAt: number;
  receiveCount: number;
  firstReceiveAt?: number;
  /** Nonce of the latest receive; only the latest receipt handle acts on the message. */
  receiptNonce?: string;
  deadLetterSourceArn?: string;
}

interface Queue {
  name: string;
  url: string;
  arn: string;
  attributes: Map<string, string>;
  createdAt: number;
  lastModifiedAt: number;
  messages: Map<string, StoredMessage>;
  waiters: Set<() => void>;
  lastPurgeAt?: number;
}

const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;

/** SendMessage's and SendMessageBatch's limit (one message, and a whole batch), in bytes. */
const MAX_MESSAGE_BYTES = 1_048_576;

/**
 * A message's size as SQS counts it: the body plus every attribute's name, data type and value
 * (the SDK model: "All parts of the message attribute ... are part of the message size").
 */
function messageSize(body: string, attributes?: Record<string, MessageAttributeValue>): number {
  let size = Buffer.byteLength(body, 'utf8');
  for (const [name, attribute] of Object.entries(attributes ?? {})) {
    size += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(attribute.DataType, 'utf8');
    size +=
      attribute.BinaryValue !== undefined
        ? Buffer.from(attribute.BinaryValue, 'base64').length
        : Buffer.byteLength(attribute.StringValue ?? '', 'utf8');
  }
  return size;
}

/** Settable attributes: [min, max, default]. */
const NUMERIC_ATTRIBUTES: Record<string, [number, number, number]> = {
  DelaySeconds: [0, 900, 0],
  // 1 MiB is both the ceiling and the default since AWS raised it (SDK model, CreateQueue).
  MaximumMessageSize: [1024, MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES],
  MessageRetentionPeriod: [60, 1_209_600, 345_600],
  ReceiveMessageWaitTimeSeconds: [0, 20, 0],
  VisibilityTimeout: [0, 43_200, 30],
};
const OTHER_SETTABLE = new Set([
  'RedrivePolicy',
  'Policy',
  'SqsManagedSseEnabled',
  'KmsMasterKeyId',
]);
const READ_ONLY = [
  'QueueArn',
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
  'CreatedTimestamp',
  'LastModifiedTimestamp',
];

function invalidParameter(message: string): AwsServiceError {
  return new AwsServiceError('InvalidParameterValue', message, {
    queryCode: 'InvalidParameterValue',
  });
}

function missingParameter(name: string): AwsServiceError {
  return new AwsServiceError(
    'MissingParameter',
    `The request must contain the parameter ${name}.`,
    {
      queryCode: 'MissingParameter',
    },
  );
}

function queueDoesNotExist(): AwsServiceError {
  return new AwsServiceError('QueueDoesNotExist', 'The specified queue does not exist.', {
    queryCode: 'AWS.SimpleQueueService.NonExistentQueue',
  });
}

function receiptHandleInvalid(handle: string): AwsServiceError {
  return new AwsServiceError(
    'ReceiptHandleIsInvalid',
    `The input receipt handle "${handle}" is not a valid receipt handle.`,
    { statusCode: 404, queryCode: 'ReceiptHandleIsInvalid' },
  );
}

interface Receipt {
  queue: string;
  messageId: string;
  nonce: string;
}

function encodeReceipt(receipt: Receipt): string {
  return Buffer.from(
    JSON.stringify([receipt.queue, receipt.messageId, receipt.nonce]),
    'utf8',
  ).toString('base64url');
}

function decodeReceipt(handle: string): Receipt | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(handle, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 3) {
      const [queue, messageId, nonce] = parsed as unknown[];
      if (typeof queue === 'string' && typeof messageId === 'string' && typeof nonce === 'string') {
        return { queue, messageId, nonce };
      }
    }
  } catch {
    // fall through: not one of ours
  }
  return undefined;
}

interface RedrivePolicy {
  deadLetterTargetArn: string;
  maxReceiveCount: number;
}

export async function startSqsSimulator(options: SqsSimulatorOptions = {}): Promise<SqsSimulator> {
  const clock = options.clock ?? systemClock;
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '000000000000';
  const queues = new Map<string, Queue>();
  let baseUrl = '';

  const queueArn = (name: string) => `arn:aws:sqs:${region}:${accountId}:${name}`;

  const findQueueByUrl = (input: Record<string, unknown>): Queue => {
    const url = optionalString(input, 'QueueUrl');
    if (url === undefined) throw missingParameter('QueueUrl');
    const name = url.split('/').filter(Boolean).pop() ?? '';
    const queue = queues.get(name);
    if (!queue) throw queueDoesNotExist();
    return queue;
  };

  const numeric = (queue: Queue, name: string): number => Number(queue.attributes.get(name));

  const redrivePolicy = (queue: Queue): RedrivePolicy | undefined => {
    const raw = queue.attributes.get('RedrivePolicy');
    return raw ? (JSON.parse(raw) as RedrivePolicy) : undefined;
  };

  const wake = (queue: Queue) => {
    for (const waiter of queue.waiters) waiter();
    queue.waiters.clear();
  };

  const expire = (queue: Queue, now: number) => {
    const retentionMs = numeric(queue, 'MessageRetentionPeriod') * 1000;
    for (const [id, message] of queue.messages) {
      if (message.sentAt + retentionMs <= now) queue.messages.delete(id);
    }
  };

  const validateAttributes = (raw: Record<string, unknown>): Map<string, string> => {
    const result = new Map<string, string>();
    for (const [name, value] of Object.entries(raw)) {
      if (typeof value !== 'string') throw invalidParameter(`Attribute ${name} must be a string.`);
      if (name === 'FifoQueue' || name === 'ContentBasedDeduplication') {
        throw new AwsServiceError('InvalidAttributeName', `Unknown Attribute ${name}.`, {
          queryCode: 'InvalidAttributeName',
        });
      }
      const range = NUMERIC_ATTRIBUTES[name];
      if (range) {
        const number = Number(value);
        if (!/^\d+$/.test(value) || number < range[0] || number > range[1]) {
          throw new AwsServiceError(
            'InvalidAttributeValue',
            `Invalid value for the parameter ${name}.`,
            {
              queryCode: 'InvalidAttributeValue',
            },
          );
        }
        result.set(name, String(number));
      } else if (name === 'RedrivePolicy') {
        result.set(name, validateRedrivePolicy(value));
      } else if (OTHER_SETTABLE.has(name)) {
        result.set(name, value);
      } else {
        throw new AwsServiceError('InvalidAttributeName', `Unknown Attribute ${name}.`, {
          queryCode: 'InvalidAttributeName',
        });
      }
    }
    return result;
  };

  const validateRedrivePolicy = (value: string): string => {
    const reject = (reason: string) =>
      invalidParameter(`Value ${value} for parameter RedrivePolicy is invalid. Reason: ${reason}`);
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(value) as Record<string, unknown>;
    } catch {
      throw reject('Redrive policy is not a valid JSON map.');
    }
    const target = parsed.deadLetterTargetArn;
    const max = Number(parsed.maxReceiveCount);
    if (typeof target !== 'string')
      throw reject('Redrive policy does not contain deadLetterTargetArn.');
    if (!Number.isInteger(max) || max < 1 || max > 1000) {
      throw reject('Invalid value for maxReceiveCount: must be an integer from 1 to 1000.');
    }
    const dlqName = target.split(':').pop() ?? '';
    if (target !== queueArn(dlqName) || !queues.has(dlqName)) {
      throw reject('Dead letter target does not exist.');
    }
    return JSON.stringify({ deadLetterTargetArn: target, maxReceiveCount: max });
  };

  const createQueue = (input: Record<string, unknown>) => {
    const name = optionalString(input, 'QueueName');
    if (name === undefined) throw missingParameter('QueueName');
    if (!QUEUE_NAME.test(name)) {
      throw invalidParameter(
        `Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length`,
      );
    }
    const requested = validateAttributes(
      (optionalObject(input, 'Attributes') ?? {}) as Record<string, unknown>,
    );
    const existing = queues.get(name);
    if (existing) {
      for (const [key, value] of requested) {
        if (existing.attributes.get(key) !== value) {
          throw new AwsServiceError(
            'QueueNameExists',
            `A queue already exists with the same name and a different value for attribute ${key}`,
            { queryCode: 'QueueAlreadyExists' },
          );
        }
      }
      return { QueueUrl: existing.url };
    }
    const attributes = new Map<string, string>();
    for (const [key, [, , fallback]] of Object.entries(NUMERIC_ATTRIBUTES)) {
      attributes.set(key, String(fallback));
    }
    attributes.set('SqsManagedSseEnabled', 'true');
    for (const [key, value] of requested) attributes.set(key, value);
    const now = clock.now();
    const queue: Queue = {
      name,
      url: `${baseUrl}/${accountId}/${name}`,
      arn: queueArn(name),
      attributes,
      createdAt: now,
      lastModifiedAt: now,
      messages: new Map(),
      waiters: new Set(),
    };
    queues.set(name, queue);
    return { QueueUrl: queue.url };
  };

  const counts = (queue: Queue, now: number) => {
    let visible = 0;
    let inFlight = 0;
    let delayed = 0;
    for (const message of queue.messages.values()) {
      if (message.visibleAt <= now) visible += 1;
      else if (message.receiveCount > 0) inFlight += 1;
      else delayed += 1;
    }
    return { visible, inFlight, delayed };
  };

  const getQueueAttributes = (input: Record<string, unknown>) => {
    const queue = findQueueByUrl(input);
    const now = clock.now();
    expire(queue, now);
    const names = (optionalArray(input, 'AttributeNames') ?? []) as string[];
    const all = new Map(queue.attributes);
    const { visible, inFlight, delayed } = counts(queue, now);
    all.set('QueueArn', queue.arn);
    all.set('ApproximateNumberOfMessages', String(visible));
    all.set('ApproximateNumberOfMessagesNotVisible', String(inFlight));
    all.set('ApproximateNumberOfMessagesDelayed', String(delayed));
    all.set('CreatedTimestamp', String(Math.floor(queue.createdAt / 1000)));
    all.set('LastModifiedTimestamp', String(Math.floor(queue.lastModifiedAt / 1000)));
    const wanted = names.includes('All') ? [...all.keys()] : names;
    const Attributes: Record<string, string> = {};
    for (const name of wanted) {
      const value = all.get(name);
      if (
        value === undefined &&
        !READ_ONLY.includes(name) &&
        !(name in NUMERIC_ATTRIBUTES) &&
        !OTHER_SETTABLE.has(name)
      ) {
        throw new AwsServiceError('InvalidAttributeName', `Unknown Attribute ${name}.`, {
          queryCode: 'InvalidAttributeName',
        });
      }
      if (value !== undefined) Attributes[name] = value;
    }
    return Object.keys(Attributes).length > 0 ? { Attributes } : {};
  };

  const readMessageAttributes = (
    raw: Record<string, unknown> | undefined,
  ): Record<string, MessageAttributeValue> | undefined => {
    if (!raw || Object.keys(raw).length === 0) return undefined;
    const result: Record<string, MessageAttributeValue> = {};
    for (const [name, value] of Object.entries(raw)) {
      const attribute = value as Partial<MessageAttributeValue> | null;
      if (!attribute || typeof attribute.DataType !== 'string') {
        throw invalidParameter(
          `The message attribute '${name}' must contain a non-empty attribute type.`,
        );
      }
      if (attribute.StringValue === undefined && attribute.BinaryValue === undefined) {
        throw invalidParameter(
          `The message attribute '${name}' must contain a non-empty message attribute value.`,
        );
      }
      result[name] = {
        DataType: attribute.DataType,
        ...(attribute.StringValue !== undefined ? { StringValue: attribute.StringValue } : {}),
        ...(attribute.BinaryValue !== undefined ? { BinaryValue: attribute.BinaryValue } : {}),
      };
    }
    return result;
  };

  const enqueue = (queue: Queue, entry: Record<string, unknown>) => {
    const body = optionalString(entry, 'MessageBody');
    if (body === undefined || body.length === 0) throw missingParameter('MessageBody');
    const delay = optionalNumber(entry, 'DelaySeconds') ?? numeric(queue, 'DelaySeconds');
    if (!Number.isInteger(delay) || delay < 0 || delay > 900) {
      throw invalidParameter(
        `Value ${delay} for parameter DelaySeconds is invalid. Reason: must be between 0 and 900, if provided.`,
      );
    }
    const messageAttributes = readMessageAttributes(optionalObject(entry, 'MessageAttributes'));
    const maxSize = numeric(queue, 'MaximumMessageSize');
    if (messageSize(body, messageAttributes) > maxSize) {
      throw invalidParameter(
        `One or more parameters are invalid. Reason: Message must be shorter than ${maxSize} bytes.`,
      );
    }
    const now = clock.now();
    const message: StoredMessage = {
      id: randomUUID(),
      body,
      md5OfBody: md5Hex(body),
      sentAt: now,
      visibleAt: now + delay * 1000,
      receiveCount: 0,
    };
    if (messageAttributes) {
      message.messageAttributes = messageAttributes;
      message.md5OfMessageAttributes = md5OfMessageAttributes(messageAttributes);
    }
    queue.messages.set(message.id, message);
    wake(queue);
    return {
      MessageId: message.id,
      MD5OfMessageBody: message.md5OfBody,
      ...(message.md5OfMessageAttributes
        ? { MD5OfMessageAttributes: message.md5OfMessageAttributes }
        : {}),
    };
  };

  const checkBatch = (entries: unknown[] | undefined, name: string): Record<string, unknown>[] => {
    if (!entries || entries.length === 0) {
      throw new AwsServiceError(
        'EmptyBatchRequest',
        `There should be at least one ${name} in the request.`,
        {
          queryCode: 'AWS.SimpleQueueService.EmptyBatchRequest',
        },
      );
    }
    if (entries.length > 10) {
      throw new AwsServiceError(
        'TooManyEntriesInBatchRequest',
        `Maximum number of entries per request are 10. You have sent ${entries.length}.`,
        { queryCode: 'AWS.SimpleQueueService.TooManyEntriesInBatchRequest' },
      );
    }
    const ids = new Set<string>();
    for (const entry of entries as Record<string, unknown>[]) {
      const id = optionalString(entry, 'Id');
      if (id === undefined || !/^[A-Za-z0-9_-]{1,80}$/.test(id)) {
        throw new AwsServiceError(
          'InvalidBatchEntryId',
          'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.',
          { queryCode: 'AWS.SimpleQueueService.InvalidBatchEntryId' },
        );
      }
      if (ids.has(id)) {
        throw new AwsServiceError('BatchEntryIdsNotDistinct', `Id ${id} repeated.`, {
          queryCode: 'AWS.SimpleQueueService.BatchEntryIdsNotDistinct',
        });
      }
      ids.add(id);
    }
    return entries as Record<string, unknown>[];
  };

  /** The sum of a batch's bodies and attributes may not exceed the one-message limit. */
  const checkBatchSize = (entries: Record<string, unknown>[]): void => {
    let total = 0;
    for (const entry of entries) {
      const body = typeof entry.MessageBody === 'string' ? entry.MessageBody : '';
      const attributes = entry.MessageAttributes as
        Record<string, MessageAttributeValue> | undefined;
      total += messageSize(body, attributes && typeof attributes === 'object' ? attributes : {});
    }
    if (total > MAX_MESSAGE_BYTES) {
      throw new AwsServiceError(
        'BatchRequestTooLong',
        `Batch requests cannot be longer than ${MAX_MESSAGE_BYTES} bytes. You have sent ${total} bytes.`,
        { queryCode: 'AWS.SimpleQueueService.BatchRequestTooLong' },
      );
    }
  };

  const batchFailure = (id: string, error: unknown) => {
    const known = error instanceof AwsServiceError ? error : undefined;
    return {
      Id: id,
      SenderFault: known ? known.statusCode < 500 : false,
      Code: known?.queryCode ?? known?.type ?? 'InternalError',
      Message: known?.message ?? 'Internal error',
    };
  };

  /** Moves a message that was received too often to the dead-letter queue. */
  const moveToDeadLetterQueue = (
    queue: Queue,
    message: StoredMessage,
    policy: RedrivePolicy,
  ): boolean => {
    const dlq = queues.get(policy.deadLetterTargetArn.split(':').pop() ?? '');
    if (!dlq) return false;
    // The copy must fit the dead-letter queue's own limit, attributes included; one that does
    // not stays where it is (delivered again) rather than being lost.
    const size = messageSize(message.body, message.messageAttributes);
    if (size > numeric(dlq, 'MaximumMessageSize')) return false;
    queue.messages.delete(message.id);
    dlq.messages.set(message.id, {
      ...message,
      visibleAt: clock.now(),
      receiptNonce: undefined,
      deadLetterSourceArn: queue.arn,
    });
    wake(dlq);
    return true;
  };

  const takeVisible = (queue: Queue, max: number, visibilityMs: number) => {
    const now = clock.now();
    expire(queue, now);
    const policy = redrivePolicy(queue);
    const taken: StoredMessage[] = [];
    for (const message of [...queue.messages.values()]) {
      if (taken.length >= max) break;
      if (message.visibleAt > now) continue;
      if (policy && message.receiveCount >= policy.maxReceiveCount) {
        if (moveToDeadLetterQueue(queue, message, policy)) continue;
      }
      message.receiveCount += 1;
      message.firstReceiveAt ??= now;
      message.visibleAt = now + visibilityMs;
      message.receiptNonce = randomUUID();
      taken.push(message);
    }
    return taken;
  };

  const nextVisibleAt = (queue: Queue): number | undefined => {
    let next: number | undefined;
    for (const message of queue.messages.values()) {
      if (next === undefined || message.visibleAt < next) next = message.visibleAt;
    }
    return next;
  };

  const renderMessage = (
    queue: Queue,
    message: StoredMessage,
    systemNames: string[],
    attributeNames: string[],
  ) => {
    const system: Record<string, string> = {
      ApproximateReceiveCount: String(message.receiveCount),
      SentTimestamp: String(message.sentAt),
      ApproximateFirstReceiveTimestamp: String(message.firstReceiveAt ?? message.sentAt),
      SenderId: accountId,
    };
    if (message.deadLetterSourceArn) system.DeadLetterQueueSourceArn = message.deadLetterSourceArn;
    const wantsAll = systemNames.includes('All');
    const Attributes: Record<string, string> = {};
    for (const [name, value] of Object.entries(system)) {
      if (wantsAll || systemNames.includes(name)) Attributes[name] = value;
    }
    const out: Record<string, unknown> = {
      MessageId: message.id,
      ReceiptHandle: encodeReceipt({
        queue: queue.name,
        messageId: message.id,
        nonce: message.receiptNonce!,
      }),
      MD5OfBody: message.md5OfBody,
      Body: message.body,
    };
    if (Object.keys(Attributes).length > 0) out.Attributes = Attributes;
    if (message.messageAttributes && attributeNames.length > 0) {
      const wantsAllAttributes = attributeNames.includes('All') || attributeNames.includes('.*');
      const selected: Record<string, MessageAttributeValue> = {};
      for (const [name, value] of Object.entries(message.messageAttributes)) {
        const prefixMatch = attributeNames.some(
          (n) => n.endsWith('.*') && name.startsWith(n.slice(0, -1)),
        );
        if (wantsAllAttributes || attributeNames.includes(name) || prefixMatch)
          selected[name] = value;
      }
      if (Object.keys(selected).length > 0) {
        out.MessageAttributes = selected;
        out.MD5OfMessageAttributes = md5OfMessageAttributes(selected);
      }
    }
    return out;
  };

  const receiveMessage = async (input: Record<string, unknown>, ctx: AwsRequestContext) => {
    const queue = findQueueByUrl(input);
    const max = optionalNumber(input, 'MaxNumberOfMessages') ?? 1;
    if (!Number.isInteger(max) || max < 1 || max > 10) {
      throw invalidParameter(
        `Value ${max} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.`,
      );
    }
    const wait =
      optionalNumber(input, 'WaitTimeSeconds') ?? numeric(queue, 'ReceiveMessageWaitTimeSeconds');
    if (!Number.isInteger(wait) || wait < 0 || wait > 20) {
      throw invalidParameter(
        `Value ${wait} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.`,
      );
    }
    const visibility =
      optionalNumber(input, 'VisibilityTimeout') ?? numeric(queue, 'VisibilityTimeout');
    if (!Number.isInteger(visibility) || visibility < 0 || visibility > 43_200) {
      throw invalidParameter(
        `Value ${visibility} for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided.`,
      );
    }
    const systemNames = [
      ...((optionalArray(input, 'MessageSystemAttributeNames') ?? []) as string[]),
      ...((optionalArray(input, 'AttributeNames') ?? []) as string[]),
    ];
    const attributeNames = (optionalArray(input, 'MessageAttributeNames') ?? []) as string[];
    const deadline = clock.now() + wait * 1000;
    for (;;) {
      const taken = takeVisible(queue, max, visibility * 1000);
      if (taken.length > 0) {
        return { Messages: taken.map((m) => renderMessage(queue, m, systemNames, attributeNames)) };
      }
      const now = clock.now();
      if (now >= deadline || ctx.signal.aborted || !queues.has(queue.name)) return {};
      // Sleep until the deadline, the next message becoming visible, or a send wakes us.
      const next = nextVisibleAt(queue);
      const until = next !== undefined && next > now ? Math.min(next, deadline) : deadline;
      const woken = new AbortController();
      const waiter = () => woken.abort();
      queue.waiters.add(waiter);
      try {
        await clock.sleep(until - now, AbortSignal.any([woken.signal, ctx.signal]));
      } catch {
        // woken by a send, or the client went away: loop and look again
      } finally {
        queue.waiters.delete(waiter);
      }
    }
  };

  /** The message a receipt handle refers to, if the handle is the message's latest. */
  const resolveReceipt = (queue: Queue, handle: string | undefined) => {
    if (handle === undefined) throw missingParameter('ReceiptHandle');
    const receipt = decodeReceipt(handle);
    if (!receipt || receipt.queue !== queue.name) throw receiptHandleInvalid(handle);
    const message = queue.messages.get(receipt.messageId);
    return { message, current: message !== undefined && message.receiptNonce === receipt.nonce };
  };

  // DeleteMessage with a handle whose message is gone, or that an newer receive superseded,
  // succeeds without deleting anything (SQS: "the request succeeds, but the message might not
  // be deleted").
  const deleteOne = (queue: Queue, handle: string | undefined) => {
    const { message, current } = resolveReceipt(queue, handle);
    if (message && current) queue.messages.delete(message.id);
  };

  const changeVisibility = (
    queue: Queue,
    handle: string | undefined,
    seconds: number | undefined,
  ) => {
    if (seconds === undefined) throw missingParameter('VisibilityTimeout');
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > 43_200) {
      throw invalidParameter(
        `Value ${seconds} for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided.`,
      );
    }
    const { message, current } = resolveReceipt(queue, handle);
    if (!message || !current) {
      throw invalidParameter(
        `Value ${handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.`,
      );
    }
    const now = clock.now();
    if (message.visibleAt <= now) {
      throw new AwsServiceError('MessageNotInflight', 'The message referred to is not in flight.', {
        queryCode: 'AWS.SimpleQueueService.MessageNotInflight',
      });
    }
    message.visibleAt = now + seconds * 1000;
    if (seconds === 0) wake(queue);
  };

  const operations = {
    CreateQueue: createQueue,
    GetQueueUrl: (input: Record<string, unknown>) => {
      const name = optionalString(input, 'QueueName');
      if (name === undefined) throw missingParameter('QueueName');
      const queue = queues.get(name);
      if (!queue) throw queueDoesNotExist();
      return { QueueUrl: queue.url };
    },
    ListQueues: (input: Record<string, unknown>) => {
      const prefix = optionalString(input, 'QueueNamePrefix') ?? '';
      const urls = [...queues.values()].filter((q) => q.name.startsWith(prefix)).map((q) => q.url);
      return urls.length > 0 ? { QueueUrls: urls } : {};
    },
    DeleteQueue: (input: Record<string, unknown>) => {
      const queue = findQueueByUrl(input);
      queues.delete(queue.name);
      wake(queue);
      return {};
    },
    GetQueueAttributes: getQueueAttributes,
    SetQueueAttributes: (input: Record<string, unknown>) => {
      const queue = findQueueByUrl(input);
      const attributes = validateAttributes(
        (optionalObject(input, 'Attributes') ?? {}) as Record<string, unknown>,
      );
      for (const [key, value] of attributes) queue.attributes.set(key, value);
      queue.lastModifiedAt = clock.now();
      return {};
    },
    SendMessage: (input: Record<string, unknown>) => enqueue(findQueueByUrl(input), input),
    SendMessageBatch: (input: Record<string, unknown>) => {
      const queue = findQueueByUrl(input);
      const entries = checkBatch(optionalArray(input, 'Entries'), 'SendMessageBatchRequestEntry');
      checkBatchSize(entries);
      const Successful: unknown[] = [];
      const Failed: unknown[] = [];
      for (const entry of entries) {
        const id = entry.Id as string;
        try {
          Successful.push({ Id: id, ...enqueue(queue, entry) });
        } catch (error) {
          Failed.push(batchFailure(id, error));
        }
      }
      return { Successful, Failed };
    },
    ReceiveMessage: receiveMessage,
    DeleteMessage: (input: Record<string, unknown>) => {
      deleteOne(findQueueByUrl(input), optionalString(input, 'ReceiptHandle'));
      return {};
    },
    DeleteMessageBatch: (input: Record<string, unknown>) => {
      const queue = findQueueByUrl(input);
      const entries = checkBatch(optionalArray(input, 'Entries'), 'DeleteMessageBatchRequestEntry');
      const Successful: unknown[] = [];
      const Failed: unknown[] = [];
      for (const entry of entries) {
        const id = entry.Id as string;
        try {
          deleteOne(queue, optionalString(entry, 'ReceiptHandle'));
          Successful.push({ Id: id });
        } catch (error) {
          Failed.push(batchFailure(id, error));
        }
      }
      return { Successful, Failed };
    },
    ChangeMessageVisibility: (input: Record<string, unknown>) => {
      changeVisibility(
        findQueueByUrl(input),
        optionalString(input, 'ReceiptHandle'),
        optionalNumber(input, 'VisibilityTimeout'),
      );
      return {};
    },
    PurgeQueue: (input: Record<string, unknown>) => {
      const queue = findQueueByUrl(input);
      const now = clock.now();
      if (queue.lastPurgeAt !== undefined && now - queue.lastPurgeAt < 60_000) {
        throw new AwsServiceError(
          'PurgeQueueInProgress',
          `Only one PurgeQueue operation on ${queue.name} is allowed every 60 seconds.`,
          { statusCode: 403, queryCode: 'AWS.SimpleQueueService.PurgeQueueInProgress' },
        );
      }
      queue.lastPurgeAt = now;
      queue.messages.clear();
      return {};
    },
  };

  const server = await startAwsJsonServer({
    host: options.host,
    port: options.port,
    jsonVersion: '1.0',
    targetPrefix: 'AmazonSQS',
    typeNamespace: 'com.amazonaws.sqs',
    queryCompatible: true,
    operations,
  });
  baseUrl = server.url;

  return {
    url: server.url,
    region,
    accountId,
    queues: () => {
      const now = clock.now();
      return [...queues.values()].map((queue) => ({
        name: queue.name,
        url: queue.url,
        arn: queue.arn,
        ...counts(queue, now),
      }));
    },
    close: async () => {
      for (const queue of queues.values()) wake(queue);
      await server.close();
    },
  };
}
