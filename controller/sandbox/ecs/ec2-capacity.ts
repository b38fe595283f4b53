// ECS on EC2 for the ECS simulator: Auto Scaling groups (defined through the control API, as an
// operator would create them in EC2), the capacity providers that ECS's CreateCapacityProvider
// builds on them, the container instances that register into a cluster, task placement onto
// instance capacity, and managed scaling (instances added after a scale-out delay, up to the
// group's maximum, while tasks wait in PROVISIONING).
//
// What ECS does, and the simulator with it:
// - A task whose capacity provider has managed scaling ENABLED and no instance with room stays
//   PROVISIONING; managed scaling counts those tasks and adds instances. It never fails RunTask.
// - Without managed scaling (or with launch type EC2) a task that fits no instance is a RunTask
//   failure with reason RESOURCE:CPU or RESOURCE:MEMORY (the resource that ran out) and the ARN of
//   a container instance; a cluster with no instance at all answers InvalidParameterException
//   "No Container Instances were found in your cluster."

import { randomBytes } from 'node:crypto';
import type { Clock } from '../../util/clock.ts';
import { AwsServiceError, optionalObject, optionalString } from '../aws-json.ts';
import type { Cluster, Task } from './model.ts';
import { invalidParameter } from './model.ts';

export interface AutoScalingGroupSpec {
  name: string;
  /** Shown on the container instances (e.g. m7i.large). */
  instanceType?: string;
  /** CPU units and MiB each instance registers (ECS reserves a little memory for the agent). */
  cpu: number;
  memory: number;
  minSize: number;
  maxSize: number;
  /** Instances at the start. Default minSize. */
  desiredCapacity?: number;
}

export interface AutoScalingGroup extends Required<AutoScalingGroupSpec> {
  arn: string;
}

export interface ContainerInstance {
  arn: string;
  ec2InstanceId: string;
  cluster: Cluster;
  provider: string;
  instanceType: string;
  cpu: number;
  memory: number;
  usedCpu: number;
  usedMemory: number;
  tasks: Set<string>;
  registeredAt: number;
}

interface CapacityProvider {
  name: string;
  arn: string;
  group: AutoScalingGroup;
  managedScaling: boolean;
  maximumScalingStepSize: number;
  cluster?: Cluster;
  /** Tasks waiting in PROVISIONING for an instance with room, oldest first. */
  waiting: Task[];
  scaling: boolean;
}

export type Placement =
  | { kind: 'placed'; instance: ContainerInstance }
  | { kind: 'wait' }
  | { kind: 'failure'; reason: 'RESOURCE:CPU' | 'RESOURCE:MEMORY'; arn: string };

export interface Ec2CapacityDeps {
  clock: Clock;
  arnPrefix: string;
  accountId: string;
  region: string;
  /** Instance launch to registration when managed scaling adds an instance. */
  scaleOutDelayMs: number;
  closing: AbortSignal;
}

export type Ec2Capacity = ReturnType<typeof createEc2Capacity>;

