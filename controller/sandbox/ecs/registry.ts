// Clusters and task definitions of the ECS simulator: CreateCluster, DescribeClusters,
// PutClusterCapacityProviders, RegisterTaskDefinition, DescribeTaskDefinition and
// ListTaskDefinitions, with ECS's validation (Fargate sizes, awsvpc, capacity providers).

import type { Clock } from '../../util/clock.ts';
import {
  epochSeconds,
  optionalArray,
  optionalNumber,
  optionalObject,
  optionalString,
} from '../aws-json.ts';
import { AwsServiceError } from '../aws-json.ts';
import { isFargateSize, parseCpu, parseMemory } from './fargate.ts';
import { validateStrategy } from './placement.ts';
import { clientError, invalidParameter, readKeyValues, readStrategy, readTags } from './model.ts';
import type { Cluster, ContainerDefinition, TaskDefinition } from './model.ts';

export interface EcsRegistryDeps {
  clock: Clock;
  /** `arn:aws:ecs:<region>:<account>` */
  arnPrefix: string;
  accountId: string;
  /** Live task counts of a cluster, for DescribeClusters. */
  taskCounts(cluster: Cluster): { running: number; pending: number };
  /** Auto Scaling group capacity providers (CreateCapacityProvider), see ec2-capacity.ts. */
  isEc2Provider(name: string): boolean;
  /** The cluster now has these providers: their groups' instances register into it. */
  associate(cluster: Cluster, providers: readonly string[]): void;
  /** Container instances registered into the cluster. */
  instanceCount(cluster: Cluster): number;
}

export const MIXED_STRATEGY_MESSAGE =
  'The capacity provider strategy cannot contain a mix of capacity providers using Auto Scaling groups and Fargate providers. Specify one or the other and try again.';

export type EcsRegistry = ReturnType<typeof createEcsRegistry>;

export function createEcsRegistry(deps: EcsRegistryDeps) {
  const { clock, arnPrefix, accountId } = deps;
  const clusters = new Map<string, Cluster>();
  const families = new Map<string, TaskDefinition[]>();

  // ---- clusters ----

  const clusterOutput = (cluster: Cluster) => {
    const { running, pending } = deps.taskCounts(cluster);
    return {
      clusterArn: cluster.arn,
      clusterName: cluster.name,
      status: 'ACTIVE',
      registeredContainerInstancesCount: deps.instanceCount(cluster),
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
      if (provider !== 'FARGATE' && provider !== 'FARGATE_SPOT' && !deps.isEc2Provider(provider)) {
        throw invalidParameter(
          `The specified capacity provider '${String(provider)}' does not exist. Specify a valid capacity provider and try again.`,
        );
      }
    }
    const strategy = readStrategy(optionalArray(input, 'defaultCapacityProviderStrategy'));
    if (strategy) validateStrategy(strategy);
    const kinds = new Set((strategy ?? []).map((i) => deps.isEc2Provider(i.capacityProvider)));
    if (kinds.size > 1) throw invalidParameter(MIXED_STRATEGY_MESSAGE);
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
    deps.associate(cluster, providers);
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
        privileged: raw.privileged === true,
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
    const platform = optionalObject(input, 'runtimePlatform');
    const cpuArchitecture = platform
      ? (optionalString(platform, 'cpuArchitecture') ?? 'X86_64')
      : 'X86_64';
    if (cpuArchitecture !== 'X86_64' && cpuArchitecture !== 'ARM64') {
      throw clientError(`Invalid runtimePlatform.cpuArchitecture: ${cpuArchitecture}`);
    }
    const privileged = containers.some((c) => c.privileged);
    if (requires.includes('FARGATE')) {
      // Fargate runs no privileged container; a Docker daemon needs ECS on EC2.
      if (privileged) {
        throw clientError(
          'Privileged containers are not supported on Fargate (requiresCompatibilities FARGATE).',
        );
      }
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
      cpuArchitecture,
      privileged,
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

  const describeClusters = (input: Record<string, unknown>) => {
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
  };

  const putClusterCapacityProviders = (input: Record<string, unknown>) => {
    const cluster = resolveCluster(optionalString(input, 'cluster'));
    const { providers, strategy } = readCapacityProviders(input);
    deps.associate(cluster, providers);
    cluster.capacityProviders = providers;
    cluster.defaultStrategy = strategy;
    return { cluster: clusterOutput(cluster) };
  };

  const describeTaskDefinition = (input: Record<string, unknown>) => {
    const ref = optionalString(input, 'taskDefinition');
    const definition = ref ? findTaskDefinition(ref) : undefined;
    if (!definition) throw clientError('Unable to describe task definition.');
    const include = (optionalArray(input, 'include') ?? []) as string[];
    return {
      taskDefinition: definition.output,
      ...(include.includes('TAGS') ? { tags: definition.tags } : {}),
    };
  };

  const listTaskDefinitions = (input: Record<string, unknown>) => {
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
    const start = nextToken ? Number(Buffer.from(nextToken, 'base64url').toString('utf8')) || 0 : 0;
    const out: Record<string, unknown> = {
      taskDefinitionArns: all.slice(start, start + maxResults),
    };
    if (start + maxResults < all.length) {
      out.nextToken = Buffer.from(String(start + maxResults), 'utf8').toString('base64url');
    }
    return out;
  };

  return {
    resolveCluster,
    findTaskDefinition,
    operations: {
      CreateCluster: createCluster,
      DescribeClusters: describeClusters,
      PutClusterCapacityProviders: putClusterCapacityProviders,
      RegisterTaskDefinition: registerTaskDefinition,
      DescribeTaskDefinition: describeTaskDefinition,
      ListTaskDefinitions: listTaskDefinitions,
    },
  };
}
