// Actions semantics of the GitHub simulator with fake runners started from JIT configs that the
// real Octokit client generated: dispatch by labels, one job per JIT runner, busy delete,
// cancellation, environment approval, the 24 h queue timeout and the lost-response 409.

import type { Octokit } from '@octokit/core';
import { RequestError } from '@octokit/request-error';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startGitHubSimulator,
  type GitHubSimulator,
} from '../../../controller/sandbox/github/index.ts';
import { runFakeRunner } from '../../../controller/sandbox/runner/fake-runner.ts';
import { scaledClock, systemClock, type Clock } from '../../../controller/util/clock.ts';
import { appFor, eventually, newLog, type ValidationLog } from './github-helpers.ts';

let sim: GitHubSimulator;
let log: ValidationLog;
let octokit: Octokit;
const running: Promise<number>[] = [];
const stop = new AbortController();

beforeAll(async () => {
  sim = await startGitHubSimulator();
  log = newLog();
  await sim.control.createOrg({ login: 'acme' });
  await sim.control.createRepo({ owner: 'acme', name: 'app' });
  const id = (await sim.control.createInstallation({ account: 'acme' })).id;
  octokit = await appFor(sim, log).installation(id);
});

afterAll(async () => {
  stop.abort();
  await Promise.allSettled(running);
  await sim?.close();
});

async function jitRunner(name: string, labels: string[]) {
  const res = await octokit.request('POST /orgs/{org}/actions/runners/generate-jitconfig', {
    org: 'acme',
    name,
    runner_group_id: 1,
    labels,
  });
  return { id: res.data.runner.id, config: res.data.encoded_jit_config };
}

function start(config: string, lines: string[] = [], clock?: Clock) {
  const exit = runFakeRunner({
    encodedJitConfig: config,
    signal: stop.signal,
    log: (l) => lines.push(l),
    pollWaitMs: 5_000,
    ...(clock ? { clock } : {}),
  });
  running.push(exit);
  return exit;
}

async function runner(id: number) {
  try {
    return (
      await octokit.request('GET /orgs/{org}/actions/runners/{runner_id}', {
        org: 'acme',
        runner_id: id,
      })
    ).data;
  } catch (error) {
    if (error instanceof RequestError && error.status === 404) return undefined;
    throw error;
  }
}

async function job(id: number) {
  return (
    await octokit.request('GET /repos/{owner}/{repo}/actions/jobs/{job_id}', {
      owner: 'acme',
      repo: 'app',
      job_id: id,
    })
  ).data;
}

