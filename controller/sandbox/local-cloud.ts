// The local cloud of `runnerctl sandbox`: the GitHub, ECS and SQS simulators in this process on
// loopback, set up the way a production account would be — an org with the App installed, an ECS
// cluster and the runner task definition, the EventBridge-fed queue with its dead-letter queue —
// and the ECS container runtime running the fake runner with the JIT config of each task.

import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CreateClusterCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { systemClock, type Clock } from '../util/clock.ts';
import { forwardEcsTaskEvents } from './ecs-event-rule.ts';
import { fakeRunnerRuntime } from './ecs/fake-runner-runtime.ts';
import type { ContainerRuntime } from './ecs/runtime.ts';
import { startEcsSimulator, type EcsLatencies, type EcsSimulator } from './ecs/simulator.ts';
import {
  startGitHubSimulator,
  type GitHubSimulator,
  type RateLimitOptions,
} from './github/index.ts';
import { startSqsSimulator, type SqsSimulator } from './sqs/simulator.ts';

/** Names the pools of crds/examples/ use. */
export const SANDBOX_CLUSTER = 'runnerctl';
export const SANDBOX_TASK_DEFINITION = 'runnerctl-runner';
export const SANDBOX_CONTAINER = 'runner';
export const SANDBOX_QUEUE = 'runnerctl-workflow-jobs';
export const SANDBOX_DLQ = 'runnerctl-workflow-jobs-dlq';
export const SANDBOX_REGION = 'us-east-1';
/**
 * The AWS SDK needs credentials to sign; the simulators accept any. A fresh object per client:
 * the SDK writes bookkeeping fields into the credentials it is given.
 */
export function sandboxCredentials(): { accessKeyId: string; secretAccessKey: string } {
  return { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'sandbox' };
}
/** The GitHub App permissions runnerctl needs (shared/design.md). */
const APP_PERMISSIONS = {
  organization_self_hosted_runners: 'write',
  administration: 'write',
  actions: 'write',
} as const;

export interface LocalCloudOptions {
  /** Where the App's private key file is written (mode 0600). */
  dataDir: string;
  clock?: Clock;
  /** RunTask to RUNNING, in ms (Fargate: about 50 s). */
  taskStartMs: number;
  /** Receives the fake runners' output lines (never the JIT config). */
  runnerLog?: (taskArn: string, line: string) => void;
  /** Ports of the simulators; 0 (default) picks free ones. */
  ports?: { github?: number; ecs?: number; sqs?: number };
  /** Seed of the simulators' fault dice. */
  seed?: number;
  /** The installation's REST budget per hour (GitHub: 5,000). */
  restPerHour?: number;
  /**
   * The GitHub simulator's API clock (tokens, JWTs, rate-limit windows, the Date header); default
   * `clock`. A sped-up simulation passes the system clock: Octokit times tokens on real time.
   */
  githubApiClock?: Clock;
  /** GitHub rate limits beyond `restPerHour` (e.g. JIT points scaled to a sped-up clock). */
  githubRateLimits?: Partial<RateLimitOptions>;
  /** Wraps the fake-runner container runtime (`runnerctl simulate` injects runner crashes). */
  wrapRuntime?: (runtime: ContainerRuntime) => ContainerRuntime;
}

export interface LocalCloud {
  github: GitHubSimulator;
  ecs: EcsSimulator;
  sqs: SqsSimulator;
  region: string;
  queueUrl: string;
  deadLetterQueueUrl: string;
  privateKeyFile: string;
  /** Organizations (with the App installed) and repositories created so far. */
  installations: Map<string, number>;
  /** Creates the org (with the App installed on it) and the repository when missing. */
  ensureRepository(fullName: string): Promise<void>;
  ensureOrganization(login: string): Promise<number>;
  close(): Promise<void>;
}

/** Splits the task start latency over Fargate's steps like a real launch (ENI, pull, start). */
export function latenciesFor(taskStartMs: number): Partial<EcsLatencies> {
  const start = Math.max(0, taskStartMs);
  return {
    provisioning: Math.round(start * 0.3),
    pending: Math.round(start * 0.55),
    activating: Math.round(start * 0.15),
    deactivating: Math.min(500, Math.round(start * 0.1)),
    stopping: Math.min(500, Math.round(start * 0.1)),
    deprovisioning: Math.min(1_000, Math.round(start * 0.2)),
    stopTimeout: 5_000,
  };
}

