// EcsProvider on @aws-sdk/client-ecs. RunTask is paced client-side (Fargate launches are a
// token bucket of 100 burst, 20/s), failures are mapped to the typed errors of ./errors.ts,
// and the container environment (it carries the JIT config) never reaches a log line or an
// error message: errors are rebuilt from the service's code and message only.

import {
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  RunTaskCommand,
  StopTaskCommand,
  type RunTaskCommandInput,
  type Task,
} from '@aws-sdk/client-ecs';
import { TASK_TAG_RUNNER } from '../api/constants.ts';
import type { Clock } from '../util/clock.ts';
import { systemClock } from '../util/clock.ts';
import type { Logger } from '../util/logger.ts';
import { silentLogger } from '../util/logger.ts';
import { Redactor } from '../util/redact.ts';
import { assertActing } from '../util/acting.ts';
import { awsClientSettings } from '../util/aws-client.ts';
import { TokenBucket } from '../util/token-bucket.ts';
import {
  CapacityUnavailableError,
  EcsError,
  IdempotencyConflictError,
  LaunchFailedError,
  TaskDefinitionNotFoundError,
  ThrottledError,
} from './errors.ts';
import {
  TASK_STATUSES,
  type EcsProvider,
  type RunnerLaunch,
  type RunnerTask,
  type TaskStatus,
} from './types.ts';

/** The narrow part of the SDK client this provider uses (tests inject their own). */
export interface EcsApi {
  send(
    command: RunTaskCommand | DescribeTasksCommand | ListTasksCommand | StopTaskCommand,
  ): Promise<unknown>;
}

export interface EcsPacing {
  /** RunTask calls per second (Fargate: 20). */
  runTaskPerSecond?: number;
  /** Burst of RunTask calls (Fargate launches: 100). */
  runTaskBurst?: number;
}

export interface SdkEcsProviderOptions {
  region?: string;
  /** ECS endpoint (the simulator in the sandbox and tests). */
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** SDK attempts per call, retries of throttling and 5xx included. Default 3. */
  maxAttempts?: number;
  /** A ready client (tests); the options above are then ignored. */
  client?: EcsApi;
  pacing?: EcsPacing;
  clock?: Clock;
  logger?: Logger;
}

export const DEFAULT_RUN_TASK_PER_SECOND = 20;
export const DEFAULT_RUN_TASK_BURST = 100;
/** ECS refuses overrides over 8,192 characters in total. */
export const MAX_OVERRIDES_CHARS = 8_192;
const DESCRIBE_BATCH = 100;
/** Task ARNs whose startedBy is remembered (ECS keeps stopped tasks about an hour). */
const STARTED_BY_MEMORY = 50_000;
/** How long RunTask calls pause after a throttling answer. */
const THROTTLE_PAUSE_MS = 1_000;

