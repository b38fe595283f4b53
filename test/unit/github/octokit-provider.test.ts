import { describe, expect, it } from 'vitest';
import { OctokitGitHubProvider } from '../../../controller/github/octokit-provider.ts';
import {
  GitHubAuthError,
  GitHubError,
  RateLimitedError,
  RunnerBusyError,
  RunnerNameExistsError,
} from '../../../controller/github/errors.ts';
import type { GitHubScope } from '../../../controller/github/types.ts';
import { Writable } from 'node:stream';
import { createLogger } from '../../../controller/util/logger.ts';
import { Redactor } from '../../../controller/util/redact.ts';
import { fakeClock } from '../util/fake-clock.ts';
import {
  ENTERPRISE_TOKEN,
  FakeGitHub,
  INSTALLATION_TOKEN,
  TEST_PRIVATE_KEY,
  job,
} from './fake-github-fetch.ts';

const org: GitHubScope = { kind: 'org', org: 'acme' };

function setup(over: Partial<ConstructorParameters<typeof OctokitGitHubProvider>[0]> = {}) {
  const gh = new FakeGitHub();
  const provider = new OctokitGitHubProvider({
    appId: 1234,
    privateKey: TEST_PRIVATE_KEY,
    baseUrl: 'https://github.test/api/v3',
    fetch: gh.fetch,
    retryBaseMs: 1,
    ...over,
  });
  return { gh, provider };
}

function secretsIn(err: unknown): string {
  const e = err as Error & { cause?: unknown };
  return JSON.stringify({
    m: e.message,
    s: e.stack,
    c: String(e.cause),
    cm: (e.cause as Error)?.message,
  });
}

