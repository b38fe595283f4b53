// The narrow ECS interface the controller needs; the SDK implementation and the local cloud
// both satisfy it.

import type { CapacityProviderStrategyItem } from '../api/types.ts';

export interface RunnerLaunch {
  cluster: string;
  taskDefinition: string;
  containerName: string;
  /** awsvpc (default): the task gets its own ENI in these subnets. bridge: no network configuration. */
  networkMode?: 'awsvpc' | 'bridge';
  subnets: string[];
  securityGroups: string[];
  assignPublicIp: boolean;
  /**
   * Absent: launch type FARGATE. Present: passed to RunTask as written (base and weight); ECS
   * picks the provider (FARGATE, FARGATE_SPOT or Auto Scaling group providers of ECS on EC2).
   */
  capacityProviderStrategy?: CapacityProviderStrategyItem[];
  /** Task-level overrides (sizes). */
  cpu?: number;
  memory?: number;
  /** Fargate ephemeral storage override in GiB (21-200). */
  ephemeralStorageGiB?: number;
  /** Container environment overrides. Carries the JIT config: never logged. */
  environment: Record<string, string>;
  /** RunTask idempotency token (<= 64 ASCII characters), derived from the runner name. */
  clientToken: string;
  startedBy: string;
  group?: string;
  tags: Record<string, string>;
}

/** ECS's task lifecycle in order (API reference, task lifecycle): a task only moves forward. */
export const TASK_STATUSES = [
  'PROVISIONING',
  'PENDING',
  'ACTIVATING',
  'RUNNING',
  'DEACTIVATING',
  'STOPPING',
  'DEPROVISIONING',
  'STOPPED',
] as const;

export type TaskStatus = (typeof TASK_STATUSES)[number];

export interface RunnerTask {
  arn: string;
  cluster: string;
  lastStatus: TaskStatus;
  desiredStatus: 'RUNNING' | 'STOPPED' | string;
  startedBy?: string;
  group?: string;
  capacityProvider?: string;
  tags: Record<string, string>;
  stopCode?: string;
  stoppedReason?: string;
  exitCode?: number;
  createdAt?: number;
  startedAt?: number;
  stoppedAt?: number;
  /** When the image pull began: the start of Fargate billing. */
  pullStartedAt?: number;
  /** Task size as ECS reports it (cpu units, MiB, GiB). */
  cpu?: number;
  memory?: number;
  ephemeralStorageGiB?: number;
  /** From the task's `ecs.cpu-architecture` attribute. */
  cpuArchitecture?: 'X86_64' | 'ARM64';
}

/**
 * Contract:
 * - runTask is idempotent per clientToken: the same token returns the task already started.
 *   It throws CapacityUnavailableError (FARGATE_SPOT shortage, or no container instance of an
 *   EC2 capacity provider with room: RESOURCE:CPU / RESOURCE:MEMORY), ThrottledError,
 *   TaskDefinitionNotFoundError, IdempotencyConflictError or LaunchFailedError.
 * - describeTasks batches by 100 and omits tasks ECS no longer knows (stopped > ~1 h).
 * - stopTask resolves for tasks already stopped or gone.
 */
export interface EcsProvider {
  runTask(launch: RunnerLaunch): Promise<RunnerTask>;
  describeTasks(cluster: string, taskArns: string[]): Promise<RunnerTask[]>;
  /**
   * ARNs of tasks with this startedBy and desired status (RUNNING by default). ECS allows
   * startedBy only as the sole filter: STOPPED ones come from the cluster's stopped listing,
   * kept by their startedBy (described once per task, then remembered).
   */
  listTasks(
    cluster: string,
    filter: { startedBy: string; desiredStatus?: 'RUNNING' | 'STOPPED' },
  ): Promise<string[]>;
  stopTask(cluster: string, taskArn: string, reason: string): Promise<void>;
}
