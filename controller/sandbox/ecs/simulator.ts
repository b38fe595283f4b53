// An ECS (Fargate) simulator speaking AWS JSON 1.1 as @aws-sdk/client-ecs talks to it: clusters,
// task definitions, RunTask with idempotency and faults, the Fargate task lifecycle on the
// injected Clock, and a ContainerRuntime that runs each task's essential container.

import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from '../../util/clock.ts';
import { systemClock } from '../../util/clock.ts';
import {
  AwsServiceError,
  optionalArray,
  optionalNumber,
  optionalObject,
  optionalString,
  seededRandom,
  startAwsJsonServer,
} from '../aws-json.ts';
import { fakeRunnerRuntime } from './fake-runner-runtime.ts';
import { isFargateSize, parseCpu, parseMemory } from './fargate.ts';
import {
  clientError,
  invalidParameter,
  readKeyValues,
  readStrategy,
  readTags,
  STATUS_ORDER,
  throttled,
} from './model.ts';
import type { SimulatedTask, StopRequest, Task, TaskStatus } from './model.ts';
import {
  createEc2Capacity,
  type AutoScalingGroup,
  type AutoScalingGroupSpec,
} from './ec2-capacity.ts';
import { placeByStrategy, validateStrategy } from './placement.ts';
import { createEcsRegistry, MIXED_STRATEGY_MESSAGE } from './registry.ts';
import type { ContainerRuntime, RunningContainer } from './runtime.ts';
import { SIGKILL_EXIT_CODE } from './runtime.ts';
import { snapshot, taskOutput as renderTask, taskStateChangeEvent } from './task-view.ts';
import { TokenBucket } from './throttle.ts';

export type { SimulatedTask, TaskStatus } from './model.ts';

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
  /**
   * Runs each RUNNING task's essential container. Default: the fake runner, with the JIT config
   * from the container environment (JIT_CONFIG_ENV), on this simulator's clock.
   */
  runtime?: ContainerRuntime;
  faults?: EcsFaultsInput;
  latencies?: Partial<EcsLatencies>;
  /** Seed of the fault dice. */
  seed?: number;
  /** ECS on EC2: instance launch to registration when managed scaling adds one. Default 2 min. */
  ec2ScaleOutDelayMs?: number;
  region?: string;
  accountId?: string;
  /**
   * Receives an ECS Task State Change event (the EventBridge envelope) at every change of a task,
   * as an EventBridge rule on the cluster would forward it.
   */
  onTaskStateChange?: TaskStateChangeListener;
}

/** Gets the EventBridge envelope of one ECS Task State Change. Must not throw. */
export type TaskStateChangeListener = (envelope: Record<string, unknown>) => void;

export const SPOT_CAPACITY_UNAVAILABLE =
  'Capacity is unavailable at this time. Please try again later or in a different availability zone';
export const SPOT_INTERRUPTED_REASON = 'Your Spot Task was interrupted.';
export const ESSENTIAL_CONTAINER_EXITED = 'Essential container in task exited';
export const USER_STOPPED_REASON = 'Task stopped by user';
export const OVERRIDES_LIMIT = 8192;
const STOPPED_TASK_RETENTION_MS = 60 * 60 * 1000;
const CLIENT_TOKEN_RETENTION_MS = 24 * 60 * 60 * 1000;

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
  /** Adds a receiver of ECS Task State Change events; returns its removal. */
  onTaskStateChange(listener: TaskStateChangeListener): () => void;
  /**
   * Creates an Auto Scaling group as an operator would in EC2; CreateCapacityProvider then names
   * it by ARN and PutClusterCapacityProviders registers its instances into the cluster.
   */
  defineAutoScalingGroup(spec: AutoScalingGroupSpec): AutoScalingGroup;
  /** ECS on EC2: every registered container instance with what its tasks use. */
  containerInstances(): {
    arn: string;
    provider: string;
    cpu: number;
    memory: number;
    usedCpu: number;
    usedMemory: number;
    tasks: string[];
  }[];
  /** ECS on EC2: tasks waiting in PROVISIONING for instance capacity, per capacity provider. */
  waitingForCapacity(): Record<string, number>;
  /** Resolves when the task reaches `status` (or a later one). */
  waitForTaskStatus(taskArn: string, status: TaskStatus): Promise<SimulatedTask>;
  close(): Promise<void>;
}

