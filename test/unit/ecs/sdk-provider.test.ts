import {
  DescribeTasksCommand,
  ListTasksCommand,
  RunTaskCommand,
  StopTaskCommand,
  type RunTaskCommandInput,
} from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import {
  SdkEcsProvider,
  buildRunTaskInput,
  toRunnerTask,
  type EcsApi,
} from '../../../controller/ecs/sdk-provider.ts';
import {
  CapacityUnavailableError,
  EcsError,
  IdempotencyConflictError,
  LaunchFailedError,
  TaskDefinitionNotFoundError,
  ThrottledError,
} from '../../../controller/ecs/errors.ts';
import type { RunnerLaunch } from '../../../controller/ecs/types.ts';
import { fakeClock } from '../util/fake-clock.ts';

const JIT = 'JITCONFIG-' + 'z'.repeat(4200);

function launch(over: Partial<RunnerLaunch> = {}): RunnerLaunch {
  return {
    cluster: 'runners',
    taskDefinition: 'runner:3',
    containerName: 'runner',
    subnets: ['subnet-1', 'subnet-2'],
    securityGroups: ['sg-1'],
    assignPublicIp: false,
    environment: { RUNNERCTL_JIT_CONFIG: JIT },
    clientToken: 'rctl-linux-abc',
    startedBy: 'runnerctl',
    group: 'runnerctl:linux',
    tags: { 'runnerctl.dev/runner': 'rctl-linux-abc', 'runnerctl.dev/pool': 'linux' },
    ...over,
  };
}

function awsError(name: string, message: string, status = 400) {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
}

/** A scripted ECS: answers RunTask from a queue, keeps started tasks for describe/list/stop. */
class FakeEcs implements EcsApi {
  calls: { name: string; input: Record<string, unknown> }[] = [];
  runAnswers: (() => unknown)[] = [];
  tasks = new Map<
    string,
    { taskArn: string; lastStatus: string; desiredStatus: string; startedBy: string }
  >();
  stopErrors: Error[] = [];
  async send(
    command: RunTaskCommand | DescribeTasksCommand | ListTasksCommand | StopTaskCommand,
  ): Promise<unknown> {
    const name = command.constructor.name;
    const input = command.input as Record<string, unknown>;
    this.calls.push({ name, input });
    if (command instanceof RunTaskCommand) {
      const answer = this.runAnswers.shift();
      if (answer) return answer();
      const arn = `arn:aws:ecs:eu-west-1:1:task/runners/${this.tasks.size + 1}`;
      const task = {
        taskArn: arn,
        lastStatus: 'PROVISIONING',
        desiredStatus: 'RUNNING',
        startedBy: String(input.startedBy),
      };
      this.tasks.set(arn, task);
      return {
        tasks: [
          {
            ...task,
            clusterArn: 'arn:cluster/runners',
            capacityProviderName: 'FARGATE',
            tags: [{ key: 'k', value: 'v' }],
          },
        ],
        failures: [],
      };
    }
    if (command instanceof DescribeTasksCommand) {
      const arns = input.tasks as string[];
      if (arns.length > 100)
        throw awsError('InvalidParameterException', 'Tasks cannot be longer than 100.');
      return {
        tasks: arns.filter((a) => this.tasks.has(a)).map((a) => this.tasks.get(a)),
        failures: [],
      };
    }
    if (command instanceof ListTasksCommand) {
      // As ECS: startedBy is the only filter when given; the desired status defaults to RUNNING.
      if (input.startedBy !== undefined && input.desiredStatus !== undefined) {
        throw Object.assign(new Error('startedBy must be the only filter'), {
          name: 'InvalidParameterException',
        });
      }
      const all = [...this.tasks.values()]
        .filter((t) => t.desiredStatus === (input.desiredStatus ?? 'RUNNING'))
        .filter((t) => input.startedBy === undefined || t.startedBy === input.startedBy)
        .map((t) => t.taskArn);
      const start = input.nextToken ? Number(input.nextToken) : 0;
      const page = all.slice(start, start + 100);
      return {
        taskArns: page,
        nextToken: start + 100 < all.length ? String(start + 100) : undefined,
      };
    }
    if (command instanceof StopTaskCommand) {
      const err = this.stopErrors.shift();
      if (err) throw err;
      const task = this.tasks.get(String(input.task));
      if (task) task.desiredStatus = 'STOPPED';
      return { task };
    }
    throw new Error(`unexpected ${name}`);
  }
}