export async function startLocalCloud(options: LocalCloudOptions): Promise<LocalCloud> {
  const clock = options.clock ?? systemClock;
  const started: { close(): Promise<void> }[] = [];
  const closeAll = async () => {
    for (const part of started.splice(0).reverse()) await part.close().catch(() => {});
  };
  try {
    const github = await startGitHubSimulator({
      clock,
      seed: options.seed ?? 1,
      port: options.ports?.github ?? 0,
      ...(options.githubApiClock ? { apiClock: options.githubApiClock } : {}),
      rateLimits: {
        ...(options.restPerHour ? { primaryLimit: options.restPerHour } : {}),
        ...options.githubRateLimits,
      },
    });
    started.push(github);
    const ecs = await startEcsSimulator({
      clock,
      port: options.ports?.ecs ?? 0,
      region: SANDBOX_REGION,
      latencies: latenciesFor(options.taskStartMs),
      runtime: (options.wrapRuntime ?? ((r) => r))(
        fakeRunnerRuntime({
          clock,
          // Runners ask the broker for a job with a short long-poll so they stop promptly.
          pollWaitMs: 5_000,
          ...(options.runnerLog ? { log: options.runnerLog } : {}),
        }),
      ),
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
    });
    started.push(ecs);
    const sqs = await startSqsSimulator({
      clock,
      port: options.ports?.sqs ?? 0,
      region: SANDBOX_REGION,
    });
    started.push(sqs);

    // ECS: the cluster and task definition the example pools name.
    await provisionSandboxEcs(ecs.url, 'ghcr.io/runnerctl/runner:sandbox');

    // SQS: the queue an EventBridge rule fills, with a dead-letter queue behind it.
    const sqsClient = new SQSClient({
      endpoint: sqs.url,
      region: SANDBOX_REGION,
      credentials: sandboxCredentials(),
    });
    let queueUrl: string;
    let deadLetterQueueUrl: string;
    try {
      const dlq = await sqsClient.send(new CreateQueueCommand({ QueueName: SANDBOX_DLQ }));
      deadLetterQueueUrl = dlq.QueueUrl!;
      const dlqAttrs = await sqsClient.send(
        new GetQueueAttributesCommand({
          QueueUrl: deadLetterQueueUrl,
          AttributeNames: ['QueueArn'],
        }),
      );
      const queue = await sqsClient.send(
        new CreateQueueCommand({
          QueueName: SANDBOX_QUEUE,
          Attributes: {
            VisibilityTimeout: '30',
            RedrivePolicy: JSON.stringify({
              deadLetterTargetArn: dlqAttrs.Attributes?.QueueArn,
              maxReceiveCount: 5,
            }),
          },
        }),
      );
      queueUrl = queue.QueueUrl!;
    } finally {
      sqsClient.destroy();
    }
    // ECS -> EventBridge -> SQS: the cluster's task state changes, as the stack's rule sends them.
    started.push(
      forwardEcsTaskEvents({
        ecs,
        clusterArn: `arn:aws:ecs:${SANDBOX_REGION}:${ecs.accountId}:cluster/${SANDBOX_CLUSTER}`,
        queueUrl,
        sqsEndpoint: sqs.url,
        region: SANDBOX_REGION,
        credentials: sandboxCredentials(),
      }),
    );
    // GitHub -> EventBridge -> SQS: the simulator sends the EventBridge envelope into the queue.
    await github.control.addWebhookSink({
      kind: 'sqs',
      queueUrl,
      endpoint: sqs.url,
      region: SANDBOX_REGION,
      credentials: sandboxCredentials(),
    });

    const privateKeyFile = join(options.dataDir, 'github-app.pem');
    await writeSecretFile(privateKeyFile, github.privateKeyPem);

    const installations = new Map<string, number>();
    const repositories = new Set<string>();
    const ensureOrganization = async (login: string): Promise<number> => {
      const key = login.toLowerCase();
      const known = installations.get(key);
      if (known !== undefined) return known;
      await github.control.createOrg({ login });
      const installation = await github.control.createInstallation({
        account: login,
        permissions: { ...APP_PERMISSIONS },
      });
      installations.set(key, installation.id);
      return installation.id;
    };
    const ensureRepository = async (fullName: string): Promise<void> => {
      const [owner, name] = fullName.split('/');
      if (!owner || !name) throw new TypeError(`repository must be owner/name, got ${fullName}`);
      await ensureOrganization(owner);
      if (repositories.has(fullName.toLowerCase())) return;
      await github.control.createRepo({ owner, name });
      repositories.add(fullName.toLowerCase());
    };

    return {
      github,
      ecs,
      sqs,
      region: SANDBOX_REGION,
      queueUrl,
      deadLetterQueueUrl,
      privateKeyFile,
      installations,
      ensureOrganization,
      ensureRepository,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** Writes a secret to an owner-only file (mode 0600, also when the file existed). */
export async function writeSecretFile(path: string, value: string): Promise<void> {
  await writeFile(path, value, { mode: 0o600 });
  await chmod(path, 0o600);
}

/** Creates the sandbox's cluster (FARGATE and FARGATE_SPOT) and runner task definition. */
export async function provisionSandboxEcs(endpoint: string, image: string): Promise<void> {
  const ecsClient = new ECSClient({
    endpoint,
    region: SANDBOX_REGION,
    credentials: sandboxCredentials(),
  });
  try {
    await ecsClient.send(
      new CreateClusterCommand({
        clusterName: SANDBOX_CLUSTER,
        capacityProviders: ['FARGATE', 'FARGATE_SPOT'],
      }),
    );
    await ecsClient.send(
      new RegisterTaskDefinitionCommand({
        family: SANDBOX_TASK_DEFINITION,
        requiresCompatibilities: ['FARGATE'],
        networkMode: 'awsvpc',
        cpu: '1024',
        memory: '2048',
        containerDefinitions: [{ name: SANDBOX_CONTAINER, image, essential: true }],
      }),
    );
  } finally {
    ecsClient.destroy();
  }
}
