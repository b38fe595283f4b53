// GitHubProvider on Octokit: GitHub App authentication (installation tokens created and
// refreshed by @octokit/auth-app), @octokit/plugin-retry for 5xx, client-side pacing with token
// buckets, conditional requests with a per-URL ETag cache, and errors mapped to the typed
// errors of ./errors.ts. Error messages carry the method and URL path, never the
// Authorization header, a token, the private key or an encoded JIT config.

import { App } from '@octokit/app';
import { Octokit } from '@octokit/core';
import { retry } from '@octokit/plugin-retry';
import type { RepositoryVisibility } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';
import { systemClock } from '../util/clock.ts';
import type { Logger } from '../util/logger.ts';
import { silentLogger } from '../util/logger.ts';
import { Redactor } from '../util/redact.ts';
import { assertActing, NotActingError } from '../util/acting.ts';
import { SlidingWindow, type WindowGrant } from '../util/sliding-window.ts';
import { TokenBucket } from '../util/token-bucket.ts';
import {
  GitHubAuthError,
  GitHubError,
  JobRerunRefusedError,
  RateLimitedError,
  RunnerBusyError,
  RunnerNameExistsError,
} from './errors.ts';
import type {
  GitHubProvider,
  GitHubRunner,
  GitHubScope,
  InstallationRepositories,
  OpenRun,
  RunJobs,
  JitConfig,
  JitConfigRequest,
  ListRunnersOptions,
  RateLimitSnapshot,
  WorkflowJob,
} from './types.ts';

export interface GitHubPacing {
  /** JIT configs per minute, at most, in any 60 s window. Default 180 (900 points at 5 each). */
  jitPerMinute?: number;
  /** Other REST calls per hour (the primary limit is 5,000 per installation). Default 5,000. */
  restPerHour?: number;
  /** Burst of other REST calls. Default 100. */
  restBurst?: number;
  /**
   * REST calls kept from background listings (a runner listing nobody waits for): they take
   * only what the bucket holds above this, so a call an event or a launch waits on goes at
   * once. Default a tenth of the burst, at least 1.
   */
  restReserve?: number;
}

export interface OctokitGitHubProviderOptions {
  appId: number | string;
  /** PEM. Kept inside the auth strategy; never logged. */
  privateKey: string;
  /** Fixed installation; absent: discovered per owner through GET /app/installations. */
  installationId?: number;
  /** Default https://api.github.com; the simulator's URL in the sandbox and tests. */
  baseUrl?: string;
  /** Token with manage_runners:enterprise, for enterprise scopes (App tokens are refused there). */
  enterpriseToken?: string;
  pacing?: GitHubPacing;
  clock?: Clock;
  logger?: Logger;
  /** Transport (tests inject one; default global fetch). */
  fetch?: typeof fetch;
  /** plugin-retry: retries of 5xx answers (default 3) and the base of its backoff (default 1 s). */
  retries?: number;
  retryBaseMs?: number;
}

/** JIT POSTs cost 5 points of the ~900 points/minute secondary limit. */
export const DEFAULT_JIT_PER_MINUTE = 180;
export const DEFAULT_REST_PER_HOUR = 5_000;
const ETAG_CACHE_SIZE = 2_000;
const PER_PAGE = 100;
const MAX_PAGES = 10;
/** Repositories of one installation read at most (100 pages of 100). */
const MAX_REPOSITORY_PAGES = 100;
/** GitHub asks clients to wait at least a minute after a secondary limit without retry-after. */
const DEFAULT_RETRY_AFTER_MS = 60_000;
/** How long "the App is not installed on this owner" is believed before asking again. */
const MISSING_INSTALLATION_TTL_MS = 60_000;
/** Owners remembered as having no installation: events can name any owner, so this is bounded. */
export const MAX_MISSING_OWNERS = 1_000;

/** `background`: a REST call nobody waits for (paced from above the reserve). */
type Kind = 'jit' | 'rest' | 'background';
type Params = Record<string, unknown>;
// Octokit's request is typed per known route; routes here are built per scope.
type AnyOctokit = { request: (route: string, params?: Params) => Promise<RawResponse> } & {
  request: { endpoint: (route: string, params?: Params) => { method: string; url: string } };
};
interface RawResponse {
  status: number;
  headers: Record<string, string | number | undefined>;
  data: unknown;
}
interface RequestErrorLike {
  name: string;
  status: number;
  message: string;
  request?: { url?: string; method?: string };
  response?: { headers?: Record<string, string | number | undefined>; data?: unknown };
}