function setup(pacing?: { runTaskPerSecond?: number; runTaskBurst?: number }) {
  const ecs = new FakeEcs();
  const clock = fakeClock();
  const provider = new SdkEcsProvider({ client: ecs, clock, ...(pacing ? { pacing } : {}) });
  return { ecs, clock, provider };
}

describe('buildRunTaskInput', () => {
  it('FARGATE launch type, network, overrides, tags, idempotency token', () => {
    const input = buildRunTaskInput(launch({ cpu: 2048, memory: 8192 }));
    expect(input).toMatchObject({
      cluster: 'runners',
      taskDefinition: 'runner:3',
      count: 1,
      clientToken: 'rctl-linux-abc',
      startedBy: 'runnerctl',
      group: 'runnerctl:linux',
      enableECSManagedTags: true,
      launchType: 'FARGATE',
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: ['subnet-1', 'subnet-2'],
          securityGroups: ['sg-1'],
          assignPublicIp: 'DISABLED',
        },
      },
      overrides: {
        cpu: '2048',
        memory: '8192',
        containerOverrides: [
          { name: 'runner', environment: [{ name: 'RUNNERCTL_JIT_CONFIG', value: JIT }] },
        ],
      },
      tags: [
        { key: 'runnerctl.dev/runner', value: 'rctl-linux-abc' },
        { key: 'runnerctl.dev/pool', value: 'linux' },
      ],
    });
    expect(input.capacityProviderStrategy).toBeUndefined();
  });

  it('a capacity provider replaces the launch type', () => {
    const input: RunTaskCommandInput = buildRunTaskInput(
      launch({
        capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }],
        assignPublicIp: true,
      }),
    );
    expect(input.launchType).toBeUndefined();
    expect(input.capacityProviderStrategy).toEqual([
      { capacityProvider: 'FARGATE_SPOT', weight: 1 },
    ]);
    expect(input.networkConfiguration?.awsvpcConfiguration?.assignPublicIp).toBe('ENABLED');
    expect(input.overrides?.cpu).toBeUndefined();
  });

  it('passes the strategy as written: base and weight, weight 0 included', () => {
    const strategy = [
      { capacityProvider: 'FARGATE', base: 2, weight: 0 },
      { capacityProvider: 'FARGATE_SPOT', weight: 1 },
    ];
    const input = buildRunTaskInput(launch({ capacityProviderStrategy: strategy }));
    expect(input.capacityProviderStrategy).toEqual(strategy);
    expect(input.launchType).toBeUndefined();
  });
});

describe('buildRunTaskInput on ECS on EC2 and with storage', () => {
  it('an Auto Scaling group provider goes into the strategy; bridge mode sends no network', () => {
    const input = buildRunTaskInput(
      launch({
        capacityProviderStrategy: [{ capacityProvider: 'runnerctl-docker', weight: 1 }],
        networkMode: 'bridge',
        subnets: [],
      }),
    );
    expect(input.launchType).toBeUndefined();
    expect(input.capacityProviderStrategy).toEqual([
      { capacityProvider: 'runnerctl-docker', weight: 1 },
    ]);
    expect(input.networkConfiguration).toBeUndefined();
  });

  it('awsvpc keeps the network configuration; ephemeral storage is a task override', () => {
    const input = buildRunTaskInput(launch({ networkMode: 'awsvpc', ephemeralStorageGiB: 100 }));
    expect(input.networkConfiguration?.awsvpcConfiguration?.subnets).toEqual(launch().subnets);
    expect(input.overrides?.ephemeralStorage).toEqual({ sizeInGiB: 100 });
  });
});

