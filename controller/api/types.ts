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
  /** Fargate ephemeral storage in GiB (21-200), passed as a RunTask override. Fargate pools only. */
  ephemeralStorageGiB?: number;
}

export type FargateCapacityProvider = 'FARGATE' | 'FARGATE_SPOT';
/** FARGATE, FARGATE_SPOT or the name of an Auto Scaling group capacity provider (ECS on EC2). */
export type CapacityProviderName = FargateCapacityProvider | (string & {});

/** `fargate`: Fargate tasks. `ec2`: ECS on EC2, through Auto Scaling group capacity providers. */
export type LaunchPlatform = 'fargate' | 'ec2';

export interface RuntimePlatformSpec {
  cpuArchitecture: 'X86_64' | 'ARM64';
  operatingSystemFamily?: 'LINUX';
}

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
  /** Required with networkMode awsvpc (the default); absent with bridge. */
  subnets?: string[];
  securityGroups?: string[];
  assignPublicIp?: boolean;
  /** Default `fargate`. */
  launch?: LaunchPlatform;
  /** The task definition's network mode. Default awsvpc; bridge on EC2 pools only. */
  networkMode?: 'awsvpc' | 'bridge';
  /** What the task definition runs on; a declaration the pool's labels route by. */
  runtimePlatform?: RuntimePlatformSpec;
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
  /** The runners get a Docker daemon (privileged dind sidecar); EC2 pools only. Default false. */
  docker?: boolean;
  timeouts?: PoolTimeouts;
  /** Repository names or globs (`api-*`, `acme/*`) whose jobs the pool serves. Absent: all of the scope. */
  repositories?: string[];
  /** Serve jobs of public repositories. Default false. */
  allowPublicRepositories?: boolean;
  /** Most runners launched for one repository's queued jobs (running ones count). Absent: no cap. */
  maxRunnersPerRepository?: number;
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
  /** Queued jobs this pool matched best but could not take (paused or full), per receiving pool. */
  spilledTo?: DemandSpill[];
  /** Queued jobs this pool counts because a better match was paused or full. */
  takenOverFrom?: DemandSpill[];
}

export interface DemandSpill {
  pool: string;
  jobs: number;
  /** Why the better pool could not take them: "a at maxRunners 2", "a paused (maxRunners 0)". */
  reason: string;
}
