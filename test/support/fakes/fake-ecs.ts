// An in-memory EcsProvider with ECS's behaviour where the controller depends on it: RunTask is
// idempotent per clientToken (same parameters: the same task; different: IdempotencyConflict),
// FARGATE_SPOT can run out of capacity, stopped tasks stay visible, StopTask is idempotent.

import {
  CapacityUnavailableError,
  IdempotencyConflictError,
} from '../../../controller/ecs/errors.ts';
import type {
  EcsProvider,
  RunnerLaunch,
  RunnerTask,
  TaskStatus,
} from '../../../controller/ecs/types.ts';
import { seededRandom } from '../../../controller/sandbox/aws-json.ts';
import { placeByStrategy, validateStrategy } from '../../../controller/sandbox/ecs/placement.ts';

export interface FakeTask extends RunnerTask {
  launch: RunnerLaunch;
}

export type EcsCall = 'runTask' | 'stopTask' | 'describeTasks' | 'listTasks';

export class FakeEcs implements EcsProvider {
  tasks = new Map<string, FakeTask>();
  tokens = new Map<string, { arn: string; params: string }>();
  spotAvailable = true;
  /** Draws the provider of a weighted strategy (deterministic, seeded). */
  random = seededRandom(7);
  afterCall?: (call: EcsCall, detail: unknown) => void;
  beforeCall?: (call: EcsCall, detail: unknown) => void;
  now: () => number;
  #next = 1;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  async runTask(launch: RunnerLaunch): Promise<RunnerTask> {
    this.beforeCall?.('runTask', launch);
    const params = JSON.stringify({ ...launch, clientToken: undefined });
    const previous = this.tokens.get(launch.clientToken);
    if (previous) {
      if (previous.params !== params) {
        throw new IdempotencyConflictError(`clientToken ${launch.clientToken} reused`);
      }
      return this.#view(this.tasks.get(previous.arn)!);
    }
    // ECS places by the strategy's base and weights (the simulator's model of it).
    const strategy = launch.capacityProviderStrategy;
    if (strategy) validateStrategy(strategy);
    const provider = strategy ? placeByStrategy(strategy, 1, this.random)[0]! : 'FARGATE';
    if (provider === 'FARGATE_SPOT' && !this.spotAvailable) {
      throw new CapacityUnavailableError(
        'Capacity is unavailable at this time. Please try again later.',
      );
    }
    const arn = `arn:aws:ecs:us-east-1:123456789012:task/${launch.cluster}/${String(this.#next++).padStart(8, '0')}`;
    const task: FakeTask = {
      arn,
      cluster: launch.cluster,
      lastStatus: 'PROVISIONING',
      desiredStatus: 'RUNNING',
      startedBy: launch.startedBy,
      ...(launch.group ? { group: launch.group } : {}),
      capacityProvider: provider,
      tags: { ...launch.tags },
      createdAt: this.now(),
      launch: structuredClone(launch),
    };
    this.tasks.set(arn, task);
    this.tokens.set(launch.clientToken, { arn, params });
    this.afterCall?.('runTask', arn);
    return this.#view(task);
  }

  async describeTasks(cluster: string, taskArns: string[]): Promise<RunnerTask[]> {
    if (taskArns.length > 100) throw new Error('DescribeTasks takes at most 100 tasks');
    this.beforeCall?.('describeTasks', taskArns);
    return taskArns
      .map((arn) => this.tasks.get(arn))
      .filter((t): t is FakeTask => !!t && t.cluster === cluster)
      .map((t) => this.#view(t));
  }

  async listTasks(
    cluster: string,
    filter: { startedBy: string; desiredStatus?: 'RUNNING' | 'STOPPED' },
  ) {
    this.beforeCall?.('listTasks', filter);
    const desired = filter.desiredStatus ?? 'RUNNING';
    return [...this.tasks.values()]
      .filter(
        (t) =>
          t.cluster === cluster && t.startedBy === filter.startedBy && t.desiredStatus === desired,
      )
      .map((t) => t.arn);
  }

  async stopTask(cluster: string, taskArn: string, reason: string): Promise<void> {
    this.beforeCall?.('stopTask', taskArn);
    const t = this.tasks.get(taskArn);
    if (!t || t.cluster !== cluster || t.lastStatus === 'STOPPED') return;
    Object.assign(t, {
      desiredStatus: 'STOPPED',
      lastStatus: 'STOPPED',
      stopCode: 'UserInitiated',
      stoppedReason: reason,
      stoppedAt: this.now(),
    });
    this.afterCall?.('stopTask', taskArn);
  }

  // ---- The world's side. ----

  setStatus(arn: string, status: TaskStatus, extra: Partial<RunnerTask> = {}): void {
    const t = this.tasks.get(arn);
    if (!t) throw new Error(`no task ${arn}`);
    Object.assign(t, { lastStatus: status, ...extra });
    if (status === 'STOPPED') Object.assign(t, { desiredStatus: 'STOPPED', stoppedAt: this.now() });
  }

  running(): FakeTask[] {
    return [...this.tasks.values()].filter((t) => t.lastStatus !== 'STOPPED');
  }

  #view(t: FakeTask): RunnerTask {
    const { launch: _launch, ...task } = t;
    return structuredClone(task);
  }
}