describe('SdkEcsProvider', () => {
  it('runs, describes, lists and stops tasks', async () => {
    const { ecs, provider } = setup();
    const task = await provider.runTask(launch());
    expect(task).toMatchObject({
      arn: 'arn:aws:ecs:eu-west-1:1:task/runners/1',
      lastStatus: 'PROVISIONING',
      capacityProvider: 'FARGATE',
      tags: { k: 'v' },
    });
    expect(
      (await provider.describeTasks('runners', [task.arn, 'arn:gone']))?.map((t) => t.arn),
    ).toEqual([task.arn]);
    expect(await provider.listTasks('runners', { startedBy: 'runnerctl' })).toEqual([task.arn]);
    await provider.stopTask('runners', task.arn, 'x'.repeat(400));
    expect(await provider.listTasks('runners', { startedBy: 'runnerctl' })).toEqual([]);
    expect(
      await provider.listTasks('runners', { startedBy: 'runnerctl', desiredStatus: 'STOPPED' }),
    ).toEqual([task.arn]);
    const stop = ecs.calls.find((c) => c.name === 'StopTaskCommand')!;
    expect(String(stop.input.reason).length).toBe(255);
    const describe = ecs.calls.find((c) => c.name === 'DescribeTasksCommand')!;
    expect(describe.input.include).toEqual(['TAGS']);
  });

  it('lists stopped tasks without combining startedBy with desiredStatus, describing each once', async () => {
    const { ecs, provider } = setup();
    for (let i = 0; i < 150; i++) {
      const arn = `arn:t/${i}`;
      ecs.tasks.set(arn, {
        taskArn: arn,
        lastStatus: 'STOPPED',
        desiredStatus: 'STOPPED',
        startedBy: i % 3 === 0 ? 'someone-else' : i % 3 === 1 ? 'runnerctl' : '',
      });
    }
    const filter = { startedBy: 'runnerctl', desiredStatus: 'STOPPED' } as const;
    const first = await provider.listTasks('runners', filter);
    expect(first).toEqual([...ecs.tasks.keys()].filter((_, i) => i % 3 === 1));
    const describedAfterFirst = ecs.calls.filter((c) => c.name === 'DescribeTasksCommand').length;
    expect(describedAfterFirst).toBeGreaterThan(0);
    // Known tasks are not described again.
    expect(await provider.listTasks('runners', filter)).toEqual(first);
    expect(ecs.calls.filter((c) => c.name === 'DescribeTasksCommand').length).toBe(
      describedAfterFirst,
    );
    for (const call of ecs.calls.filter((c) => c.name === 'ListTasksCommand')) {
      expect(call.input.startedBy === undefined || call.input.desiredStatus === undefined).toBe(
        true,
      );
    }
  });

  it('describes in batches of 100 and lists every page', async () => {
    const { ecs, provider } = setup();
    for (let i = 0; i < 250; i++) {
      const arn = `arn:t/${i}`;
      ecs.tasks.set(arn, {
        taskArn: arn,
        lastStatus: 'RUNNING',
        desiredStatus: 'RUNNING',
        startedBy: 'runnerctl',
      });
    }
    const arns = await provider.listTasks('runners', { startedBy: 'runnerctl' });
    expect(arns.length).toBe(250);
    expect((await provider.describeTasks('runners', arns)).length).toBe(250);
    expect(
      ecs.calls
        .filter((c) => c.name === 'DescribeTasksCommand')
        .map((c) => (c.input.tasks as string[]).length),
    ).toEqual([100, 100, 50]);
  });

  it('stopTask tolerates a task that is already stopped or forgotten', async () => {
    const { ecs, provider } = setup();
    ecs.stopErrors.push(
      awsError('InvalidParameterException', 'The referenced task was not found.'),
    );
    await provider.stopTask('runners', 'arn:old', 'gc');
    ecs.stopErrors.push(awsError('ServerException', 'Internal error', 500));
    await expect(provider.stopTask('runners', 'arn:x', 'gc')).rejects.toBeInstanceOf(EcsError);
  });

  it('stopTask on a cluster that does not exist is an error, not a task already gone', async () => {
    const { ecs, provider } = setup();
    ecs.stopErrors.push(awsError('ClusterNotFoundException', 'Cluster not found.'));
    await expect(provider.stopTask('moved', 'arn:t/1', 'gc')).rejects.toThrow(
      /ClusterNotFoundException: Cluster not found/,
    );
  });

  it('a lastStatus ECS adds after STOPPED (DELETED) or one unknown is stopped, never live', () => {
    for (const lastStatus of ['DELETED', 'SOMETHING_NEW']) {
      const task = toRunnerTask(
        { taskArn: 'arn:t/1', lastStatus, desiredStatus: 'STOPPED' },
        'runners',
      );
      expect(task.lastStatus).toBe('STOPPED');
    }
    expect(toRunnerTask({ taskArn: 'arn:t/2', lastStatus: 'PENDING' }, 'runners').lastStatus).toBe(
      'PENDING',
    );
  });

  it('maps failures and exceptions to typed errors, never quoting the environment', async () => {
    const { ecs, clock, provider } = setup();
    const cases: [() => unknown, new (...args: never[]) => Error][] = [
      [
        () => ({
          tasks: [],
          failures: [
            {
              arn: 'x',
              reason:
                'Capacity is unavailable at this time. Please try again later or in a different availability zone',
            },
          ],
        }),
        CapacityUnavailableError,
      ],
      [() => ({ tasks: [], failures: [{ arn: 'x', reason: 'RESOURCE:ENI' }] }), LaunchFailedError],
      // ECS on EC2: no container instance of the capacity provider has the cpu or memory left.
      [
        () => ({ tasks: [], failures: [{ arn: 'x', reason: 'RESOURCE:MEMORY' }] }),
        CapacityUnavailableError,
      ],
      [
        () => ({ tasks: [], failures: [{ arn: 'x', reason: 'RESOURCE:CPU' }] }),
        CapacityUnavailableError,
      ],
      [
        () => {
          throw awsError('ThrottlingException', 'Rate exceeded');
        },
        ThrottledError,
      ],
      [
        () => {
          throw awsError('ClientException', 'TaskDefinition not found.');
        },
        TaskDefinitionNotFoundError,
      ],
      [
        () => {
          throw awsError('ClientException', 'Unable to describe task definition.');
        },
        TaskDefinitionNotFoundError,
      ],
      [
        () => {
          throw awsError('ConflictException', 'The clientToken was used with different parameters');
        },
        IdempotencyConflictError,
      ],
      [
        () => {
          throw awsError('InvalidParameterException', 'subnet-1 not found');
        },
        LaunchFailedError,
      ],
      [() => ({ tasks: [], failures: [] }), LaunchFailedError],
    ];
    for (const [answer, type] of cases) {
      ecs.runAnswers.push(answer);
      const pending = provider
        .runTask(
          launch({ capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }] }),
        )
        .catch((e) => e);
      await clock.advance(2_000); // past the pause a throttling answer causes
      const err = await pending;
      expect(err, type.name).toBeInstanceOf(type);
      const text = JSON.stringify({ m: err.message, s: err.stack, c: String(err.cause) });
      expect(text).not.toContain('JITCONFIG-');
      expect(text).toContain('RunTask runner:3 (clientToken rctl-linux-abc)');
    }
  });

  it('refuses overrides over 8,192 characters without calling ECS', async () => {
    const { ecs, provider } = setup();
    const err = await provider
      .runTask(launch({ environment: { RUNNERCTL_JIT_CONFIG: 'q'.repeat(9000) } }))
      .catch((e) => e);
    expect(err).toBeInstanceOf(LaunchFailedError);
    expect(err.message).toMatch(/overrides are \d+ characters, ECS allows 8192/);
    expect(err.message).not.toContain('qqqq');
    expect(ecs.calls.length).toBe(0);
  });

  it('paces RunTask: launches burst up to runTaskBurst, calls up to runTaskPerSecond; throttling pauses launches', async () => {
    const { ecs, clock, provider } = setup({ runTaskBurst: 10, runTaskPerSecond: 2 });
    let started = 0;
    const all = Array.from({ length: 9 }, () => provider.runTask(launch()).then(() => started++));
    // RunTask calls: a burst of half a second's worth, then 2 a second, though launches could
    // burst to 10.
    const seen: number[] = [];
    for (let s = 0; s <= 4; s++) {
      await clock.advance(s === 0 ? 0 : 1_000);
      seen.push(started);
    }
    expect(seen).toEqual([1, 3, 5, 7, 9]);
    await Promise.all(all);
    await clock.advance(10_000); // refill

    ecs.runAnswers.push(() => {
      throw awsError('ThrottlingException', 'Rate exceeded');
    });
    await expect(provider.runTask(launch())).rejects.toBeInstanceOf(ThrottledError);
    let after = false;
    const next = provider.runTask(launch()).then(() => (after = true));
    await clock.advance(999);
    expect(after).toBe(false);
    await clock.advance(1_000);
    await next;
    expect(after).toBe(true);
  });
});
