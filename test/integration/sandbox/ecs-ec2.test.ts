// ECS on EC2 in the ECS simulator, through the real SDK client: capacity providers on Auto Scaling
// groups, container instances registering into the cluster, tasks placed onto instance capacity,
// RESOURCE:* failures without managed scaling, tasks waiting in PROVISIONING and managed scaling
// adding instances after the scale-out delay up to the group's maximum, privileged containers
// refused on Fargate, bridge mode without a network configuration.

import {
  ClientException,
  CreateCapacityProviderCommand,
  CreateClusterCommand,
  DescribeContainerInstancesCommand,
  ECSClient,
  InvalidParameterException,
  ListContainerInstancesCommand,
  PutClusterCapacityProvidersCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  type RunTaskCommandInput,
} from '@aws-sdk/client-ecs';
import { afterEach, describe, expect, it } from 'vitest';
import type {
  ContainerRuntime,
  RunningContainer,
} from '../../../controller/sandbox/ecs/runtime.ts';
import { startEcsSimulator, type EcsSimulator } from '../../../controller/sandbox/ecs/simulator.ts';
import { dummyCredentials, ManualClock, settle } from './ecs-sqs-helpers.ts';

/** Containers run until the test stops their task. */
const idleRuntime: ContainerRuntime = {
  start(container): RunningContainer {
    return {
      exited: new Promise<number>((resolve) =>
        container.signal.addEventListener('abort', () => resolve(143)),
      ),
    };
  },
};

const SCALE_OUT_MS = 90_000;

async function setup(managed: boolean, group = { minSize: 1, maxSize: 3 }) {
  const clock = new ManualClock();
  const sim = await startEcsSimulator({
    clock,
    runtime: idleRuntime,
    ec2ScaleOutDelayMs: SCALE_OUT_MS,
    latencies: {
      provisioning: 0,
      pending: 0,
      activating: 0,
      deactivating: 0,
      stopping: 0,
      deprovisioning: 0,
    },
  });
  const ecs = new ECSClient({
    endpoint: sim.url,
    region: sim.region,
    credentials: dummyCredentials,
    maxAttempts: 1,
  });
  // An instance registers 2 vCPU and 3,800 MiB: two 1 vCPU / 1,800 MiB runners fit on one.
  const asg = sim.defineAutoScalingGroup({ name: 'docker-asg', cpu: 2048, memory: 3800, ...group });
  await ecs.send(
    new CreateCapacityProviderCommand({
      name: 'runnerctl-docker',
      autoScalingGroupProvider: {
        autoScalingGroupArn: asg.arn,
        managedScaling: { status: managed ? 'ENABLED' : 'DISABLED', targetCapacity: 100 },
      },
    }),
  );
  await ecs.send(new CreateClusterCommand({ clusterName: 'runners' }));
  await ecs.send(
    new PutClusterCapacityProvidersCommand({
      cluster: 'runners',
      capacityProviders: ['FARGATE', 'runnerctl-docker'],
      defaultCapacityProviderStrategy: [],
    }),
  );
  await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'docker-runner',
      requiresCompatibilities: ['EC2'],
      networkMode: 'bridge',
      cpu: '1024',
      memory: '1800',
      volumes: [{ name: 'docker-socket' }],
      containerDefinitions: [
        { name: 'runner', image: 'runner', essential: true },
        { name: 'dind', image: 'docker:dind', essential: true, privileged: true },
      ],
    }),
  );
  const run = (over: Partial<RunTaskCommandInput> = {}) =>
    ecs.send(
      new RunTaskCommand({
        cluster: 'runners',
        taskDefinition: 'docker-runner',
        capacityProviderStrategy: [{ capacityProvider: 'runnerctl-docker', weight: 1 }],
        ...over,
      }),
    );
  return { clock, sim, ecs, run };
}

let current: { sim: EcsSimulator; ecs: ECSClient } | undefined;
afterEach(async () => {
  current?.ecs.destroy();
  await current?.sim.close();
  current = undefined;
});

