// The seed's test plan, played by hand on the local cloud through the real clients:
// a workflow run with a two-job matrix on [self-hosted, 1] and [self-hosted, 2]; two JIT configs
// generated with Octokit (GitHub App auth); two RunTask calls with the ECS SDK carrying the JIT
// config in the container environment override; the ECS simulator runs the fake runners.
// Then: both jobs completed successfully, both runners gone from GitHub, both tasks STOPPED with
// exit code 0.

import {
  CreateClusterCommand,
  DescribeTasksCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
} from '@aws-sdk/client-ecs';
import type { Task } from '@aws-sdk/client-ecs';
import { App } from '@octokit/app';
import { Octokit } from '@octokit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JIT_CONFIG_ENV, TASK_STARTED_BY } from '../../../controller/api/constants.ts';
import { fakeRunnerRuntime } from '../../../controller/sandbox/ecs/fake-runner-runtime.ts';
import { startEcsSimulator } from '../../../controller/sandbox/ecs/simulator.ts';
import type { EcsSimulator } from '../../../controller/sandbox/ecs/simulator.ts';
import { startGitHubSimulator } from '../../../controller/sandbox/github/index.ts';
import type { GitHubSimulator } from '../../../controller/sandbox/github/index.ts';
import { scaledClock } from '../../../controller/util/clock.ts';
import { dummyCredentials } from './ecs-sqs-helpers.ts';

// One clock for the whole world, 100 times faster than real time: the ~50 s Fargate start and
// the 60 s jobs take well under a second each.
const clock = scaledClock(100);
const ORG = 'acme';
const REPO = 'app';
const CLUSTER = 'runners';

let github: GitHubSimulator;
let ecsSim: EcsSimulator;
let ecs: ECSClient;
const runnerOutput: string[] = [];
/** Secrets: the encoded JIT configs the plan generated (never printed). */
const jitConfigs: string[] = [];

beforeAll(async () => {
  github = await startGitHubSimulator({ clock });
  ecsSim = await startEcsSimulator({
    clock,
    runtime: fakeRunnerRuntime({ clock, log: (_task, line) => runnerOutput.push(line) }),
  });
  ecs = new ECSClient({
    endpoint: ecsSim.url,
    region: ecsSim.region,
    credentials: dummyCredentials,
  });
});

afterAll(async () => {
  ecs?.destroy();
  await ecsSim?.close();
  await github?.close();
});