function isRequestError(err: unknown): err is RequestErrorLike {
  return (
    err instanceof Error &&
    typeof (err as { status?: unknown }).status === 'number' &&
    'request' in err
  );
}

function scopeBase(scope: GitHubScope): { base: string; params: Params } {
  switch (scope.kind) {
    case 'org':
      return { base: '/orgs/{org}', params: { org: scope.org } };
    case 'repo':
      return { base: '/repos/{owner}/{repo}', params: { owner: scope.owner, repo: scope.repo } };
    case 'enterprise':
      return { base: '/enterprises/{enterprise}', params: { enterprise: scope.enterprise } };
  }
}

function splitRepository(repository: string): { owner: string; repo: string } {
  const [owner, repo, ...rest] = repository.split('/');
  if (!owner || !repo || rest.length > 0) {
    throw new GitHubError(`repository must be "owner/name", got ${JSON.stringify(repository)}`);
  }
  return { owner, repo };
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function toRunner(raw: unknown): GitHubRunner {
  const r = raw as Record<string, unknown>;
  const runner: GitHubRunner = {
    id: Number(r.id),
    name: String(r.name),
    os: String(r.os ?? 'unknown'),
    status: r.status === 'online' ? 'online' : 'offline',
    busy: r.busy === true,
    labels: Array.isArray(r.labels)
      ? r.labels.map((l) => (typeof l === 'string' ? l : String((l as { name?: unknown }).name)))
      : [],
  };
  if (typeof r.runner_group_id === 'number') runner.runnerGroupId = r.runner_group_id;
  if (typeof r.ephemeral === 'boolean') runner.ephemeral = r.ephemeral;
  return runner;
}

function toJob(raw: unknown, repository: string): WorkflowJob {
  const j = raw as Record<string, unknown>;
  return {
    id: Number(j.id),
    runId: Number(j.run_id),
    runAttempt: typeof j.run_attempt === 'number' ? j.run_attempt : 1,
    repository,
    status: String(j.status) as WorkflowJob['status'],
    conclusion: str(j.conclusion),
    labels: Array.isArray(j.labels) ? j.labels.map(String) : [],
    name: String(j.name ?? ''),
    workflowName: str(j.workflow_name),
    htmlUrl: String(j.html_url ?? ''),
    runnerId: typeof j.runner_id === 'number' ? j.runner_id : null,
    runnerName: str(j.runner_name),
    createdAt: String(j.created_at ?? j.started_at ?? ''),
    startedAt: str(j.started_at),
    completedAt: str(j.completed_at),
  };
}

export class OctokitGitHubProvider implements GitHubProvider {
  private readonly app: App;
  private readonly OctokitClass: typeof Octokit;
  private readonly enterpriseClient: AnyOctokit | undefined;
  private readonly installationClients = new Map<number, Promise<AnyOctokit>>();
  private readonly installationByOwner = new Map<string, number>();
  /** Installation of each installation client, to refresh its token after a 401. */
  private readonly installationOf = new WeakMap<AnyOctokit, number>();
  private readonly missingOwners = new Map<string, number>();
  private listingInstallations: Promise<void> | undefined;
  private readonly etags = new Map<string, { etag: string; data: unknown }>();
  private readonly runnerGroups = new Map<string, number>();
  private readonly jitBucket: SlidingWindow;
  private readonly restBucket: TokenBucket;
  private readonly restReserve: number;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly redactor: Redactor;
  private lastRateLimit: RateLimitSnapshot | undefined;

  constructor(private readonly options: OctokitGitHubProviderOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = (options.logger ?? silentLogger()).child({ component: 'github' });
    this.redactor = new Redactor([options.privateKey, options.enterpriseToken ?? '']);

    const pacing = options.pacing ?? {};
    const jitPerMinute = pacing.jitPerMinute ?? DEFAULT_JIT_PER_MINUTE;
    // A sliding minute, like GitHub's: no 60 s window ever holds more than jitPerMinute POSTs,
    // and a long burst still runs at the full rate.
    this.jitBucket = new SlidingWindow({
      name: 'github jit',
      limit: Math.max(1, Math.floor(jitPerMinute)),
      windowMs: 60_000,
      clock: this.clock,
    });
    const restPerHour = pacing.restPerHour ?? DEFAULT_REST_PER_HOUR;
    const restBurst = Math.max(1, pacing.restBurst ?? 100);
    this.restBucket = new TokenBucket({
      name: 'github rest',
      capacity: restBurst,
      refillPerSecond: Math.max(restPerHour - restBurst, 1) / 3600,
      clock: this.clock,
    });
    this.restReserve = Math.max(1, Math.floor(pacing.restReserve ?? restBurst / 10));

    const octokitLog = {
      debug: () => undefined,
      info: () => undefined,
      warn: (message: string) => this.logger.warn(this.redactor.string(message)),
      error: (message: string) => this.logger.error(this.redactor.string(message)),
    };
    const defaults: Record<string, unknown> = {
      baseUrl: (options.baseUrl ?? 'https://api.github.com').replace(/\/+$/, ''),
      log: octokitLog,
      // 409 is an answer, not a transient failure; 429 is handled by the buckets.
      // (Not `request.retries`: plugin-retry retries every error of a request that sets it.)
      retry: {
        doNotRetry: [400, 401, 403, 404, 409, 410, 422, 429, 451],
        retries: options.retries ?? 3,
        retryAfterBaseValue: options.retryBaseMs ?? 1_000,
      },
      ...(options.fetch ? { request: { fetch: options.fetch } } : {}),
    };
    this.OctokitClass = Octokit.plugin(retry).defaults(defaults);
    this.app = new App({
      appId: options.appId,
      privateKey: options.privateKey,
      Octokit: this.OctokitClass,
      log: octokitLog,
    });
    this.enterpriseClient = options.enterpriseToken
      ? (new this.OctokitClass({ auth: options.enterpriseToken }) as unknown as AnyOctokit)
      : undefined;
  }

  // --- runners ---------------------------------------------------------------------------

  async generateJitConfig(scope: GitHubScope, request: JitConfigRequest): Promise<JitConfig> {
    const client = await this.clientForScope(scope);
    const { base, params } = scopeBase(scope);
    const body: Params = {
      name: request.name,
      runner_group_id: request.runnerGroupId,
      labels: request.labels,
    };
    if (request.workFolder) body.work_folder = request.workFolder;
    try {
      const res = await this.call(
        'jit',
        client,
        `POST ${base}/actions/runners/generate-jitconfig`,
        {
          ...params,
          ...body,
        },
      );
      const data = res.data as { runner?: unknown; encoded_jit_config?: unknown };
      if (typeof data.encoded_jit_config !== 'string' || !data.runner) {
        throw new GitHubError(
          `generate-jitconfig for ${request.name}: answer without a runner or config`,
          res.status,
        );
      }
      this.logger.debug({ runner: request.name }, 'JIT config generated');
      return { runner: toRunner(data.runner), encodedJitConfig: data.encoded_jit_config };
    } catch (err) {
      if (err instanceof GitHubError && err.status === 409) {
        throw new RunnerNameExistsError(request.name, { cause: err });
      }
      throw err;
    }
  }

  async getRunner(scope: GitHubScope, id: number): Promise<GitHubRunner | undefined> {
    const client = await this.clientForScope(scope);
    const { base, params } = scopeBase(scope);
    try {
      const res = await this.call('rest', client, `GET ${base}/actions/runners/{runner_id}`, {
        ...params,
        runner_id: id,
      });
      return toRunner(res.data);
    } catch (err) {
      if (err instanceof GitHubError && err.status === 404) return undefined;
      throw err;
    }
  }

  async findRunnerByName(scope: GitHubScope, name: string): Promise<GitHubRunner | undefined> {
    const client = await this.clientForScope(scope);
    const { base, params } = scopeBase(scope);
    const res = await this.call('rest', client, `GET ${base}/actions/runners`, {
      ...params,
      name,
      per_page: PER_PAGE,
    });
    const data = res.data as { total_count?: number; runners?: unknown[] };
    const runners = (data.runners ?? []).map(toRunner);
    const found = runners.find((r) => r.name === name);
    if (found) return found;
    // A server that ignores the name filter: look through every page.
    if ((data.total_count ?? 0) > runners.length) {
      return (await this.listRunners(scope, name)).find((r) => r.name === name);
    }
    return undefined;
  }

  async listRunners(
    scope: GitHubScope,
    namePrefix?: string,
    options: ListRunnersOptions = {},
  ): Promise<GitHubRunner[]> {
    const client = await this.clientForScope(scope);
    const { base, params } = scopeBase(scope);
    const runners: GitHubRunner[] = [];
    const kind = options.background ? 'background' : 'rest';
    // Not conditional: every registration, removal or busy flip changes a page (and shifts the
    // later ones), so a 304 is rare, while the remembered bodies would double the listing's memory.
    for (let page = 1; ; page++) {
      options.pages = page;
      const res = await this.call(kind, client, `GET ${base}/actions/runners`, {
        ...params,
        per_page: PER_PAGE,
        page,
      });
      const data = res.data as { total_count?: number; runners?: unknown[] };
      const batch = (data.runners ?? []).map(toRunner);
      runners.push(...batch);
      if (batch.length < PER_PAGE || runners.length >= (data.total_count ?? 0)) break;
    }
    return namePrefix ? runners.filter((r) => r.name.startsWith(namePrefix)) : runners;
  }

  async deleteRunner(scope: GitHubScope, id: number): Promise<void> {
    const client = await this.clientForScope(scope);
    const { base, params } = scopeBase(scope);
    try {
      await this.call('rest', client, `DELETE ${base}/actions/runners/{runner_id}`, {
        ...params,
        runner_id: id,
      });
    } catch (err) {
      if (err instanceof GitHubError && err.status === 404) return;
      if (
        err instanceof GitHubError &&
        err.status === 422 &&
        /busy|running a job/i.test(err.message)
      ) {
        throw new RunnerBusyError(id, { cause: err });
      }
      throw err;
    }
  }

  async resolveRunnerGroupId(scope: GitHubScope, name: string): Promise<number> {
    if (scope.kind === 'repo') return 1;
    const key = `${scope.kind}:${scope.kind === 'org' ? scope.org : scope.enterprise}:${name.toLowerCase()}`;
    const cached = this.runnerGroups.get(key);
    if (cached !== undefined) return cached;
    const client = await this.clientForScope(scope);
    const { base, params } = scopeBase(scope);
    const owner =
      scope.kind === 'org' ? `organization ${scope.org}` : `enterprise ${scope.enterprise}`;
    for (let page = 1; page <= MAX_PAGES; page++) {
      const res = await this.call('rest', client, `GET ${base}/actions/runner-groups`, {
        ...params,
        per_page: PER_PAGE,
        page,
      });
      const groups = ((res.data as { runner_groups?: unknown[] }).runner_groups ?? []) as {
        id: number;
        name: string;
      }[];
      const found = groups.find((g) => g.name.toLowerCase() === name.toLowerCase());
      if (found) {
        this.runnerGroups.set(key, found.id);
        return found.id;
      }
      if (groups.length < PER_PAGE) break;
    }
    throw new GitHubError(`runner group ${JSON.stringify(name)} not found in ${owner}`, 404);
  }

  async runnerGroupAllowsPublicRepositories(
    scope: GitHubScope,
    name: string,
  ): Promise<boolean | undefined> {
    if (scope.kind === 'repo') return undefined;
    const id = await this.resolveRunnerGroupId(scope, name);
    const client = await this.clientForScope(scope);
    const { base, params } = scopeBase(scope);
    const res = await this.call(
      'rest',
      client,
      `GET ${base}/actions/runner-groups/{runner_group_id}`,
      { ...params, runner_group_id: id },
      { conditional: true },
    );
    return (
      (res.data as { allows_public_repositories?: unknown }).allows_public_repositories === true
    );
  }

  // --- jobs --------------------------------------------------------------------------------

  async listOpenRuns(repository: string): Promise<OpenRun[]> {
    const { owner, repo } = splitRepository(repository);
    const client = await this.clientForOwner(owner);
    const runs = new Map<number, OpenRun>();
    // Queued jobs also sit in in_progress runs (a matrix with one leg running) and in waiting
    // runs (a sibling job waits for environment approval), so all three run states are read.
    for (const status of ['queued', 'in_progress', 'waiting']) {
      for (let page = 1; page <= MAX_PAGES; page++) {
        const res = await this.call(
          'rest',
          client,
          'GET /repos/{owner}/{repo}/actions/runs',
          { owner, repo, status, per_page: PER_PAGE, page },
          { conditional: true },
        );
        const listed = ((res.data as { workflow_runs?: unknown[] }).workflow_runs ?? []) as {
          id: number;
          run_attempt?: number;
        }[];
        for (const run of listed) {
          const runAttempt = typeof run.run_attempt === 'number' ? run.run_attempt : 1;
          runs.set(run.id, { id: run.id, runAttempt });
        }
        if (listed.length < PER_PAGE) break;
      }
    }
    return [...runs.values()];
  }

  async listQueuedJobs(repository: string): Promise<WorkflowJob[]> {
    const jobs = new Map<number, WorkflowJob>();
    for (const run of await this.listOpenRuns(repository)) {
      const listed = await this.listRunJobs(repository, run.id);
      for (const job of listed?.jobs ?? []) if (job.status === 'queued') jobs.set(job.id, job);
    }
    return [...jobs.values()];
  }

  /** One page of a run's latest jobs (conditional: an unchanged page is a 304, off the budget). */
  private runJobsPage(
    client: AnyOctokit,
    owner: string,
    repo: string,
    runId: number,
    page: number,
  ): Promise<RawResponse> {
    return this.call(
      'rest',
      client,
      'GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs',
      { owner, repo, run_id: runId, filter: 'latest', per_page: PER_PAGE, page },
      { conditional: true },
    );
  }

  async listRunJobs(repository: string, runId: number): Promise<RunJobs | undefined> {
    const { owner, repo } = splitRepository(repository);
    const client = await this.clientForOwner(owner);
    const jobs: WorkflowJob[] = [];
    let notModified = true;
    try {
      for (let page = 1; page <= MAX_PAGES; page++) {
        const res = await this.runJobsPage(client, owner, repo, runId, page);
        if (res.status !== 304) notModified = false;
        const data = res.data as { total_count?: number; jobs?: unknown[] };
        const batch = (data.jobs ?? []).map((j) => toJob(j, repository));
        jobs.push(...batch);
        if (batch.length < PER_PAGE || jobs.length >= (data.total_count ?? 0)) break;
      }
    } catch (err) {
      if (err instanceof GitHubError && err.status === 404) return undefined;
      throw err;
    }
    return { jobs, notModified };
  }

  async getRepositoryVisibility(repository: string): Promise<RepositoryVisibility | undefined> {
    const { owner, repo } = splitRepository(repository);
    const client = await this.clientForOwner(owner);
    try {
      const res = await this.call(
        'rest',
        client,
        'GET /repos/{owner}/{repo}',
        { owner, repo },
        { conditional: true },
      );
      const data = res.data as { visibility?: unknown; private?: unknown };
      if (data.visibility === 'public' || data.visibility === 'private') return data.visibility;
      if (data.visibility === 'internal') return 'internal';
      return data.private === false ? 'public' : 'private';
    } catch (err) {
      if (err instanceof GitHubError && err.status === 404) return undefined;
      throw err;
    }
  }

  async getJob(repository: string, jobId: number): Promise<WorkflowJob | undefined> {
    const { owner, repo } = splitRepository(repository);
    const client = await this.clientForOwner(owner);
    try {
      const res = await this.call(
        'rest',
        client,
        'GET /repos/{owner}/{repo}/actions/jobs/{job_id}',
        { owner, repo, job_id: jobId },
        { conditional: true },
      );
      return toJob(res.data, repository);
    } catch (err) {
      if (err instanceof GitHubError && err.status === 404) return undefined;
      throw err;
    }
  }

  async rerunJob(repository: string, jobId: number): Promise<void> {
    const { owner, repo } = splitRepository(repository);
    const client = await this.clientForOwner(owner);
    try {
      // The body is optional (enable_debug_logging, enable_debugger); none is sent.
      await this.call('rest', client, 'POST /repos/{owner}/{repo}/actions/jobs/{job_id}/rerun', {
        owner,
        repo,
        job_id: jobId,
      });
    } catch (err) {
      // A rate-limit 403 is already a RateLimitedError; any other 403 is GitHub saying no.
      if (err instanceof GitHubError && err.name === 'GitHubError' && err.status === 403) {
        throw new JobRerunRefusedError(jobId, err.message, { cause: err });
      }
      throw err;
    }
  }

  // --- repositories ------------------------------------------------------------------------

  async listInstallationRepositories(owner: string): Promise<InstallationRepositories> {
    const client = await this.clientForOwner(owner);
    const repositories: string[] = [];
    let notModified = true;
    for (let page = 1; page <= MAX_REPOSITORY_PAGES; page++) {
      const res = await this.call(
        'rest',
        client,
        'GET /installation/repositories',
        { per_page: PER_PAGE, page },
        { conditional: true },
      );
      if (res.status !== 304) notModified = false;
      const data = res.data as { total_count?: number; repositories?: unknown[] };
      const batch = (data.repositories ?? [])
        .map((r) => (r as { full_name?: unknown }).full_name)
        .filter((name): name is string => typeof name === 'string');
      repositories.push(...batch);
      if (batch.length < PER_PAGE || repositories.length >= (data.total_count ?? 0)) break;
    }
    return { repositories, notModified };
  }

  rateLimit(): RateLimitSnapshot | undefined {
    return this.lastRateLimit ? { ...this.lastRateLimit } : undefined;
  }

  /** For metrics and tests: calls that could go now and pause state of the pacers. */
  pacingState(): {
    jit: { available: number; pausedUntil: number };
    rest: { available: number; pausedUntil: number };
  } {
    return {
      jit: { available: this.jitBucket.available(), pausedUntil: this.jitBucket.pausedUntil() },
      rest: { available: this.restBucket.available(), pausedUntil: this.restBucket.pausedUntil() },
    };
  }

  // --- clients -----------------------------------------------------------------------------

  private clientForScope(scope: GitHubScope): Promise<AnyOctokit> {
    switch (scope.kind) {
      case 'org':
        return this.clientForOwner(scope.org);
      case 'repo':
        return this.clientForOwner(scope.owner);
      case 'enterprise':
        if (!this.enterpriseClient) {
          return Promise.reject(
            new GitHubAuthError(
              `enterprise ${scope.enterprise}: enterprise runner endpoints need a token with manage_runners:enterprise (github.enterpriseToken); App tokens are refused there`,
            ),
          );
        }
        return Promise.resolve(this.enterpriseClient);
    }
  }

  private async clientForOwner(owner: string): Promise<AnyOctokit> {
    const installationId = this.options.installationId ?? (await this.installationIdFor(owner));
    let client = this.installationClients.get(installationId);
    if (!client) {
      client = this.app.getInstallationOctokit(installationId) as unknown as Promise<AnyOctokit>;
      this.installationClients.set(installationId, client);
      void client.then(
        (c) => this.installationOf.set(c, installationId),
        () => undefined,
      );
      client.catch(() => this.installationClients.delete(installationId));
    }
    return client;
  }

  /** The App's installation on `owner`, from GET /app/installations (cached). */
  private async installationIdFor(owner: string): Promise<number> {
    const key = owner.toLowerCase();
    const known = this.installationByOwner.get(key);
    if (known !== undefined) return known;
    const missingSince = this.missingOwners.get(key);
    if (
      missingSince === undefined ||
      this.clock.now() - missingSince > MISSING_INSTALLATION_TTL_MS
    ) {
      // Concurrent lookups (a burst at start-up) share one listing.
      this.listingInstallations ??= this.listInstallations().finally(() => {
        this.listingInstallations = undefined;
      });
      await this.listingInstallations;
      const found = this.installationByOwner.get(key);
      if (found !== undefined) {
        this.missingOwners.delete(key);
        this.logger.info({ owner, installationId: found }, 'GitHub App installation discovered');
        return found;
      }
      this.rememberMissing(key);
    }
    throw new GitHubAuthError(
      `the GitHub App ${this.options.appId} is not installed on ${owner} (GET /app/installations lists no installation for it)`,
    );
  }

  /** Oldest first out; an owner looked up again moves to the end. */
  private rememberMissing(key: string): void {
    this.missingOwners.delete(key);
    this.missingOwners.set(key, this.clock.now());
    while (this.missingOwners.size > MAX_MISSING_OWNERS) {
      this.missingOwners.delete(this.missingOwners.keys().next().value!);
    }
  }

  /** For tests and metrics: how many owners are remembered as not installed. */
  missingOwnerCount(): number {
    return this.missingOwners.size;
  }

  private async listInstallations(): Promise<void> {
    const appClient = this.app.octokit as unknown as AnyOctokit;
    for (let page = 1; page <= MAX_PAGES; page++) {
      const res = await this.call('rest', appClient, 'GET /app/installations', {
        per_page: PER_PAGE,
        page,
      });
      const installations = (res.data ?? []) as {
        id: number;
        account?: { login?: string } | null;
      }[];
      for (const inst of installations) {
        const login = inst.account?.login;
        if (login) this.installationByOwner.set(login.toLowerCase(), inst.id);
      }
      if (installations.length < PER_PAGE) break;
    }
  }

  // --- the one request path ---------------------------------------------------------------

  private async call(
    kind: Kind,
    client: AnyOctokit,
    route: string,
    params: Params,
    opts: { conditional?: boolean } = {},
  ): Promise<RawResponse> {
    const bucket = kind === 'jit' ? this.jitBucket : this.restBucket;
    const endpoint = client.request.endpoint(route, params);
    const url = new URL(endpoint.url);
    const where = `${endpoint.method} ${url.pathname}${url.search}`;
    // Per installation: GET /installation/repositories is one URL for every installation.
    const cacheKey = `${this.installationOf.get(client) ?? '-'} ${endpoint.method} ${endpoint.url}`;
    const cached = opts.conditional ? this.etags.get(cacheKey) : undefined;
    const headers = cached ? { 'if-none-match': cached.etag } : {};

    // A JIT POST counts against the window until its answer (GitHub counts it on arrival).
    let grant: WindowGrant | undefined;
    if (kind === 'jit') grant = await this.jitBucket.acquire();
    else if (kind === 'background') await this.restBucket.takeSpare(1, this.restReserve);
    else await this.restBucket.take();
    try {
      // The wait may have outlasted this replica's lease: check before sending (util/acting.ts).
      assertActing();
      const res = await this.requestWithFreshToken(client, route, { ...params, headers });
      this.trackRateLimit(res.headers);
      const etag = res.headers.etag;
      if (opts.conditional && typeof etag === 'string') this.remember(cacheKey, etag, res.data);
      this.logger.debug({ request: where, status: res.status }, 'github request');
      return res;
    } catch (err) {
      if (err instanceof NotActingError) throw err;
      if (!isRequestError(err)) throw this.transportError(err, where);
      this.trackRateLimit(err.response?.headers);
      if (err.status === 304 && cached) {
        // Not modified: free against GitHub's limit, so free against ours too.
        bucket.refund();
        this.remember(cacheKey, cached.etag, cached.data);
        this.logger.debug({ request: where, status: 304 }, 'github request not modified');
        return { status: 304, headers: err.response?.headers ?? {}, data: cached.data };
      }
      throw this.mapRequestError(err, where, bucket);
    } finally {
      grant?.done();
    }
  }

  /**
   * One request; after a 401 on an installation token, the token is created anew and the
   * request sent once more. (A token can be revoked, or expire early on a simulation's scaled
   * clock, while the library's cache still believes in it.)
   */
  private async requestWithFreshToken(
    client: AnyOctokit,
    route: string,
    params: Params,
  ): Promise<RawResponse> {
    try {
      return await client.request(route, params);
    } catch (err) {
      const installationId = this.installationOf.get(client);
      const tokenUrl = isRequestError(err) && /\/access_tokens$/.test(err.request?.url ?? '');
      if (!isRequestError(err) || err.status !== 401 || installationId === undefined || tokenUrl) {
        throw err;
      }
      this.logger.info({ installationId }, 'installation token refused; creating a new one');
      const auth = this.app.octokit.auth as (options: Record<string, unknown>) => Promise<unknown>;
      await auth({ type: 'installation', installationId, refresh: true });
      return await client.request(route, params);
    }
  }

  private remember(key: string, etag: string, data: unknown): void {
    this.etags.delete(key);
    this.etags.set(key, { etag, data });
    if (this.etags.size > ETAG_CACHE_SIZE) {
      const oldest = this.etags.keys().next().value;
      if (oldest !== undefined) this.etags.delete(oldest);
    }
  }

  private trackRateLimit(headers: Record<string, string | number | undefined> | undefined): void {
    if (!headers) return;
    const resource = headers['x-ratelimit-resource'];
    if (resource !== undefined && resource !== 'core') return;
    const limit = Number(headers['x-ratelimit-limit']);
    const remaining = Number(headers['x-ratelimit-remaining']);
    const reset = Number(headers['x-ratelimit-reset']);
    if (
      headers['x-ratelimit-limit'] === undefined ||
      !Number.isFinite(limit) ||
      !Number.isFinite(remaining)
    ) {
      return;
    }
    this.lastRateLimit = {
      limit,
      remaining,
      resetAtMs: Number.isFinite(reset) ? reset * 1000 : this.clock.now() + 3_600_000,
    };
  }

  private responseMessage(err: RequestErrorLike): string {
    const data = err.response?.data as { message?: unknown } | undefined;
    const message = typeof data?.message === 'string' ? data.message : err.message;
    return this.redactor.string(message).slice(0, 300);
  }

  private mapRequestError(
    err: RequestErrorLike,
    where: string,
    bucket: Pick<TokenBucket, 'name' | 'pauseUntil'>,
  ): GitHubError {
    const status = err.status;
    const message = this.responseMessage(err);
    const headers = err.response?.headers ?? {};
    // Only the status, path and GitHub's message travel on: the RequestError holds the request
    // (headers, body) and the response.
    const cause = new GitHubError(`${where}: ${status} ${message}`, status);
    const failedUrl = err.request?.url ?? '';

    if (/\/app\/installations\/\d+\/access_tokens/.test(failedUrl)) {
      const installation = /installations\/(\d+)/.exec(failedUrl)?.[1];
      if (installation) this.installationClients.delete(Number(installation));
      return new GitHubAuthError(
        `cannot create an installation token (installation ${installation}): ${status} ${message}`,
        status,
        { cause },
      );
    }

    if (status === 429 || status === 403) {
      const retryAfter = Number(headers['retry-after']);
      const remaining = headers['x-ratelimit-remaining'];
      const reset = Number(headers['x-ratelimit-reset']);
      const secondary = /secondary rate limit|abuse/i.test(message);
      const primary = String(remaining) === '0' || /rate limit exceeded/i.test(message);
      const hasRetryAfter = headers['retry-after'] !== undefined && Number.isFinite(retryAfter);
      if (status === 429 || hasRetryAfter || secondary || primary) {
        let waitMs = DEFAULT_RETRY_AFTER_MS;
        if (hasRetryAfter) waitMs = Math.max(0, retryAfter * 1000);
        else if (String(remaining) === '0' && Number.isFinite(reset)) {
          waitMs = Math.max(0, reset * 1000 - this.clock.now()) + 1_000;
        }
        bucket.pauseUntil(this.clock.now() + waitMs);
        this.logger.warn(
          { request: where, status, retryAfterMs: waitMs, bucket: bucket.name },
          'GitHub rate limit hit; pausing this kind of call',
        );
        return new RateLimitedError(
          `${where}: rate limited (${status} ${message}); retry after ${Math.ceil(waitMs / 1000)} s`,
          status,
          waitMs,
          { cause },
        );
      }
    }
    if (status === 401) {
      return new GitHubAuthError(`${where}: ${status} ${message}`, status, { cause });
    }
    return new GitHubError(`${where}: ${status} ${message}`, status, { cause });
  }

  private transportError(err: unknown, where: string): GitHubError {
    const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    const message = this.redactor.string(text).slice(0, 300);
    // Errors of the auth strategy (a bad private key) come without a response.
    if (/key|jwt|sign|pem|asn1|decoder/i.test(text)) {
      return new GitHubAuthError(`${where}: GitHub App authentication failed: ${message}`);
    }
    return new GitHubError(`${where}: ${message}`);
  }
}
