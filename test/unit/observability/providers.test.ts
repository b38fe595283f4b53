import { describe, expect, it } from 'vitest';
import {
  CapacityUnavailableError,
  EcsError,
  TaskDefinitionNotFoundError,
} from '../../../controller/ecs/errors.ts';
import {
  GitHubAuthError,
  GitHubError,
  RateLimitedError,
  RunnerBusyError,
  RunnerNameExistsError,
} from '../../../controller/github/errors.ts';
import { ControllerMetrics } from '../../../controller/observability/metrics.ts';
import {
  InstrumentedEcsProvider,
  InstrumentedGitHubProvider,
  outcomeOf,
} from '../../../controller/observability/providers.ts';
import { FakeEcs } from '../../support/fakes/fake-ecs.ts';
import { FakeGitHub } from '../../support/fakes/fake-github.ts';

const ORG = { kind: 'org' as const, org: 'acme' };

async function calls(m: ControllerMetrics, labels: Record<string, string>) {
  const metric = (await m.registry.getMetricsAsJSON()).find(
    (x) => x.name === 'runnerctl_api_calls_total',
  )!;
  return metric.values
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((a, v) => a + v.value, 0);
}

describe('outcomeOf', () => {
  it('names the providers typed errors, a bare status, or error', () => {
    expect(outcomeOf(new RunnerBusyError(3))).toBe('runner_busy');
    expect(outcomeOf(new RunnerNameExistsError('x'))).toBe('runner_name_exists');
    expect(outcomeOf(new RateLimitedError('slow down', 429, 1000))).toBe('rate_limited');
    expect(outcomeOf(new GitHubError('bad gateway', 502))).toBe('http_502');
    expect(outcomeOf(new GitHubError('no status'))).toBe('error');
    expect(outcomeOf(new CapacityUnavailableError('none'))).toBe('capacity_unavailable');
    expect(outcomeOf(new TaskDefinitionNotFoundError('gone'))).toBe('task_definition_not_found');
    expect(outcomeOf(new EcsError('x'))).toBe('error');
    // Anything else (network errors, bugs) is one bounded value: no message in a label.
    expect(outcomeOf(new TypeError('fetch failed'))).toBe('error');
    expect(outcomeOf('weird')).toBe('error');
  });
});

describe('InstrumentedGitHubProvider', () => {
  it('forwards calls and results unchanged and counts them by endpoint and outcome', async () => {
    const inner = new FakeGitHub();
    const m = new ControllerMetrics({ processMetrics: false });
    const gh = new InstrumentedGitHubProvider(inner, m);

    const jit = await gh.generateJitConfig(ORG, {
      name: 'rctl-a-1',
      runnerGroupId: 1,
      labels: ['x'],
    });
    expect(inner.runnerByName('rctl-a-1')?.id).toBe(jit.runner.id);
    expect(await gh.listRunners(ORG, 'rctl-')).toHaveLength(1);
    expect(await gh.getRunner(ORG, 999)).toBeUndefined();

    const err = await gh
      .generateJitConfig(ORG, { name: 'rctl-a-1', runnerGroupId: 1, labels: ['x'] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunnerNameExistsError);

    expect(
      await calls(m, { service: 'github', endpoint: 'generateJitConfig', outcome: 'ok' }),
    ).toBe(1);
    expect(
      await calls(m, {
        service: 'github',
        endpoint: 'generateJitConfig',
        outcome: 'runner_name_exists',
      }),
    ).toBe(1);
    expect(await calls(m, { endpoint: 'listRunners', outcome: 'ok' })).toBe(1);
    expect(await calls(m, { endpoint: 'getRunner', outcome: 'ok' })).toBe(1);
    const text = await m.text();
    expect(text).toMatch(
      /runnerctl_api_call_duration_seconds_count\{service="github",endpoint="generateJitConfig"\} 2/,
    );
    // The JIT config is a result, never a label.
    expect(text).not.toContain(jit.encodedJitConfig);
  });

  it('forwards the installation repository listing and counts it, failures included', async () => {
    const inner = new FakeGitHub();
    inner.repositories.add('acme/lib');
    inner.notInstalled.add('globex');
    const m = new ControllerMetrics({ processMetrics: false });
    const gh = new InstrumentedGitHubProvider(inner, m);
    expect(await gh.listInstallationRepositories('acme')).toEqual({
      repositories: ['acme/lib'],
      notModified: false,
    });
    expect((await gh.listInstallationRepositories('acme')).notModified).toBe(true);
    const err = await gh.listInstallationRepositories('globex').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitHubAuthError);
    expect(await calls(m, { endpoint: 'listInstallationRepositories', outcome: 'ok' })).toBe(2);
    expect(await calls(m, { endpoint: 'listInstallationRepositories', outcome: 'auth' })).toBe(1);
  });

  it('passes the rate limit through without counting a call', async () => {
    const inner = new FakeGitHub();
    const snapshot = { limit: 5000, remaining: 12, resetAtMs: 1 };
    inner.rateLimit = (() => snapshot) as unknown as FakeGitHub['rateLimit'];
    const m = new ControllerMetrics({ processMetrics: false });
    const gh = new InstrumentedGitHubProvider(inner, m);
    expect(gh.rateLimit()).toBe(snapshot);
    expect(await calls(m, {})).toBe(0);
  });
});

describe('InstrumentedEcsProvider', () => {
  it('counts RunTask, ListTasks, DescribeTasks and StopTask; errors pass through as they are', async () => {
    const inner = new FakeEcs(() => 1_000);
    const m = new ControllerMetrics({ processMetrics: false });
    const ecs = new InstrumentedEcsProvider(inner, m);
    const launch = {
      cluster: 'c',
      taskDefinition: 'runner:1',
      containerName: 'runner',
      subnets: ['s'],
      securityGroups: [],
      assignPublicIp: false,
      environment: { RUNNERCTL_JIT_CONFIG: 'secret' },
      clientToken: 't1',
      startedBy: 'runnerctl',
      tags: {},
    };
    const task = await ecs.runTask(launch);
    expect(inner.tasks.get(task.arn)).toBeDefined();
    expect(await ecs.listTasks('c', { startedBy: 'runnerctl' })).toEqual([task.arn]);
    expect((await ecs.describeTasks('c', [task.arn]))[0]?.arn).toBe(task.arn);
    await ecs.stopTask('c', task.arn, 'done');

    inner.spotAvailable = false;
    const err = await ecs
      .runTask({
        ...launch,
        clientToken: 't2',
        capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CapacityUnavailableError);

    for (const endpoint of ['RunTask', 'ListTasks', 'DescribeTasks', 'StopTask']) {
      expect(await calls(m, { service: 'ecs', endpoint, outcome: 'ok' }), endpoint).toBe(1);
    }
    expect(
      await calls(m, { service: 'ecs', endpoint: 'RunTask', outcome: 'capacity_unavailable' }),
    ).toBe(1);
  });
});
