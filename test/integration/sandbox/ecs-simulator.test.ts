import {
  ClientException,
  ClusterNotFoundException,
  ConflictException,
  CreateClusterCommand,
  DescribeClustersCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  InvalidParameterException,
  ListTaskDefinitionsCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import type {
  RegisterTaskDefinitionCommandInput,
  RunTaskCommandInput,
  Task,
} from '@aws-sdk/client-ecs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { normaliseEcsTaskStateChange } from '../../../controller/events/ecs-task-event.ts';
import { startEcsSimulator } from '../../../controller/sandbox/ecs/simulator.ts';
import type { EcsSimulator } from '../../../controller/sandbox/ecs/simulator.ts';
import type {
  ContainerRuntime,
  ContainerStart,
  RunningContainer,
} from '../../../controller/sandbox/ecs/runtime.ts';
import {
  auditResponseFields,
  dummyCredentials,
  fieldsUnknownToSdk,
  ManualClock,
  RecordingHandler,
  settle,
  withoutMetadata,
} from './ecs-sqs-helpers.ts';

const SPOT_SHORTAGE =
  'Capacity is unavailable at this time. Please try again later or in a different availability zone';

/**
 * Containers whose behaviour the test sets through the environment overrides:
 * EXIT_CODE exits at once; IGNORE_SIGTERM=1 keeps running after SIGTERM; otherwise the container
 * runs until `exit()` and exits 143 on SIGTERM.
 */
class TestRuntime implements ContainerRuntime {
  readonly started = new Map<
    string,
    ContainerStart & { exit(code: number): void; sigterm: boolean }
  >();

  start(container: ContainerStart): RunningContainer {
    let exit!: (code: number) => void;
    const exited = new Promise<number>((resolve) => (exit = resolve));
    const record = { ...container, exit, sigterm: false };
    this.started.set(container.taskArn, record);
    container.signal.addEventListener('abort', () => {
      record.sigterm = container.signal.reason === 'SIGTERM';
      if (container.environment.IGNORE_SIGTERM !== '1') exit(143);
    });
    if (container.environment.EXIT_CODE !== undefined)
      exit(Number(container.environment.EXIT_CODE));
    return { exited };
  }
}

function client(url: string, region: string, handler?: RecordingHandler): ECSClient {
  return new ECSClient({
    endpoint: url,
    region,
    credentials: dummyCredentials,
    maxAttempts: 1,
    ...(handler ? { requestHandler: handler } : {}),
  });
}

const runnerTaskDefinition: RegisterTaskDefinitionCommandInput = {
  family: 'runner',
  requiresCompatibilities: ['FARGATE'],
  networkMode: 'awsvpc',
  cpu: '1024',
  memory: '2048',
  containerDefinitions: [
    {
      name: 'runner',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/runner:latest',
      essential: true,
      environment: [{ name: 'FROM_DEFINITION', value: 'yes' }],
    },
  ],
};

async function setUpCluster(ecs: ECSClient, name: string) {
  await ecs.send(
    new CreateClusterCommand({ clusterName: name, capacityProviders: ['FARGATE', 'FARGATE_SPOT'] }),
  );
  await ecs.send(new RegisterTaskDefinitionCommand(runnerTaskDefinition));
}

function runInput(cluster: string, extra: Partial<RunTaskCommandInput> = {}): RunTaskCommandInput {
  return {
    cluster,
    taskDefinition: 'runner',
    launchType: 'FARGATE',
    networkConfiguration: {
      awsvpcConfiguration: {
        subnets: ['subnet-1'],
        securityGroups: ['sg-1'],
        assignPublicIp: 'DISABLED',
      },
    },
    startedBy: 'runnerctl',
    ...extra,
  };
}

function env(vars: Record<string, string>): Partial<RunTaskCommandInput> {
  return {
    overrides: {
      containerOverrides: [
        {
          name: 'runner',
          environment: Object.entries(vars).map(([name, value]) => ({ name, value })),
        },
      ],
    },
  };
}

async function describe1(ecs: ECSClient, cluster: string, arn: string): Promise<Task> {
  const out = await ecs.send(
    new DescribeTasksCommand({ cluster, tasks: [arn], include: ['TAGS'] }),
  );
  return out.tasks![0]!;
}

const ORDER = [
  'PROVISIONING',
  'PENDING',
  'ACTIVATING',
  'RUNNING',
  'DEACTIVATING',
  'STOPPING',
  'DEPROVISIONING',
  'STOPPED',
];

/** Polls DescribeTasks (through the SDK) until the task reaches `status` or a later one. */
async function waitFor(
  ecs: ECSClient,
  cluster: string,
  arn: string,
  status: string,
): Promise<Task> {
  for (;;) {
    const task = await describe1(ecs, cluster, arn);
    if (ORDER.indexOf(task.lastStatus!) >= ORDER.indexOf(status)) return task;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('ECS simulator through @aws-sdk/client-ecs (fast lifecycle)', () => {
  const runtime = new TestRuntime();
  const handler = new RecordingHandler();
  let sim: EcsSimulator;
  let ecs: ECSClient;
  let audit: ReturnType<typeof auditResponseFields>;
  const cluster = 'fast';

  beforeAll(async () => {
    sim = await startEcsSimulator({
      runtime,
      latencies: {
        provisioning: 1,
        pending: 1,
        activating: 1,
        deactivating: 1,
        stopping: 1,
        deprovisioning: 1,
        stopTimeout: 5_000,
      },
    });
    ecs = client(sim.url, sim.region, handler);
    audit = auditResponseFields(ecs);
    await setUpCluster(ecs, cluster);
  });

  afterEach(() => {
    sim.setFaults({
      spotCapacityShortage: 0,
      failToStart: 0,
      throttle: {
        enabled: true,
        runTaskBurst: 20,
        runTaskPerSecond: 20,
        launchBurst: 100,
        launchPerSecond: 20,
      },
    });
  });

  afterAll(async () => {
    ecs.destroy();
    await sim.close();
  });

  it('registers, describes and lists task definitions with the fields the SDK knows', async () => {
    const second = await ecs.send(new RegisterTaskDefinitionCommand(runnerTaskDefinition));
    expect(second.taskDefinition?.revision).toBe(2);
    expect(fieldsUnknownToSdk(handler.last(), withoutMetadata(second))).toEqual([]);
    const described = await ecs.send(
      new DescribeTaskDefinitionCommand({ taskDefinition: 'runner:1' }),
    );
    expect(described.taskDefinition).toMatchObject({
      family: 'runner',
      revision: 1,
      cpu: '1024',
      memory: '2048',
      status: 'ACTIVE',
    });
    expect(described.taskDefinition?.compatibilities).toContain('FARGATE');
    const listed = await ecs.send(
      new ListTaskDefinitionsCommand({ familyPrefix: 'runner', sort: 'DESC' }),
    );
    expect(listed.taskDefinitionArns?.[0]).toMatch(/:task-definition\/runner:2$/);
    await expect(
      ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'nope' })),
    ).rejects.toBeInstanceOf(ClientException);
  });

  it('refuses a Fargate task definition with an invalid cpu/memory pair', async () => {
    const error = await ecs
      .send(
        new RegisterTaskDefinitionCommand({ ...runnerTaskDefinition, cpu: '256', memory: '4096' }),
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientException);
    expect((error as Error).message).toMatch(/No Fargate configuration exists for given values/);
  });

  it('emits an ECS Task State Change event at every change of a task, versions rising', async () => {
    const events: Record<string, unknown>[] = [];
    const unsubscribe = sim.onTaskStateChange((envelope) => events.push(envelope));
    try {
      const run = await ecs.send(new RunTaskCommand(runInput(cluster, env({ EXIT_CODE: '0' }))));
      const arn = run.tasks![0]!.taskArn!;
      await sim.waitForTaskStatus(arn, 'STOPPED');
      const mine = events
        .map((envelope) => normaliseEcsTaskStateChange(envelope)!)
        .filter((event) => event.taskArn === arn);
      // Every lastStatus the task went through, in order, each with a higher version.
      expect(mine.map((event) => event.lastStatus)).toEqual([
        'PROVISIONING',
        'PENDING',
        'ACTIVATING',
        'RUNNING',
        'DEACTIVATING',
        'STOPPING',
        'DEPROVISIONING',
        'STOPPED',
      ]);
      for (let i = 1; i < mine.length; i += 1) {
        expect(mine[i]!.version).toBeGreaterThan(mine[i - 1]!.version);
      }
      const last = mine[mine.length - 1]!;
      expect(last).toMatchObject({
        clusterArn: run.tasks![0]!.clusterArn,
        desiredStatus: 'STOPPED',
        stopCode: 'EssentialContainerExited',
        startedBy: 'runnerctl',
        launchType: 'FARGATE',
        group: 'family:runner',
      });
      expect(Date.parse(last.stoppedAt!)).toBeGreaterThan(0);
      expect(Date.parse(last.updatedAt!)).toBeGreaterThan(0);
      expect(events[0]).toMatchObject({
        source: 'aws.ecs',
        'detail-type': 'ECS Task State Change',
        account: sim.accountId,
        region: sim.region,
      });
    } finally {
      unsubscribe();
    }
  });

  it('fails RunTask of an unknown task definition as ECS does', async () => {
    const error = await ecs
      .send(new RunTaskCommand(runInput(cluster, { taskDefinition: 'missing-family' })))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientException);
    expect((error as Error).message).toBe('TaskDefinition not found.');
  });

  it('fails RunTask on an unknown cluster and without an awsvpc configuration', async () => {
    await expect(ecs.send(new RunTaskCommand(runInput('nowhere')))).rejects.toBeInstanceOf(
      ClusterNotFoundException,
    );
    const error = await ecs
      .send(new RunTaskCommand({ ...runInput(cluster), networkConfiguration: undefined }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidParameterException);
    expect((error as Error).message).toMatch(/Network Configuration must be provided/);
  });

  it('limits overrides to 8,192 characters and accepts a JIT-config-sized one', async () => {
    const big = await ecs
      .send(new RunTaskCommand(runInput(cluster, env({ JIT: 'x'.repeat(8_200) }))))
      .catch((e: unknown) => e);
    expect(big).toBeInstanceOf(InvalidParameterException);
    expect((big as Error).message).toBe('Container Overrides length must be at most 8192');

    const ok = await ecs.send(
      new RunTaskCommand(runInput(cluster, env({ JIT: 'j'.repeat(5_000), EXIT_CODE: '0' }))),
    );
    expect(ok.tasks).toHaveLength(1);
    await waitFor(ecs, cluster, ok.tasks![0]!.taskArn!, 'STOPPED');
    expect(runtime.started.get(ok.tasks![0]!.taskArn!)?.environment).toMatchObject({
      JIT: 'j'.repeat(5_000),
      FROM_DEFINITION: 'yes',
    });
  });

  it('validates task-level size overrides as Fargate pairs', async () => {
    const bad = await ecs
      .send(new RunTaskCommand(runInput(cluster, { overrides: { cpu: '512', memory: '8192' } })))
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ClientException);
    const ok = await ecs.send(
      new RunTaskCommand(
        runInput(cluster, {
          overrides: { cpu: '2048', memory: '8192', ...env({ EXIT_CODE: '0' }).overrides },
        }),
      ),
    );
    expect(ok.tasks![0]).toMatchObject({ cpu: '2048', memory: '8192' });
    await waitFor(ecs, cluster, ok.tasks![0]!.taskArn!, 'STOPPED');
    expect(runtime.started.get(ok.tasks![0]!.taskArn!)).toMatchObject({ cpu: 2048, memory: 8192 });
  });

  it('is idempotent per clientToken and raises ConflictException on different parameters', async () => {
    const input = runInput(cluster, {
      clientToken: 'rctl-pool-a-0001',
      ...env({ EXIT_CODE: '0' }),
    });
    const first = await ecs.send(new RunTaskCommand(input));
    const again = await ecs.send(new RunTaskCommand(input));
    expect(again.tasks?.map((t) => t.taskArn)).toEqual(first.tasks?.map((t) => t.taskArn));
    const conflict = await ecs
      .send(new RunTaskCommand({ ...input, group: 'another-group' }))
      .catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(ConflictException);
    expect((conflict as ConflictException).resourceIds).toEqual([first.tasks![0]!.taskArn]);
    await expect(
      ecs.send(new RunTaskCommand({ ...input, clientToken: 'x'.repeat(65) })),
    ).rejects.toBeInstanceOf(InvalidParameterException);
  });

  it('runs a task to RUNNING and to STOPPED with the container exit code', async () => {
    const run = await ecs.send(
      new RunTaskCommand(
        runInput(cluster, { group: 'pool:a', tags: [{ key: 'runnerctl.dev/pool', value: 'a' }] }),
      ),
    );
    expect(fieldsUnknownToSdk(handler.last(), withoutMetadata(run))).toEqual([]);
    const arn = run.tasks![0]!.taskArn!;
    expect(run.tasks![0]).toMatchObject({
      lastStatus: 'PROVISIONING',
      desiredStatus: 'RUNNING',
      launchType: 'FARGATE',
      group: 'pool:a',
    });
    const running = await waitFor(ecs, cluster, arn, 'RUNNING');
    expect(running.lastStatus).toBe('RUNNING');
    expect(running.startedAt).toBeInstanceOf(Date);
    expect(running.tags).toEqual([{ key: 'runnerctl.dev/pool', value: 'a' }]);
    const described = await ecs.send(
      new DescribeTasksCommand({ cluster, tasks: [arn], include: ['TAGS'] }),
    );
    expect(fieldsUnknownToSdk(handler.last(), withoutMetadata(described))).toEqual([]);

    runtime.started.get(arn)!.exit(3);
    const stopped = await waitFor(ecs, cluster, arn, 'STOPPED');
    expect(stopped).toMatchObject({
      lastStatus: 'STOPPED',
      desiredStatus: 'STOPPED',
      stopCode: 'EssentialContainerExited',
      stoppedReason: 'Essential container in task exited',
    });
    expect(stopped.containers?.[0]).toMatchObject({
      name: 'runner',
      lastStatus: 'STOPPED',
      exitCode: 3,
    });
    expect(stopped.stoppedAt).toBeInstanceOf(Date);
  });

  it('StopTask sends SIGTERM and records UserInitiated with the reason', async () => {
    const run = await ecs.send(new RunTaskCommand(runInput(cluster)));
    const arn = run.tasks![0]!.taskArn!;
    await waitFor(ecs, cluster, arn, 'RUNNING');
    const stopping = await ecs.send(
      new StopTaskCommand({ cluster, task: arn, reason: 'scale down' }),
    );
    expect(stopping.task?.desiredStatus).toBe('STOPPED');
    const stopped = await waitFor(ecs, cluster, arn, 'STOPPED');
    expect(runtime.started.get(arn)?.sigterm).toBe(true);
    expect(stopped).toMatchObject({ stopCode: 'UserInitiated', stoppedReason: 'scale down' });
    expect(stopped.containers?.[0]?.exitCode).toBe(143);
  });

  it('StopTask before the container runs stops the task without an exit code', async () => {
    const run = await ecs.send(new RunTaskCommand(runInput(cluster)));
    const arn = run.tasks![0]!.taskArn!;
    await ecs.send(new StopTaskCommand({ cluster, task: arn }));
    const stopped = await waitFor(ecs, cluster, arn, 'STOPPED');
    expect(stopped).toMatchObject({
      stopCode: 'UserInitiated',
      stoppedReason: 'Task stopped by user',
    });
    expect(stopped.containers?.[0]?.exitCode).toBeUndefined();
    expect(runtime.started.has(arn)).toBe(false);
  });

  it('reports unknown ARNs as MISSING and refuses more than 100 tasks', async () => {
    const ghost = `arn:aws:ecs:${sim.region}:${sim.accountId}:task/${cluster}/0123456789abcdef0123456789abcdef`;
    const out = await ecs.send(new DescribeTasksCommand({ cluster, tasks: [ghost] }));
    expect(out.tasks).toEqual([]);
    expect(out.failures).toEqual([{ arn: ghost, reason: 'MISSING' }]);
    await expect(
      ecs.send(
        new DescribeTasksCommand({
          cluster,
          tasks: Array.from({ length: 101 }, (_, i) => `${ghost}${i}`),
        }),
      ),
    ).rejects.toBeInstanceOf(InvalidParameterException);
  });

  it('checks clientToken, startedBy and tags as the SDK model states them', async () => {
    const input = runInput(cluster, env({ EXIT_CODE: '0' }));
    const refused = async (extra: Partial<RunTaskCommandInput>, message: RegExp) => {
      const error = await ecs.send(new RunTaskCommand({ ...input, ...extra })).catch((e) => e);
      expect(error).toBeInstanceOf(InvalidParameterException);
      expect((error as Error).message).toMatch(message);
    };
    // clientToken: characters 33-126 only (a space is 32).
    await refused({ clientToken: 'has space' }, /clientToken/);
    await refused({ clientToken: 'tab\there' }, /clientToken/);
    await refused({ clientToken: 'é'.repeat(3) }, /clientToken/);
    // startedBy: up to 128 of letters, digits, - / _.
    await refused({ startedBy: 'x'.repeat(129) }, /startedBy can be up to 128/);
    await refused({ startedBy: 'runner ctl' }, /startedBy/);
    // Tags: the model's characters and lengths.
    await refused({ tags: [{ key: 'bad#key', value: 'v' }] }, /keys and values may hold/);
    await refused({ tags: [{ key: 'k', value: 'semi;colon' }] }, /keys and values may hold/);
    await refused({ tags: [{ key: 'k'.repeat(129), value: 'v' }] }, /between 1 and 128/);
    await refused({ tags: [{ key: 'k', value: 'v'.repeat(257) }] }, /at most 256/);

    const ok = await ecs.send(
      new RunTaskCommand({
        ...input,
        clientToken: `~!{}[]"'${'a'.repeat(56)}`,
        startedBy: `runnerctl/${'p'.repeat(118)}`,
        tags: [{ key: 'runnerctl.dev/pool', value: 'Ünïcode pool = +@:_-./' }],
      }),
    );
    expect(ok.tasks?.[0]?.startedBy).toHaveLength(128);
  });

  it('lists tasks by startedBy, family and desired status, page by page', async () => {
    const listCluster = 'listing';
    await ecs.send(
      new CreateClusterCommand({ clusterName: listCluster, capacityProviders: ['FARGATE'] }),
    );
    const arns: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const out = await ecs.send(
        new RunTaskCommand(runInput(listCluster, { startedBy: 'runnerctl' })),
      );
      arns.push(out.tasks![0]!.taskArn!);
    }
    const other = await ecs.send(
      new RunTaskCommand(runInput(listCluster, { startedBy: 'someone-else' })),
    );
    await ecs.send(new StopTaskCommand({ cluster: listCluster, task: arns[2]! }));

    const page1 = await ecs.send(
      new ListTasksCommand({ cluster: listCluster, startedBy: 'runnerctl', maxResults: 1 }),
    );
    expect(page1.taskArns).toHaveLength(1);
    const page2 = await ecs.send(
      new ListTasksCommand({
        cluster: listCluster,
        startedBy: 'runnerctl',
        maxResults: 1,
        nextToken: page1.nextToken!,
      }),
    );
    expect(page2.nextToken).toBeUndefined();
    expect([...page1.taskArns!, ...page2.taskArns!]).toEqual(arns.slice(0, 2));

    // startedBy must be the only filter (the ECS API reference): stopped tasks by desired status.
    const combined = await ecs
      .send(
        new ListTasksCommand({
          cluster: listCluster,
          startedBy: 'runnerctl',
          desiredStatus: 'STOPPED',
        }),
      )
      .catch((e: unknown) => e);
    expect(combined).toBeInstanceOf(InvalidParameterException);
    expect((combined as Error).message).toMatch(/startedBy must be the only filter/);
    await expect(
      ecs.send(
        new ListTasksCommand({ cluster: listCluster, startedBy: 'runnerctl', family: 'runner' }),
      ),
    ).rejects.toBeInstanceOf(InvalidParameterException);
    const stopped = await ecs.send(
      new ListTasksCommand({ cluster: listCluster, desiredStatus: 'STOPPED' }),
    );
    expect(stopped.taskArns).toEqual([arns[2]]);
    // ECS never sets a desired status of PENDING: the filter is legal and lists nothing.
    const pending = await ecs.send(
      new ListTasksCommand({ cluster: listCluster, desiredStatus: 'PENDING' }),
    );
    expect(pending.taskArns).toEqual([]);
    const byFamily = await ecs.send(
      new ListTasksCommand({ cluster: listCluster, family: 'runner' }),
    );
    expect(byFamily.taskArns).toEqual([...arns.slice(0, 2), other.tasks![0]!.taskArn]);
    const noFamily = await ecs.send(
      new ListTasksCommand({ cluster: listCluster, family: 'other' }),
    );
    expect(noFamily.taskArns).toEqual([]);
    for (const arn of [...arns.slice(0, 2), other.tasks![0]!.taskArn!]) {
      await ecs.send(new StopTaskCommand({ cluster: listCluster, task: arn }));
    }
  });

  it('throttles RunTask calls and Fargate launches with ThrottlingException', async () => {
    sim.setFaults({ throttle: { runTaskBurst: 2, runTaskPerSecond: 0.001 } });
    const input = runInput(cluster, env({ EXIT_CODE: '0' }));
    await ecs.send(new RunTaskCommand(input));
    await ecs.send(new RunTaskCommand(input));
    const error = await ecs.send(new RunTaskCommand(input)).catch((e: unknown) => e);
    expect((error as Error).name).toBe('ThrottlingException');
    expect((error as Error).message).toBe('Rate exceeded');

    sim.setFaults({ throttle: { runTaskBurst: 20, launchBurst: 3, launchPerSecond: 0.001 } });
    const two = await ecs.send(new RunTaskCommand({ ...input, count: 2 }));
    expect(two.tasks).toHaveLength(2);
    const launch = await ecs
      .send(new RunTaskCommand({ ...input, count: 2 }))
      .catch((e: unknown) => e);
    expect((launch as Error).name).toBe('ThrottlingException');
    // One token left: a single launch still fits.
    expect((await ecs.send(new RunTaskCommand(input))).tasks).toHaveLength(1);
  });

  it('answers a FARGATE_SPOT shortage as a failures[] entry with AWS text', async () => {
    sim.setFaults({ spotCapacityShortage: 1 });
    const spotInput: RunTaskCommandInput = {
      ...runInput(cluster, env({ EXIT_CODE: '0' })),
      launchType: undefined,
      capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }],
      clientToken: 'spot-retry-token',
    };
    const out = await ecs.send(new RunTaskCommand(spotInput));
    expect(out.tasks).toEqual([]);
    expect(out.failures).toEqual([{ reason: SPOT_SHORTAGE }]);
    expect(fieldsUnknownToSdk(handler.last(), withoutMetadata(out))).toEqual([]);
    // A retry with the same clientToken once capacity is back starts the task.
    sim.setFaults({ spotCapacityShortage: 0 });
    const retried = await ecs.send(new RunTaskCommand(spotInput));
    expect(retried.tasks).toHaveLength(1);
    sim.setFaults({ spotCapacityShortage: 1 });
    // On-demand Fargate is unaffected and never substituted by itself.
    const onDemand = await ecs.send(new RunTaskCommand(runInput(cluster, env({ EXIT_CODE: '0' }))));
    expect(onDemand.tasks).toHaveLength(1);
  });

  it('refuses more than 10 tasks in one RunTask call', async () => {
    await expect(
      ecs.send(new RunTaskCommand({ ...runInput(cluster), count: 11 })),
    ).rejects.toBeInstanceOf(InvalidParameterException);
  });

  it('places by base first, then by weight; weight 0 gets nothing beyond its base', async () => {
    const place = async (
      strategy: RunTaskCommandInput['capacityProviderStrategy'],
      count: number,
    ) => {
      const out = await ecs.send(
        new RunTaskCommand({
          ...runInput(cluster, env({ EXIT_CODE: '0' })),
          launchType: undefined,
          capacityProviderStrategy: strategy,
          count,
        }),
      );
      const by: Record<string, number> = {};
      for (const t of out.tasks!)
        by[t.capacityProviderName!] = (by[t.capacityProviderName!] ?? 0) + 1;
      return by;
    };
    // FARGATE base 2, FARGATE_SPOT weight 1: two on FARGATE, the rest by weight (all spot).
    expect(
      await place(
        [
          { capacityProvider: 'FARGATE', base: 2 },
          { capacityProvider: 'FARGATE_SPOT', weight: 1 },
        ],
        5,
      ),
    ).toEqual({ FARGATE: 2, FARGATE_SPOT: 3 });
    // A base wins a one-task call: the strategy applies per RunTask call.
    expect(
      await place(
        [
          { capacityProvider: 'FARGATE', base: 2 },
          { capacityProvider: 'FARGATE_SPOT', weight: 1 },
        ],
        1,
      ),
    ).toEqual({ FARGATE: 1 });
    // Weight 0 on spot: every task on FARGATE.
    for (let i = 0; i < 3; i++) {
      expect(
        await place(
          [
            { capacityProvider: 'FARGATE', weight: 1 },
            { capacityProvider: 'FARGATE_SPOT', weight: 0 },
          ],
          10,
        ),
      ).toEqual({ FARGATE: 10 });
    }
    // Weights 1:3 over 8 tasks: whole shares by ratio.
    expect(
      await place(
        [
          { capacityProvider: 'FARGATE', weight: 1 },
          { capacityProvider: 'FARGATE_SPOT', weight: 3 },
        ],
        8,
      ),
    ).toEqual({ FARGATE: 2, FARGATE_SPOT: 6 });
  });

  it('refuses a capacity provider strategy the SDK model or ECS refuses', async () => {
    const run = (strategy: RunTaskCommandInput['capacityProviderStrategy']) =>
      ecs.send(
        new RunTaskCommand({
          ...runInput(cluster),
          launchType: undefined,
          capacityProviderStrategy: strategy,
        }),
      );
    const refused: [RunTaskCommandInput['capacityProviderStrategy'], RegExp][] = [
      [[{ capacityProvider: 'FARGATE', weight: 1001 }], /weight .* between 0 and 1000/],
      [[{ capacityProvider: 'FARGATE', weight: 1, base: 100_001 }], /base .* between 0 and 100000/],
      [[{ capacityProvider: 'FARGATE', weight: -1 }], /weight/],
      [
        [
          { capacityProvider: 'FARGATE', base: 1, weight: 1 },
          { capacityProvider: 'FARGATE_SPOT', base: 1, weight: 1 },
        ],
        /Only one capacity provider .* base/,
      ],
      [
        [{ capacityProvider: 'FARGATE', weight: 0 }, { capacityProvider: 'FARGATE_SPOT' }],
        /weight greater than zero/,
      ],
      [
        [
          { capacityProvider: 'FARGATE', weight: 1 },
          { capacityProvider: 'FARGATE', weight: 2 },
        ],
        /duplicate/,
      ],
      [
        Array.from({ length: 21 }, (_, i) => ({ capacityProvider: `cp-${i}`, weight: 1 })),
        /maximum of 20/,
      ],
    ];
    for (const [strategy, message] of refused) {
      const err = await run(strategy).catch((e: unknown) => e);
      expect(err, JSON.stringify(strategy)).toBeInstanceOf(InvalidParameterException);
      expect((err as Error).message).toMatch(message);
    }
    // A lone provider of weight 0 is valid: it takes the task.
    const alone = await run([{ capacityProvider: 'FARGATE', weight: 0, base: 0 }]);
    expect(alone.tasks?.[0]?.capacityProviderName).toBe('FARGATE');
  });

  it('draws faults from a seeded PRNG: the same seed gives the same outcomes', async () => {
    const outcomes = async (seed: number) => {
      const other = await startEcsSimulator({
        seed,
        runtime,
        faults: { spotCapacityShortage: 0.5 },
        latencies: { provisioning: 60_000 },
      });
      const otherEcs = client(other.url, other.region);
      try {
        await setUpCluster(otherEcs, 'seeded');
        const out = await otherEcs.send(
          new RunTaskCommand({
            ...runInput('seeded'),
            launchType: undefined,
            capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }],
            count: 10,
          }),
        );
        return { started: out.tasks!.length, refused: out.failures!.length };
      } finally {
        otherEcs.destroy();
        await other.close();
      }
    };
    const first = await outcomes(7);
    expect(first.started + first.refused).toBe(10);
    expect(first.started).toBeGreaterThan(0);
    expect(first.refused).toBeGreaterThan(0);
    expect(await outcomes(7)).toEqual(first);
  });

  it('refuses FARGATE_SPOT on a cluster without that capacity provider', async () => {
    await ecs.send(
      new CreateClusterCommand({ clusterName: 'od-only', capacityProviders: ['FARGATE'] }),
    );
    await expect(
      ecs.send(
        new RunTaskCommand({
          ...runInput('od-only'),
          launchType: undefined,
          capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }],
        }),
      ),
    ).rejects.toBeInstanceOf(InvalidParameterException);
  });

  it('stops a task that fails to pull its image with TaskFailedToStart', async () => {
    sim.setFaults({ failToStart: 1 });
    const run = await ecs.send(new RunTaskCommand(runInput(cluster)));
    const arn = run.tasks![0]!.taskArn!;
    const stopped = await waitFor(ecs, cluster, arn, 'STOPPED');
    expect(stopped.stopCode).toBe('TaskFailedToStart');
    expect(stopped.stoppedReason).toMatch(/^CannotPullContainerError: /);
    expect(stopped.containers?.[0]?.reason).toMatch(/^CannotPullContainerError: /);
    expect(stopped.containers?.[0]?.exitCode).toBeUndefined();
    expect(runtime.started.has(arn)).toBe(false);
  });

  it('interrupts a running spot task: SIGTERM, then SpotInterruption', async () => {
    const run = await ecs.send(
      new RunTaskCommand({
        ...runInput(cluster),
        launchType: undefined,
        capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }],
      }),
    );
    const arn = run.tasks![0]!.taskArn!;
    expect(run.tasks![0]!.capacityProviderName).toBe('FARGATE_SPOT');
    await waitFor(ecs, cluster, arn, 'RUNNING');
    expect(sim.interruptSpotTask(arn)).toBe(true);
    const stopped = await waitFor(ecs, cluster, arn, 'STOPPED');
    expect(runtime.started.get(arn)?.sigterm).toBe(true);
    expect(stopped).toMatchObject({
      stopCode: 'SpotInterruption',
      stoppedReason: 'Your Spot Task was interrupted.',
    });
    expect(stopped.containers?.[0]?.exitCode).toBe(143);
  });

  it('rejects requests without a signature as AWS does', async () => {
    const response = await fetch(sim.url, {
      method: 'POST',
      headers: {
        'x-amz-target': 'AmazonEC2ContainerServiceV20141113.ListTasks',
        'content-type': 'application/x-amz-json-1.1',
      },
      body: '{}',
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('x-amzn-errortype')).toMatch(
      /^MissingAuthenticationTokenException/,
    );
  });

  it('answered every operation only with fields of the SDK output shapes', async () => {
    await ecs.send(new DescribeClustersCommand({ clusters: [cluster, 'missing-cluster'] }));
    expect([...audit.checked].sort()).toEqual([
      'CreateCluster',
      'DescribeClusters',
      'DescribeTaskDefinition',
      'DescribeTasks',
      'ListTaskDefinitions',
      'ListTasks',
      'RegisterTaskDefinition',
      'RunTask',
      'StopTask',
    ]);
    expect(audit.unknown).toEqual([]);
  });
});