interface AwsErrorLike {
  name?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

function awsCode(err: unknown): string {
  const e = err as AwsErrorLike;
  return e?.name ?? e?.Code ?? 'Error';
}

const STATUSES: readonly string[] = TASK_STATUSES;

export function toRunnerTask(task: Task, cluster: string): RunnerTask {
  const tags: Record<string, string> = {};
  for (const tag of task.tags ?? []) if (tag.key) tags[tag.key] = tag.value ?? '';
  // ECS shows DELETED for a moment after STOPPED, and may add states: a status we do not know is
  // never taken for a task on its way up (it would count as live for good). It is stopped.
  const lastStatus = (
    STATUSES.includes(task.lastStatus ?? '') ? task.lastStatus : 'STOPPED'
  ) as TaskStatus;
  const out: RunnerTask = {
    arn: task.taskArn ?? '',
    cluster: task.clusterArn ?? cluster,
    lastStatus,
    desiredStatus: task.desiredStatus ?? 'RUNNING',
    tags,
  };
  if (task.startedBy) out.startedBy = task.startedBy;
  if (task.group) out.group = task.group;
  if (task.capacityProviderName) out.capacityProvider = task.capacityProviderName;
  else if (task.launchType) out.capacityProvider = task.launchType;
  if (task.stopCode) out.stopCode = task.stopCode;
  if (task.stoppedReason) out.stoppedReason = task.stoppedReason;
  const exitCode = task.containers?.find((c) => typeof c.exitCode === 'number')?.exitCode;
  if (typeof exitCode === 'number') out.exitCode = exitCode;
  if (task.createdAt) out.createdAt = new Date(task.createdAt).getTime();
  if (task.startedAt) out.startedAt = new Date(task.startedAt).getTime();
  if (task.stoppedAt) out.stoppedAt = new Date(task.stoppedAt).getTime();
  if (task.pullStartedAt) out.pullStartedAt = new Date(task.pullStartedAt).getTime();
  // For the cost: the size ECS reports (strings of numbers in the API).
  const cpu = Number(task.cpu);
  const memory = Number(task.memory);
  if (Number.isFinite(cpu) && cpu > 0) out.cpu = cpu;
  if (Number.isFinite(memory) && memory > 0) out.memory = memory;
  if (task.ephemeralStorage?.sizeInGiB) out.ephemeralStorageGiB = task.ephemeralStorage.sizeInGiB;
  const arch = task.attributes?.find((a) => a.name === 'ecs.cpu-architecture')?.value;
  if (arch) out.cpuArchitecture = /arm/i.test(arch) ? 'ARM64' : 'X86_64';
  return out;
}

/** `FARGATE` (launch type) or the strategy as `FARGATE_SPOT(weight 3), FARGATE(base 1)`. */
export function describeStrategy(launch: Pick<RunnerLaunch, 'capacityProviderStrategy'>): string {
  const strategy = launch.capacityProviderStrategy;
  if (!strategy?.length) return 'FARGATE';
  return strategy
    .map((item) => {
      const parts = [
        ...(item.base ? [`base ${item.base}`] : []),
        ...(item.weight !== undefined ? [`weight ${item.weight}`] : []),
      ];
      return parts.length ? `${item.capacityProvider}(${parts.join(', ')})` : item.capacityProvider;
    })
    .join(', ');
}

/** The RunTask input for a launch (pure, so tests can check it without a server). */
export function buildRunTaskInput(launch: RunnerLaunch): RunTaskCommandInput {
  const input: RunTaskCommandInput = {
    cluster: launch.cluster,
    taskDefinition: launch.taskDefinition,
    count: 1,
    clientToken: launch.clientToken,
    startedBy: launch.startedBy,
    enableECSManagedTags: true,
    overrides: {
      containerOverrides: [
        {
          name: launch.containerName,
          environment: Object.entries(launch.environment).map(([name, value]) => ({ name, value })),
        },
      ],
    },
    tags: Object.entries(launch.tags).map(([key, value]) => ({ key, value })),
  };
  // A bridge task (ECS on EC2) uses the instance's network: ECS refuses a network configuration.
  if ((launch.networkMode ?? 'awsvpc') === 'awsvpc') {
    input.networkConfiguration = {
      awsvpcConfiguration: {
        subnets: launch.subnets,
        securityGroups: launch.securityGroups,
        assignPublicIp: launch.assignPublicIp ? 'ENABLED' : 'DISABLED',
      },
    };
  }
  if (launch.group) input.group = launch.group;
  if (launch.capacityProviderStrategy?.length) {
    input.capacityProviderStrategy = launch.capacityProviderStrategy.map((item) => ({
      capacityProvider: item.capacityProvider,
      ...(item.weight !== undefined ? { weight: item.weight } : {}),
      ...(item.base !== undefined ? { base: item.base } : {}),
    }));
  } else {
    input.launchType = 'FARGATE';
  }
  if (launch.cpu !== undefined) input.overrides!.cpu = String(launch.cpu);
  if (launch.memory !== undefined) input.overrides!.memory = String(launch.memory);
  if (launch.ephemeralStorageGiB !== undefined) {
    input.overrides!.ephemeralStorage = { sizeInGiB: launch.ephemeralStorageGiB };
  }
  return input;
}

export class SdkEcsProvider implements EcsProvider {
  private readonly api: EcsApi;
  private readonly runBucket: TokenBucket;
  private readonly callBucket: TokenBucket;
  private readonly readBucket: TokenBucket;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly redactor = new Redactor();
  /** Task ARN -> startedBy ('' for none), to pick our stopped tasks without describing them again. */
  private readonly startedByOf = new Map<string, string>();

