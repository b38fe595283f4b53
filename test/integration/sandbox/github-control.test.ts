// The control API over HTTP (/_sim/), as a separately running sandbox is driven, and the
// simulator's own validation of control calls.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectGitHubSimulator,
  startGitHubSimulator,
  type GitHubSimControl,
  type GitHubSimulator,
} from '../../../controller/sandbox/github/index.ts';
import { SimRemoteError } from '../../../controller/sandbox/github/errors.ts';
import { appFor, newLog } from './github-helpers.ts';

let sim: GitHubSimulator;
let remote: GitHubSimControl;

beforeAll(async () => {
  sim = await startGitHubSimulator({ webhookSecret: 'test-secret' });
  remote = connectGitHubSimulator(sim.url);
});

afterAll(async () => {
  await sim?.close();
});

describe('GitHub simulator control API over HTTP', () => {
  it('builds a world that the App then sees through Octokit', async () => {
    await remote.createOrg({ login: 'remote-org' });
    await remote.createRepo({ owner: 'remote-org', name: 'svc' });
    const { id } = await remote.createInstallation({ account: 'remote-org' });
    const creds = await remote.app();
    expect(creds).toMatchObject({ url: sim.url, appId: sim.appId, webhookSecret: 'test-secret' });
    expect(creds.privateKeyPem).toBe(sim.privateKeyPem);

    const octokit = await appFor(sim, newLog()).installation(id);
    const run = await remote.createWorkflowRun({
      repo: 'remote-org/svc',
      jobs: [{ name: 'build', runsOn: ['self-hosted'] }],
    });
    const runs = await octokit.request('GET /repos/{owner}/{repo}/actions/runs', {
      owner: 'remote-org',
      repo: 'svc',
      status: 'queued',
    });
    expect(runs.data.workflow_runs.map((r) => r.id)).toEqual([run.runId]);
    const cancelled = await remote.cancelJob({ jobId: run.jobIds[0]! });
    expect(cancelled).toMatchObject({ status: 'completed', conclusion: 'cancelled' });
    expect((await remote.listJobs({ repo: 'remote-org/svc', status: 'completed' })).length).toBe(1);
  });

  it('answers bad control calls with clear errors', async () => {
    await expect(remote.getJob({ jobId: 1 })).rejects.toThrow(SimRemoteError);
    await expect(remote.getJob({ jobId: 1 })).rejects.toThrow(/job 1 does not exist/);
    await expect(remote.createRepo({ owner: 'x', name: 'bad name!' })).rejects.toThrow(/not valid/);
    await expect(remote.setFaults({ dropRate: 2 })).rejects.toThrow(/rate in 0..1/);
    await expect(remote.createWorkflowRun({ repo: 'nobody/none', jobs: [] })).rejects.toThrow(
      /does not exist/,
    );
    const faults = await remote.setFaults({ duplicateRate: 0.5, jitLostResponses: 2 });
    expect(faults).toMatchObject({ duplicateRate: 0.5, jitLostResponses: 2, dropRate: 0 });
  });
});