describe('OctokitGitHubProvider: runners', () => {
  it('discovers the installation per owner, generates a JIT config with every label', async () => {
    const { gh, provider } = setup();
    const jit = await provider.generateJitConfig(org, {
      name: 'rctl-linux-abc',
      runnerGroupId: 1,
      labels: ['self-hosted', 'linux'],
      workFolder: '_work',
    });
    expect(jit.runner).toMatchObject({
      id: 1,
      name: 'rctl-linux-abc',
      labels: ['self-hosted', 'linux'],
    });
    expect(jit.encodedJitConfig).toMatch(/^ENCODED-JIT-/);
    const post = gh.requests.find((r) => r.path.endsWith('generate-jitconfig'))!;
    expect(post.path).toBe('/api/v3/orgs/acme/actions/runners/generate-jitconfig');
    expect(post.body).toEqual({
      name: 'rctl-linux-abc',
      runner_group_id: 1,
      labels: ['self-hosted', 'linux'],
      work_folder: '_work',
    });
    // The owner lookup is case-insensitive and cached: one listing for several calls.
    await provider.listRunners({ kind: 'repo', owner: 'ACME', repo: 'app' });
    const fresh = setup();
    await Promise.all([1, 2, 3, 4].map(() => fresh.provider.listRunners(org)));
    expect(fresh.gh.requests.filter((r) => r.path.endsWith('/app/installations')).length).toBe(1);
    expect(gh.requests.filter((r) => r.path.endsWith('/app/installations')).length).toBe(1);
  });

  it('409 on the name becomes RunnerNameExistsError; findRunnerByName adopts it', async () => {
    const { gh, provider } = setup();
    await provider.generateJitConfig(org, {
      name: 'rctl-a',
      runnerGroupId: 1,
      labels: ['self-hosted'],
    });
    const err = await provider
      .generateJitConfig(org, { name: 'rctl-a', runnerGroupId: 1, labels: ['self-hosted'] })
      .catch((e) => e);
    expect(err).toBeInstanceOf(RunnerNameExistsError);
    expect((err as RunnerNameExistsError).runnerName).toBe('rctl-a');
    // No retry of a 409.
    expect(gh.requests.filter((r) => r.path.endsWith('generate-jitconfig')).length).toBe(2);
    const found = await provider.findRunnerByName(org, 'rctl-a');
    expect(found?.id).toBe(1);
    expect(await provider.findRunnerByName(org, 'rctl-b')).toBeUndefined();
  });

  it('a 5xx on the POST is retried; the retry meeting 409 still maps to RunnerNameExistsError', async () => {
    const { gh, provider } = setup();
    // The server creates the runner but the answer is lost: a 502, then the retry sees 409.
    gh.forced.push({
      match: 'POST /api/v3/orgs/acme/actions/runners/generate-jitconfig',
      reply: { status: 502, body: { message: 'Bad gateway' } },
    });
    gh.runners.set(9, { id: 9, name: 'rctl-lost', busy: false, status: 'offline', labels: [] });
    const err = await provider
      .generateJitConfig(org, { name: 'rctl-lost', runnerGroupId: 1, labels: ['self-hosted'] })
      .catch((e) => e);
    expect(err).toBeInstanceOf(RunnerNameExistsError);
    expect((await provider.findRunnerByName(org, 'rctl-lost'))?.id).toBe(9);
  });

  it('getRunner: 404 is undefined; deleteRunner: 404 is success, 422 busy is RunnerBusyError', async () => {
    const { gh, provider } = setup();
    expect(await provider.getRunner(org, 77)).toBeUndefined();
    await provider.deleteRunner(org, 77);
    gh.runners.set(5, { id: 5, name: 'rctl-busy', busy: true, status: 'online', labels: [] });
    const err = await provider.deleteRunner(org, 5).catch((e) => e);
    expect(err).toBeInstanceOf(RunnerBusyError);
    expect(gh.runners.has(5)).toBe(true);
    gh.runners.get(5)!.busy = false;
    await provider.deleteRunner(org, 5);
    expect(gh.runners.has(5)).toBe(false);
  });

  it('listRunners pages through everything and filters by prefix', async () => {
    const { gh, provider } = setup();
    for (let i = 1; i <= 230; i++) {
      gh.runners.set(i, {
        id: i,
        name: i % 2 ? `rctl-${i}` : `other-${i}`,
        busy: false,
        status: 'online',
        labels: [],
      });
    }
    expect((await provider.listRunners(org)).length).toBe(230);
    expect((await provider.listRunners(org, 'rctl-')).length).toBe(115);
  });

  it('resolves runner groups by name (repo scope is group 1)', async () => {
    const { provider } = setup();
    expect(await provider.resolveRunnerGroupId(org, 'fargate')).toBe(7);
    expect(
      await provider.resolveRunnerGroupId({ kind: 'repo', owner: 'acme', repo: 'app' }, 'x'),
    ).toBe(1);
    await expect(provider.resolveRunnerGroupId(org, 'gpu')).rejects.toThrow(
      /runner group "gpu" not found in organization acme/,
    );
  });

  it('enterprise scope uses the enterprise token, and needs one', async () => {
    const ent: GitHubScope = { kind: 'enterprise', enterprise: 'bigco' };
    await expect(setup().provider.listRunners(ent)).rejects.toBeInstanceOf(GitHubAuthError);
    const { gh, provider } = setup({ enterpriseToken: ENTERPRISE_TOKEN });
    await provider.generateJitConfig(ent, {
      name: 'rctl-e',
      runnerGroupId: 1,
      labels: ['self-hosted'],
    });
    const post = gh.requests.find((r) => r.path.endsWith('generate-jitconfig'))!;
    expect(post.path).toBe('/api/v3/enterprises/bigco/actions/runners/generate-jitconfig');
    expect(post.headers.get('authorization')).toContain(ENTERPRISE_TOKEN);
  });

  it('a revoked installation token is replaced and the request sent again', async () => {
    const { gh, provider } = setup();
    await provider.listRunners(org);
    expect(gh.tokensIssued).toBe(1);
    gh.revokeToken();
    await provider.listRunners(org);
    expect(gh.tokensIssued).toBe(2);
  });

  it('an owner without an installation is a GitHubAuthError', async () => {
    const { provider } = setup();
    await expect(provider.listRunners({ kind: 'org', org: 'stranger' })).rejects.toThrow(
      /GitHub App 1234 is not installed on stranger/,
    );
  });
});

