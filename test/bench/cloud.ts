// The benchmark's local cloud: embedded DynamoDB (dynalite), the GitHub, ECS and SQS simulators
// on the benchmark's clock, N pools in one organization, and the real controller in its own
// process (test/bench/controller-process.ts) wired to all of it like `runnerctl sandbox` wires
// it (controller/sandbox/sandbox.ts), with production reconcile and pacing settings.

import { join } from 'node:path';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { validatePoolSources } from '../../controller/api/validate.ts';
import type { ControllerConfig } from '../../controller/config/types.ts';
import {
  DEFAULT_RUN_TASK_BURST,
  DEFAULT_RUN_TASK_PER_SECOND,
} from '../../controller/ecs/sdk-provider.ts';
import { DEFAULT_JIT_PER_MINUTE } from '../../controller/github/octokit-provider.ts';
import type { ControllerConfig as ReconcileConfig } from '../../controller/reconcile/controller.ts';
import { startEcsSimulator, type EcsSimulator } from '../../controller/sandbox/ecs/index.ts';
import type { EcsLatencies } from '../../controller/sandbox/ecs/simulator.ts';
import type { ContainerRuntime } from '../../controller/sandbox/ecs/runtime.ts';
import {
  startGitHubSimulator,
  type GitHubSimulator,
} from '../../controller/sandbox/github/index.ts';
import {
  provisionSandboxEcs,
  sandboxCredentials,
  SANDBOX_CLUSTER,
  SANDBOX_CONTAINER,
  SANDBOX_TASK_DEFINITION,
  SANDBOX_REGION,
  writeSecretFile,
} from '../../controller/sandbox/local-cloud.ts';
import { forwardEcsTaskEvents } from '../../controller/sandbox/ecs-event-rule.ts';
import { startSqsSimulator, type SqsSimulator } from '../../controller/sandbox/sqs/index.ts';
import { openStore } from '../../controller/store/factory.ts';
import { DEFAULT_TABLE_NAME } from '../../controller/store/layout.ts';
import { startLocalEngine, type LocalEngine } from '../../controller/store/local-engine.ts';
import type { Store } from '../../controller/store/types.ts';
import type { Clock } from '../../controller/util/clock.ts';
import type { ClockSpec } from './clock.ts';
import { startControllerChild, type ControllerChild } from './controller-child.ts';

export const BENCH_ORG = 'bench-org';
export const BENCH_REPO = `${BENCH_ORG}/app`;
export const RUNNER_PREFIX = 'rctl';

export const poolName = (i: number) => `bench-${String(i).padStart(2, '0')}`;