/** Polls through the SDK until every task is STOPPED; only an upper bound, no timing asserted. */
async function waitUntilStopped(arns: string[], limitMs = 20_000): Promise<Task[]> {
  const start = Date.now();
  for (;;) {
    const out = await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: arns }));
    const tasks = out.tasks ?? [];
    if (tasks.length === arns.length && tasks.every((t) => t.lastStatus === 'STOPPED'))
      return tasks;
    if (Date.now() - start > limitMs) {
      throw new Error(
        `tasks not STOPPED: ${tasks.map((t) => `${t.taskArn}=${t.lastStatus}`).join(', ')}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("the seed's test plan on the local cloud", () => {
  it('runs a two-job matrix on two JIT runners in two Fargate tasks', async () => {
    // The world: an org with a repository and the App installed on the org.
    await github.control.createOrg({ login: ORG });
    await github.control.createRepo({ owner: ORG, name: REPO });
    const installation = await github.control.createInstallation({
      account: ORG,
      permissions: {
        organization_self_hosted_runners: 'write',
        administration: 'write',
        actions: 'read',
      },
    });
    const run = await github.control.createWorkflowRun({
      repo: `${ORG}/${REPO}`,
      workflowName: 'matrix',
      jobs: [
        { name: 'build (1)', runsOn: ['self-hosted', '1'] },
        { name: 'build (2)', runsOn: ['self-hosted', '2'] },
      ],
    });

    // GitHub side: App auth -> installation token -> two JIT configs.
    const app = new App({
      appId: github.appId,
      privateKey: github.privateKeyPem,
      Octokit: Octokit.defaults({ baseUrl: github.url }),
    });
    const octokit = await app.getInstallationOctokit(installation.id);
    const queued = await octokit.request('GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs', {
      owner: ORG,
      repo: REPO,
      run_id: run.runId,
    });
    expect(queued.data.jobs.map((j) => j.status)).toEqual(['queued', 'queued']);

    const runners = [
      { name: 'rctl-seed-1', labels: ['self-hosted', '1'] },
      { name: 'rctl-seed-2', labels: ['self-hosted', '2'] },
    ];
    for (const runner of runners) {
      const jit = await octokit.request('POST /orgs/{org}/actions/runners/generate-jitconfig', {
        org: ORG,
        name: runner.name,
        runner_group_id: 1,
        labels: runner.labels,
      });
      expect(jit.status).toBe(201);
      jitConfigs.push(jit.data.encoded_jit_config);
    }

    // ECS side: a cluster, a Fargate task definition, and one RunTask per runner.
    await ecs.send(
      new CreateClusterCommand({ clusterName: CLUSTER, capacityProviders: ['FARGATE'] }),
    );
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'github-runner',
        requiresCompatibilities: ['FARGATE'],
        networkMode: 'awsvpc',
        cpu: '1024',
        memory: '2048',
        containerDefinitions: [
          { name: 'runner', image: 'ghcr.io/example/runner:latest', essential: true },
        ],
      }),
    );
    const taskArns: string[] = [];
    for (const [i, runner] of runners.entries()) {
      const out = await ecs.send(
        new RunTaskCommand({
          cluster: CLUSTER,
          taskDefinition: 'github-runner',
          launchType: 'FARGATE',
          networkConfiguration: {
            awsvpcConfiguration: { subnets: ['subnet-a'], assignPublicIp: 'DISABLED' },
          },
          overrides: {
            containerOverrides: [
              { name: 'runner', environment: [{ name: JIT_CONFIG_ENV, value: jitConfigs[i]! }] },
            ],
          },
          clientToken: runner.name,
          startedBy: TASK_STARTED_BY,
          tags: [{ key: 'runnerctl.dev/runner', value: runner.name }],
        }),
      );
      expect(out.failures).toEqual([]);
      taskArns.push(out.tasks![0]!.taskArn!);
    }

    // Both tasks start, run their runner, and stop when the runner exits.
    const stopped = await waitUntilStopped(taskArns);
    for (const task of stopped) {
      expect(task.stopCode).toBe('EssentialContainerExited');
      expect(task.containers?.[0]?.exitCode).toBe(0);
    }

    // Both jobs completed successfully, each on one of our runners.
    const jobs = await octokit.request('GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs', {
      owner: ORG,
      repo: REPO,
      run_id: run.runId,
    });
    expect(jobs.data.jobs.map((j) => [j.status, j.conclusion])).toEqual([
      ['completed', 'success'],
      ['completed', 'success'],
    ]);
    expect(jobs.data.jobs.map((j) => j.runner_name).sort()).toEqual(runners.map((r) => r.name));
    const runAfter = await octokit.request('GET /repos/{owner}/{repo}/actions/runs/{run_id}', {
      owner: ORG,
      repo: REPO,
      run_id: run.runId,
    });
    expect([runAfter.data.status, runAfter.data.conclusion]).toEqual(['completed', 'success']);

    // Both runners are gone from GitHub.
    const left = await octokit.request('GET /orgs/{org}/actions/runners', { org: ORG });
    expect(left.data.runners.map((r) => r.name)).toEqual([]);

    // The runners' output never shows the JIT configs.
    for (const config of jitConfigs) {
      expect(runnerOutput.join('\n')).not.toContain(config);
    }
  });

  it('stops a task whose runner gets a used or no JIT config with a non-zero exit code', async () => {
    const network = {
      awsvpcConfiguration: { subnets: ['subnet-a'], assignPublicIp: 'DISABLED' as const },
    };
    const reused = await ecs.send(
      new RunTaskCommand({
        cluster: CLUSTER,
        taskDefinition: 'github-runner',
        launchType: 'FARGATE',
        networkConfiguration: network,
        overrides: {
          containerOverrides: [
            { name: 'runner', environment: [{ name: JIT_CONFIG_ENV, value: jitConfigs[0]! }] },
          ],
        },
      }),
    );
    const missing = await ecs.send(
      new RunTaskCommand({
        cluster: CLUSTER,
        taskDefinition: 'github-runner',
        launchType: 'FARGATE',
        networkConfiguration: network,
      }),
    );
    const stopped = await waitUntilStopped([
      reused.tasks![0]!.taskArn!,
      missing.tasks![0]!.taskArn!,
    ]);
    for (const task of stopped) {
      expect(task.stopCode).toBe('EssentialContainerExited');
      expect(task.containers?.[0]?.exitCode).not.toBe(0);
      expect(task.containers?.[0]?.exitCode).toBeTypeOf('number');
    }
    // A runner that never started leaves nothing registered on GitHub.
    expect(await github.control.listRunners()).toEqual([]);
  });
});
