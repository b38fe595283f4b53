// Launching one runner, idempotent at every step:
//   pending     the record exists with its deterministic name (written before anything else,
//               so nothing we create outside can exist without a record);
//   configured  a JIT registration exists on GitHub (its id is stored, never the JIT config);
//   launching   a task was started with RunTask (clientToken from the name and registration).
// A crash between two steps leaves a record in pending or configured. The next pass adopts what
// exists (a task found by its runner tag; a runner already online) or replaces a registration
// whose JIT config was lost with the crash. It never starts a second runner for one record.

import {
  JIT_CONFIG_ENV,
  TASK_STARTED_BY,
  TASK_TAG_POOL,
  TASK_TAG_RUNNER,
} from '../../api/constants.ts';
import type { CapacityProviderStrategyItem } from '../../api/types.ts';
import { CapacityUnavailableError, IdempotencyConflictError } from '../../ecs/errors.ts';
import type { RunnerTask } from '../../ecs/types.ts';
import { RunnerNameExistsError } from '../../github/errors.ts';
import type { GitHubRunner, GitHubScope, JitConfig } from '../../github/types.ts';
import type { PoolRecord, RunnerRecord } from '../../store/types.ts';
import type { ReconcileContext } from '../context.ts';
import { ReconcileError } from '../errors.ts';
import { clientToken, githubScope } from '../names.ts';
import { saveRunner } from './record.ts';
import { taskDefinitionFor } from './task-definition.ts';

/** The default runner group of every organization, and the only group of a repository. */
const DEFAULT_RUNNER_GROUP_ID = 1;

export type Registration =
  | { kind: 'new'; jit: JitConfig }
  /** A runner with our name is already online: a task runs it, keep it. */
  | { kind: 'online'; runner: GitHubRunner };

/** Finds the task started for `name` (by its runner tag), including recently stopped ones. */
export async function findTaskByRunnerTag(
  ctx: ReconcileContext,
  cluster: string,
  name: string,
): Promise<RunnerTask | undefined> {
  const arns = [
    ...(await ctx.ecs.listTasks(cluster, { startedBy: TASK_STARTED_BY })),
    ...(await ctx.ecs.listTasks(cluster, { startedBy: TASK_STARTED_BY, desiredStatus: 'STOPPED' })),
  ];
  if (!arns.length) return undefined;
  const tasks: RunnerTask[] = [];
  for (let i = 0; i < arns.length; i += 100) {
    tasks.push(...(await ctx.ecs.describeTasks(cluster, arns.slice(i, i + 100))));
  }
  // Prefer a task that still runs.
  const mine = tasks.filter((t) => t.tags[TASK_TAG_RUNNER] === name);
  return mine.find((t) => t.desiredStatus !== 'STOPPED') ?? mine[0];
}

async function runnerGroupId(
  ctx: ReconcileContext,
  pool: PoolRecord,
  scope: GitHubScope,
): Promise<number> {
  const spec = pool.spec.github;
  if (spec.scope !== 'repo' && spec.runnerGroup) {
    return ctx.github.resolveRunnerGroupId(scope, spec.runnerGroup);
  }
  return DEFAULT_RUNNER_GROUP_ID;
}

/**
 * Generates a JIT config for the record's name. A 409 means a runner with the name exists: one
 * we registered before a crash (or a POST that plugin-retry repeated). If it is online, a task
 * runs it: adopt it. Otherwise its JIT config is lost: delete it and generate again.
 */
export async function register(
  ctx: ReconcileContext,
  pool: PoolRecord,
  record: RunnerRecord,
): Promise<Registration> {
  const scope = githubScope(pool.spec.github);
  const request = {
    name: record.name,
    runnerGroupId: await runnerGroupId(ctx, pool, scope),
    labels: record.labels,
    workFolder: ctx.settings.workFolder,
  };
  for (let attempt = 0; ; attempt++) {
    try {
      return { kind: 'new', jit: await ctx.github.generateJitConfig(scope, request) };
    } catch (err) {
      if (!(err instanceof RunnerNameExistsError) || attempt >= 2) throw err;
    }
    const existing = await ctx.github.findRunnerByName(scope, record.name);
    if (!existing) continue; // deleted meanwhile: generate again
    if (existing.status === 'online') return { kind: 'online', runner: existing };
    ctx.log.info(
      { runner: record.name, pool: pool.name, githubRunnerId: existing.id },
      'replacing a registration whose JIT config was lost',
    );
    ctx.fenced(); // only the lease holder deletes registrations
    await ctx.github.deleteRunner(scope, existing.id);
  }
}