  constructor(options: SdkEcsProviderOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.logger = (options.logger ?? silentLogger()).child({ component: 'ecs' });
    this.api =
      options.client ??
      new ECSClient({
        ...awsClientSettings(),
        ...(options.region ? { region: options.region } : {}),
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
        ...(options.credentials ? { credentials: options.credentials } : {}),
        maxAttempts: options.maxAttempts ?? 3,
      });
    const perSecond = options.pacing?.runTaskPerSecond ?? DEFAULT_RUN_TASK_PER_SECOND;
    // Two limits apply to a launch: Fargate task launches (burst 100, 20/s) and RunTask calls
    // (20/s). One task per call, so a launch takes a token from each. The call bucket's burst
    // is half a second's worth: requests delayed on the way (sockets, network) arrive bunched,
    // and a bucket as large as ECS's own would then overrun it.
    this.runBucket = new TokenBucket({
      name: 'ecs Fargate launches',
      capacity: Math.max(1, options.pacing?.runTaskBurst ?? DEFAULT_RUN_TASK_BURST),
      refillPerSecond: perSecond,
      clock: this.clock,
    });
    this.callBucket = new TokenBucket({
      name: 'ecs RunTask calls',
      capacity: Math.max(1, Math.floor(perSecond / 2)),
      refillPerSecond: perSecond,
      clock: this.clock,
    });
    // DescribeTasks, ListTasks and StopTask have their own (larger) ECS limits; stay gentle.
    this.readBucket = new TokenBucket({
      name: 'ecs read',
      capacity: 50,
      refillPerSecond: 20,
      clock: this.clock,
    });
  }

  async runTask(launch: RunnerLaunch): Promise<RunnerTask> {
    const input = buildRunTaskInput(launch);
    const where = `RunTask ${launch.taskDefinition} (clientToken ${launch.clientToken})`;
    const overridesChars = JSON.stringify(input.overrides).length;
    if (overridesChars > MAX_OVERRIDES_CHARS) {
      throw new LaunchFailedError(
        `${where}: overrides are ${overridesChars} characters, ECS allows ${MAX_OVERRIDES_CHARS}`,
        'OverridesTooLarge',
      );
    }
    await this.runBucket.take();
    await this.callBucket.take();
    // The waits may have outlasted this replica's lease (util/acting.ts).
    assertActing();
    let response: {
      tasks?: Task[];
      failures?: { arn?: string; reason?: string; detail?: string }[];
    };
    try {
      response = (await this.api.send(new RunTaskCommand(input))) as typeof response;
    } catch (err) {
      const mapped = this.mapError(err, where, this.runBucket);
      if (mapped instanceof ThrottledError)
        this.callBucket.pauseUntil(this.clock.now() + THROTTLE_PAUSE_MS);
      throw mapped;
    }
    const failure = response.failures?.[0];
    if (failure) {
      const reason = this.redactor.string(failure.reason ?? 'unknown');
      const detail = failure.detail ? `: ${this.redactor.string(failure.detail)}` : '';
      const message = `${where} on ${describeStrategy(launch)} failed: ${reason}${detail}`;
      // Fargate Spot shortage, or (ECS on EC2) no container instance has the cpu or memory left.
      if (/capacity is unavailable|^RESOURCE:(CPU|MEMORY)/i.test(reason)) {
        throw new CapacityUnavailableError(message);
      }
      throw new LaunchFailedError(message, reason);
    }
    const task = response.tasks?.[0];
    if (!task?.taskArn)
      throw new LaunchFailedError(`${where}: ECS answered without a task`, 'NoTask');
    this.logger.debug(
      {
        taskArn: task.taskArn,
        runner: launch.tags[TASK_TAG_RUNNER],
        clientToken: launch.clientToken,
      },
      'task started',
    );
    const started = toRunnerTask(task, launch.cluster);
    this.rememberStartedBy(started);
    return started;
  }

  async describeTasks(cluster: string, taskArns: string[]): Promise<RunnerTask[]> {
    const out: RunnerTask[] = [];
    for (let i = 0; i < taskArns.length; i += DESCRIBE_BATCH) {
      const batch = taskArns.slice(i, i + DESCRIBE_BATCH);
      await this.readBucket.take();
      try {
        const res = (await this.api.send(
          new DescribeTasksCommand({ cluster, tasks: batch, include: ['TAGS'] }),
        )) as { tasks?: Task[] };
        for (const task of res.tasks ?? []) {
          const runnerTask = toRunnerTask(task, cluster);
          this.rememberStartedBy(runnerTask);
          out.push(runnerTask);
        }
      } catch (err) {
        throw this.mapError(err, `DescribeTasks on ${cluster}`, this.readBucket);
      }
    }
    return out;
  }

