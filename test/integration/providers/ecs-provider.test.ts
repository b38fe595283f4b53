// Contract tests: the SDK ECS provider against the ECS simulator, through the real SDK client.
import {
  CreateClusterCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SdkEcsProvider } from '../../../controller/ecs/sdk-provider.ts';
import {
  CapacityUnavailableError,
  IdempotencyConflictError,
  LaunchFailedError,
  TaskDefinitionNotFoundError,
  ThrottledError,
} from '../../../controller/ecs/errors.ts';
import type { RunnerLaunch } from '../../../controller/ecs/types.ts';
import { startEcsSimulator, type EcsSimulator } from '../../../controller/sandbox/ecs/simulator.ts';
import type { ContainerRuntime } from '../../../controller/sandbox/ecs/runtime.ts';

const credentials = { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'sandbox-secret' };
const JIT = 'JIT-' + 'j'.repeat(4500);
let sim: EcsSimulator;
let provider: SdkEcsProvider;
const seenEnvironment: Record<string, string>[] = [];

/** Containers run until stopped (exit 143 on SIGTERM); the environment they got is kept. */
const runtime: ContainerRuntime = {
  start(container) {
    seenEnvironment.push(container.environment);
    return {
      exited: new Promise<number>((resolve) =>
        container.signal.addEventListener('abort', () => resolve(143), { once: true }),
      ),
    };
  },
};

function launch(over: Partial<RunnerLaunch> = {}): RunnerLaunch {
  return {
    cluster: 'runners',
    taskDefinition: 'runner',
    containerName: 'runner',
    subnets: ['subnet-1'],
    securityGroups: ['sg-1'],
    assignPublicIp: false,
    environment: { RUNNERCTL_JIT_CONFIG: JIT },
    clientToken: 'rctl-linux-1',
    startedBy: 'runnerctl',
    group: 'runnerctl:linux',
    tags: { 'runnerctl.dev/runner': 'rctl-linux-1', 'runnerctl.dev/pool': 'linux' },
    ...over,
  };
}

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
    },
  });
  const ecs = new ECSClient({ endpoint: sim.url, region: sim.region, credentials, maxAttempts: 1 });
  await ecs.send(
    new CreateClusterCommand({
      clusterName: 'runners',
      capacityProviders: ['FARGATE', 'FARGATE_SPOT'],
    }),
  );
  await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'runner',
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: '1024',
      memory: '2048',
      containerDefinitions: [{ name: 'runner', image: 'runner:latest', essential: true }],
    }),
  );
  provider = new SdkEcsProvider({
    endpoint: sim.url,
    region: sim.region,
    credentials,
    maxAttempts: 1,
  });
});

afterAll(async () => {
  await sim?.close();
});