export interface BenchCloudOptions {
  dir: string;
  clock: Clock;
  clockSpec: ClockSpec;
  runtime: (clock: Clock) => ContainerRuntime;
  latencies?: Partial<EcsLatencies>;
  pools: number;
  maxRunners: number;
  /** Pools' timeouts.idle (default 10m). */
  idleTimeout?: string;
  /** The installation's REST budget per hour, for the simulator and the controller's pacing. */
  restPerHour: number;
  /**
   * Deliver workflow_job events through EventBridge and SQS (the deployed path). Not also as
   * HTTP webhooks: the simulator delivers one event at a time and waits for the answer, and the
   * controller answers a webhook only once the job is recorded, so on a sped-up clock the HTTP
   * path would measure the simulator's serial delivery rather than the controller.
   */
  events: boolean;
  resyncSeconds: number;
  /** GitHub Apps the controller spreads JIT configs over (default 1), each installed on the org. */
  apps?: number;
  reconcile?: Partial<ReconcileConfig>;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

export interface BenchCloud {
  github: GitHubSimulator;
  ecs: EcsSimulator;
  sqs?: SqsSimulator;
  /** The benchmark's own connection to the table (seeding, reading records). */
  store: Store;
  pools: string[];
  installationId: number;
  engine: LocalEngine;
  config: ControllerConfig;
  /** Starts the controller process; with `events`, GitHub's webhooks go to it. */
  startController(): Promise<ControllerChild>;
  close(): Promise<void>;
}

export function poolYaml(name: string, maxRunners: number, idle = '10m'): string {
  return [
    'apiVersion: runnerctl.dev/v1alpha1',
    'kind: RunnerPool',
    `metadata: { name: ${name} }`,
    'spec:',
    `  github: { scope: org, organization: ${BENCH_ORG}, runnerGroup: Default }`,
    `  labels: [self-hosted, ${name}]`,
    `  maxRunners: ${maxRunners}`,
    '  ecs:',
    `    cluster: ${SANDBOX_CLUSTER}`,
    `    taskDefinition: ${SANDBOX_TASK_DEFINITION}`,
    `    containerName: ${SANDBOX_CONTAINER}`,
    '    subnets: [subnet-0123456789abcdef0]',
    `  timeouts: { registration: 5m, idle: ${idle}, maxJobDuration: 6h }`,
    '',
  ].join('\n');
}

export async function startBenchCloud(options: BenchCloudOptions): Promise<BenchCloud> {
  const { clock } = options;
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const fn of closers.splice(0).reverse()) await fn().catch(() => {});
  };
  try {
    const engine = await startLocalEngine(join(options.dir, 'db'));
    closers.push(() => engine.close());
    const appIds = Array.from({ length: Math.max(1, options.apps ?? 1) }, (_, i) => 424242 + i);
    const github = await startGitHubSimulator({
      clock,
      seed: 1,
      appIds,
      rateLimits: { primaryLimit: options.restPerHour },
      onError: (e) => process.stderr.write(`GitHub simulator: ${e.name}: ${e.message}\n`),
    });
    closers.push(() => github.close());
    const ecs = await startEcsSimulator({
      clock,
      region: SANDBOX_REGION,
      runtime: options.runtime(clock),
      ...(options.latencies ? { latencies: options.latencies } : {}),
      seed: 1,
    });
    closers.push(() => ecs.close());

    await provisionSandboxEcs(ecs.url, 'ghcr.io/runnerctl/runner:bench');

    let sqs: SqsSimulator | undefined;
    let queueUrl: string | undefined;
    if (options.events) {
      sqs = await startSqsSimulator({ clock, region: SANDBOX_REGION });
      const started = sqs;
      closers.push(() => started.close());
      const sqsClient = new SQSClient({
        endpoint: sqs.url,
        region: SANDBOX_REGION,
        credentials: sandboxCredentials(),
      });
      try {
        queueUrl = (
          await sqsClient.send(
            new CreateQueueCommand({
              QueueName: 'runnerctl-workflow-jobs',
              Attributes: { VisibilityTimeout: '30' },
            }),
          )
        ).QueueUrl!;
      } finally {
        sqsClient.destroy();
      }
      await github.control.addWebhookSink({
        kind: 'sqs',
        queueUrl,
        endpoint: sqs.url,
        region: SANDBOX_REGION,
        credentials: sandboxCredentials(),
      });
      // The stack's second rule: the cluster's ECS Task State Change events into the same queue.
      const rule = forwardEcsTaskEvents({
        ecs,
        clusterArn: `arn:aws:ecs:${SANDBOX_REGION}:${ecs.accountId}:cluster/${SANDBOX_CLUSTER}`,
        queueUrl,
        sqsEndpoint: sqs.url,
        region: SANDBOX_REGION,
        credentials: sandboxCredentials(),
      });
      closers.push(() => rule.close());
    }

    await github.control.createOrg({ login: BENCH_ORG });
    const installation = await github.control.createInstallation({
      account: BENCH_ORG,
      permissions: {
        organization_self_hosted_runners: 'write',
        administration: 'write',
        actions: 'read',
      },
    });
    await github.control.createRepo({ owner: BENCH_ORG, name: 'app' });
    const privateKeyFile = join(options.dir, 'github-app.pem');
    await writeSecretFile(privateKeyFile, github.privateKeyPem);
    const moreApps: NonNullable<ControllerConfig['github']['apps']> = [];
    for (const app of github.apps.slice(1)) {
      const file = join(options.dir, `github-app-${app.appId}.pem`);
      await writeSecretFile(file, app.privateKeyPem);
      moreApps.push({ appId: app.appId, privateKey: { file } });
    }
    const secretFile = join(options.dir, 'webhook-secret');
    await writeSecretFile(secretFile, github.webhookSecret);

    const store = await openStore({
      kind: 'dynamodb',
      endpoint: engine.endpoint,
      region: SANDBOX_REGION,
      credentials: sandboxCredentials(),
      clock,
    });
    closers.push(() => store.close());
    const pools = Array.from({ length: options.pools }, (_, i) => poolName(i));
    const validated = validatePoolSources(
      pools.map((name) => ({
        file: `${name}.yaml`,
        text: poolYaml(name, options.maxRunners, options.idleTimeout),
      })),
    );
    for (const { pool } of validated) await store.applyPool(pool);

    const config: ControllerConfig = {
      github: {
        appId: github.appId,
        privateKey: { file: privateKeyFile },
        webhookSecret: { file: secretFile },
        apiUrl: github.url,
        ...(moreApps.length ? { apps: moreApps } : {}),
      },
      aws: {
        region: SANDBOX_REGION,
        dynamodbEndpoint: engine.endpoint,
        ecsEndpoint: ecs.url,
        ...(sqs ? { sqsEndpoint: sqs.url } : {}),
      },
      table: DEFAULT_TABLE_NAME,
      ...(queueUrl ? { queueUrl } : {}),
      server: { port: 0 },
      runnerNamePrefix: RUNNER_PREFIX,
      resyncSeconds: options.resyncSeconds,
      pacing: {
        jitPerMinute: DEFAULT_JIT_PER_MINUTE,
        runTaskPerSecond: DEFAULT_RUN_TASK_PER_SECOND,
        runTaskBurst: DEFAULT_RUN_TASK_BURST,
        restPerHour: options.restPerHour,
      },
      leaseSeconds: 15,
    };

    return {
      github,
      ecs,
      ...(sqs ? { sqs } : {}),
      store,
      pools,
      installationId: installation.id,
      engine,
      config,
      async startController() {
        const child = await startControllerChild({
          config,
          clock: options.clockSpec,
          ...(options.reconcile ? { reconcile: options.reconcile } : {}),
          logFile: join(options.dir, 'controller.log'),
          logLevel: options.logLevel ?? 'info',
          credentials: sandboxCredentials(),
        });
        closers.push(async () => {
          await Promise.race([
            child.stop(),
            new Promise((resolve) => setTimeout(resolve, 10_000)),
          ]).catch(() => {});
          await Promise.race([child.exited, new Promise((r) => setTimeout(r, 5_000))]);
          child.kill();
        });
        return child;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
