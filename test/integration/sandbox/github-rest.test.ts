// The simulator's REST API through the real Octokit clients: runners at org/repo/enterprise
// scope, runner groups, runs and jobs, pagination, ETags, every body checked against the OpenAPI.

import { Octokit } from '@octokit/core';
import { RequestError } from '@octokit/request-error';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startGitHubSimulator,
  type GitHubSimulator,
} from '../../../controller/sandbox/github/index.ts';
import { decodeJitConfig } from '../../../controller/sandbox/github/jitconfig.ts';
import { appFor, newLog, validateResponses, type ValidationLog } from './github-helpers.ts';

let sim: GitHubSimulator;
let log: ValidationLog;
let octokit: Octokit;
let installationId: number;

beforeAll(async () => {
  sim = await startGitHubSimulator({ seed: 7 });
  log = newLog();
  await sim.control.createOrg({ login: 'acme', enterprise: 'acme-corp' });
  await sim.control.createRepo({ owner: 'acme', name: 'app' });
  installationId = (await sim.control.createInstallation({ account: 'acme' })).id;
  octokit = await appFor(sim, log).installation(installationId);
});

afterAll(async () => {
  await sim?.close();
});

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (error) {
    if (error instanceof RequestError) return error.status;
    throw error;
  }
}

describe('GitHub simulator REST', () => {
  it('finds the installation with the App JWT', async () => {
    const { app } = appFor(sim, log);
    const list = await app.octokit.request('GET /app/installations');
    expect(list.data.map((i) => i.id)).toContain(installationId);
    const byOrg = await app.octokit.request('GET /orgs/{org}/installation', { org: 'acme' });
    expect(byOrg.data.id).toBe(installationId);
    const byRepo = await app.octokit.request('GET /repos/{owner}/{repo}/installation', {
      owner: 'acme',
      repo: 'app',
    });
    expect(byRepo.data.id).toBe(installationId);
    expect(
      await status(app.octokit.request('GET /orgs/{org}/installation', { org: 'nobody' })),
    ).toBe(404);
  });

  it('generates a JIT config at org scope and lists the offline runner', async () => {
    const res = await octokit.request('POST /orgs/{org}/actions/runners/generate-jitconfig', {
      org: 'acme',
      name: 'rctl-org-1',
      runner_group_id: 1,
      labels: ['self-hosted', 'linux', 'x64'],
      work_folder: '_work',
    });
    expect(res.status).toBe(201);
    expect(res.data.runner).toMatchObject({ name: 'rctl-org-1', status: 'offline', busy: false });
    // About the size of a real one (RSA-2048 credential, nested base64): it must fit, with the
    // rest of a task's overrides, in ECS's 8,192-character limit.
    expect(res.data.encoded_jit_config.length).toBeGreaterThan(3800);
    const decoded = decodeJitConfig(res.data.encoded_jit_config);
    expect(decoded.runner.agentId).toBe(res.data.runner.id);
    expect(decoded.runner.serverUrlV2.startsWith(sim.url)).toBe(true);

    const byName = await octokit.request('GET /orgs/{org}/actions/runners', {
      org: 'acme',
      name: 'rctl-org-1',
    });
    expect(byName.data.total_count).toBe(1);
    const one = await octokit.request('GET /orgs/{org}/actions/runners/{runner_id}', {
      org: 'acme',
      runner_id: res.data.runner.id,
    });
    expect(one.data.labels.map((l) => l.name)).toEqual(['self-hosted', 'linux', 'x64']);
  });

  it('answers 409 for an existing name and 422 for invalid input', async () => {
    const body = { org: 'acme', name: 'rctl-dup', runner_group_id: 1, labels: ['self-hosted'] };
    await octokit.request('POST /orgs/{org}/actions/runners/generate-jitconfig', body);
    expect(
      await status(octokit.request('POST /orgs/{org}/actions/runners/generate-jitconfig', body)),
    ).toBe(409);
    const invalid = [
      { ...body, name: 'rctl-x1', labels: [] },
      { ...body, name: 'rctl-x2', labels: Array.from({ length: 101 }, (_, i) => `l${i}`) },
      { ...body, name: 'x'.repeat(65) },
      { ...body, name: 'rctl-x3', runner_group_id: 99 },
    ];
    for (const b of invalid) {
      expect(
        await status(octokit.request('POST /orgs/{org}/actions/runners/generate-jitconfig', b)),
      ).toBe(422);
    }
    const runners = await sim.control.listRunners({ scope: { kind: 'org', org: 'acme' } });
    expect(runners.filter((r) => r.name.startsWith('rctl-x'))).toEqual([]);
  });

  it('serves repo-scope runners and the runner groups', async () => {
    const res = await octokit.request(
      'POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig',
      {
        owner: 'acme',
        repo: 'app',
        name: 'rctl-repo-1',
        runner_group_id: 1,
        labels: ['self-hosted', 'gpu'],
      },
    );
    const list = await octokit.request('GET /repos/{owner}/{repo}/actions/runners', {
      owner: 'acme',
      repo: 'app',
    });
    expect(list.data.runners.map((r) => r.id)).toEqual([res.data.runner.id]);
    await sim.control.createRunnerGroup({ org: 'acme', name: 'fargate' });
    const groups = await octokit.request('GET /orgs/{org}/actions/runner-groups', { org: 'acme' });
    expect(groups.data.runner_groups.map((g) => [g.id, g.name, g.default])).toEqual([
      [1, 'Default', true],
      [2, 'fargate', false],
    ]);
    const del = await octokit.request('DELETE /repos/{owner}/{repo}/actions/runners/{runner_id}', {
      owner: 'acme',
      repo: 'app',
      runner_id: res.data.runner.id,
    });
    expect(del.status).toBe(204);
    expect(
      await status(
        octokit.request('GET /repos/{owner}/{repo}/actions/runners/{runner_id}', {
          owner: 'acme',
          repo: 'app',
          runner_id: res.data.runner.id,
        }),
      ),
    ).toBe(404);
  });

  it('refuses App tokens at enterprise scope and accepts a manage_runners:enterprise token', async () => {
    const scope = { enterprise: 'acme-corp' };
    expect(
      await status(octokit.request('GET /enterprises/{enterprise}/actions/runners', scope)),
    ).toBe(403);
    const { token } = await sim.control.createPersonalToken({
      scopes: ['manage_runners:enterprise'],
    });
    const pat = new Octokit({ auth: token, baseUrl: sim.url });
    validateResponses(pat, log);
    const created = await pat.request(
      'POST /enterprises/{enterprise}/actions/runners/generate-jitconfig',
      {
        ...scope,
        name: 'rctl-ent-1',
        runner_group_id: 1,
        labels: ['self-hosted', 'linux'],
      },
    );
    expect(created.status).toBe(201);
    const groups = await pat.request('GET /enterprises/{enterprise}/actions/runner-groups', scope);
    expect(
      (groups.data as { runner_groups: { id: number; name: string }[] }).runner_groups,
    ).toEqual([expect.objectContaining({ id: 1, name: 'Default' })]);
    const list = await pat.request('GET /enterprises/{enterprise}/actions/runners', scope);
    expect((list.data as { runners: { name: string }[] }).runners.map((r) => r.name)).toEqual([
      'rctl-ent-1',
    ]);
  });

  it('paginates with Link headers and answers 304 to a matching ETag without spending the limit', async () => {
    for (let i = 0; i < 7; i++) {
      await octokit.request('POST /orgs/{org}/actions/runners/generate-jitconfig', {
        org: 'acme',
        name: `rctl-page-${i}`,
        runner_group_id: 1,
        labels: ['self-hosted'],
      });
    }
    const all = await sim.control.listRunners({ scope: { kind: 'org', org: 'acme' } });
    const seen: number[] = [];
    let page = 1;
    let pages = 0;
    for (;;) {
      const res = await octokit.request('GET /orgs/{org}/actions/runners', {
        org: 'acme',
        per_page: 3,
        page,
      });
      pages++;
      expect(res.data.total_count).toBe(all.length);
      seen.push(...res.data.runners.map((r) => r.id));
      const next = /<([^>]+)>; rel="next"/.exec(res.headers.link ?? '');
      if (!next) break;
      page = Number(new URL(next[1] as string).searchParams.get('page'));
    }
    expect(pages).toBe(Math.ceil(all.length / 3));
    expect(seen).toEqual(all.map((r) => r.id));

    const first = await octokit.request('GET /orgs/{org}/actions/runners', { org: 'acme' });
    const etag = first.headers.etag as string;
    const usedBefore = Number(first.headers['x-ratelimit-used']);
    const err = await octokit
      .request('GET /orgs/{org}/actions/runners', {
        org: 'acme',
        headers: { 'if-none-match': etag },
      })
      .catch((e: RequestError) => e);
    expect(err).toBeInstanceOf(RequestError);
    expect((err as RequestError).status).toBe(304);
    const after = await octokit.request('GET /orgs/{org}/actions/runners/{runner_id}', {
      org: 'acme',
      runner_id: all[0]!.id,
    });
    // The 304 was free: only this last request counted.
    expect(Number(after.headers['x-ratelimit-used'])).toBe(usedBefore + 1);
    expect(after.headers['x-ratelimit-limit']).toBe('5000');
    expect(after.headers['x-ratelimit-resource']).toBe('core');
    expect(Number(after.headers['x-ratelimit-remaining'])).toBe(5000 - usedBefore - 1);
  });

  it('lists the installation repositories, paginated, with 304 to a matching ETag', async () => {
    await sim.control.createRepo({ owner: 'acme', name: 'lib' });
    await sim.control.createRepo({ owner: 'acme', name: 'docs' });
    await sim.control.createOrg({ login: 'globex' });
    await sim.control.createRepo({ owner: 'globex', name: 'secret' });
    const all = await octokit.request('GET /installation/repositories');
    expect(all.data.total_count).toBe(3);
    expect(all.data.repository_selection).toBe('all');
    // Only the installation's own account: globex's repository is not listed.
    expect(all.data.repositories.map((r) => r.full_name)).toEqual([
      'acme/app',
      'acme/lib',
      'acme/docs',
    ]);
    const names: string[] = [];
    let page = 1;
    for (;;) {
      const res = await octokit.request('GET /installation/repositories', { per_page: 2, page });
      names.push(...res.data.repositories.map((r) => r.full_name));
      const next = /<([^>]+)>; rel="next"/.exec(res.headers.link ?? '');
      if (!next) break;
      expect(next[1]).toContain('/installation/repositories?');
      page = Number(new URL(next[1] as string).searchParams.get('page'));
    }
    expect(names).toEqual(['acme/app', 'acme/lib', 'acme/docs']);
    const err = await octokit
      .request('GET /installation/repositories', {
        headers: { 'if-none-match': all.headers.etag as string },
      })
      .catch((e: RequestError) => e);
    expect((err as RequestError).status).toBe(304);
    // A personal token is refused: only an installation token lists these.
    const { token } = await sim.control.createPersonalToken({ scopes: ['repo'] });
    const pat = new Octokit({ auth: token, baseUrl: sim.url });
    validateResponses(pat, log);
    expect(await status(pat.request('GET /installation/repositories'))).toBe(403);
  });

  it('lists runs by status and their jobs with filter latest|all', async () => {
    const run = await sim.control.createWorkflowRun({
      repo: 'acme/app',
      jobs: [
        { name: 'build', runsOn: ['self-hosted', 'linux'] },
        { name: 'test', runsOn: ['self-hosted', 'linux'], environment: 'prod' },
      ],
    });
    // A run whose gated job waits for approval is itself `waiting`.
    const waiting = await octokit.request('GET /repos/{owner}/{repo}/actions/runs', {
      owner: 'acme',
      repo: 'app',
      status: 'waiting',
    });
    expect(waiting.data.workflow_runs.map((r) => r.id)).toContain(run.runId);
    const jobs = await octokit.request('GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs', {
      owner: 'acme',
      repo: 'app',
      run_id: run.runId,
    });
    expect(jobs.data.jobs.map((j) => [j.name, j.status])).toEqual([
      ['build', 'queued'],
      ['test', 'waiting'],
    ]);
    await sim.control.cancelRun({ runId: run.runId });
    const rerun = await sim.control.rerunRun({ runId: run.runId });
    expect(rerun.runAttempt).toBe(2);
    const latest = await octokit.request('GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs', {
      owner: 'acme',
      repo: 'app',
      run_id: run.runId,
      filter: 'latest',
    });
    const all = await octokit.request('GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs', {
      owner: 'acme',
      repo: 'app',
      run_id: run.runId,
      filter: 'all',
    });
    expect(latest.data.jobs.every((j) => j.run_attempt === 2)).toBe(true);
    expect(all.data.total_count).toBe(4);
    const job = await octokit.request('GET /repos/{owner}/{repo}/actions/jobs/{job_id}', {
      owner: 'acme',
      repo: 'app',
      job_id: rerun.jobIds[0]!,
    });
    expect(job.data).toMatchObject({
      status: 'queued',
      run_attempt: 2,
      labels: ['self-hosted', 'linux'],
    });
    const cancelled = await octokit.request('GET /repos/{owner}/{repo}/actions/runs', {
      owner: 'acme',
      repo: 'app',
      status: 'in_progress',
    });
    expect(cancelled.data.workflow_runs.map((r) => r.id)).not.toContain(run.runId);
  });

  it('serves GET /repos/{owner}/{repo} with private and visibility; 404 for another account', async () => {
    await sim.control.createRepo({ owner: 'acme', name: 'site', private: false });
    const site = await octokit.request('GET /repos/{owner}/{repo}', {
      owner: 'acme',
      repo: 'site',
    });
    expect(site.data).toMatchObject({
      full_name: 'acme/site',
      private: false,
      visibility: 'public',
    });
    const app = await octokit.request('GET /repos/{owner}/{repo}', { owner: 'acme', repo: 'app' });
    expect(app.data).toMatchObject({ private: true, visibility: 'private' });
    expect(
      await status(octokit.request('GET /repos/{owner}/{repo}', { owner: 'other', repo: 'x' })),
    ).toBe(404);
  });

  it('served only bodies that match the OpenAPI description', () => {
    expect(log.checked.length).toBeGreaterThan(20);
    expect(log.failures).toEqual([]);
  });
});