export function createEc2Capacity(deps: Ec2CapacityDeps) {
  const { clock, arnPrefix, accountId, region } = deps;
  const groups = new Map<string, AutoScalingGroup>();
  const providers = new Map<string, CapacityProvider>();
  const instances = new Map<string, ContainerInstance>();

  const defineAutoScalingGroup = (spec: AutoScalingGroupSpec): AutoScalingGroup => {
    if (spec.minSize < 0 || spec.maxSize < spec.minSize) {
      throw new TypeError(`Auto Scaling group ${spec.name}: need 0 <= minSize <= maxSize`);
    }
    const group: AutoScalingGroup = {
      name: spec.name,
      instanceType: spec.instanceType ?? 'm7i.large',
      cpu: spec.cpu,
      memory: spec.memory,
      minSize: spec.minSize,
      maxSize: spec.maxSize,
      desiredCapacity: spec.desiredCapacity ?? spec.minSize,
      arn: `arn:aws:autoscaling:${region}:${accountId}:autoScalingGroup:${randomBytes(16).toString('hex')}:autoScalingGroupName/${spec.name}`,
    };
    groups.set(group.name, group);
    return group;
  };

  const instancesOf = (provider: CapacityProvider) =>
    [...instances.values()].filter((i) => i.provider === provider.name);

  const register = (provider: CapacityProvider, cluster: Cluster): ContainerInstance => {
    const id = randomBytes(16).toString('hex');
    const instance: ContainerInstance = {
      arn: `${arnPrefix}:container-instance/${cluster.name}/${id}`,
      ec2InstanceId: `i-${id.slice(0, 17)}`,
      cluster,
      provider: provider.name,
      instanceType: provider.group.instanceType,
      cpu: provider.group.cpu,
      memory: provider.group.memory,
      usedCpu: 0,
      usedMemory: 0,
      tasks: new Set(),
      registeredAt: clock.now(),
    };
    instances.set(instance.arn, instance);
    return instance;
  };

  // ---- ECS operations ----

  const providerOutput = (p: CapacityProvider) => ({
    capacityProviderArn: p.arn,
    name: p.name,
    status: 'ACTIVE',
    autoScalingGroupProvider: {
      autoScalingGroupArn: p.group.arn,
      managedScaling: {
        status: p.managedScaling ? 'ENABLED' : 'DISABLED',
        targetCapacity: 100,
        minimumScalingStepSize: 1,
        maximumScalingStepSize: p.maximumScalingStepSize,
        instanceWarmupPeriod: 300,
      },
      managedTerminationProtection: 'DISABLED',
    },
    updateStatus: 'CREATE_COMPLETE',
    tags: [],
  });

  const createCapacityProvider = (input: Record<string, unknown>) => {
    const name = optionalString(input, 'name');
    if (!name || !/^[A-Za-z0-9_-]{1,255}$/.test(name)) {
      throw invalidParameter('The capacity provider name is invalid.');
    }
    if (/^(aws|ecs|fargate)/i.test(name)) {
      throw invalidParameter(
        `The capacity provider name cannot start with "aws", "ecs" or "fargate".`,
      );
    }
    if (providers.has(name)) {
      throw invalidParameter(`The specified capacity provider already exists.`);
    }
    const asg = optionalObject(input, 'autoScalingGroupProvider');
    const ref = asg ? optionalString(asg, 'autoScalingGroupArn') : undefined;
    const group = [...groups.values()].find((g) => g.arn === ref || g.name === ref);
    if (!asg || !group) {
      throw invalidParameter('The specified Auto Scaling group ARN is not valid.');
    }
    const scaling = optionalObject(asg, 'managedScaling');
    const step = scaling?.maximumScalingStepSize;
    const provider: CapacityProvider = {
      name,
      arn: `${arnPrefix}:capacity-provider/${name}`,
      group,
      // ECS's default when managedScaling is given without a status is ENABLED.
      managedScaling: scaling !== undefined && scaling.status !== 'DISABLED',
      maximumScalingStepSize: typeof step === 'number' ? step : 10_000,
      waiting: [],
      scaling: false,
    };
    providers.set(name, provider);
    return { capacityProvider: providerOutput(provider) };
  };

  const describeCapacityProviders = (input: Record<string, unknown>) => {
    const refs = input.capacityProviders as string[] | undefined;
    const list = [...providers.values()].filter(
      (p) => !refs || refs.includes(p.name) || refs.includes(p.arn),
    );
    const fargate = ['FARGATE', 'FARGATE_SPOT']
      .filter((n) => !refs || refs.includes(n))
      .map((n) => ({
        capacityProviderArn: `arn:aws:ecs:${region}:${accountId}:capacity-provider/${n}`,
        name: n,
        status: 'ACTIVE',
        tags: [],
      }));
    return { capacityProviders: [...fargate, ...list.map(providerOutput)], failures: [] };
  };

  const instanceOutput = (i: ContainerInstance) => ({
    containerInstanceArn: i.arn,
    ec2InstanceId: i.ec2InstanceId,
    capacityProviderName: i.provider,
    version: 1,
    status: 'ACTIVE',
    agentConnected: true,
    runningTasksCount: i.tasks.size,
    pendingTasksCount: 0,
    registeredAt: i.registeredAt / 1000,
    registeredResources: [
      { name: 'CPU', type: 'INTEGER', integerValue: i.cpu },
      { name: 'MEMORY', type: 'INTEGER', integerValue: i.memory },
    ],
    remainingResources: [
      { name: 'CPU', type: 'INTEGER', integerValue: i.cpu - i.usedCpu },
      { name: 'MEMORY', type: 'INTEGER', integerValue: i.memory - i.usedMemory },
    ],
    attributes: [{ name: 'ecs.instance-type', value: i.instanceType }],
  });

  const listContainerInstances = (cluster: Cluster) => ({
    containerInstanceArns: [...instances.values()]
      .filter((i) => i.cluster === cluster)
      .map((i) => i.arn),
  });

  const describeContainerInstances = (cluster: Cluster, refs: string[]) => {
    const found: unknown[] = [];
    const failures: unknown[] = [];
    for (const ref of refs) {
      const id = ref.split('/').pop();
      const instance = [...instances.values()].find(
        (i) => i.cluster === cluster && (i.arn === ref || i.arn.endsWith(`/${id}`)),
      );
      if (instance) found.push(instanceOutput(instance));
      else failures.push({ arn: ref, reason: 'MISSING' });
    }
    return { containerInstances: found, failures };
  };

  // ---- clusters ----

  const isEc2Provider = (name: string) => providers.has(name);

  /** PutClusterCapacityProviders / CreateCluster: a group's instances register into the cluster. */
  const associate = (cluster: Cluster, names: readonly string[]) => {
    for (const name of names) {
      const provider = providers.get(name);
      if (!provider) continue;
      if (provider.cluster && provider.cluster !== cluster) {
        throw invalidParameter(
          `The specified capacity provider '${name}' is already associated with another cluster.`,
        );
      }
      if (provider.cluster === cluster) continue;
      provider.cluster = cluster;
      for (let n = instancesOf(provider).length; n < provider.group.desiredCapacity; n++) {
        register(provider, cluster);
      }
    }
  };

  // ---- placement ----

  const fits = (i: ContainerInstance, task: Task) =>
    i.cpu - i.usedCpu >= task.cpu && i.memory - i.usedMemory >= task.memory;

  const take = (i: ContainerInstance, task: Task) => {
    i.usedCpu += task.cpu;
    i.usedMemory += task.memory;
    i.tasks.add(task.arn);
    task.containerInstanceArn = i.arn;
    task.ec2InstanceId = i.ec2InstanceId;
  };

  /** The resource that ran out on the instance closest to fitting the task. */
  const shortage = (candidates: ContainerInstance[], task: Task): Placement => {
    const closest = candidates
      .slice()
      .sort((a, b) => b.memory - b.usedMemory - (a.memory - a.usedMemory))[0]!;
    const reason =
      closest.memory - closest.usedMemory < task.memory ? 'RESOURCE:MEMORY' : 'RESOURCE:CPU';
    return { kind: 'failure', reason, arn: closest.arn };
  };

  /**
   * Places a task of `providerName` (undefined: launch type EC2, any instance of the cluster).
   * Binpacks by memory: the fullest instance that still fits, so empty instances can go away.
   */
  const place = (task: Task, cluster: Cluster, providerName: string | undefined): Placement => {
    const candidates = [...instances.values()].filter(
      (i) => i.cluster === cluster && (providerName === undefined || i.provider === providerName),
    );
    const provider = providerName ? providers.get(providerName) : undefined;
    const fitting = candidates
      .filter((i) => fits(i, task))
      .sort((a, b) => a.memory - a.usedMemory - (b.memory - b.usedMemory));
    if (provider?.managedScaling) {
      // Behind the tasks already waiting: capacity goes to them first.
      provider.waiting.push(task);
      drain(provider);
      if (task.containerInstanceArn)
        return { kind: 'placed', instance: instances.get(task.containerInstanceArn)! };
      scheduleScaleOut(provider);
      return { kind: 'wait' };
    }
    if (fitting[0]) {
      take(fitting[0], task);
      return { kind: 'placed', instance: fitting[0] };
    }
    if (candidates.length === 0) {
      throw new AwsServiceError(
        'InvalidParameterException',
        'No Container Instances were found in your cluster.',
      );
    }
    return shortage(candidates, task);
  };

  /** Resolves when the task is on an instance; rejects when the task is stopped first. */
  const waitForPlacement = (task: Task): Promise<void> =>
    new Promise((resolve, reject) => {
      if (task.containerInstanceArn) return resolve();
      const signal = task.stopController.signal;
      const onStop = () => {
        for (const p of providers.values()) p.waiting = p.waiting.filter((t) => t !== task);
        reject(signal.reason);
      };
      if (signal.aborted) return onStop();
      signal.addEventListener('abort', onStop, { once: true });
      task.placed = () => {
        signal.removeEventListener('abort', onStop);
        resolve();
      };
    });

  /** Gives waiting tasks the room there is now, oldest first. */
  const drain = (provider: CapacityProvider) => {
    const still: Task[] = [];
    for (const task of provider.waiting) {
      if (task.desiredStatus === 'STOPPED') continue;
      const instance = instancesOf(provider)
        .filter((i) => fits(i, task))
        .sort((a, b) => a.memory - a.usedMemory - (b.memory - b.usedMemory))[0];
      if (!instance) {
        still.push(task);
        continue;
      }
      take(instance, task);
      task.placed?.();
    }
    provider.waiting = still;
  };

  /** How many empty instances the waiting tasks need (first fit, as a lower bound). */
  const instancesNeeded = (provider: CapacityProvider): number => {
    const bins: { cpu: number; memory: number }[] = [];
    for (const task of provider.waiting) {
      if (task.cpu > provider.group.cpu || task.memory > provider.group.memory) continue;
      const bin = bins.find((b) => b.cpu >= task.cpu && b.memory >= task.memory);
      if (bin) {
        bin.cpu -= task.cpu;
        bin.memory -= task.memory;
      } else {
        bins.push({
          cpu: provider.group.cpu - task.cpu,
          memory: provider.group.memory - task.memory,
        });
      }
    }
    return bins.length;
  };

  const scheduleScaleOut = (provider: CapacityProvider) => {
    if (provider.scaling) return;
    provider.scaling = true;
    void clock
      .sleep(deps.scaleOutDelayMs, deps.closing)
      .then(() => {
        provider.scaling = false;
        drain(provider);
        const cluster = provider.cluster;
        if (!cluster || provider.waiting.length === 0) return;
        const room = provider.group.maxSize - instancesOf(provider).length;
        const add = Math.min(instancesNeeded(provider), room, provider.maximumScalingStepSize);
        for (let n = 0; n < add; n++) register(provider, cluster);
        provider.group.desiredCapacity = instancesOf(provider).length;
        drain(provider);
        // Still waiting and the group can grow: measure again after another delay.
        if (provider.waiting.length > 0 && instancesOf(provider).length < provider.group.maxSize) {
          scheduleScaleOut(provider);
        }
      })
      .catch(() => {
        provider.scaling = false;
      });
  };

  /** The task stopped: its instance gets the room back and waiting tasks may take it. */
  const release = (task: Task) => {
    const instance = task.containerInstanceArn
      ? instances.get(task.containerInstanceArn)
      : undefined;
    if (!instance || !instance.tasks.delete(task.arn)) return;
    instance.usedCpu -= task.cpu;
    instance.usedMemory -= task.memory;
    const provider = providers.get(instance.provider);
    if (provider) drain(provider);
  };

  return {
    defineAutoScalingGroup,
    isEc2Provider,
    associate,
    place,
    waitForPlacement,
    release,
    listContainerInstances,
    describeContainerInstances,
    /** Every registered container instance (control API). */
    containerInstances: () => [...instances.values()].map((i) => ({ ...i, tasks: [...i.tasks] })),
    /** Tasks waiting in PROVISIONING for capacity, per provider (control API). */
    waitingTasks: () =>
      Object.fromEntries([...providers.values()].map((p) => [p.name, p.waiting.length])),
    operations: {
      CreateCapacityProvider: createCapacityProvider,
      DescribeCapacityProviders: describeCapacityProviders,
    },
  };
}