/** One RunTask attempt: a strategy (absent: launch type FARGATE) and the token's name for it. */
export interface LaunchAttempt {
  /** Part of the clientToken: differs between the attempts of one launch. */
  label: string;
  strategy?: CapacityProviderStrategyItem[];
}

const ON_DEMAND: CapacityProviderStrategyItem[] = [{ capacityProvider: 'FARGATE', weight: 1 }];

/**
 * The RunTask attempts of one launch, in order. The first passes the pool's strategy as written:
 * ECS applies its base and weights. A later attempt is made only after a capacity failure
 * (CapacityUnavailableError: Fargate Spot has no capacity, or no container instance of an Auto
 * Scaling group provider has the cpu or memory left), never after any other error:
 * - a Fargate pool whose strategy can place on FARGATE_SPOT retries on FARGATE alone, unless
 *   `onDemandFallback: false`;
 * - an EC2 pool with several providers tries each provider of weight > 0 alone, in the order
 *   written (ECS does not say which provider was full; weight-0 providers only take a base).
 * A runner marked `onDemand` (it serves a spot re-run) on a Fargate pool launches on FARGATE.
 */
export function launchAttempts(
  pool: PoolRecord,
  record?: Pick<RunnerRecord, 'onDemand'>,
): LaunchAttempt[] {
  const strategy = pool.spec.ecs.capacityProviderStrategy;
  if (!strategy?.length) return [{ label: 'FARGATE' }];
  const asWritten: LaunchAttempt = { label: strategyLabel(strategy), strategy };
  if (pool.spec.ecs.launch === 'ec2') {
    if (strategy.length === 1) return [asWritten];
    const alone = strategy
      .filter((item) => (item.weight ?? 0) > 0)
      .map((item) => ({
        label: item.capacityProvider,
        strategy: [{ capacityProvider: item.capacityProvider, weight: 1 }],
      }));
    return [asWritten, ...alone];
  }
  const onDemand: LaunchAttempt = { label: 'FARGATE', strategy: ON_DEMAND };
  if (record?.onDemand) return [onDemand];
  const spot = strategy.find((item) => item.capacityProvider === 'FARGATE_SPOT');
  // FARGATE_SPOT takes a task only through a base, or a weight when it is not the only item.
  const spotCanPlace =
    !!spot && ((spot.base ?? 0) > 0 || (spot.weight ?? 0) > 0 || strategy.length === 1);
  if (!spotCanPlace || pool.spec.ecs.onDemandFallback === false) return [asWritten];
  return [asWritten, onDemand];
}

function strategyLabel(strategy: CapacityProviderStrategyItem[]): string {
  return strategy
    .map((item) => `${item.capacityProvider}:${item.base ?? 0}:${item.weight ?? 0}`)
    .join(',');
}

/**
 * Starts the task for a registration with the pool's capacity provider strategy, falling back
 * per launch on a capacity failure (launchAttempts). The JIT config goes only into the
 * container environment override.
 */
