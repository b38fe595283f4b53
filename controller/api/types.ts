// The RunnerPool resource as admins write it (crds/runnerpool.yaml is the schema that
// validates it) and the status the controller writes back. Pure types: no SDK imports.

export const API_GROUP = 'runnerctl.dev';
export const API_VERSION = 'runnerctl.dev/v1alpha1';
export const POOL_KIND = 'RunnerPool';

/** Where the pool's runners register: one organization, one repository or one enterprise. */
export type GitHubScopeSpec =
  | { scope: 'org'; organization: string; runnerGroup?: string }
  /** Repository runners can only join the Default group (validation enforces it). */
  | { scope: 'repo'; repository: string /* owner/name */; runnerGroup?: string }
  | { scope: 'enterprise'; enterprise: string; runnerGroup?: string };

/** A size a workflow may ask for with `runs-on: [..., <label>]`: a valid Fargate cpu/memory pair. */
export interface PoolSize {
  label: string;
  /** Fargate CPU units (256, 512, 1024, 2048, 4096, 8192, 16384). */
  cpu: number;
  /** MiB. */
  memory: number;
}

export type CapacityProviderName = 'FARGATE' | 'FARGATE_SPOT';

export interface CapacityProviderStrategyItem {
  capacityProvider: CapacityProviderName;
  weight?: number;
  base?: number;
}

export interface EcsPlacementSpec {
  cluster: string;
  /** Family, family:revision or ARN of the runner task definition. */
  taskDefinition: string;
  /** Container in the task definition that runs the GitHub runner. Default `runner`. */
  containerName?: string;
  subnets: string[];
  securityGroups?: string[];
  assignPublicIp?: boolean;
  /** Absent: launch type FARGATE. */
  capacityProviderStrategy?: CapacityProviderStrategyItem[];
  /** When FARGATE_SPOT has no capacity, launch that runner on FARGATE instead. Default true. */
  onDemandFallback?: boolean;
}

export interface PoolTimeouts {
  /** Duration string (`90s`, `5m`, `2h`). Launch to GitHub registration. Default 5m. */
  registration?: string;
  /** How long an idle runner is kept when no job needs it. Default 10m. */
  idle?: string;
  /** A busy runner is given this long before it is considered stuck. Default 6h. */
  maxJobDuration?: string;
}

export interface RunnerPoolSpec {
  github: GitHubScopeSpec;
  /** Labels every runner of the pool carries; `self-hosted` is always added. Non-empty. */
  labels: string[];
  maxRunners: number;
  /** Warm runners kept ready with no job waiting. Default 0. */
  minIdle?: number;
  sizes?: PoolSize[];
  /** Label of the size used when a job names none. Required when `sizes` is set. */
  defaultSize?: string;
  ecs: EcsPlacementSpec;
  timeouts?: PoolTimeouts;
  /** Higher wins when several pools match a job. Default 0. */
  priority?: number;
}

export interface ObjectMeta {
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RunnerPool {
  apiVersion: typeof API_VERSION;
  kind: typeof POOL_KIND;
  metadata: ObjectMeta;
  spec: RunnerPoolSpec;
}

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: 'Ready' | 'Degraded' | string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
}

/** Written by the controller only. */
export interface RunnerPoolStatus {
  observedGeneration: number;
  conditions: Condition[];
  queuedJobs: number;
  launching: number;
  idle: number;
  busy: number;
}