describe('GitHub simulator Actions semantics', () => {
  it('gives a job to a runner whose labels are a superset, case-insensitively, self-hosted implicit', async () => {
    const narrow = await jitRunner('rctl-narrow', ['linux']);
    const wide = await jitRunner('rctl-wide', ['LINUX', 'x64', 'GPU']);
    const narrowExit = start(narrow.config);
    await eventually(
      async () => (await runner(narrow.id))?.status === 'online',
      'narrow runner online',
    );
    const run = await sim.control.createWorkflowRun({
      repo: 'acme/app',
      jobs: [{ name: 'build', runsOn: ['self-hosted', 'Linux', 'X64'], durationMs: 100 }],
    });
    const jobId = run.jobIds[0]!;
    const wideExit = start(wide.config);
    expect(await wideExit).toBe(0);
    const done = await job(jobId);
    expect(done).toMatchObject({
      status: 'completed',
      conclusion: 'success',
      runner_name: 'rctl-wide',
    });
    expect(await runner(wide.id)).toBeUndefined();
    const stillThere = await runner(narrow.id);
    expect(stillThere).toMatchObject({ status: 'online', busy: false });
    void narrowExit;
  });

  it('lets a JIT runner take exactly one job; the next job waits for the next runner', async () => {
    const run = await sim.control.createWorkflowRun({
      repo: 'acme/app',
      jobs: [
        { name: 'a', runsOn: ['self-hosted', 'arm64'], durationMs: 50 },
        { name: 'b', runsOn: ['self-hosted', 'arm64'], durationMs: 50, conclusion: 'failure' },
      ],
    });
    const first = await jitRunner('rctl-one-1', ['self-hosted', 'arm64']);
    expect(await start(first.config)).toBe(0);
    const afterOne = await Promise.all(run.jobIds.map(job));
    expect(afterOne.map((j) => j.status).sort()).toEqual(['completed', 'queued']);
    const second = await jitRunner('rctl-one-2', ['self-hosted', 'arm64']);
    expect(await start(second.config)).toBe(0);
    const afterTwo = await Promise.all(run.jobIds.map(job));
    expect(afterTwo.map((j) => [j.name, j.conclusion, j.runner_name])).toEqual([
      ['a', 'success', 'rctl-one-1'],
      ['b', 'failure', 'rctl-one-2'],
    ]);
    expect((await sim.control.getRun({ runId: run.runId })).conclusion).toBe('failure');
  });

  it('refuses to delete a busy runner (422) and cancels its job on request', async () => {
    const r = await jitRunner('rctl-busy', ['self-hosted', 'long']);
    const run = await sim.control.createWorkflowRun({
      repo: 'acme/app',
      jobs: [{ name: 'long', runsOn: ['long'], durationMs: 3_600_000 }],
    });
    const lines: string[] = [];
    const exit = start(r.config, lines);
    await eventually(async () => (await runner(r.id))?.busy === true, 'runner busy');
    const error = await octokit
      .request('DELETE /orgs/{org}/actions/runners/{runner_id}', { org: 'acme', runner_id: r.id })
      .catch((e: RequestError) => e);
    expect((error as RequestError).status).toBe(422);
    expect(((error as RequestError).response?.data as { message: string }).message).toBe(
      'Bad request - Runner "rctl-busy" is still running a job"',
    );
    expect(await job(run.jobIds[0]!)).toMatchObject({ status: 'in_progress', runner_id: r.id });
    await sim.control.cancelJob({ jobId: run.jobIds[0]! });
    expect(await exit).toBe(0);
    expect(await job(run.jobIds[0]!)).toMatchObject({
      status: 'completed',
      conclusion: 'cancelled',
    });
    expect(await runner(r.id)).toBeUndefined();
    expect(lines.join('\n')).toMatch(/completed with result: Canceled/);
  });

  it('can lag the REST busy flag like GitHub while DELETE still refuses the busy runner', async () => {
    await sim.control.setFaults({ busyLagMs: 3_600_000 });
    try {
      const r = await jitRunner('rctl-lagging', ['self-hosted', 'lagging']);
      const run = await sim.control.createWorkflowRun({
        repo: 'acme/app',
        jobs: [{ name: 'lag', runsOn: ['lagging'], durationMs: 3_600_000 }],
      });
      const exit = start(r.config);
      await eventually(
        async () => (await sim.control.getJob({ jobId: run.jobIds[0]! })).status === 'in_progress',
        'job taken',
      );
      // The REST flag still says idle, the world says busy, and the delete is refused.
      expect((await runner(r.id))?.busy).toBe(false);
      expect((await sim.control.listRunners()).find((x) => x.id === r.id)?.busy).toBe(true);
      const error = await octokit
        .request('DELETE /orgs/{org}/actions/runners/{runner_id}', { org: 'acme', runner_id: r.id })
        .catch((e: RequestError) => e);
      expect((error as RequestError).status).toBe(422);
      await sim.control.cancelRun({ runId: run.runId });
      expect(await exit).toBe(0);
    } finally {
      await sim.control.setFaults({ busyLagMs: 0 });
    }
  });

  it('holds environment-gated jobs in waiting until approved', async () => {
    const run = await sim.control.createWorkflowRun({
      repo: 'acme/app',
      jobs: [
        {
          name: 'deploy',
          runsOn: ['self-hosted', 'deployer'],
          durationMs: 50,
          environment: 'production',
        },
      ],
    });
    const jobId = run.jobIds[0]!;
    const r = await jitRunner('rctl-deployer', ['self-hosted', 'deployer']);
    const exit = start(r.config);
    await eventually(async () => (await runner(r.id))?.status === 'online', 'deployer online');
    expect((await job(jobId)).status).toBe('waiting');
    expect((await runner(r.id))?.busy).toBe(false);
    await sim.control.approveJob({ jobId });
    expect(await exit).toBe(0);
    expect(await job(jobId)).toMatchObject({
      status: 'completed',
      conclusion: 'success',
      runner_name: 'rctl-deployer',
    });
  });

  it('re-runs a completed run as attempt 2 with new jobs', async () => {
    const run = await sim.control.createWorkflowRun({
      repo: 'acme/app',
      jobs: [
        { name: 'flaky', runsOn: ['self-hosted', 'flaky'], durationMs: 10, conclusion: 'failure' },
      ],
    });
    expect(await start((await jitRunner('rctl-flaky-1', ['flaky'])).config)).toBe(0);
    const rerun = await sim.control.rerunRun({ runId: run.runId });
    expect(rerun.runAttempt).toBe(2);
    expect(rerun.jobIds[0]).not.toBe(run.jobIds[0]);
    expect((await job(rerun.jobIds[0]!)).status).toBe('queued');
    await sim.control.cancelRun({ runId: run.runId });
    expect((await job(rerun.jobIds[0]!)).conclusion).toBe('cancelled');
  });

  it('re-runs one job (POST .../jobs/{job_id}/rerun): 403 while its run runs, then a new queued job in attempt 2', async () => {
    const run = await sim.control.createWorkflowRun({
      repo: 'acme/app',
      jobs: [
        { name: 'spot', runsOn: ['self-hosted', 'spotty'], durationMs: 10, conclusion: 'failure' },
        { name: 'other', runsOn: ['self-hosted', 'spotty'], durationMs: 10 },
      ],
    });
    const rerun = (jobId: number, data?: object) =>
      octokit.request('POST /repos/{owner}/{repo}/actions/jobs/{job_id}/rerun', {
        owner: 'acme',
        repo: 'app',
        job_id: jobId,
        ...data,
      });
    const [spot, other] = run.jobIds as [number, number];
    expect(await start((await jitRunner('rctl-spot-1', ['spotty'])).config)).toBe(0);
    // One leg done, the other still queued: the run runs, GitHub refuses.
    const refused = await rerun(spot).catch((e: RequestError) => e);
    expect((refused as RequestError).status).toBe(403);
    expect(await start((await jitRunner('rctl-spot-2', ['spotty'])).config)).toBe(0);
    const ok = await rerun(spot, { enable_debug_logging: false });
    expect(ok.status).toBe(201);
    const jobs = (
      await octokit.request('GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs', {
        owner: 'acme',
        repo: 'app',
        run_id: run.runId,
      })
    ).data.jobs;
    expect(jobs.map((j) => [j.name, j.run_attempt, j.status])).toEqual([
      ['spot', 2, 'queued'],
      ['other', 2, 'completed'],
    ]);
    expect(jobs.every((j) => j.id !== spot && j.id !== other)).toBe(true);
    // The old attempt's job cannot be re-run again.
    const again = await rerun(spot).catch((e: RequestError) => e);
    expect((again as RequestError).status).toBe(403);
    await sim.control.cancelRun({ runId: run.runId });
  });

  it('refuses a job re-run without "Actions: write" (403)', async () => {
    await sim.control.createOrg({ login: 'readonly' });
    await sim.control.createRepo({ owner: 'readonly', name: 'app' });
    const id = (
      await sim.control.createInstallation({
        account: 'readonly',
        permissions: { actions: 'read', organization_self_hosted_runners: 'write' },
      })
    ).id;
    const reader = await appFor(sim, log).installation(id);
    const run = await sim.control.createWorkflowRun({
      repo: 'readonly/app',
      jobs: [{ name: 'j', runsOn: ['self-hosted', 'nobody'] }],
    });
    await sim.control.cancelRun({ runId: run.runId });
    const refused = await reader
      .request('POST /repos/{owner}/{repo}/actions/jobs/{job_id}/rerun', {
        owner: 'readonly',
        repo: 'app',
        job_id: run.jobIds[0]!,
      })
      .catch((e: RequestError) => e);
    expect((refused as RequestError).status).toBe(403);
  });

  it('adopts a runner whose JIT response was lost: plugin-retry sees 409, the name finds it', async () => {
    const retrying = await appFor(sim, log, 3).installation(
      (await sim.control.createInstallation({ account: 'acme' })).id,
    );
    await sim.control.setFaults({ jitLostResponses: 1 });
    const error = await retrying
      .request('POST /orgs/{org}/actions/runners/generate-jitconfig', {
        org: 'acme',
        name: 'rctl-lost',
        runner_group_id: 1,
        labels: ['self-hosted'],
      })
      .catch((e: RequestError) => e);
    expect((error as RequestError).status).toBe(409);
    const found = await retrying.request('GET /orgs/{org}/actions/runners', {
      org: 'acme',
      name: 'rctl-lost',
    });
    expect(found.data.runners.map((r) => [r.name, r.status])).toEqual([['rctl-lost', 'offline']]);
  });

  it('served only bodies that match the OpenAPI description', () => {
    expect(log.failures).toEqual([]);
  });
});