export async function startTask(
  ctx: ReconcileContext,
  pool: PoolRecord,
  record: RunnerRecord,
  githubRunnerId: number,
  encodedJitConfig: string,
): Promise<RunnerTask> {
  const ecs = pool.spec.ecs;
  const attempts = launchAttempts(pool, record);
  for (let i = 0; i < attempts.length; i++) {
    const attempt = attempts[i]!;
    try {
      const task = await ctx.ecs.runTask({
        cluster: ecs.cluster,
        taskDefinition: taskDefinitionFor(pool, ctx.settings.runnerArchitectures),
        containerName: ecs.containerName ?? 'runner',
        networkMode: ecs.networkMode ?? 'awsvpc',
        subnets: ecs.subnets ?? [],
        securityGroups: ecs.securityGroups ?? [],
        assignPublicIp: ecs.assignPublicIp ?? false,
        ...(attempt.strategy ? { capacityProviderStrategy: attempt.strategy } : {}),
        ...(record.cpu ? { cpu: record.cpu } : {}),
        ...(record.memory ? { memory: record.memory } : {}),
        ...(record.ephemeralStorageGiB ? { ephemeralStorageGiB: record.ephemeralStorageGiB } : {}),
        environment: { [JIT_CONFIG_ENV]: encodedJitConfig },
        clientToken: clientToken(record.name, githubRunnerId, attempt.label),
        startedBy: TASK_STARTED_BY,
        group: `runnerctl:${pool.name}`.slice(0, 255),
        tags: { [TASK_TAG_RUNNER]: record.name, [TASK_TAG_POOL]: pool.name },
      });
      return task;
    } catch (err) {
      if (err instanceof CapacityUnavailableError && i + 1 < attempts.length) {
        ctx.log.warn(
          { runner: record.name, pool: pool.name, from: attempt.label, to: attempts[i + 1]!.label },
          'no capacity for this launch; trying the next capacity provider strategy',
        );
        continue;
      }
      if (err instanceof IdempotencyConflictError) {
        // A task exists for this token: the launch already happened. Adopt it.
        const task = await findTaskByRunnerTag(ctx, ecs.cluster, record.name);
        if (task) return task;
      }
      throw err;
    }
  }
  throw new ReconcileError(`pool ${pool.name} has no capacity provider to launch on`);
}

/**
 * Drives a pending or configured record to launching (or adopts what exists). `taskByTag` is
 * the task found for the record's name when it has no taskArn yet.
 */
export async function launchRunner(
  ctx: ReconcileContext,
  pool: PoolRecord,
  record: RunnerRecord,
  taskByTag: RunnerTask | undefined,
): Promise<RunnerRecord> {
  // Crash after RunTask, before the record said so: the task exists, adopt it.
  if (record.state === 'configured' && taskByTag && record.githubRunnerId !== undefined) {
    return saveRunner(
      ctx,
      record,
      { state: 'launching', taskArn: taskByTag.arn, capacityProvider: taskByTag.capacityProvider },
      'task-adopted',
      taskByTag.arn,
    );
  }

  // Same process, RunTask failed transiently (throttling): the JIT config is still in memory.
  const cached = ctx.jitConfigs?.get(record.name);
  if (cached && record.state === 'configured' && cached.githubRunnerId === record.githubRunnerId) {
    return runConfigured(ctx, pool, record, cached.githubRunnerId, cached.encodedJitConfig);
  }

  const registration = await register(ctx, pool, record);
  if (registration.kind === 'online') {
    const task = taskByTag ?? (await findTaskByRunnerTag(ctx, pool.spec.ecs.cluster, record.name));
    return saveRunner(
      ctx,
      record,
      {
        state: 'launching',
        githubRunnerId: registration.runner.id,
        ...(task ? { taskArn: task.arn, capacityProvider: task.capacityProvider } : {}),
      },
      'runner-adopted',
      `runner ${registration.runner.id} already online`,
    );
  }

  const { jit } = registration;
  const current = await saveRunner(
    ctx,
    record,
    {
      state: 'configured',
      githubRunnerId: jit.runner.id,
      attempts: record.attempts + 1,
      taskArn: undefined,
    },
    'configured',
    `runner ${jit.runner.id}`,
  );
  ctx.jitConfigs?.set(record.name, {
    githubRunnerId: jit.runner.id,
    encodedJitConfig: jit.encodedJitConfig,
  });
  return runConfigured(ctx, pool, current, jit.runner.id, jit.encodedJitConfig);
}

async function runConfigured(
  ctx: ReconcileContext,
  pool: PoolRecord,
  record: RunnerRecord,
  githubRunnerId: number,
  encodedJitConfig: string,
): Promise<RunnerRecord> {
  const task = await startTask(ctx, pool, record, githubRunnerId, encodedJitConfig);
  ctx.metrics?.launched(pool.name, task.capacityProvider);
  ctx.jitConfigs?.delete(record.name);
  return saveRunner(
    ctx,
    record,
    { state: 'launching', taskArn: task.arn, capacityProvider: task.capacityProvider },
    'task-started',
    task.capacityProvider ? `${task.arn} on ${task.capacityProvider}` : task.arn,
  );
}