interface TokenRecord {
  fingerprint: string;
  taskArns: string[];
  failures: unknown[];
  expiresAt: number;
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

export async function startEcsSimulator(options: EcsSimulatorOptions = {}): Promise<EcsSimulator> {
  const clock = options.clock ?? systemClock;
  const runtime = options.runtime ?? fakeRunnerRuntime({ clock });
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '000000000000';
  const latencies: EcsLatencies = { ...DEFAULT_LATENCIES, ...options.latencies };
  // One stream per kind of draw: a fault's draws then do not shift when another feature (say,
  // placement by strategy) draws more or fewer numbers, so a seeded scenario stays reproducible.
  const seed = options.seed ?? 1;
  const streams = {
    placement: seededRandom(seed),
    spotShortage: seededRandom(seed ^ 0x5bd1e995),
    failToStart: seededRandom(seed ^ 0x27d4eb2f),
    spotInterruption: seededRandom(seed ^ 0x165667b1),
  };
  let faults: EcsFaults = mergeFaults(DEFAULT_FAULTS, options.faults);

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
  const ec2 = createEc2Capacity({
    clock,
    arnPrefix,
    accountId,
    region,
    scaleOutDelayMs: options.ec2ScaleOutDelayMs ?? 120_000,
    closing: closing.signal,
  });
  const registry = createEcsRegistry({
    clock,
    arnPrefix,
    accountId,
    isEc2Provider: ec2.isEc2Provider,
    associate: ec2.associate,
    instanceCount: (cluster) => ec2.listContainerInstances(cluster).containerInstanceArns.length,
    taskCounts: (cluster) => {
      let running = 0;
      let pending = 0;
      for (const task of tasks.values()) {
        if (task.cluster !== cluster) continue;
        if (task.lastStatus === 'RUNNING') running += 1;
        else if (STATUS_ORDER.indexOf(task.lastStatus) < STATUS_ORDER.indexOf('RUNNING')) {
          pending += 1;
        }
      }
      return { running, pending };
    },
  });
  const { resolveCluster, findTaskDefinition } = registry;
  const taskOutput = (task: Task, includeTags: boolean) =>
    renderTask(task, includeTags, region, arnPrefix);

  // ---- tasks: lifecycle ----

  const eventListeners = new Set<TaskStateChangeListener>();
  if (options.onTaskStateChange) eventListeners.add(options.onTaskStateChange);
  const emitEvent = (task: Task) => {
    if (eventListeners.size === 0) return;
    const envelope = taskStateChangeEvent(
      task,
      region,
      accountId,
      arnPrefix,
      clock.now(),
      randomUUID(),
    );
    for (const listener of eventListeners) {
      try {
        listener(structuredClone(envelope));
      } catch {
        // A listener's failure is its own; ECS keeps going.
      }
    }
  };

  const notify = (task: Task) => {
    task.version += 1;
    emitEvent(task);
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
      // ECS on EC2: PROVISIONING lasts until an instance has room (managed scaling adds one).
      if (task.launchType === 'EC2' && !task.containerInstanceArn) {
        await ec2.waitForPlacement(task);
      }
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
    ec2.release(task);
    setStatus(task, 'STOPPED');
  };

  const maybeScheduleSpotInterruption = (task: Task) => {
    if (task.capacityProvider !== 'FARGATE_SPOT') return;
    if (!(streams.spotInterruption() < faults.spotInterruption)) return;
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

  const findTask = (cluster: Task['cluster'], ref: string): Task | undefined => {
    const id = ref.split('/').pop() ?? '';
    const task = tasks.get(`${arnPrefix}:task/${cluster.name}/${id}`);
    if (!task) return undefined;
    if (ref.startsWith('arn:') && ref !== task.arn) return undefined;
    return task;
  };

  // ---- RunTask ----

  const runTask = (input: Record<string, unknown>) => {
    prune();
    const cluster = resolveCluster(optionalString(input, 'cluster'));
    if (faults.throttle.enabled && !runTaskBucket.take(1)) throw throttled();

    const clientToken = optionalString(input, 'clientToken');
    if (clientToken !== undefined) {
      // The SDK model: up to 64 characters in the range 33-126 (no space, no control character).
      if (!/^[\x21-\x7e]{1,64}$/.test(clientToken)) {
        throw invalidParameter(
          'clientToken must be 1 to 64 characters in the range 33-126 (printable ASCII, no space).',
        );
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
    if (strategyInput) validateStrategy(strategyInput);
    if (launchType !== undefined && strategyInput !== undefined) {
      throw invalidParameter(
        'Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.',
      );
    }
    let placements: string[];
    let viaStrategy = false;
    if (launchType !== undefined) {
      if (launchType !== 'FARGATE' && launchType !== 'EC2') {
        throw invalidParameter(`Invalid launchType: ${launchType}`);
      }
      if (
        launchType === 'EC2' &&
        ec2.listContainerInstances(cluster).containerInstanceArns.length === 0
      ) {
        throw invalidParameter('No Container Instances were found in your cluster.');
      }
      placements = Array.from({ length: count }, () => launchType);
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
      if (new Set(strategy.map((i) => ec2.isEc2Provider(i.capacityProvider))).size > 1) {
        throw invalidParameter(MIXED_STRATEGY_MESSAGE);
      }
      placements = placeByStrategy(strategy, count, streams.placement);
      viaStrategy = true;
    }
    // ECS on EC2: an Auto Scaling group provider, or launch type EC2.
    const onEc2 = placements.some((p) => p === 'EC2' || ec2.isEc2Provider(p));

    const taskDefinitionRef = optionalString(input, 'taskDefinition');
    if (!taskDefinitionRef) throw invalidParameter('taskDefinition can not be blank.');
    const definition = findTaskDefinition(taskDefinitionRef);
    if (!definition) throw clientError('TaskDefinition not found.');
    if (!onEc2 && definition.networkMode !== 'awsvpc') {
      throw clientError('Task definition does not support launch_type FARGATE.');
    }
    if (!onEc2 && definition.privileged) {
      throw clientError('Privileged containers are not supported on Fargate.');
    }

    const network = optionalObject(input, 'networkConfiguration');
    const vpc = network ? optionalObject(network, 'awsvpcConfiguration') : undefined;
    const awsvpc = definition.networkMode === 'awsvpc';
    if (!awsvpc && network) {
      throw invalidParameter(
        'Network Configuration is not valid for the given networkMode of this task definition.',
      );
    }
    if (awsvpc && !vpc) {
      throw invalidParameter(
        "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
      );
    }
    const subnets = (optionalArray(vpc ?? {}, 'subnets') ?? []) as string[];
    if (awsvpc && subnets.length === 0) throw invalidParameter('subnets can not be empty.');
    if (subnets.length > 16) throw invalidParameter('subnets can have at most 16 items.');
    const securityGroups = (optionalArray(vpc ?? {}, 'securityGroups') ?? []) as string[];
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
    // Without task-level sizes (EC2 only) a task reserves what its containers declare.
    const containerSum = (key: 'cpu' | 'memory') =>
      definition.containers.reduce((n, c) => {
        const v = c.raw[key] ?? (key === 'memory' ? c.raw.memoryReservation : undefined);
        return n + (typeof v === 'number' ? v : 0);
      }, 0);
    const cpu =
      cpuOverride !== undefined ? parseCpu(cpuOverride) : (definition.cpu ?? containerSum('cpu'));
    const memory =
      memoryOverride !== undefined
        ? parseMemory(memoryOverride)
        : (definition.memory ?? containerSum('memory'));
    const storage = optionalObject(overridesInput, 'ephemeralStorage');
    const storageGiB = storage ? optionalNumber(storage, 'sizeInGiB') : undefined;
    if (storage && onEc2) {
      throw invalidParameter(
        'Ephemeral storage overrides are only supported for tasks on Fargate.',
      );
    }
    if (storage && (storageGiB === undefined || storageGiB < 21 || storageGiB > 200)) {
      throw invalidParameter('ephemeralStorage.sizeInGiB must be between 21 and 200.');
    }
    if (onEc2) {
      if (!(memory > 0)) {
        throw clientError(
          'Invalid setting for container. At least one of memory or memoryReservation must be specified.',
        );
      }
    } else if (!isFargateSize(cpu, memory)) {
      throw clientError(
        `No Fargate configuration exists for given values: ${cpuOverride ?? cpu} CPU, ${memoryOverride ?? memory} memory. See the Amazon ECS documentation for the valid values.`,
      );
    }

    const startedBy = optionalString(input, 'startedBy');
    if (startedBy !== undefined && !/^[A-Za-z0-9_/-]{0,128}$/.test(startedBy)) {
      throw invalidParameter(
        'startedBy can be up to 128 letters (uppercase and lowercase), numbers, hyphens (-), forward slash (/), and underscores (_).',
      );
    }
    const group = optionalString(input, 'group') ?? `family:${definition.family}`;
    if (group.length > 255) throw invalidParameter('group must be at most 255 characters.');
    const tags = readTags(input.tags);

    if (faults.throttle.enabled && !launchBucket.take(count)) throw throttled();

    const created: Task[] = [];
    const failures: unknown[] = [];
    placements.forEach((provider, index) => {
      if (
        provider === 'FARGATE_SPOT' &&
        !onEc2 &&
        streams.spotShortage() < faults.spotCapacityShortage
      ) {
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
        launchType: onEc2 ? 'EC2' : 'FARGATE',
        viaStrategy,
        cpu,
        memory,
        overrides: {
          containerOverrides,
          inferenceAcceleratorOverrides: [],
          ...(cpuOverride !== undefined ? { cpu: cpuOverride } : {}),
          ...(memoryOverride !== undefined ? { memory: memoryOverride } : {}),
          ...(storage ? { ephemeralStorage: storage } : {}),
        },
        environment,
        group,
        tags,
        subnet: subnets[index % subnets.length] ?? '',
        lastStatus: 'PROVISIONING',
        desiredStatus: 'RUNNING',
        version: 1,
        createdAt: clock.now(),
        containerStatus: 'PENDING',
        stopController: new AbortController(),
        willFailToStart: streams.failToStart() < faults.failToStart,
        watchers: new Set(),
      };
      if (startedBy !== undefined) task.startedBy = startedBy;
      if (storageGiB !== undefined) task.ephemeralStorageGiB = storageGiB;
      if (onEc2) {
        const placement = ec2.place(task, cluster, provider === 'EC2' ? undefined : provider);
        if (placement.kind === 'failure') {
          failures.push({ arn: placement.arn, reason: placement.reason });
          return;
        }
      }
      tasks.set(task.arn, task);
      created.push(task);
    });
    // Only a call that started something is remembered: after a capacity shortage the caller
    // retries with the same token and must get a fresh attempt, not the old failure.
    if (clientToken !== undefined && created.length > 0) {
      tokens.set(`${cluster.arn}|${clientToken}`, {
        fingerprint,
        taskArns: created.map((t) => t.arn),
        failures,
        expiresAt: clock.now() + CLIENT_TOKEN_RETENTION_MS,
      });
    }
    const response = { tasks: created.map((task) => taskOutput(task, true)), failures };
    for (const task of created) emitEvent(task);
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
    const desiredStatusInput = optionalString(input, 'desiredStatus');
    const desiredStatus = desiredStatusInput ?? 'RUNNING';
    const launchType = optionalString(input, 'launchType');
    // ECS: "When you specify startedBy as the filter, it must be the only filter that you use."
    if (startedBy !== undefined) {
      const others = [
        'family',
        'desiredStatus',
        'launchType',
        'serviceName',
        'containerInstance',
      ].filter((key) => input[key] !== undefined && input[key] !== null);
      if (others.length > 0) {
        throw invalidParameter(
          `startedBy must be the only filter of ListTasks; also given: ${others.join(', ')}.`,
        );
      }
    }
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
      // ECS never sets a desired status of PENDING: filtering on it lists nothing.
      .filter((task) => task.desiredStatus === desiredStatus)
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
    ...registry.operations,
    ...ec2.operations,
    ListContainerInstances: (input: Record<string, unknown>) =>
      ec2.listContainerInstances(resolveCluster(optionalString(input, 'cluster'))),
    DescribeContainerInstances: (input: Record<string, unknown>) =>
      ec2.describeContainerInstances(
        resolveCluster(optionalString(input, 'cluster')),
        (optionalArray(input, 'containerInstances') ?? []) as string[],
      ),
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
    defineAutoScalingGroup: (spec) => ec2.defineAutoScalingGroup(spec),
    containerInstances: () => ec2.containerInstances(),
    waitingForCapacity: () => ec2.waitingTasks(),
    interruptSpotTask: (arn) => {
      const task = tasks.get(arn);
      if (!task || task.capacityProvider !== 'FARGATE_SPOT') return false;
      if (task.desiredStatus === 'STOPPED') return false;
      requestStop(task, { stopCode: 'SpotInterruption', reason: SPOT_INTERRUPTED_REASON });
      return true;
    },
    onTaskStateChange: (listener) => {
      eventListeners.add(listener);
      return () => void eventListeners.delete(listener);
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