  async listTasks(
    cluster: string,
    filter: { startedBy: string; desiredStatus?: 'RUNNING' | 'STOPPED' },
  ): Promise<string[]> {
    // ECS: startedBy must be the only filter, and alone it lists RUNNING (desired) tasks.
    if ((filter.desiredStatus ?? 'RUNNING') === 'RUNNING') {
      return this.listArns(cluster, { startedBy: filter.startedBy });
    }
    // Stopped tasks: the cluster's, by desired status, kept when we started them. startedBy never
    // changes, so only tasks not seen before are described.
    const arns = await this.listArns(cluster, { desiredStatus: 'STOPPED' });
    const unknown = arns.filter((arn) => !this.startedByOf.has(arn));
    if (unknown.length) await this.describeTasks(cluster, unknown);
    return arns.filter((arn) => this.startedByOf.get(arn) === filter.startedBy);
  }

  private async listArns(
    cluster: string,
    filter: { startedBy: string } | { desiredStatus: 'STOPPED' },
  ): Promise<string[]> {
    const arns: string[] = [];
    let nextToken: string | undefined;
    do {
      await this.readBucket.take();
      try {
        const res = (await this.api.send(
          new ListTasksCommand({
            cluster,
            ...filter,
            maxResults: 100,
            ...(nextToken ? { nextToken } : {}),
          }),
        )) as { taskArns?: string[]; nextToken?: string };
        arns.push(...(res.taskArns ?? []));
        nextToken = res.nextToken;
      } catch (err) {
        throw this.mapError(err, `ListTasks on ${cluster}`, this.readBucket);
      }
    } while (nextToken);
    return arns;
  }

  /** Remembers who started a task (bounded: the oldest entries go first). */
  private rememberStartedBy(task: RunnerTask): void {
    if (!task.arn) return;
    this.startedByOf.delete(task.arn);
    this.startedByOf.set(task.arn, task.startedBy ?? '');
    if (this.startedByOf.size > STARTED_BY_MEMORY) {
      this.startedByOf.delete(this.startedByOf.keys().next().value!);
    }
  }

  async stopTask(cluster: string, taskArn: string, reason: string): Promise<void> {
    await this.readBucket.take();
    assertActing();
    try {
      // ECS keeps at most 255 characters of the reason.
      await this.api.send(
        new StopTaskCommand({ cluster, task: taskArn, reason: reason.slice(0, 255) }),
      );
    } catch (err) {
      const message = (err as AwsErrorLike)?.message ?? '';
      // Only a task ECS does not know (stopped so long ago that it was forgotten) is "gone": ECS
      // answers InvalidParameterException "The referenced task was not found.". A missing cluster
      // (ClusterNotFoundException "Cluster not found.") means the task runs somewhere else.
      if (
        awsCode(err) === 'InvalidParameterException' &&
        /\btask\b.*(not found|could not be found)/i.test(message)
      ) {
        this.logger.debug({ taskArn }, 'stopTask: task already gone');
        return;
      }
      throw this.mapError(err, `StopTask ${taskArn}`, this.readBucket);
    }
  }

  /** An SDK exception as one of our errors, built from its code and message only. */
  private mapError(err: unknown, where: string, bucket: TokenBucket): EcsError {
    const code = awsCode(err);
    const message = this.redactor
      .string((err as AwsErrorLike)?.message ?? String(err))
      .slice(0, 500);
    const status = (err as AwsErrorLike)?.$metadata?.httpStatusCode;
    const text = `${where}: ${code}: ${message}`;
    const cause = new EcsError(`${code}${status ? ` (HTTP ${status})` : ''}: ${message}`);
    if (
      /Throttl|RequestLimitExceeded|TooManyRequests/i.test(code) ||
      status === 429 ||
      /rate exceeded/i.test(message)
    ) {
      bucket.pauseUntil(this.clock.now() + THROTTLE_PAUSE_MS);
      return new ThrottledError(text, { cause });
    }
    if (/Conflict/i.test(code) || /idempoten|clientToken/i.test(message)) {
      return new IdempotencyConflictError(text, { cause });
    }
    if (
      /task ?definition/i.test(message) &&
      /not found|unable to describe|inactive|does not exist|invalid revision/i.test(message)
    ) {
      return new TaskDefinitionNotFoundError(text, { cause });
    }
    const isLaunch = where.startsWith('RunTask');
    if (
      isLaunch &&
      /ClientException|InvalidParameter|AccessDenied|PlatformUnknown|PlatformTaskDefinitionIncompatibility|Unsupported|Blocked|ClusterNotFound/i.test(
        code,
      )
    ) {
      return new LaunchFailedError(text, code, { cause });
    }
    return new EcsError(text, { cause });
  }
}