describe('ECS simulator on a manual clock (real-scale latencies)', () => {
  const clock = new ManualClock();
  const runtime = new TestRuntime();
  let sim: EcsSimulator;
  let ecs: ECSClient;
  const cluster = 'manual';

  beforeAll(async () => {
    sim = await startEcsSimulator({ clock, runtime });
    ecs = client(sim.url, sim.region);
    await setUpCluster(ecs, cluster);
  });

  afterAll(async () => {
    ecs.destroy();
    await sim.close();
  });

  it('walks PROVISIONING -> PENDING -> ACTIVATING -> RUNNING in about 50 s of clock time', async () => {
    const run = await ecs.send(new RunTaskCommand(runInput(cluster)));
    const arn = run.tasks![0]!.taskArn!;
    const seen: string[] = [run.tasks![0]!.lastStatus!];
    let elapsed = 0;
    while (seen.at(-1) !== 'RUNNING') {
      await clock.advance(1_000);
      elapsed += 1_000;
      const status = (await describe1(ecs, cluster, arn)).lastStatus!;
      if (status !== seen.at(-1)) seen.push(status);
      expect(elapsed).toBeLessThanOrEqual(120_000);
    }
    expect(seen).toEqual(['PROVISIONING', 'PENDING', 'ACTIVATING', 'RUNNING']);
    console.log(`simulated Fargate start: ${elapsed / 1000} s of clock time`);
    expect(elapsed).toBeGreaterThanOrEqual(40_000);
    expect(elapsed).toBeLessThanOrEqual(60_000);

    runtime.started.get(arn)!.exit(0);
    const after: string[] = [];
    while (after.at(-1) !== 'STOPPED') {
      await clock.advance(500);
      const status = (await describe1(ecs, cluster, arn)).lastStatus!;
      if (status !== after.at(-1)) after.push(status);
    }
    expect(after).toEqual(['DEACTIVATING', 'STOPPING', 'DEPROVISIONING', 'STOPPED']);
  });

  it('kills a container that ignores SIGTERM after the stop timeout (exit 137)', async () => {
    const run = await ecs.send(new RunTaskCommand(runInput(cluster, env({ IGNORE_SIGTERM: '1' }))));
    const arn = run.tasks![0]!.taskArn!;
    await clock.advance(60_000);
    expect((await describe1(ecs, cluster, arn)).lastStatus).toBe('RUNNING');
    await ecs.send(new StopTaskCommand({ cluster, task: arn }));
    await clock.advance(10_000);
    expect((await describe1(ecs, cluster, arn)).lastStatus).not.toBe('STOPPED');
    await clock.advance(60_000);
    const stopped = await describe1(ecs, cluster, arn);
    expect(stopped.lastStatus).toBe('STOPPED');
    expect(stopped.containers?.[0]?.exitCode).toBe(137);
  });

  it('interrupts spot tasks at random when the fault is on (seeded dice)', async () => {
    sim.setFaults({ spotInterruption: 1, spotInterruptionAfterMs: 30_000 });
    const run = await ecs.send(
      new RunTaskCommand({
        ...runInput(cluster),
        launchType: undefined,
        capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }],
      }),
    );
    const arn = run.tasks![0]!.taskArn!;
    await clock.advance(60_000);
    expect((await describe1(ecs, cluster, arn)).lastStatus).toBe('RUNNING');
    await clock.advance(60_000);
    const stopped = await describe1(ecs, cluster, arn);
    expect(stopped).toMatchObject({ lastStatus: 'STOPPED', stopCode: 'SpotInterruption' });
    expect(runtime.started.get(arn)?.sigterm).toBe(true);
    sim.setFaults({ spotInterruption: 0 });
  });

  it('keeps stopped tasks visible for an hour, then answers MISSING', async () => {
    const run = await ecs.send(new RunTaskCommand(runInput(cluster, env({ EXIT_CODE: '0' }))));
    const arn = run.tasks![0]!.taskArn!;
    await clock.advance(120_000);
    expect((await describe1(ecs, cluster, arn)).lastStatus).toBe('STOPPED');
    await clock.advance(59 * 60_000);
    expect((await describe1(ecs, cluster, arn)).lastStatus).toBe('STOPPED');
    await clock.advance(2 * 60_000);
    const gone = await ecs.send(new DescribeTasksCommand({ cluster, tasks: [arn] }));
    expect(gone.failures).toEqual([{ arn, reason: 'MISSING' }]);
  });

  it('forgets a clientToken after 24 hours', async () => {
    const input = runInput(cluster, { clientToken: 'token-24h', ...env({ EXIT_CODE: '0' }) });
    const first = await ecs.send(new RunTaskCommand(input));
    await clock.advance(23 * 3_600_000);
    const same = await ecs.send(new RunTaskCommand(input));
    expect(same.tasks).toEqual([]); // the original task is stopped and no longer visible
    await clock.advance(2 * 3_600_000);
    const fresh = await ecs.send(new RunTaskCommand(input));
    expect(fresh.tasks).toHaveLength(1);
    expect(fresh.tasks![0]!.taskArn).not.toBe(first.tasks![0]!.taskArn);
    await settle();
  });
});
