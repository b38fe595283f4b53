// An ECS (Fargate) simulator speaking AWS JSON 1.1 as @aws-sdk/client-ecs talks to it: clusters,
// task definitions, RunTask with idempotency and faults, the Fargate task lifecycle on the
// injected Clock, and a ContainerRuntime that runs each task's essential container.

import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../util/clock.ts';
import { systemClock } from '../../util/clock.ts';
import {
  AwsServiceError,
  epochSeconds,
  optionalArray,
  optionalNumber,
  optionalObject,
  optionalString,
  seededRandom,
  startAwsJsonServer,
} from '../aws-json.ts';
import { isFargateSize, parseCpu, parseMemory } from './fargate.ts';
import type { ContainerRuntime, RunningContainer } from './runtime.ts';
import { SIGKILL_EXIT_CODE } from './runtime.ts';
import { TokenBucket } from './throttle.ts';

/** Milliseconds of clock time spent in each lifecycle step. */
export interface EcsLatencies {
  /** PROVISIONING: ENI attachment. */
  provisioning: number;
  /** PENDING: image pull. */
  pending: number;
  /** ACTIVATING: container start, registration. */
  activating: number;
  /** DEACTIVATING after the container exited or a stop was requested. */
  deactivating: number;
  /** STOPPING once the container is gone. */
  stopping: number;
  /** DEPROVISIONING: ENI detachment. */
  deprovisioning: number;
  /** Grace between SIGTERM and SIGKILL when the task definition sets no stopTimeout. */
  stopTimeout: number;
}

/** About 50 s from RunTask to RUNNING, as a Fargate task with a 400 MB image takes. */
export const DEFAULT_LATENCIES: EcsLatencies = {
  provisioning: 15_000,
  pending: 30_000,
  activating: 5_000,
  deactivating: 2_000,
  stopping: 3_000,
  deprovisioning: 10_000,
  stopTimeout: 30_000,
};

export interface EcsThrottleConfig {
  enabled: boolean;
  /** RunTask calls: burst and sustained rate per second. */
  runTaskBurst: number;
  runTaskPerSecond: number;
  /** Fargate task launches: burst and sustained rate per second. */
  launchBurst: number;
  launchPerSecond: number;
}

export interface EcsFaults {
  throttle: EcsThrottleConfig;
  /** Probability that a FARGATE_SPOT task is refused for lack of capacity. */
  spotCapacityShortage: number;
  /** Probability that a task fails to start (image pull error). */
  failToStart: number;
  /** Probability that a FARGATE_SPOT task is interrupted after it reached RUNNING. */
  spotInterruption: number;
  /** Clock time between RUNNING and the interruption of an unlucky spot task. */
  spotInterruptionAfterMs: number;
}

export const DEFAULT_FAULTS: EcsFaults = {
  throttle: {
    enabled: true,
    runTaskBurst: 20,
    runTaskPerSecond: 20,
    launchBurst: 100,
    launchPerSecond: 20,
  },
  spotCapacityShortage: 0,
  failToStart: 0,
  spotInterruption: 0,
  spotInterruptionAfterMs: 60_000,
};

export type EcsFaultsInput = Partial<Omit<EcsFaults, 'throttle'>> & {
  throttle?: Partial<EcsThrottleConfig>;
};

export interface EcsSimulatorOptions {
  host?: string;
  port?: number;
  clock?: Clock;
  /** Runs each RUNNING task's essential container. Default: exits 0 at once. */
  runtime?: ContainerRuntime;
  faults?: EcsFaultsInput;
  latencies?: Partial<EcsLatencies>;
  /** Seed of the fault dice. */
  seed?: number;
  region?: string;
  accountId?: string;
}

export const SPOT_CAPACITY_UNAVAILABLE =
  'Capacity is unavailable at this time. Please try again later or in a different availability zone';
export const SPOT_INTERRUPTED_REASON = 'Your Spot Task was interrupted.';
export const ESSENTIAL_CONTAINER_EXITED = 'Essential container in task exited';
export const USER_STOPPED_REASON = 'Task stopped by user';
export const OVERRIDES_LIMIT = 8192;
const STOPPED_TASK_RETENTION_MS = 60 * 60 * 1000;
const CLIENT_TOKEN_RETENTION_MS = 24 * 60 * 60 * 1000;

export type TaskStatus =
  | 'PROVISIONING'
  | 'PENDING'
  | 'ACTIVATING'
  | 'RUNNING'
  | 'DEACTIVATING'
  | 'STOPPING'
  | 'DEPROVISIONING'
  | 'STOPPED';

