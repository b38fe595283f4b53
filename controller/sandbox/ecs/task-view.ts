// How the ECS simulator shows a task: the SDK's Task shape (DescribeTasks, RunTask, StopTask)
// and the control API's snapshot.

import { createHash } from 'node:crypto';
import { epochSeconds } from '../aws-json.ts';
import type { SimulatedTask, Task } from './model.ts';

export function taskOutput(task: Task, includeTags: boolean, region: string, arnPrefix: string) {
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
    enableExecuteCommand: false,
    overrides: task.overrides,
    attributes: [
      {
        name: 'ecs.cpu-architecture',
        value: task.definition.cpuArchitecture === 'ARM64' ? 'arm64' : 'x86_64',
      },
    ],
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
  if (task.launchType === 'FARGATE') {
    out.platformVersion = '1.4.0';
    out.platformFamily = 'Linux';
    out.ephemeralStorage = { sizeInGiB: task.ephemeralStorageGiB ?? 20 };
    out.fargateEphemeralStorage = { sizeInGiB: task.ephemeralStorageGiB ?? 20 };
  } else if (task.containerInstanceArn) {
    out.containerInstanceArn = task.containerInstanceArn;
  }
  // A bridge task has no ENI of its own.
  if (task.definition.networkMode !== 'awsvpc') out.attachments = [];
  if (task.viaStrategy) out.capacityProviderName = task.capacityProvider;
  else out.launchType = task.launchType;
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
}

export function snapshot(task: Task): SimulatedTask {
  const out: SimulatedTask = {
    taskArn: task.arn,
    clusterArn: task.cluster.arn,
    family: task.definition.family,
    lastStatus: task.lastStatus,
    desiredStatus: task.desiredStatus,
    capacityProvider: task.capacityProvider,
    launchType: task.launchType,
    group: task.group,
    environment: { ...task.environment },
    createdAt: task.createdAt,
  };
  if (task.startedBy !== undefined) out.startedBy = task.startedBy;
  if (task.containerInstanceArn !== undefined) out.containerInstanceArn = task.containerInstanceArn;
  if (task.stopCode !== undefined) out.stopCode = task.stopCode;
  if (task.stoppedReason !== undefined) out.stoppedReason = task.stoppedReason;
  if (task.exitCode !== undefined) out.exitCode = task.exitCode;
  if (task.startedAt !== undefined) out.startedAt = task.startedAt;
  if (task.stoppedAt !== undefined) out.stoppedAt = task.stoppedAt;
  return out;
}

const EVENT_TIMES = [
  'createdAt',
  'pullStartedAt',
  'pullStoppedAt',
  'connectivityAt',
  'startedAt',
  'stoppingAt',
  'executionStoppedAt',
  'stoppedAt',
] as const;

const isoTime = (ms: number) => new Date(ms).toISOString();

/**
 * The EventBridge event ECS sends when a task changes (lastStatus or desiredStatus): the task as
 * DescribeTasks shows it without tags, timestamps as ISO strings, and `updatedAt`.
 */
export function taskStateChangeEvent(
  task: Task,
  region: string,
  accountId: string,
  arnPrefix: string,
  now: number,
  id: string,
): Record<string, unknown> {
  const detail = taskOutput(task, false, region, arnPrefix);
  for (const key of EVENT_TIMES) {
    const value = task[key];
    if (value !== undefined) detail[key] = isoTime(value);
  }
  detail.updatedAt = isoTime(now);
  return {
    version: '0',
    id,
    'detail-type': 'ECS Task State Change',
    source: 'aws.ecs',
    account: accountId,
    time: isoTime(now).replace(/\.\d{3}Z$/, 'Z'),
    region,
    resources: [task.arn],
    detail,
  };
}
