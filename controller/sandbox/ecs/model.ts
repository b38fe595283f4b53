// The ECS simulator's model: clusters, task definitions and tasks as the simulator keeps them,
// and the readers that turn request members into them (bad input -> ECS's validation errors).

import { TASK_STATUSES, type TaskStatus } from '../../ecs/types.ts';
import { AwsServiceError } from '../aws-json.ts';

export type { TaskStatus };

/** The lifecycle in order: a task only moves forward through it. */
export const STATUS_ORDER: readonly TaskStatus[] = TASK_STATUSES;

export interface KeyValue {
  name: string;
  value: string;
}

export interface ContainerDefinition {
  name: string;
  image: string;
  essential: boolean;
  environment: KeyValue[];
  stopTimeout?: number;
  privileged: boolean;
  raw: Record<string, unknown>;
}

export interface TaskDefinition {
  family: string;
  revision: number;
  arn: string;
  cpu?: number;
  memory?: number;
  networkMode: string;
  requiresCompatibilities: string[];
  containers: ContainerDefinition[];
  /** runtimePlatform.cpuArchitecture; X86_64 when absent. */
  cpuArchitecture: 'X86_64' | 'ARM64';
  /** Some container runs privileged (a Docker daemon): ECS on EC2 only. */
  privileged: boolean;
  registeredAt: number;
  tags: { key: string; value: string }[];
  output: Record<string, unknown>;
}

export interface Cluster {
  name: string;
  arn: string;
  capacityProviders: string[];
  defaultStrategy: CapacityProviderItem[];
  tags: { key: string; value: string }[];
}

export interface StopRequest {
  stopCode: 'UserInitiated' | 'SpotInterruption';
  reason: string;
}

/** A task as the simulator keeps it (internal; see task-view.ts for what clients see). */
export interface Task {
  id: string;
  arn: string;
  cluster: Cluster;
  definition: TaskDefinition;
  essential: ContainerDefinition;
  /** FARGATE, FARGATE_SPOT or an Auto Scaling group capacity provider. */
  capacityProvider: string;
  launchType: 'FARGATE' | 'EC2';
  viaStrategy: boolean;
  /** ECS on EC2: the instance the task was placed on (absent while it waits for capacity). */
  containerInstanceArn?: string;
  ec2InstanceId?: string;
  /** Set while the task waits in PROVISIONING for instance capacity; called once placed. */
  placed?: () => void;
  ephemeralStorageGiB?: number;
  cpu: number;
  memory: number;
  overrides: Record<string, unknown>;
  environment: Record<string, string>;
  startedBy?: string;
  group: string;
  tags: { key: string; value: string }[];
  subnet: string;
  lastStatus: TaskStatus;
  desiredStatus: 'RUNNING' | 'STOPPED';
  version: number;
  createdAt: number;
  pullStartedAt?: number;
  pullStoppedAt?: number;
  connectivityAt?: number;
  startedAt?: number;
  stoppingAt?: number;
  executionStoppedAt?: number;
  stoppedAt?: number;
  stopCode?: string;
  stoppedReason?: string;
  containerStatus: string;
  containerReason?: string;
  exitCode?: number;
  stopRequest?: StopRequest;
  stopController: AbortController;
  willFailToStart: boolean;
  watchers: Set<() => void>;
}

/** ECS's error shapes, as the SDK raises them. */
export function clientError(message: string): AwsServiceError {
  return new AwsServiceError('ClientException', message);
}
export function invalidParameter(message: string): AwsServiceError {
  return new AwsServiceError('InvalidParameterException', message);
}
export function throttled(): AwsServiceError {
  return new AwsServiceError('ThrottlingException', 'Rate exceeded');
}

export function readKeyValues(list: unknown, field: string): KeyValue[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw invalidParameter(`${field} must be a list of name/value pairs.`);
  return list.map((item: unknown) => {
    const entry = item as { name?: unknown; value?: unknown } | null;
    if (!entry || typeof entry.name !== 'string' || typeof (entry.value ?? '') !== 'string') {
      throw invalidParameter(`${field} entries must have a string name and value.`);
    }
    return { name: entry.name, value: (entry.value as string | undefined) ?? '' };
  });
}

/** The SDK model's tag pattern: letters, numbers and spaces (Unicode), and + - = . _ : / @. */
const TAG_CHARACTERS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

export function readTags(list: unknown): { key: string; value: string }[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw invalidParameter('tags must be a list.');
  if (list.length > 50) throw invalidParameter('The number of tags must be at most 50.');
  return list.map((item: unknown) => {
    const tag = item as { key?: unknown; value?: unknown } | null;
    if (!tag || typeof tag.key !== 'string' || tag.key.length < 1 || [...tag.key].length > 128) {
      throw invalidParameter('Tag keys must be between 1 and 128 characters.');
    }
    const value = tag.value ?? '';
    if (typeof value !== 'string' || [...value].length > 256) {
      throw invalidParameter('Tag values must be at most 256 characters.');
    }
    if (!TAG_CHARACTERS.test(tag.key) || !TAG_CHARACTERS.test(value)) {
      throw invalidParameter(
        `Tag ${JSON.stringify(tag.key.slice(0, 128))}: keys and values may hold letters, numbers, spaces and + - = . _ : / @ only.`,
      );
    }
    if (tag.key.toLowerCase().startsWith('aws:')) {
      throw invalidParameter('Tag keys cannot start with the reserved prefix aws:.');
    }
    return { key: tag.key, value };
  });
}

/** One item of a capacity provider strategy. */
export interface CapacityProviderItem {
  capacityProvider: string;
  weight?: number;
  base?: number;
}

export function readStrategy(list: unknown[] | undefined): CapacityProviderItem[] | undefined {
  if (list === undefined) return undefined;
  return list.map((item) => {
    const entry = item as { capacityProvider?: unknown; weight?: unknown; base?: unknown };
    if (typeof entry.capacityProvider !== 'string') {
      throw invalidParameter(
        'capacityProvider must be specified in a capacity provider strategy item.',
      );
    }
    const out: CapacityProviderItem = {
      capacityProvider: entry.capacityProvider,
    };
    if (typeof entry.weight === 'number') out.weight = entry.weight;
    if (typeof entry.base === 'number') out.base = entry.base;
    return out;
  });
}

/** What the control API shows of a task. */
export interface SimulatedTask {
  taskArn: string;
  clusterArn: string;
  family: string;
  lastStatus: TaskStatus;
  desiredStatus: 'RUNNING' | 'STOPPED';
  capacityProvider: string;
  launchType?: 'FARGATE' | 'EC2';
  containerInstanceArn?: string;
  startedBy?: string;
  group: string;
  stopCode?: string;
  stoppedReason?: string;
  exitCode?: number;
  /** The container environment (carries the JIT config: never log it). */
  environment: Record<string, string>;
  createdAt: number;
  startedAt?: number;
  stoppedAt?: number;
}