describe('ECS simulator: ECS on EC2', () => {
  it('instances register per capacity provider and tasks place onto their capacity', async () => {
    const t = await setup(false);
    current = t;
    const listed = await t.ecs.send(new ListContainerInstancesCommand({ cluster: 'runners' }));
    expect(listed.containerInstanceArns).toHaveLength(1);
    const first = await t.run();
    const second = await t.run();
    expect(first.failures).toEqual([]);
    expect(second.tasks?.[0]?.launchType).toBeUndefined();
    expect(second.tasks?.[0]?.capacityProviderName).toBe('runnerctl-docker');
    expect(second.tasks?.[0]?.containerInstanceArn).toBe(listed.containerInstanceArns![0]);
    const described = await t.ecs.send(
      new DescribeContainerInstancesCommand({
        cluster: 'runners',
        containerInstances: listed.containerInstanceArns,
      }),
    );
    const remaining = described.containerInstances?.[0]?.remainingResources;
    expect(remaining?.find((r) => r.name === 'CPU')?.integerValue).toBe(0);
    expect(remaining?.find((r) => r.name === 'MEMORY')?.integerValue).toBe(200);
  });

  it('without managed scaling a full group is a RESOURCE failure naming the instance', async () => {
    const t = await setup(false);
    current = t;
    await t.run();
    await t.run();
    const third = await t.run();
    expect(third.tasks).toEqual([]);
    expect(third.failures).toEqual([
      { arn: t.sim.containerInstances()[0]!.arn, reason: 'RESOURCE:MEMORY' },
    ]);
    // Less memory asked, but no CPU left.
    const small = await t.run({ overrides: { memory: '100' } });
    expect(small.failures?.[0]?.reason).toBe('RESOURCE:CPU');
  });

  it('with managed scaling tasks wait in PROVISIONING, instances come after the delay, up to the maximum', async () => {
    const t = await setup(true, { minSize: 0, maxSize: 2 });
    current = t;
    const arns: string[] = [];
    for (let i = 0; i < 5; i++) {
      const out = await t.run();
      expect(out.failures).toEqual([]);
      arns.push(out.tasks![0]!.taskArn!);
    }
    await settle();
    expect(t.sim.containerInstances()).toHaveLength(0);
    expect(arns.map((a) => t.sim.task(a)!.lastStatus)).toEqual(Array(5).fill('PROVISIONING'));

    await t.clock.advance(SCALE_OUT_MS);
    await settle();
    // Five tasks need three instances; the group stops at two, so four run and one waits.
    expect(t.sim.containerInstances()).toHaveLength(2);
    const states = arns.map((a) => t.sim.task(a)!.lastStatus);
    expect(states.filter((s) => s === 'RUNNING')).toHaveLength(4);
    expect(t.sim.waitingForCapacity()['runnerctl-docker']).toBe(1);

    // A task stops: its room goes to the waiting one.
    await t.ecs.send(new StopTaskCommand({ cluster: 'runners', task: arns[0] }));
    await t.clock.advance(1);
    await settle();
    await t.sim.waitForTaskStatus(arns[4]!, 'RUNNING');
    expect(t.sim.waitingForCapacity()['runnerctl-docker']).toBe(0);
  });

  it('a task stopped while it waits for capacity stops and takes no room', async () => {
    const t = await setup(true, { minSize: 0, maxSize: 1 });
    current = t;
    const out = await t.run();
    const arn = out.tasks![0]!.taskArn!;
    await t.ecs.send(new StopTaskCommand({ cluster: 'runners', task: arn }));
    await t.clock.advance(1);
    await settle();
    expect(t.sim.task(arn)?.lastStatus).toBe('STOPPED');
    await t.clock.advance(SCALE_OUT_MS);
    await settle();
    expect(t.sim.containerInstances()).toHaveLength(0);
  });

  it('refuses privileged containers on Fargate, mixed strategies and bridge with a network', async () => {
    const t = await setup(false);
    current = t;
    await expect(
      t.ecs.send(
        new RegisterTaskDefinitionCommand({
          family: 'dind-fargate',
          requiresCompatibilities: ['FARGATE'],
          networkMode: 'awsvpc',
          cpu: '1024',
          memory: '2048',
          containerDefinitions: [{ name: 'dind', image: 'docker:dind', privileged: true }],
        }),
      ),
    ).rejects.toBeInstanceOf(ClientException);
    await expect(
      t.run({ capacityProviderStrategy: undefined, launchType: 'FARGATE' }),
    ).rejects.toBeInstanceOf(ClientException);
    await expect(
      t.run({
        capacityProviderStrategy: [
          { capacityProvider: 'runnerctl-docker', weight: 1 },
          { capacityProvider: 'FARGATE', weight: 1 },
        ],
      }),
    ).rejects.toThrow(/cannot contain a mix/);
    await expect(
      t.run({
        networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-0123456789abcdef0'] } },
      }),
    ).rejects.toThrow(
      'Network Configuration is not valid for the given networkMode of this task definition.',
    );
    await expect(
      t.run({ overrides: { ephemeralStorage: { sizeInGiB: 50 } } }),
    ).rejects.toBeInstanceOf(InvalidParameterException);
  });
});