describe('OctokitGitHubProvider: queued jobs', () => {
  it('reads queued, in_progress and waiting runs, keeps queued jobs, and revalidates with ETags', async () => {
    const { gh, provider } = setup();
    gh.runs = [
      { id: 100, status: 'queued', jobs: [job(1, 100, 'queued')] },
      // A matrix: one leg running, one still queued inside an in_progress run.
      {
        id: 200,
        status: 'in_progress',
        jobs: [job(2, 200, 'in_progress'), job(3, 200, 'queued', ['self-hosted', '2'])],
      },
      { id: 300, status: 'completed', jobs: [job(4, 300, 'queued')] },
      // A sibling waits for environment approval: the run is waiting, this job is queued.
      { id: 400, status: 'waiting', jobs: [job(5, 400, 'waiting'), job(6, 400, 'queued')] },
    ];
    const first = await provider.listQueuedJobs('acme/app');
    expect(first.map((j) => j.id).sort()).toEqual([1, 3, 6]);
    expect(first.find((j) => j.id === 3)).toMatchObject({
      runId: 200,
      repository: 'acme/app',
      labels: ['self-hosted', '2'],
      status: 'queued',
    });

    const before = gh.requests.length;
    const second = await provider.listQueuedJobs('acme/app');
    expect(second.map((j) => j.id).sort()).toEqual([1, 3, 6]);
    const revalidated = gh.requests.slice(before).filter((r) => r.path.includes('/actions/runs'));
    expect(revalidated.length).toBe(6);
    expect(revalidated.every((r) => r.headers.get('if-none-match'))).toBe(true);
    const jobsRequest = revalidated.find((r) => r.path.endsWith('/jobs'))!;
    expect(jobsRequest.search.get('filter')).toBe('latest');

    // A change is seen through the cache.
    gh.runs[0]!.jobs[0]!.status = 'in_progress';
    expect((await provider.listQueuedJobs('acme/app')).map((j) => j.id).sort()).toEqual([3, 6]);
  });

  it('getJob: 404 is undefined', async () => {
    const { gh, provider } = setup();
    gh.runs = [{ id: 100, status: 'queued', jobs: [job(1, 100, 'queued')] }];
    expect((await provider.getJob('acme/app', 1))?.status).toBe('queued');
    expect(await provider.getJob('acme/app', 2)).toBeUndefined();
  });
});