describe('SdkEcsProvider against the ECS simulator', () => {
  it('runs a sized task with tags and environment, describes, lists and stops it', async () => {
    const task = await provider.runTask(launch({ cpu: 2048, memory: 4096 }));
    expect(task).toMatchObject({
      startedBy: 'runnerctl',
      group: 'runnerctl:linux',
      desiredStatus: 'RUNNING',
    });
    expect(task.tags['runnerctl.dev/runner']).toBe('rctl-linux-1');
    const simTask = sim.task(task.arn)!;
    expect(simTask).toBeDefined();
    await sim.waitForTaskStatus(task.arn, 'RUNNING');
    expect(seenEnvironment.at(-1)?.RUNNERCTL_JIT_CONFIG).toBe(JIT);

    const [described] = await provider.describeTasks('runners', [task.arn]);
    expect(described).toMatchObject({
      arn: task.arn,
      lastStatus: 'RUNNING',
      capacityProvider: 'FARGATE',
    });
    expect(described!.tags['runnerctl.dev/pool']).toBe('linux');
    expect(await provider.listTasks('runners', { startedBy: 'runnerctl' })).toContain(task.arn);

    // Idempotent per clientToken: the same launch returns the same task.
    expect((await provider.runTask(launch({ cpu: 2048, memory: 4096 }))).arn).toBe(task.arn);

    await provider.stopTask('runners', task.arn, 'runner finished');
    await sim.waitForTaskStatus(task.arn, 'STOPPED');
    await provider.stopTask('runners', task.arn, 'again'); // already stopped: fine
    await provider.stopTask(
      'runners',
      'arn:aws:ecs:us-east-1:000000000000:task/runners/nope',
      'gc',
    );
    const [stopped] = await provider.describeTasks('runners', [
      task.arn,
      'arn:aws:ecs:us-east-1:000000000000:task/runners/nope',
    ]);
    expect(stopped).toMatchObject({ lastStatus: 'STOPPED', stoppedReason: 'runner finished' });
    expect(await provider.listTasks('runners', { startedBy: 'runnerctl' })).not.toContain(task.arn);
    expect(
      await provider.listTasks('runners', { startedBy: 'runnerctl', desiredStatus: 'STOPPED' }),
    ).toContain(task.arn);
  });

  it('the same clientToken with other parameters is an IdempotencyConflictError', async () => {
    await provider.runTask(launch({ clientToken: 'rctl-conflict' }));
    const err = await provider
      .runTask(launch({ clientToken: 'rctl-conflict', cpu: 4096, memory: 8192 }))
      .catch((e) => e);
    expect(err).toBeInstanceOf(IdempotencyConflictError);
  });

  it('an unknown task definition is a TaskDefinitionNotFoundError; oversize overrides are refused', async () => {
    const err = await provider
      .runTask(launch({ clientToken: 'rctl-td', taskDefinition: 'nope:9' }))
      .catch((e) => e);
    expect(err).toBeInstanceOf(TaskDefinitionNotFoundError);
    const big = await provider
      .runTask(
        launch({
          clientToken: 'rctl-big',
          environment: { RUNNERCTL_JIT_CONFIG: 'b'.repeat(8200) },
        }),
      )
      .catch((e) => e);
    expect(big).toBeInstanceOf(LaunchFailedError);
    expect(big.message).not.toContain('bbbb');
  });

  it('spot shortage is a CapacityUnavailableError; on-demand still launches', async () => {
    sim.setFaults({ spotCapacityShortage: 1 });
    try {
      const err = await provider
        .runTask(
          launch({
            clientToken: 'rctl-spot',
            capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }],
          }),
        )
        .catch((e) => e);
      expect(err).toBeInstanceOf(CapacityUnavailableError);
      expect(err.message).toMatch(/Capacity is unavailable/);
      expect(err.message).not.toContain('JIT-jjj');
      const fallback = await provider.runTask(launch({ clientToken: 'rctl-spot-od' }));
      expect(fallback.capacityProvider).toBe('FARGATE');
    } finally {
      sim.setFaults({ spotCapacityShortage: 0 });
    }
  });

  it('a burst of 60 launches paced by default settings is never throttled', async () => {
    const tasks = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        provider.runTask(launch({ clientToken: `rctl-b-${i}` })),
      ),
    );
    expect(new Set(tasks.map((t) => t.arn)).size).toBe(60);
    const arns = await provider.listTasks('runners', { startedBy: 'runnerctl' });
    expect((await provider.describeTasks('runners', arns)).length).toBe(arns.length);
    await Promise.all(arns.map((arn) => provider.stopTask('runners', arn, 'test over')));
  });
  it('throttling is a ThrottledError when the client-side pacing is looser than ECS', async () => {
    sim.setFaults({ throttle: { runTaskBurst: 2, runTaskPerSecond: 0.01 } });
    try {
      const loose = new SdkEcsProvider({
        endpoint: sim.url,
        region: sim.region,
        credentials,
        maxAttempts: 1,
        pacing: { runTaskBurst: 100, runTaskPerSecond: 100 },
      });
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, (_, i) =>
          loose.runTask(launch({ clientToken: `rctl-thr-${i}` })),
        ),
      );
      const reasons = results
        .filter((r) => r.status === 'rejected')
        .map((r) => (r as PromiseRejectedResult).reason);
      expect(reasons.length).toBeGreaterThanOrEqual(3);
      for (const reason of reasons) expect(reason).toBeInstanceOf(ThrottledError);
    } finally {
      sim.setFaults({ throttle: { runTaskBurst: 20, runTaskPerSecond: 20 } });
    }
  });
});
