// Contract tests: the Octokit provider against the GitHub simulator, through real HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_MISSING_OWNERS,
  OctokitGitHubProvider,
} from '../../../controller/github/octokit-provider.ts';
import {
  GitHubAuthError,
  JobRerunRefusedError,
  RateLimitedError,
  RunnerBusyError,
  RunnerNameExistsError,
} from '../../../controller/github/errors.ts';
import type { GitHubScope } from '../../../controller/github/types.ts';
import {
  startGitHubSimulator,
  type GitHubSimulator,
} from '../../../controller/sandbox/github/index.ts';
import { runFakeRunner } from '../../../controller/sandbox/runner/fake-runner.ts';
import { scaledClock } from '../../../controller/util/clock.ts';

let sim: GitHubSimulator;
let provider: OctokitGitHubProvider;
const org: GitHubScope = { kind: 'org', org: 'acme' };
const stop = new AbortController();
const runners: Promise<number>[] = [];

async function eventually(check: () => Promise<boolean>, what: string) {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never happened: ${what}`);
}

beforeAll(async () => {
  sim = await startGitHubSimulator({ seed: 3 });
  await sim.control.createOrg({ login: 'acme', enterprise: 'acme-corp' });
  await sim.control.createRepo({ owner: 'acme', name: 'app' });
  await sim.control.createInstallation({ account: 'acme' });
  // No installation id: discovered through GET /app/installations.
  provider = new OctokitGitHubProvider({
    appId: sim.appId,
    privateKey: sim.privateKeyPem,
    baseUrl: sim.url,
    retryBaseMs: 5,
  });
});

afterAll(async () => {
  stop.abort();
  await Promise.allSettled(runners);
  await sim?.close();
});

describe('OctokitGitHubProvider against the GitHub simulator', () => {
  it('generates a JIT config, then finds, lists and gets the runner', async () => {
    const jit = await provider.generateJitConfig(org, {
      name: 'rctl-c-1',
      runnerGroupId: 1,
      labels: ['self-hosted', 'linux'],
    });
    expect(jit.runner).toMatchObject({ name: 'rctl-c-1', status: 'offline', busy: false });
    expect(jit.encodedJitConfig.length).toBeGreaterThan(2000);
    expect(await provider.findRunnerByName(org, 'rctl-c-1')).toMatchObject({ id: jit.runner.id });
    expect((await provider.listRunners(org, 'rctl-c-')).map((r) => r.name)).toEqual(['rctl-c-1']);
    expect((await provider.getRunner(org, jit.runner.id))?.labels).toEqual([
      'self-hosted',
      'linux',
    ]);
    const sims = await sim.control.listRunners();
    expect(sims.find((r) => r.name === 'rctl-c-1')?.labels).toEqual(['self-hosted', 'linux']);
  });

  it('409 on an existing name: RunnerNameExistsError, and findRunnerByName adopts it', async () => {
    await provider.generateJitConfig(org, {
      name: 'rctl-c-2',
      runnerGroupId: 1,
      labels: ['self-hosted'],
    });
    const err = await provider
      .generateJitConfig(org, { name: 'rctl-c-2', runnerGroupId: 1, labels: ['self-hosted'] })
      .catch((e) => e);
    expect(err).toBeInstanceOf(RunnerNameExistsError);
    expect((await provider.findRunnerByName(org, 'rctl-c-2'))?.name).toBe('rctl-c-2');
  });

  it('a lost 502 answer is retried, meets 409, and the runner is found by name', async () => {
    await sim.control.setFaults({ jitLostResponses: 1 });
    const err = await provider
      .generateJitConfig(org, { name: 'rctl-c-lost', runnerGroupId: 1, labels: ['self-hosted'] })
      .catch((e) => e);
    expect(err).toBeInstanceOf(RunnerNameExistsError);
    const found = await provider.findRunnerByName(org, 'rctl-c-lost');
    expect(found).toBeDefined();
    // Exactly one runner of that name exists: no duplicate from the retry.
    expect((await sim.control.listRunners()).filter((r) => r.name === 'rctl-c-lost').length).toBe(
      1,
    );
  });

  it('deletes runners (404 is success) and refuses a busy one with RunnerBusyError', async () => {
    const idle = await provider.generateJitConfig(org, {
      name: 'rctl-c-del',
      runnerGroupId: 1,
      labels: ['self-hosted'],
    });
    await provider.deleteRunner(org, idle.runner.id);
    expect(await provider.getRunner(org, idle.runner.id)).toBeUndefined();
    await provider.deleteRunner(org, idle.runner.id); // gone already: success

    const busy = await provider.generateJitConfig(org, {
      name: 'rctl-c-busy',
      runnerGroupId: 1,
      labels: ['self-hosted', 'long'],
    });
    const run = await sim.control.createWorkflowRun({
      repo: 'acme/app',
      jobs: [{ name: 'long', runsOn: ['self-hosted', 'long'], durationMs: 3_600_000 }],
    });
    runners.push(
      runFakeRunner({
        encodedJitConfig: busy.encodedJitConfig,
        signal: stop.signal,
        log: () => undefined,
        pollWaitMs: 2_000,
      }),
    );
    await eventually(
      async () => (await provider.getRunner(org, busy.runner.id))?.busy === true,
      'runner busy',
    );
    const err = await provider.deleteRunner(org, busy.runner.id).catch((e) => e);
    expect(err).toBeInstanceOf(RunnerBusyError);
    expect((await provider.getRunner(org, busy.runner.id))?.busy).toBe(true);
    await sim.control.cancelJob({ jobId: run.jobIds[0]! });
    await eventually(
      async () => (await provider.getRunner(org, busy.runner.id)) === undefined,
      'runner gone',
    );
  });

  it('lists queued jobs, matrix legs in in_progress runs included, revalidating with ETags (304s are free)', async () => {
    const matrix = await sim.control.createWorkflowRun({
      repo: 'acme/app',
      jobs: [
        { name: 'm1', runsOn: ['self-hosted', 'm1'], durationMs: 3_600_000 },
        { name: 'm2', runsOn: ['self-hosted', 'm2'] },
      ],
    });
    // One leg starts: the run is in_progress, the other leg waits queued inside it.
    const leg = await provider.generateJitConfig(org, {
      name: 'rctl-c-m1',
      runnerGroupId: 1,
      labels: ['self-hosted', 'm1'],
    });
    runners.push(
      runFakeRunner({
        encodedJitConfig: leg.encodedJitConfig,
        signal: stop.signal,
        log: () => undefined,
        pollWaitMs: 2_000,
      }),
    );
    await eventually(
      async () => (await sim.control.getJob({ jobId: matrix.jobIds[0]! })).status === 'in_progress',
      'leg running',
    );

    const queued = await provider.listQueuedJobs('acme/app');
    const m2 = queued.find((j) => j.id === matrix.jobIds[1]);
    expect(m2).toMatchObject({
      status: 'queued',
      repository: 'acme/app',
      labels: ['self-hosted', 'm2'],
      runId: matrix.runId,
    });
    expect(queued.some((j) => j.id === matrix.jobIds[0])).toBe(false);

    const before = provider.rateLimit()!.remaining;
    const again = await provider.listQueuedJobs('acme/app');
    expect(again.map((j) => j.id).sort()).toEqual(queued.map((j) => j.id).sort());
    expect(provider.rateLimit()!.remaining).toBe(before);
    expect((await provider.getJob('acme/app', matrix.jobIds[1]!))?.status).toBe('queued');
    expect(await provider.getJob('acme/app', 999_999_999)).toBeUndefined();
    await sim.control.cancelRun({ runId: matrix.runId });
  });

  it('finds a queued job inside a run that waits for environment approval', async () => {
    const run = await sim.control.createWorkflowRun({
      repo: 'acme/app',
      jobs: [
        { name: 'deploy', runsOn: ['self-hosted', 'deployer'], environment: 'production' },
        { name: 'lint', runsOn: ['self-hosted', 'linter'] },
      ],
    });
    expect((await sim.control.getRun({ runId: run.runId })).status).toBe('waiting');
    const queued = await provider.listQueuedJobs('acme/app');
    expect(queued.map((j) => j.id)).toContain(run.jobIds[1]);
    expect(queued.map((j) => j.id)).not.toContain(run.jobIds[0]); // waiting is not demand
    await sim.control.cancelRun({ runId: run.runId });
  });

  it('re-runs a completed job (201); a job whose run still runs is JobRerunRefusedError', async () => {
    const run = await sim.control.createWorkflowRun({
      repo: 'acme/app',
      jobs: [
        { name: 'a', runsOn: ['self-hosted', 'rerun-a'] },
        { name: 'b', runsOn: ['self-hosted', 'rerun-b'] },
      ],
    });
    const [a] = run.jobIds as [number];
    await sim.control.cancelJob({ jobId: a });
    await expect(provider.rerunJob('acme/app', a)).rejects.toBeInstanceOf(JobRerunRefusedError);
    await sim.control.cancelRun({ runId: run.runId });
    await provider.rerunJob('acme/app', a);
    const queued = await provider.listQueuedJobs('acme/app');
    const rerun = queued.find((j) => j.runId === run.runId && j.name === 'a');
    expect(rerun).toMatchObject({ runAttempt: 2, status: 'queued' });
    expect(rerun!.id).not.toBe(a);
    await sim.control.cancelRun({ runId: run.runId });
  });

  it('repo scope, runner groups, and enterprise scope with a manage_runners:enterprise token', async () => {
    const repo: GitHubScope = { kind: 'repo', owner: 'acme', repo: 'app' };
    const r = await provider.generateJitConfig(repo, {
      name: 'rctl-c-repo',
      runnerGroupId: 1,
      labels: ['self-hosted'],
    });
    expect((await provider.findRunnerByName(repo, 'rctl-c-repo'))?.id).toBe(r.runner.id);
    await provider.deleteRunner(repo, r.runner.id);

    const group = await sim.control.createRunnerGroup({ org: 'acme', name: 'Fargate' });
    expect(await provider.resolveRunnerGroupId(org, 'fargate')).toBe(group.id);

    const ent: GitHubScope = { kind: 'enterprise', enterprise: 'acme-corp' };
    await expect(provider.listRunners(ent)).rejects.toBeInstanceOf(GitHubAuthError);
    const { token } = await sim.control.createPersonalToken({
      scopes: ['manage_runners:enterprise'],
    });
    const withToken = new OctokitGitHubProvider({
      appId: sim.appId,
      privateKey: sim.privateKeyPem,
      baseUrl: sim.url,
      enterpriseToken: token,
    });
    const e = await withToken.generateJitConfig(ent, {
      name: 'rctl-c-ent',
      runnerGroupId: 1,
      labels: ['self-hosted'],
    });
    expect((await withToken.listRunners(ent, 'rctl-c-ent')).map((x) => x.id)).toEqual([
      e.runner.id,
    ]);
  });

  it("lists one run's jobs (every page, latest attempt), revalidating with ETags; 404 is undefined", async () => {
    const run = await sim.control.createWorkflowRun({
      repo: 'acme/app',
      jobs: Array.from({ length: 120 }, (_, i) => ({ name: `leg ${i}`, runsOn: ['self-hosted'] })),
    });
    const first = await provider.listRunJobs('acme/app', run.runId);
    expect(first!.notModified).toBe(false);
    expect(first!.jobs.map((j) => j.id).sort((a, b) => a - b)).toEqual(
      [...run.jobIds].sort((a, b) => a - b),
    );
    expect(first!.jobs.every((j) => j.status === 'queued' && j.runId === run.runId)).toBe(true);
    const before = provider.rateLimit()!.remaining;
    const again = await provider.listRunJobs('acme/app', run.runId);
    expect(again!.notModified).toBe(true);
    expect(again!.jobs).toHaveLength(120);
    expect(provider.rateLimit()!.remaining).toBe(before);
    await sim.control.cancelJob({ jobId: run.jobIds[0]! });
    const changed = await provider.listRunJobs('acme/app', run.runId);
    expect(changed!.notModified).toBe(false);
    expect(changed!.jobs.find((j) => j.id === run.jobIds[0])!.status).toBe('completed');
    expect(await provider.listRunJobs('acme/app', 987_654_321)).toBeUndefined();
  });

  it("lists the installation's repositories, revalidating with ETags (304s are free)", async () => {
    await sim.control.createRepo({ owner: 'acme', name: 'lib' });
    const first = await provider.listInstallationRepositories('acme');
    expect(first.repositories).toEqual(['acme/app', 'acme/lib']);
    expect(first.notModified).toBe(false);
    const before = provider.rateLimit()!.remaining;
    const again = await provider.listInstallationRepositories('ACME');
    expect(again).toEqual({ repositories: ['acme/app', 'acme/lib'], notModified: true });
    expect(provider.rateLimit()!.remaining).toBe(before);
    await sim.control.createRepo({ owner: 'acme', name: 'new' });
    const changed = await provider.listInstallationRepositories('acme');
    expect(changed).toEqual({
      repositories: ['acme/app', 'acme/lib', 'acme/new'],
      notModified: false,
    });
    // Over one page (100 a page): every page is read, and revalidated.
    for (let i = 0; i < 99; i++) await sim.control.createRepo({ owner: 'acme', name: `r${i}` });
    const paged = await provider.listInstallationRepositories('acme');
    expect(paged.repositories).toHaveLength(102);
    expect(new Set(paged.repositories).size).toBe(102);
    expect(await provider.listInstallationRepositories('acme')).toEqual({
      repositories: paged.repositories,
      notModified: true,
    });
    // Another installation, same URL: each revalidates its own list (no ETag ping-pong).
    await sim.control.createOrg({ login: 'globex' });
    await sim.control.createRepo({ owner: 'globex', name: 'web' });
    await sim.control.createInstallation({ account: 'globex' });
    expect(await provider.listInstallationRepositories('globex')).toEqual({
      repositories: ['globex/web'],
      notModified: false,
    });
    expect((await provider.listInstallationRepositories('acme')).notModified).toBe(true);
    expect(await provider.listInstallationRepositories('globex')).toEqual({
      repositories: ['globex/web'],
      notModified: true,
    });
    await expect(provider.listInstallationRepositories('nobody')).rejects.toBeInstanceOf(
      GitHubAuthError,
    );
  });

  it('reads a repository visibility with GET /repos/{owner}/{repo}; 404 is undefined', async () => {
    await sim.control.createRepo({ owner: 'acme', name: 'open', private: false });
    await sim.control.createRepo({ owner: 'acme', name: 'inner', visibility: 'internal' });
    expect(await provider.getRepositoryVisibility('acme/app')).toBe('private');
    expect(await provider.getRepositoryVisibility('acme/open')).toBe('public');
    expect(await provider.getRepositoryVisibility('acme/inner')).toBe('internal');
    expect(await provider.getRepositoryVisibility('acme/missing')).toBeUndefined();
  });

  it('an owner the App is not installed on is a GitHubAuthError', async () => {
    await expect(provider.listQueuedJobs('nobody/repo')).rejects.toThrow(/not installed on nobody/);
  });

  it('remembers at most MAX_MISSING_OWNERS owners without an installation (events name any owner)', async () => {
    const owners = Array.from({ length: MAX_MISSING_OWNERS + 50 }, (_, i) => `ghost-${i}`);
    for (let i = 0; i < owners.length; i += 100) {
      const batch = owners.slice(i, i + 100);
      const results = await Promise.allSettled(batch.map((o) => provider.getJob(`${o}/x`, 1)));
      expect(results.every((r) => r.status === 'rejected')).toBe(true);
    }
    expect(provider.missingOwnerCount()).toBeGreaterThan(0);
    expect(provider.missingOwnerCount()).toBeLessThanOrEqual(MAX_MISSING_OWNERS);
  });
});

describe('JIT pacing against a low secondary limit', () => {
  // 50 points a minute at 5 a POST: 10 JIT configs a minute. Clock 60x: a minute is 1 s. (The
  // simulator signs an RSA key into every JIT config, so it answers a few dozen a second.)
  async function burst(jitPerMinute: number, speed = 60, limitPerMinute = 10) {
    const clock = scaledClock(speed);
    const local = await startGitHubSimulator({
      clock,
      rateLimits: { jitPointsPerMinute: limitPerMinute * 5 },
    });
    try {
      await local.control.createOrg({ login: 'acme' });
      await local.control.createInstallation({ account: 'acme' });
      const p = new OctokitGitHubProvider({
        appId: local.appId,
        privateKey: local.privateKeyPem,
        baseUrl: local.url,
        clock,
        pacing: { jitPerMinute },
      });
      const results = await Promise.allSettled(
        Array.from({ length: 25 }, (_, i) =>
          p.generateJitConfig(org, {
            name: `rctl-burst-${i}`,
            runnerGroupId: 1,
            labels: ['self-hosted'],
          }),
        ),
      );
      return {
        ok: results.filter((r) => r.status === 'fulfilled').length,
        limited: results.filter(
          (r) => r.status === 'rejected' && r.reason instanceof RateLimitedError,
        ).length,
      };
    } finally {
      await local.close();
    }
  }

  it('a burst of 25 paced just under the limit never meets a 403', async () => {
    // 9 a minute against 10: at 60x, a request delayed by 0.1 s real arrives 6 s late in
    // simulated time, so the pacing keeps a margin of one request a minute.
    expect(await burst(9)).toEqual({ ok: 25, limited: 0 });
  });

  it('without pacing the same burst is rate limited (the limit is real)', async () => {
    // 3 a minute at 20x: the whole burst lands within a simulated minute or two, however slow
    // the machine, so most of it is refused.
    const unpaced = await burst(100_000, 20, 3);
    expect(unpaced.limited).toBeGreaterThan(0);
  });
});