describe('GitHub simulator queue timeout', () => {
  it('fails a job nobody takes after 24 h of (scaled) clock time, seen through Octokit', async () => {
    // 200,000x: a simulated day passes in about 0.43 s; the API keeps real time for Octokit.
    const local = await startGitHubSimulator({
      clock: scaledClock(200_000),
      apiClock: systemClock,
    });
    try {
      await local.control.createOrg({ login: 'acme' });
      await local.control.createRepo({ owner: 'acme', name: 'app' });
      const id = (await local.control.createInstallation({ account: 'acme' })).id;
      const client = await appFor(local, log).installation(id);
      const run = await local.control.createWorkflowRun({
        repo: 'acme/app',
        jobs: [{ name: 'orphan', runsOn: ['self-hosted', 'nobody-has-this'] }],
      });
      const get = async () =>
        (
          await client.request('GET /repos/{owner}/{repo}/actions/jobs/{job_id}', {
            owner: 'acme',
            repo: 'app',
            job_id: run.jobIds[0]!,
          })
        ).data;
      expect((await get()).status).toBe('queued');
      const failed = await eventually(async () => {
        const j = await get();
        return j.status === 'completed' ? j : undefined;
      }, 'the 24 h timeout');
      expect(failed.conclusion).toBe('failure');
      expect(
        Date.parse(failed.completed_at!) - Date.parse(failed.created_at),
      ).toBeGreaterThanOrEqual(24 * 3600_000);
      expect(failed.runner_id).toBeNull();
    } finally {
      await local.close();
    }
  });

  it('keeps a job queued at 23 h 59 min and fails it at 24 h (hand-moved clock)', async () => {
    let now = Date.now();
    const clock: Clock = { now: () => now, sleep: () => Promise.resolve() };
    const local = await startGitHubSimulator({ clock });
    try {
      await local.control.createOrg({ login: 'acme' });
      await local.control.createRepo({ owner: 'acme', name: 'app' });
      const run = await local.control.createWorkflowRun({
        repo: 'acme/app',
        jobs: [{ name: 'orphan', runsOn: ['self-hosted', 'none'] }],
      });
      now += 24 * 3600_000 - 60_000;
      expect((await local.control.getJob({ jobId: run.jobIds[0]! })).status).toBe('queued');
      now += 60_000;
      expect(await local.control.getJob({ jobId: run.jobIds[0]! })).toMatchObject({
        status: 'completed',
        conclusion: 'failure',
      });
    } finally {
      await local.close();
    }
  });
});