describe('OctokitGitHubProvider: rate limits and secrets', () => {
  it('a secondary limit with retry-after throws RateLimitedError and pauses JIT calls only', async () => {
    const clock = fakeClock();
    const { gh, provider } = setup({ clock });
    gh.forced.push({
      match: 'POST /api/v3/orgs/acme/actions/runners/generate-jitconfig',
      reply: {
        status: 403,
        body: { message: 'You have exceeded a secondary rate limit.' },
        headers: { 'retry-after': '42' },
      },
    });
    const err = await provider
      .generateJitConfig(org, { name: 'rctl-x', runnerGroupId: 1, labels: ['self-hosted'] })
      .catch((e) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterMs).toBe(42_000);
    expect(provider.pacingState().jit.pausedUntil).toBe(clock.now() + 42_000);
    expect(provider.pacingState().rest.pausedUntil).toBe(0);

    // The next JIT call waits for the pause; other calls do not.
    let done = false;
    const next = provider
      .generateJitConfig(org, { name: 'rctl-y', runnerGroupId: 1, labels: ['self-hosted'] })
      .then(() => (done = true));
    await provider.listRunners(org);
    await clock.advance(41_000);
    expect(done).toBe(false);
    await clock.advance(10_000);
    await next;
    expect(done).toBe(true);
  });

  it('paces JIT POSTs in a sliding minute: at most jitPerMinute (12) in any 60 s, at the full rate', async () => {
    const clock = fakeClock();
    const { gh, provider } = setup({ clock });
    const sent: number[] = [];
    const fetchWithTime: typeof fetch = (input, init) => {
      if (String(input).endsWith('generate-jitconfig')) sent.push(clock.now());
      return gh.fetch(input, init);
    };
    const paced = new OctokitGitHubProvider({
      appId: 1234,
      privateKey: TEST_PRIVATE_KEY,
      baseUrl: 'https://github.test/api/v3',
      fetch: fetchWithTime,
      clock,
      pacing: { jitPerMinute: 12 },
    });
    await paced.listRunners(org); // token and installation first
    const all = Array.from({ length: 30 }, (_, i) =>
      paced.generateJitConfig(org, {
        name: `rctl-p${i}`,
        runnerGroupId: 1,
        labels: ['self-hosted'],
      }),
    );
    // Small steps with the event loop drained between them, so each request goes out at the
    // clock time it was let go.
    // Until every POST is answered (a loaded machine answers later in real time, so the number
    // of steps is not fixed), with a bound far above the 3 minutes of waves 30 POSTs need.
    let settled = false;
    void Promise.all(all).then(() => (settled = true));
    for (let t = 0; !settled && t < 20_000; t++) {
      await clock.advance(500);
      for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(all);
    expect(gh.runners.size).toBe(30);
    // A sliding window of 12 a minute: the POSTs go in waves of 12, and no 60 s window (from any
    // POST on) holds more than 12. (Event-loop lag can only make a POST later.)
    sent.sort((a, b) => a - b);
    sent.forEach((at, k) => {
      if (k >= 12) expect(at - sent[k - 12]!).toBeGreaterThanOrEqual(60_000);
    });
    // The whole first minute's worth goes at once. (A token bucket bursting 2 and refilling 10 a
    // minute sent the 12th only after 60 s.) A wave waits for the answers of the one a minute
    // before it, which on this fake clock come late (the client's own timers run in real time),
    // so the pace of later waves is not asserted here; the limiter's unit tests cover it.
    expect(sent[11]! - sent[0]!).toBeLessThan(30_000);
    void provider;
  });

  it('a background listing leaves the REST reserve to calls someone waits on', async () => {
    const clock = fakeClock();
    const { gh } = setup();
    for (let i = 1; i <= 1_000; i++) {
      gh.runners.set(i, { id: i, name: `rctl-${i}`, busy: false, status: 'online', labels: [] });
    }
    // Burst 4, reserve 3, a token a second: after the first call the bucket holds just the
    // reserve, and the listing's 10 pages wait for the refill.
    const paced = new OctokitGitHubProvider({
      appId: 1234,
      privateKey: TEST_PRIVATE_KEY,
      baseUrl: 'https://github.test/api/v3',
      fetch: gh.fetch,
      clock,
      pacing: { restBurst: 4, restPerHour: 3_604, restReserve: 3 },
    });
    const settle = async (done: () => boolean) => {
      for (let i = 0; i < 2_000 && !done(); i++) {
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    await paced.getRunner(org, 1); // token and installation first
    let listed = false;
    const listing = paced.listRunners(org, 'rctl-', { background: true }).then((r) => {
      listed = true;
      return r;
    });
    // Give the listing its chance at the bucket (paced like a foreground call it would empty it).
    await settle(() => paced.pacingState().rest.available < 1);
    expect(listed).toBe(false);
    // The clock does not move: the call is served from the reserve, not after the listing.
    // (The guard only turns a call stuck behind the listing into a clear failure.)
    const guard = new Promise((_, reject) => {
      const timer = setTimeout(() => reject(new Error('getRunner waited for the listing')), 20_000);
      timer.unref();
    });
    expect(await Promise.race([paced.getRunner(org, 7), guard])).toMatchObject({ id: 7 });
    expect(listed).toBe(false);
    for (let t = 0; t < 60 && !listed; t++) {
      await clock.advance(1_000);
      await settle(() => listed);
    }
    expect((await listing).length).toBe(1_000);
  }, 30_000);

  it('a primary limit (remaining 0) waits until the reset; 429 without headers waits a minute', async () => {
    const clock = fakeClock(1_900_000_000_000 - 120_000);
    const { gh, provider } = setup({ clock });
    gh.forced.push({
      match: 'GET /api/v3/orgs/acme/actions/runners',
      reply: {
        status: 403,
        body: { message: 'API rate limit exceeded for installation ID 42.' },
        headers: { 'x-ratelimit-remaining': '0' },
      },
    });
    const err = (await provider.listRunners(org).catch((e) => e)) as RateLimitedError;
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err.retryAfterMs).toBe(121_000);

    const { gh: gh2, provider: p2 } = setup({ clock });
    gh2.forced.push({
      match: 'GET /api/v3/orgs/acme/actions/runners/3',
      reply: { status: 429, body: { message: 'Too many' } },
    });
    expect(((await p2.getRunner(org, 3).catch((e) => e)) as RateLimitedError).retryAfterMs).toBe(
      60_000,
    );
  });

  it('a 403 that is not a rate limit is a plain GitHubError', async () => {
    const { gh, provider } = setup();
    gh.forced.push({
      match: 'GET /api/v3/orgs/acme/actions/runners',
      reply: { status: 403, body: { message: 'Resource not accessible by integration' } },
    });
    const err = await provider.listRunners(org).catch((e) => e);
    expect(err).toBeInstanceOf(GitHubError);
    expect(err).not.toBeInstanceOf(RateLimitedError);
    expect((err as Error).message).toBe(
      'GET /api/v3/orgs/acme/actions/runners?per_page=100&page=1: 403 Resource not accessible by integration',
    );
  });

  it('tracks the rate-limit headers', async () => {
    const { gh, provider } = setup();
    gh.rateLimitRemaining = 4321;
    await provider.listRunners(org);
    expect(provider.rateLimit()).toEqual({
      limit: 5000,
      remaining: 4321,
      resetAtMs: 1_900_000_000_000,
    });
  });

  it('errors never carry the token, the private key or a JIT config', async () => {
    const { gh, provider } = setup();
    gh.forced.push({
      match: 'POST /api/v3/orgs/acme/actions/runners/generate-jitconfig',
      reply: { status: 422, body: { message: `invalid labels; echo ${INSTALLATION_TOKEN}` } },
    });
    const err = await provider
      .generateJitConfig(org, { name: 'rctl-z', runnerGroupId: 1, labels: ['self-hosted'] })
      .catch((e) => e);
    expect(err).toBeInstanceOf(GitHubError);
    expect((err as GitHubError).status).toBe(422);
    const text = secretsIn(err);
    expect(text).toContain('POST /api/v3/orgs/acme/actions/runners/generate-jitconfig');
    expect(text).not.toContain(INSTALLATION_TOKEN);
    expect(text).not.toContain('BEGIN PRIVATE KEY');
    expect((err as { request?: unknown }).request).toBeUndefined();
  });

  it('logs at trace level carry no token, key or JIT config', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger({
      level: 'trace',
      destination: destination as never,
      redactor: new Redactor([TEST_PRIVATE_KEY]),
    });
    const { gh, provider } = setup({ logger });
    const jit = await provider.generateJitConfig(org, {
      name: 'rctl-l0',
      runnerGroupId: 1,
      labels: ['self-hosted'],
    });
    expect(jit.encodedJitConfig).toMatch(/^ENCODED-JIT-/);
    gh.forced.push({
      match: 'POST /api/v3/orgs/acme/actions/runners/generate-jitconfig',
      reply: {
        status: 403,
        body: { message: 'You have exceeded a secondary rate limit.' },
        headers: { 'retry-after': '1' },
      },
    });
    await provider
      .generateJitConfig(org, { name: 'rctl-l1', runnerGroupId: 1, labels: ['self-hosted'] })
      .catch(() => undefined);
    const out = lines.join('');
    expect(out).toContain('GitHub rate limit hit');
    expect(out).not.toContain(INSTALLATION_TOKEN);
    expect(out).not.toContain('PRIVATE KEY');
    expect(out).not.toContain('ENCODED-JIT-');
  });

  it('a refused installation token is a GitHubAuthError', async () => {
    const { provider } = setup({ installationId: 999 });
    const err = await provider.listRunners(org).catch((e) => e);
    expect(err).toBeInstanceOf(GitHubAuthError);
    expect((err as Error).message).toMatch(/installation token \(installation 999\): 404/);
  });
});
