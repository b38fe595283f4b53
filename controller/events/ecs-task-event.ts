// ECS Task State Change events, as EventBridge delivers them (source `aws.ecs`, detail-type
// `ECS Task State Change`, detail = the task much as DescribeTasks shows it, timestamps as ISO
// strings). ECS may deliver an event more than once and out of order: `version` grows with every
// change of the task, so a reader keeps the highest version it saw. Only what the controller
// uses is kept: overrides (which carry the container environment) never leave this file.

import { InvalidEventError } from './errors.ts';

export const ECS_EVENT_SOURCE = 'aws.ecs';
export const ECS_TASK_STATE_CHANGE = 'ECS Task State Change';

export interface EcsTaskEvent {
  taskArn: string;
  clusterArn: string;
  group?: string;
  startedBy?: string;
  lastStatus: string;
  desiredStatus: string;
  stopCode?: string;
  stoppedReason?: string;
  capacityProviderName?: string;
  launchType?: string;
  /** Grows with every change of the task; a lower one than already seen is stale. */
  version: number;
  updatedAt?: string;
  startedAt?: string;
  stoppedAt?: string;
  cpu?: string;
  memory?: string;
  /** Only when the event carries tags (ECS documents none in task events; the reader must not rely on them). */
  tags?: Record<string, string>;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing (missing)';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 60))}`;
  return `${typeof value} ${JSON.stringify(value)?.slice(0, 60)}`;
}

function requiredString(detail: Json, key: string): string {
  const value = detail[key];
  if (typeof value !== 'string' || value === '') {
    throw new InvalidEventError(
      `detail.${key}: expected a non-empty string, got ${describe(value)}`,
      `detail.${key}`,
    );
  }
  return value;
}

function optionalString(detail: Json, key: string): string | undefined {
  const value = detail[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw new InvalidEventError(
      `detail.${key}: expected a string, got ${describe(value)}`,
      `detail.${key}`,
    );
  }
  return value;
}

function optionalTimestamp(detail: Json, key: string): string | undefined {
  const value = optionalString(detail, key);
  if (value !== undefined && Number.isNaN(Date.parse(value))) {
    throw new InvalidEventError(
      `detail.${key}: expected an ISO 8601 timestamp, got ${describe(value)}`,
      `detail.${key}`,
    );
  }
  return value;
}

function readTags(value: unknown): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) {
    throw new InvalidEventError(
      `detail.tags: expected a list of key/value pairs, got ${describe(value)}`,
      'detail.tags',
    );
  }
  const tags: Record<string, string> = {};
  for (const [i, item] of value.entries()) {
    const tag = item as { key?: unknown; value?: unknown } | null;
    if (!isObject(tag) || typeof tag.key !== 'string' || typeof (tag.value ?? '') !== 'string') {
      throw new InvalidEventError(
        `detail.tags[${i}]: expected {key, value} strings, got ${describe(item)}`,
        `detail.tags[${i}]`,
      );
    }
    tags[tag.key] = (tag.value as string | undefined) ?? '';
  }
  return tags;
}

/** True when the envelope claims to be an ECS Task State Change (whatever its detail holds). */
export function isEcsTaskStateChange(body: unknown): boolean {
  return (
    isObject(body) &&
    body.source === ECS_EVENT_SOURCE &&
    body['detail-type'] === ECS_TASK_STATE_CHANGE
  );
}

/**
 * The task event in an EventBridge envelope; undefined when the envelope is not an ECS Task State
 * Change. Throws InvalidEventError naming the field when it is one but its detail is malformed.
 */
export function normaliseEcsTaskStateChange(body: unknown): EcsTaskEvent | undefined {
  if (!isEcsTaskStateChange(body)) return undefined;
  const detail = (body as Json).detail;
  if (!isObject(detail)) {
    throw new InvalidEventError(`detail: expected an object, got ${describe(detail)}`, 'detail');
  }
  const version = detail.version;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
    throw new InvalidEventError(
      `detail.version: expected a non-negative integer, got ${describe(version)}`,
      'detail.version',
    );
  }
  const event: EcsTaskEvent = {
    taskArn: requiredString(detail, 'taskArn'),
    clusterArn: requiredString(detail, 'clusterArn'),
    lastStatus: requiredString(detail, 'lastStatus'),
    desiredStatus: requiredString(detail, 'desiredStatus'),
    version,
  };
  for (const key of [
    'group',
    'startedBy',
    'stopCode',
    'stoppedReason',
    'capacityProviderName',
    'launchType',
    'cpu',
    'memory',
  ] as const) {
    const value = optionalString(detail, key);
    if (value !== undefined) event[key] = value;
  }
  for (const key of ['updatedAt', 'startedAt', 'stoppedAt'] as const) {
    const value = optionalTimestamp(detail, key);
    if (value !== undefined) event[key] = value;
  }
  const tags = readTags(detail.tags);
  if (tags) event.tags = tags;
  return event;
}