/** What the control API shows of a task. */
export interface SimulatedTask {
  taskArn: string;
  clusterArn: string;
  family: string;
  lastStatus: TaskStatus;
  desiredStatus: 'RUNNING' | 'STOPPED';
  capacityProvider: 'FARGATE' | 'FARGATE_SPOT';
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

export interface EcsSimulator {
  url: string;
  region: string;
  accountId: string;
  /** Every task ECS still knows (stopped ones for an hour), oldest first. */
  tasks(): SimulatedTask[];
  task(taskArn: string): SimulatedTask | undefined;
  /** Replaces fault settings (merged with the current ones). */
  setFaults(faults: EcsFaultsInput): void;
  faults(): EcsFaults;
  /** Interrupts a FARGATE_SPOT task as Fargate would. False if it is not a live spot task. */
  interruptSpotTask(taskArn: string): boolean;
  /** Resolves when the task reaches `status` (or a later one). */
  waitForTaskStatus(taskArn: string, status: TaskStatus): Promise<SimulatedTask>;
  close(): Promise<void>;
}

const STATUS_ORDER: TaskStatus[] = [
  'PROVISIONING',
  'PENDING',
  'ACTIVATING',
  'RUNNING',
  'DEACTIVATING',
  'STOPPING',
  'DEPROVISIONING',
  'STOPPED',
];

interface KeyValue {
  name: string;
  value: string;
}

interface ContainerDefinition {
  name: string;
  image: string;
  essential: boolean;
  environment: KeyValue[];
  stopTimeout?: number;
  raw: Record<string, unknown>;
}

interface TaskDefinition {
  family: string;
  revision: number;
  arn: string;
  cpu?: number;
  memory?: number;
  networkMode: string;
  requiresCompatibilities: string[];
  containers: ContainerDefinition[];
  registeredAt: number;
  tags: { key: string; value: string }[];
  output: Record<string, unknown>;
}

interface Cluster {
  name: string;
  arn: string;
  capacityProviders: string[];
  defaultStrategy: { capacityProvider: string; weight?: number; base?: number }[];
  tags: { key: string; value: string }[];
}

interface StopRequest {
  stopCode: 'UserInitiated' | 'SpotInterruption';
  reason: string;
}

interface Task {
  id: string;
  arn: string;
  cluster: Cluster;
  definition: TaskDefinition;
  essential: ContainerDefinition;
  capacityProvider: 'FARGATE' | 'FARGATE_SPOT';
  viaStrategy: boolean;
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

interface TokenRecord {
  fingerprint: string;
  taskArns: string[];
  failures: unknown[];
  expiresAt: number;
}

/** Exits 0 at once: the simulator's runtime when none is given. */
const exitAtOnce: ContainerRuntime = { start: () => ({ exited: Promise.resolve(0) }) };

function clientError(message: string): AwsServiceError {
  return new AwsServiceError('ClientException', message);
}
function invalidParameter(message: string): AwsServiceError {
  return new AwsServiceError('InvalidParameterException', message);
}
function throttled(): AwsServiceError {
  return new AwsServiceError('ThrottlingException', 'Rate exceeded');
}

/** JSON with sorted keys, so equal requests fingerprint equally whatever the key order. */
function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function readKeyValues(list: unknown, field: string): KeyValue[] {
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

function readTags(list: unknown): { key: string; value: string }[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw invalidParameter('tags must be a list.');
  if (list.length > 50) throw invalidParameter('The number of tags must be at most 50.');
  return list.map((item: unknown) => {
    const tag = item as { key?: unknown; value?: unknown } | null;
    if (!tag || typeof tag.key !== 'string' || tag.key.length < 1 || tag.key.length > 128) {
      throw invalidParameter('Tag keys must be between 1 and 128 characters.');
    }
    const value = tag.value ?? '';
    if (typeof value !== 'string' || value.length > 256) {
      throw invalidParameter('Tag values must be at most 256 characters.');
    }
    if (tag.key.toLowerCase().startsWith('aws:')) {
      throw invalidParameter('Tag keys cannot start with the reserved prefix aws:.');
    }
    return { key: tag.key, value };
  });
}

export async function startEcsSimulator(options: EcsSimulatorOptions = {}): Promise<EcsSimulator> {
  const clock = options.clock ?? systemClock;
  const runtime = options.runtime ?? exitAtOnce;
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '000000000000';
  const latencies: EcsLatencies = { ...DEFAULT_LATENCIES, ...options.latencies };
  const random = seededRandom(options.seed ?? 1);
  let faults: EcsFaults = mergeFaults(DEFAULT_FAULTS, options.faults);

  const clusters = new Map<string, Cluster>();
  const families = new Map<string, TaskDefinition[]>();
  const tasks = new Map<string, Task>();
  const tokens = new Map<string, TokenRecord>();
  let runTaskBucket = new TokenBucket(
    clock,
    faults.throttle.runTaskBurst,
    faults.throttle.runTaskPerSecond,
  );
  let launchBucket = new TokenBucket(
    clock,
    faults.throttle.launchBurst,
    faults.throttle.launchPerSecond,
  );
  const closing = new AbortController();

  function mergeFaults(base: EcsFaults, input: EcsFaultsInput | undefined): EcsFaults {
    return { ...base, ...input, throttle: { ...base.throttle, ...input?.throttle } };
  }

  const arnPrefix = `arn:aws:ecs:${region}:${accountId}`;

  // ---- clusters ----

  const clusterOutput = (cluster: Cluster) => {
    let running = 0;
    let pending = 0;
    for (const task of tasks.values()) {
      if (task.cluster !== cluster) continue;
      if (task.lastStatus === 'RUNNING') running += 1;
      else if (STATUS_ORDER.indexOf(task.lastStatus) < STATUS_ORDER.indexOf('RUNNING'))
        pending += 1;
    }
    return {
      clusterArn: cluster.arn,
      clusterName: cluster.name,
      status: 'ACTIVE',
      registeredContainerInstancesCount: 0,
      runningTasksCount: running,
      pendingTasksCount: pending,
      activeServicesCount: 0,
      statistics: [],
      tags: cluster.tags,
      settings: [{ name: 'containerInsights', value: 'disabled' }],
      capacityProviders: cluster.capacityProviders,
      defaultCapacityProviderStrategy: cluster.defaultStrategy,
    };
  };

  const resolveCluster = (ref: string | undefined): Cluster => {
    const name = (ref ?? 'default').split('/').pop() ?? '';
    const cluster = clusters.get(name);
    if (!cluster || (ref?.startsWith('arn:') && ref !== cluster.arn)) {
      throw new AwsServiceError('ClusterNotFoundException', 'Cluster not found.');
    }
    return cluster;
  };

  const readCapacityProviders = (input: Record<string, unknown>) => {
    const providers = (optionalArray(input, 'capacityProviders') ?? []) as string[];
    for (const provider of providers) {
      if (provider !== 'FARGATE' && provider !== 'FARGATE_SPOT') {
        throw invalidParameter(
          `The specified capacity provider '${String(provider)}' is not supported by the simulator (FARGATE and FARGATE_SPOT only).`,
        );
      }
    }
    const strategy = readStrategy(optionalArray(input, 'defaultCapacityProviderStrategy'));
    for (const item of strategy ?? []) {
      if (!providers.includes(item.capacityProvider)) {
        throw invalidParameter(
          `The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and try again.`,
        );
      }
    }
    return { providers, strategy: strategy ?? [] };
  };

  const createCluster = (input: Record<string, unknown>) => {
    const name = optionalString(input, 'clusterName') ?? 'default';
    if (!/^[A-Za-z0-9_-]{1,255}$/.test(name)) {
      throw invalidParameter(
        'Cluster name can only contain letters, numbers, hyphens and underscores, up to 255 characters.',
      );
    }
    const existing = clusters.get(name);
    if (existing) return { cluster: clusterOutput(existing) };
    const { providers, strategy } = readCapacityProviders(input);
    const cluster: Cluster = {
      name,
      arn: `${arnPrefix}:cluster/${name}`,
      capacityProviders: providers,
      defaultStrategy: strategy,
      tags: readTags(input.tags),
    };
    clusters.set(name, cluster);
    return { cluster: clusterOutput(cluster) };
  };

  // ---- task definitions ----

  const registerTaskDefinition = (input: Record<string, unknown>) => {
    const family = optionalString(input, 'family');
    if (!family || !/^[A-Za-z0-9_-]{1,255}$/.test(family)) {
      throw clientError(
        'Family contains invalid characters: up to 255 letters, numbers, hyphens and underscores are allowed.',
      );
    }
    const rawContainers = optionalArray(input, 'containerDefinitions') ?? [];
    if (rawContainers.length === 0) throw clientError('Container list cannot be empty.');
    const containers = rawContainers.map((item) => {
      const raw = item as Record<string, unknown>;
      const name = optionalString(raw, 'name');
      const image = optionalString(raw, 'image');
      if (!name) throw clientError('Container.name should not be null or empty.');
      if (!image) throw clientError('Container.image should not be null or empty.');
      const stopTimeout = optionalNumber(raw, 'stopTimeout');
      if (stopTimeout !== undefined && (stopTimeout < 2 || stopTimeout > 120)) {
        throw clientError('Fargate only supports stopTimeout values between 2 and 120 seconds.');
      }
      const definition: ContainerDefinition = {
        name,
        image,
        essential: raw.essential !== false,
        environment: readKeyValues(raw.environment, `containerDefinitions[${name}].environment`),
        raw,
      };
      if (stopTimeout !== undefined) definition.stopTimeout = stopTimeout;
      return definition;
    });
    const names = new Set(containers.map((c) => c.name));
    if (names.size !== containers.length) {
      throw clientError('Container names must be unique within a task definition.');
    }
    if (!containers.some((c) => c.essential)) {
      throw clientError('A task definition must have at least one essential container.');
    }
    const requires = (optionalArray(input, 'requiresCompatibilities') ?? []) as string[];
    const networkMode = optionalString(input, 'networkMode') ?? 'bridge';
    const cpuRaw = optionalString(input, 'cpu');
    const memoryRaw = optionalString(input, 'memory');
    const cpu = cpuRaw === undefined ? undefined : parseCpu(cpuRaw);
    const memory = memoryRaw === undefined ? undefined : parseMemory(memoryRaw);
    if (cpu !== undefined && Number.isNaN(cpu))
      throw clientError(`Invalid 'cpu' setting for task: ${cpuRaw}`);
    if (memory !== undefined && Number.isNaN(memory)) {
      throw clientError(`Invalid 'memory' setting for task: ${memoryRaw}`);
    }
    if (requires.includes('FARGATE')) {
      if (networkMode !== 'awsvpc') {
        throw clientError(`Fargate only supports network mode 'awsvpc'.`);
      }
      if (cpu === undefined)
        throw clientError(`Fargate requires that 'cpu' be defined at the task level.`);
      if (memory === undefined) {
        throw clientError(`Fargate requires that 'memory' be defined at the task level.`);
      }
      if (!isFargateSize(cpu, memory)) {
        throw clientError(
          `No Fargate configuration exists for given values: ${cpu} CPU, ${memory} memory. See the Amazon ECS documentation for the valid values.`,
        );
      }
    }
    const revisions = families.get(family) ?? [];
    const revision = revisions.length + 1;
    const arn = `${arnPrefix}:task-definition/${family}:${revision}`;
    const registeredAt = clock.now();
    const output: Record<string, unknown> = {
      taskDefinitionArn: arn,
      containerDefinitions: containers.map((c) => ({
        ...c.raw,
        essential: c.essential,
        environment: c.environment,
      })),
      family,
      revision,
      status: 'ACTIVE',
      networkMode,
      requiresCompatibilities: requires,
      compatibilities: networkMode === 'awsvpc' ? ['EC2', 'FARGATE'] : ['EC2'],
      registeredAt: epochSeconds(registeredAt),
      registeredBy: `arn:aws:iam::${accountId}:user/sandbox`,
    };
    for (const key of [
      'taskRoleArn',
      'executionRoleArn',
      'volumes',
      'placementConstraints',
      'pidMode',
      'ipcMode',
      'proxyConfiguration',
      'ephemeralStorage',
      'runtimePlatform',
    ]) {
      if (input[key] !== undefined) output[key] = input[key];
    }
    if (cpu !== undefined) output.cpu = String(cpu);
    if (memory !== undefined) output.memory = String(memory);
    const definition: TaskDefinition = {
      family,
      revision,
      arn,
      networkMode,
      requiresCompatibilities: requires,
      containers,
      registeredAt,
      tags: readTags(input.tags),
      output,
    };
    if (cpu !== undefined) definition.cpu = cpu;
    if (memory !== undefined) definition.memory = memory;
    revisions.push(definition);
    families.set(family, revisions);
    return {
      taskDefinition: output,
      ...(definition.tags.length > 0 ? { tags: definition.tags } : {}),
    };
  };

  /** `family`, `family:revision` or the full ARN; the latest ACTIVE revision for a bare family. */
  const findTaskDefinition = (ref: string): TaskDefinition | undefined => {
    const short = ref.startsWith('arn:') ? (ref.split('task-definition/')[1] ?? '') : ref;
    const [family, revisionText] = short.split(':');
    const revisions = families.get(family ?? '');
    if (!revisions) return undefined;
    const definition =
      revisionText === undefined ? revisions.at(-1) : revisions[Number(revisionText) - 1];
    if (!definition) return undefined;
    if (ref.startsWith('arn:') && definition.arn !== ref) return undefined;
    return definition;
  };

  // ---- tasks: lifecycle ----

  const notify = (task: Task) => {
    task.version += 1;
    for (const watcher of task.watchers) watcher();
  };

  const setStatus = (task: Task, status: TaskStatus) => {
    task.lastStatus = status;
    notify(task);
  };

  /** Sleeps on the clock; throws when a stop is requested (zero latency does not yield to it). */
  const pause = async (task: Task, ms: number) => {
    if (task.stopController.signal.aborted) throw task.stopController.signal.reason;
    if (ms <= 0) return;
    await clock.sleep(ms, task.stopController.signal);
  };

  const pauseUninterrupted = async (ms: number) => {
    if (ms <= 0) return;
    await clock.sleep(ms, closing.signal).catch(() => undefined);
  };

  const requestStop = (task: Task, request: StopRequest) => {
    // A task already on its way down keeps its first stop code and reason.
    if (task.desiredStatus === 'STOPPED') return;
    task.stopRequest = request;
    task.desiredStatus = 'STOPPED';
    task.stoppingAt = clock.now();
    task.stopCode = request.stopCode;
    task.stoppedReason = request.reason;
    notify(task);
    task.stopController.abort(request);
  };

  const runContainer = async (task: Task) => {
    const containerAbort = new AbortController();
    let container: RunningContainer;
    try {
      container = runtime.start({
        taskArn: task.arn,
        containerName: task.essential.name,
        environment: { ...task.environment },
        cpu: task.cpu,
        memory: task.memory,
        signal: containerAbort.signal,
      });
    } catch {
      // A runtime that cannot start the process: the container exits at once.
      container = { exited: Promise.resolve(1) };
    }
    const exited = container.exited.then(
      (code) => code,
      () => 1,
    );
    const stopped = new Promise<'stop'>((resolve) => {
      if (task.stopController.signal.aborted) resolve('stop');
      task.stopController.signal.addEventListener('abort', () => resolve('stop'), { once: true });
    });
    const first = await Promise.race([exited, stopped]);
    if (first !== 'stop') return first;
    // Stop requested: SIGTERM now, SIGKILL after the stop timeout.
    task.lastStatus = 'DEACTIVATING';
    notify(task);
    containerAbort.abort('SIGTERM');
    const grace = (task.essential.stopTimeout ?? latencies.stopTimeout / 1000) * 1000;
    const killed = new AbortController();
    const timeout = clock
      .sleep(grace, AbortSignal.any([killed.signal, closing.signal]))
      .then(() => 'kill' as const)
      .catch(() => 'kill' as const);
    const outcome = await Promise.race([exited, timeout]);
    killed.abort();
    if (outcome === 'kill') {
      container.kill?.();
      return SIGKILL_EXIT_CODE;
    }
    return outcome;
  };

  const drive = async (task: Task) => {
    let containerRan = false;
    try {
      await pause(task, latencies.provisioning);
      task.pullStartedAt = clock.now();
      setStatus(task, 'PENDING');
      await pause(task, latencies.pending);
      if (task.willFailToStart) {
        task.pullStoppedAt = clock.now();
        const reason = `CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref ${task.essential.image}: not found`;
        task.desiredStatus = 'STOPPED';
        task.stopCode = 'TaskFailedToStart';
        task.stoppedReason = reason;
        task.containerReason = reason;
        task.containerStatus = 'STOPPED';
        task.stoppingAt = clock.now();
        notify(task);
      } else {
        task.pullStoppedAt = clock.now();
        task.connectivityAt = clock.now();
        setStatus(task, 'ACTIVATING');
        await pause(task, latencies.activating);
        task.startedAt = clock.now();
        task.containerStatus = 'RUNNING';
        setStatus(task, 'RUNNING');
        maybeScheduleSpotInterruption(task);
        containerRan = true;
        const exitCode = await runContainer(task);
        task.exitCode = exitCode;
        task.containerStatus = 'STOPPED';
        task.executionStoppedAt = clock.now();
        if (!task.stopRequest) {
          task.desiredStatus = 'STOPPED';
          task.stoppingAt = clock.now();
          task.stopCode = 'EssentialContainerExited';
          task.stoppedReason = ESSENTIAL_CONTAINER_EXITED;
          task.containerReason = undefined;
        }
        setStatus(task, 'DEACTIVATING');
        await pauseUninterrupted(latencies.deactivating);
      }
    } catch {
      // Stopped before the container ran (StopTask or interruption during start-up).
      if (!containerRan) task.containerStatus = 'STOPPED';
    }
    setStatus(task, 'STOPPING');
    await pauseUninterrupted(latencies.stopping);
    setStatus(task, 'DEPROVISIONING');
    await pauseUninterrupted(latencies.deprovisioning);
    task.stoppedAt = clock.now();
    task.executionStoppedAt ??= task.stoppedAt;
    setStatus(task, 'STOPPED');
  };

  const maybeScheduleSpotInterruption = (task: Task) => {
    if (task.capacityProvider !== 'FARGATE_SPOT') return;
    if (!(random() < faults.spotInterruption)) return;
    void clock
      .sleep(
        faults.spotInterruptionAfterMs,
        AbortSignal.any([task.stopController.signal, closing.signal]),
      )
      .then(() =>
        requestStop(task, { stopCode: 'SpotInterruption', reason: SPOT_INTERRUPTED_REASON }),
      )
      .catch(() => undefined);
  };

  // ---- tasks: views ----

  const prune = () => {
    const now = clock.now();
    for (const [arn, task] of tasks) {
      if (task.stoppedAt !== undefined && now - task.stoppedAt > STOPPED_TASK_RETENTION_MS) {
        tasks.delete(arn);
      }
    }
    for (const [token, record] of tokens) {
      if (record.expiresAt <= now) tokens.delete(token);
    }
  };

  const taskOutput = (task: Task, includeTags: boolean) => {
    const out: Record<string, unknown> = {
      taskArn: task.arn,
      clusterArn: task.cluster.arn,
      taskDefinitionArn: task.definition.arn,
      lastStatus: task.lastStatus,
      desiredStatus: task.desiredStatus,
      cpu: String(task.cpu),
      memory: String(task.memory),
      group: task.group,
      version: task.version,
      createdAt: epochSeconds(task.createdAt),
      availabilityZone: `${region}a`,
      platformVersion: '1.4.0',
      platformFamily: 'Linux',
      enableExecuteCommand: false,
      ephemeralStorage: { sizeInGiB: 20 },
      fargateEphemeralStorage: { sizeInGiB: 20 },
      overrides: task.overrides,
      attributes: [{ name: 'ecs.cpu-architecture', value: 'x86_64' }],
      attachments: [
        {
          id: task.id.slice(0, 8) + '-eni',
          type: 'ElasticNetworkInterface',
          status:
            task.lastStatus === 'STOPPED'
              ? 'DELETED'
              : task.lastStatus === 'PROVISIONING'
                ? 'PRECREATED'
                : 'ATTACHED',
          details: [
            { name: 'subnetId', value: task.subnet },
            { name: 'networkInterfaceId', value: `eni-${task.id.slice(0, 17)}` },
          ],
        },
      ],
      containers: [
        {
          containerArn: `${arnPrefix}:container/${task.cluster.name}/${task.id}/${createHash('sha1')
            .update(task.arn + task.essential.name)
            .digest('hex')
            .slice(0, 32)}`,
          taskArn: task.arn,
          name: task.essential.name,
          image: task.essential.image,
          lastStatus: task.containerStatus,
          networkInterfaces: [],
          cpu: '0',
          ...(task.exitCode !== undefined ? { exitCode: task.exitCode } : {}),
          ...(task.containerReason !== undefined ? { reason: task.containerReason } : {}),
        },
      ],
    };
    if (task.viaStrategy) out.capacityProviderName = task.capacityProvider;
    else out.launchType = 'FARGATE';
    if (task.startedBy !== undefined) out.startedBy = task.startedBy;
    if (task.connectivityAt !== undefined) {
      out.connectivity = 'CONNECTED';
      out.connectivityAt = epochSeconds(task.connectivityAt);
    }
    const times: [string, number | undefined][] = [
      ['pullStartedAt', task.pullStartedAt],
      ['pullStoppedAt', task.pullStoppedAt],
      ['startedAt', task.startedAt],
      ['stoppingAt', task.stoppingAt],
      ['executionStoppedAt', task.executionStoppedAt],
      ['stoppedAt', task.stoppedAt],
    ];
    for (const [key, value] of times) if (value !== undefined) out[key] = epochSeconds(value);
    if (task.stopCode !== undefined) out.stopCode = task.stopCode;
    if (task.stoppedReason !== undefined) out.stoppedReason = task.stoppedReason;
    if (includeTags && task.tags.length > 0) out.tags = task.tags;
    return out;
  };

  const snapshot = (task: Task): SimulatedTask => {
    const out: SimulatedTask = {
      taskArn: task.arn,
      clusterArn: task.cluster.arn,
      family: task.definition.family,
      lastStatus: task.lastStatus,
      desiredStatus: task.desiredStatus,
      capacityProvider: task.capacityProvider,
      group: task.group,
      environment: { ...task.environment },
      createdAt: task.createdAt,
    };
    if (task.startedBy !== undefined) out.startedBy = task.startedBy;
    if (task.stopCode !== undefined) out.stopCode = task.stopCode;
    if (task.stoppedReason !== undefined) out.stoppedReason = task.stoppedReason;
    if (task.exitCode !== undefined) out.exitCode = task.exitCode;
    if (task.startedAt !== undefined) out.startedAt = task.startedAt;
    if (task.stoppedAt !== undefined) out.stoppedAt = task.stoppedAt;
    return out;
  };

  const findTask = (cluster: Cluster, ref: string): Task | undefined => {
    const id = ref.split('/').pop() ?? '';
    const task = tasks.get(`${arnPrefix}:task/${cluster.name}/${id}`);
    if (!task) return undefined;
    if (ref.startsWith('arn:') && ref !== task.arn) return undefined;
    return task;
  };

  // ---- RunTask ----

  function readStrategy(list: unknown[] | undefined) {
    if (list === undefined) return undefined;
    return list.map((item) => {
      const entry = item as { capacityProvider?: unknown; weight?: unknown; base?: unknown };
      if (typeof entry.capacityProvider !== 'string') {
        throw invalidParameter(
          'capacityProvider must be specified in a capacity provider strategy item.',
        );
      }
      const out: { capacityProvider: string; weight?: number; base?: number } = {
        capacityProvider: entry.capacityProvider,
      };
      if (typeof entry.weight === 'number') out.weight = entry.weight;
      if (typeof entry.base === 'number') out.base = entry.base;
      return out;
    });
  }

  /** Picks FARGATE or FARGATE_SPOT for each of `count` tasks per the strategy's base and weights. */
  const placeByStrategy = (
    strategy: { capacityProvider: string; weight?: number; base?: number }[],
    count: number,
  ): ('FARGATE' | 'FARGATE_SPOT')[] => {
    const placements: ('FARGATE' | 'FARGATE_SPOT')[] = [];
    for (const item of strategy) {
      for (let i = 0; i < (item.base ?? 0) && placements.length < count; i += 1) {
        placements.push(item.capacityProvider as 'FARGATE' | 'FARGATE_SPOT');
      }
    }
    const total = strategy.reduce((sum, item) => sum + (item.weight ?? 0), 0);
    while (placements.length < count) {
      if (total <= 0) {
        placements.push(strategy[0]!.capacityProvider as 'FARGATE' | 'FARGATE_SPOT');
        continue;
      }
      let roll = random() * total;
      const chosen =
        strategy.find((item) => (roll -= item.weight ?? 0) < 0) ?? strategy[strategy.length - 1]!;
      placements.push(chosen.capacityProvider as 'FARGATE' | 'FARGATE_SPOT');
    }
    return placements;
  };

  const runTask = (input: Record<string, unknown>) => {
    prune();
    const cluster = resolveCluster(optionalString(input, 'cluster'));
    if (faults.throttle.enabled && !runTaskBucket.take(1)) throw throttled();

    const clientToken = optionalString(input, 'clientToken');
    if (clientToken !== undefined) {
      if (
        clientToken.length < 1 ||
        clientToken.length > 64 ||
        !/^[\x20-\x7e]+$/.test(clientToken)
      ) {
        throw invalidParameter('clientToken must be between 1 and 64 ASCII characters.');
      }
    }
    const { clientToken: _token, ...parameters } = input;
    const fingerprint = stableStringify(parameters);
    if (clientToken !== undefined) {
      const record = tokens.get(`${cluster.arn}|${clientToken}`);
      if (record) {
        if (record.fingerprint !== fingerprint) {
          throw new AwsServiceError(
            'ConflictException',
            'The clientToken was already used with different request parameters.',
            { fields: { resourceIds: record.taskArns } },
          );
        }
        return {
          tasks: record.taskArns.flatMap((arn) => {
            const task = tasks.get(arn);
            return task ? [taskOutput(task, true)] : [];
          }),
          failures: record.failures,
        };
      }
    }

    const count = optionalNumber(input, 'count') ?? 1;
    if (!Number.isInteger(count) || count < 1 || count > 10) {
      throw invalidParameter('count must be between 1 and 10.');
    }

    const launchType = optionalString(input, 'launchType');
    const strategyInput = readStrategy(optionalArray(input, 'capacityProviderStrategy'));
    if (launchType !== undefined && strategyInput !== undefined) {
      throw invalidParameter(
        'Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.',
      );
    }
    let placements: ('FARGATE' | 'FARGATE_SPOT')[];
    let viaStrategy = false;
    if (launchType !== undefined) {
      if (launchType !== 'FARGATE') {
        throw invalidParameter('No Container Instances were found in your cluster.');
      }
      placements = Array.from({ length: count }, () => 'FARGATE' as const);
    } else {
      const strategy =
        strategyInput && strategyInput.length > 0 ? strategyInput : cluster.defaultStrategy;
      if (strategy.length === 0) {
        throw invalidParameter('No Container Instances were found in your cluster.');
      }
      for (const item of strategy) {
        if (!cluster.capacityProviders.includes(item.capacityProvider)) {
          throw invalidParameter(
            'The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and try again.',
          );
        }
      }
      placements = placeByStrategy(strategy, count);
      viaStrategy = true;
    }

    const taskDefinitionRef = optionalString(input, 'taskDefinition');
    if (!taskDefinitionRef) throw invalidParameter('taskDefinition can not be blank.');
    const definition = findTaskDefinition(taskDefinitionRef);
    if (!definition) throw clientError('TaskDefinition not found.');
    if (definition.networkMode !== 'awsvpc') {
      throw clientError('Task definition does not support launch_type FARGATE.');
    }

    const network = optionalObject(input, 'networkConfiguration');
    const vpc = network ? optionalObject(network, 'awsvpcConfiguration') : undefined;
    if (!vpc) {
      throw invalidParameter(
        "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
      );
    }
    const subnets = (optionalArray(vpc, 'subnets') ?? []) as string[];
    if (subnets.length === 0) throw invalidParameter('subnets can not be empty.');
    if (subnets.length > 16) throw invalidParameter('subnets can have at most 16 items.');
    const securityGroups = (optionalArray(vpc, 'securityGroups') ?? []) as string[];
    if (securityGroups.length > 5)
      throw invalidParameter('securityGroups can have at most 5 items.');

    // Overrides: 8,192 characters in total, JSON formatting included.
    const overridesInput = optionalObject(input, 'overrides') ?? {};
    if (JSON.stringify(overridesInput).length > OVERRIDES_LIMIT) {
      throw invalidParameter(`Container Overrides length must be at most ${OVERRIDES_LIMIT}`);
    }
    const containerOverrides = (optionalArray(overridesInput, 'containerOverrides') ??
      []) as Record<string, unknown>[];
    const environment: Record<string, string> = {};
    for (const pair of definition.containers.find((c) => c.essential)?.environment ?? []) {
      environment[pair.name] = pair.value;
    }
    const essential = definition.containers.find((c) => c.essential)!;
    for (const override of containerOverrides) {
      const name = optionalString(override, 'name');
      if (!name || !definition.containers.some((c) => c.name === name)) {
        throw invalidParameter(
          `Override for container named ${String(name)} is not a container in the TaskDefinition.`,
        );
      }
      const pairs = readKeyValues(
        override.environment,
        `overrides.containerOverrides[${name}].environment`,
      );
      if (name === essential.name) for (const pair of pairs) environment[pair.name] = pair.value;
    }
    const cpuOverride = optionalString(overridesInput, 'cpu');
    const memoryOverride = optionalString(overridesInput, 'memory');
    const cpu = cpuOverride !== undefined ? parseCpu(cpuOverride) : definition.cpu!;
    const memory = memoryOverride !== undefined ? parseMemory(memoryOverride) : definition.memory!;
    if (!isFargateSize(cpu, memory)) {
      throw clientError(
        `No Fargate configuration exists for given values: ${cpuOverride ?? cpu} CPU, ${memoryOverride ?? memory} memory. See the Amazon ECS documentation for the valid values.`,
      );
    }

    const startedBy = optionalString(input, 'startedBy');
    if (startedBy !== undefined && (startedBy.length > 36 || !/^[A-Za-z0-9_-]*$/.test(startedBy))) {
      throw invalidParameter(
        'startedBy can be up to 36 letters (uppercase and lowercase), numbers, hyphens, and underscores.',
      );
    }
    const group = optionalString(input, 'group') ?? `family:${definition.family}`;
    if (group.length > 255) throw invalidParameter('group must be at most 255 characters.');
    const tags = readTags(input.tags);

    if (faults.throttle.enabled && !launchBucket.take(count)) throw throttled();

    const created: Task[] = [];
    const failures: unknown[] = [];
    placements.forEach((provider, index) => {
      if (provider === 'FARGATE_SPOT' && random() < faults.spotCapacityShortage) {
        failures.push({ reason: SPOT_CAPACITY_UNAVAILABLE });
        return;
      }
      const id = randomBytes(16).toString('hex');
      const task: Task = {
        id,
        arn: `${arnPrefix}:task/${cluster.name}/${id}`,
        cluster,
        definition,
        essential,
        capacityProvider: provider,
        viaStrategy,
        cpu,
        memory,
        overrides: {
          containerOverrides,
          inferenceAcceleratorOverrides: [],
          ...(cpuOverride !== undefined ? { cpu: cpuOverride } : {}),
          ...(memoryOverride !== undefined ? { memory: memoryOverride } : {}),
        },
        environment,
        group,
        tags,
        subnet: subnets[index % subnets.length]!,
        lastStatus: 'PROVISIONING',
        desiredStatus: 'RUNNING',
        version: 1,
        createdAt: clock.now(),
        containerStatus: 'PENDING',
        stopController: new AbortController(),
        willFailToStart: random() < faults.failToStart,
        watchers: new Set(),
      };
      if (startedBy !== undefined) task.startedBy = startedBy;
      tasks.set(task.arn, task);
      created.push(task);
    });
    if (clientToken !== undefined) {
      tokens.set(`${cluster.arn}|${clientToken}`, {
        fingerprint,
        taskArns: created.map((t) => t.arn),
        failures,
        expiresAt: clock.now() + CLIENT_TOKEN_RETENTION_MS,
      });
    }
    const response = { tasks: created.map((task) => taskOutput(task, true)), failures };
    for (const task of created) void drive(task);
    return response;
  };

  // ---- other task operations ----

  const describeTasks = (input: Record<string, unknown>) => {
    prune();
    const cluster = resolveCluster(optionalString(input, 'cluster'));
    const refs = (optionalArray(input, 'tasks') ?? []) as string[];
    if (refs.length === 0) throw invalidParameter('Tasks cannot be empty.');
    if (refs.length > 100) throw invalidParameter('Tasks cannot have more than 100 elements.');
    const includeTags = ((optionalArray(input, 'include') ?? []) as string[]).includes('TAGS');
    const found: unknown[] = [];
    const failures: unknown[] = [];
    for (const ref of refs) {
      const task = findTask(cluster, ref);
      if (task) found.push(taskOutput(task, includeTags));
      else failures.push({ arn: ref, reason: 'MISSING' });
    }
    return { tasks: found, failures };
  };

  const listTasks = (input: Record<string, unknown>) => {
    prune();
    const cluster = resolveCluster(optionalString(input, 'cluster'));
    const startedBy = optionalString(input, 'startedBy');
    const family = optionalString(input, 'family');
    const desiredStatus = optionalString(input, 'desiredStatus') ?? 'RUNNING';
    const launchType = optionalString(input, 'launchType');
    if (desiredStatus !== 'RUNNING' && desiredStatus !== 'STOPPED' && desiredStatus !== 'PENDING') {
      throw invalidParameter(`Invalid desiredStatus: ${desiredStatus}`);
    }
    const maxResults = optionalNumber(input, 'maxResults') ?? 100;
    if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > 100) {
      throw invalidParameter('maxResults must be between 1 and 100.');
    }
    const matching = [...tasks.values()]
      .filter((task) => task.cluster === cluster)
      .filter((task) => (startedBy === undefined ? true : task.startedBy === startedBy))
      .filter((task) => (family === undefined ? true : task.definition.family === family))
      .filter((task) =>
        desiredStatus === 'PENDING'
          ? task.desiredStatus === 'RUNNING' && task.lastStatus !== 'RUNNING'
          : task.desiredStatus === desiredStatus,
      )
      .filter(() => launchType === undefined || launchType === 'FARGATE')
      .map((task) => task.arn);
    const nextToken = optionalString(input, 'nextToken');
    let start = 0;
    if (nextToken !== undefined) {
      const decoded = Number(Buffer.from(nextToken, 'base64url').toString('utf8'));
      if (!Number.isInteger(decoded) || decoded < 0) {
        throw invalidParameter('Invalid nextToken.');
      }
      start = decoded;
    }
    const page = matching.slice(start, start + maxResults);
    const out: Record<string, unknown> = { taskArns: page };
    if (start + maxResults < matching.length) {
      out.nextToken = Buffer.from(String(start + maxResults), 'utf8').toString('base64url');
    }
    return out;
  };

  const stopTask = (input: Record<string, unknown>) => {
    prune();
    const cluster = resolveCluster(optionalString(input, 'cluster'));
    const ref = optionalString(input, 'task');
    if (!ref) throw invalidParameter('task can not be blank.');
    const task = findTask(cluster, ref);
    if (!task) throw invalidParameter('The referenced task was not found.');
    const reason = optionalString(input, 'reason');
    if (reason !== undefined && reason.length > 255) {
      throw invalidParameter('reason must be at most 255 characters.');
    }
    requestStop(task, { stopCode: 'UserInitiated', reason: reason || USER_STOPPED_REASON });
    return { task: taskOutput(task, false) };
  };

  const operations = {
    CreateCluster: createCluster,
    DescribeClusters: (input: Record<string, unknown>) => {
      const refs = (optionalArray(input, 'clusters') ?? ['default']) as string[];
      const found: unknown[] = [];
      const failures: unknown[] = [];
      for (const ref of refs) {
        try {
          found.push(clusterOutput(resolveCluster(ref)));
        } catch {
          failures.push({
            arn: ref.startsWith('arn:') ? ref : `${arnPrefix}:cluster/${ref}`,
            reason: 'MISSING',
          });
        }
      }
      return { clusters: found, failures };
    },
    PutClusterCapacityProviders: (input: Record<string, unknown>) => {
      const cluster = resolveCluster(optionalString(input, 'cluster'));
      const { providers, strategy } = readCapacityProviders(input);
      cluster.capacityProviders = providers;
      cluster.defaultStrategy = strategy;
      return { cluster: clusterOutput(cluster) };
    },
    RegisterTaskDefinition: registerTaskDefinition,
    DescribeTaskDefinition: (input: Record<string, unknown>) => {
      const ref = optionalString(input, 'taskDefinition');
      const definition = ref ? findTaskDefinition(ref) : undefined;
      if (!definition) throw clientError('Unable to describe task definition.');
      const include = (optionalArray(input, 'include') ?? []) as string[];
      return {
        taskDefinition: definition.output,
        ...(include.includes('TAGS') ? { tags: definition.tags } : {}),
      };
    },
    ListTaskDefinitions: (input: Record<string, unknown>) => {
      const prefix = optionalString(input, 'familyPrefix');
      const sort = optionalString(input, 'sort') ?? 'ASC';
      const status = optionalString(input, 'status') ?? 'ACTIVE';
      const all = [...families.values()]
        .flat()
        .filter((d) => status === 'ACTIVE' && (prefix === undefined || d.family === prefix))
        .sort((a, b) =>
          a.family === b.family ? a.revision - b.revision : a.family < b.family ? -1 : 1,
        )
        .map((d) => d.arn);
      if (sort === 'DESC') all.reverse();
      const maxResults = optionalNumber(input, 'maxResults') ?? 100;
      const nextToken = optionalString(input, 'nextToken');
      const start = nextToken
        ? Number(Buffer.from(nextToken, 'base64url').toString('utf8')) || 0
        : 0;
      const out: Record<string, unknown> = {
        taskDefinitionArns: all.slice(start, start + maxResults),
      };
      if (start + maxResults < all.length) {
        out.nextToken = Buffer.from(String(start + maxResults), 'utf8').toString('base64url');
      }
      return out;
    },
    RunTask: runTask,
    DescribeTasks: describeTasks,
    ListTasks: listTasks,
    StopTask: stopTask,
  };

  const server = await startAwsJsonServer({
    host: options.host,
    port: options.port,
    jsonVersion: '1.1',
    targetPrefix: 'AmazonEC2ContainerServiceV20141113',
    operations,
  });

  return {
    url: server.url,
    region,
    accountId,
    tasks: () => {
      prune();
      return [...tasks.values()].map(snapshot);
    },
    task: (arn) => {
      prune();
      const task = tasks.get(arn);
      return task ? snapshot(task) : undefined;
    },
    setFaults: (input) => {
      faults = mergeFaults(faults, input);
      if (input.throttle) {
        runTaskBucket = new TokenBucket(
          clock,
          faults.throttle.runTaskBurst,
          faults.throttle.runTaskPerSecond,
        );
        launchBucket = new TokenBucket(
          clock,
          faults.throttle.launchBurst,
          faults.throttle.launchPerSecond,
        );
      }
    },
    faults: () => structuredClone(faults),
    interruptSpotTask: (arn) => {
      const task = tasks.get(arn);
      if (!task || task.capacityProvider !== 'FARGATE_SPOT') return false;
      if (task.desiredStatus === 'STOPPED') return false;
      requestStop(task, { stopCode: 'SpotInterruption', reason: SPOT_INTERRUPTED_REASON });
      return true;
    },
    waitForTaskStatus: (arn, status) =>
      new Promise((resolve, reject) => {
        const task = tasks.get(arn);
        if (!task) return reject(new Error(`unknown task ${arn}`));
        const check = () => {
          if (STATUS_ORDER.indexOf(task.lastStatus) >= STATUS_ORDER.indexOf(status)) {
            task.watchers.delete(check);
            resolve(snapshot(task));
          }
        };
        task.watchers.add(check);
        check();
      }),
    close: async () => {
      closing.abort();
      for (const task of tasks.values()) {
        requestStop(task, { stopCode: 'UserInitiated', reason: 'Simulator shut down' });
      }
      await server.close();
    },
  };
}
