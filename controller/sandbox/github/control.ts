// The simulator's control API: how tests and the sandbox shape the simulated world (orgs, repos,
// installations, workflow runs), act on it (cancel, re-run, approve), inspect it and inject faults.
// The same typed interface is served in-process and over HTTP (POST /_sim/<method> with one JSON
// object argument), so a separately running simulator can be driven with `connectGitHubSimulator`.

import type { AppIdentity, TokenStore } from './auth.ts';
import { SimInvalidRequestError, SimNotFoundError, SimRemoteError } from './errors.ts';
import type { RateLimiter, RateLimitOptions } from './ratelimit.ts';
import type { RestFaults } from './rest.ts';
import { type Reply, type RequestContext, Router } from './router.ts';
import {
  scopeKey,
  type JobSpec,
  type RunnerScope,
  type SimJob,
  type SimRunner,
  type SimState,
  type StateTimings,
} from './state.ts';
import type {
  DeliveryRecord,
  WebhookDispatcher,
  WebhookFaults,
  WebhookSinkSpec,
} from './webhooks.ts';

export type SimFaults = WebhookFaults & RestFaults;

export interface JobView {
  id: number;
  runId: number;
  runAttempt: number;
  repo: string;
  name: string;
  labels: string[];
  status: SimJob['status'];
  conclusion: SimJob['conclusion'];
  runnerId: number | null;
  runnerName: string | null;
  environment: string | null;
  createdAtMs: number;
  startedAtMs: number | null;
  completedAtMs: number | null;
}

export interface RunnerView {
  id: number;
  name: string;
  /** org:NAME, repo:OWNER/NAME or enterprise:NAME (lower case). */
  scope: string;
  labels: string[];
  status: 'online' | 'offline';
  busy: boolean;
  jobId: number | null;
  os: string;
  version: string | null;
}

export interface RunView {
  runId: number;
  repo: string;
  runAttempt: number;
  status: string;
  conclusion: string | null;
  jobIds: number[];
}

export interface AppCredentials {
  url: string;
  appId: number;
  clientId: string;
  /** Secret: never log it. */
  privateKeyPem: string;
  /** Secret: never log it. */
  webhookSecret: string;
}

export interface GitHubSimControl {
  app(args?: Record<string, never>): Promise<AppCredentials>;
  createOrg(args: { login: string; enterprise?: string }): Promise<{ login: string; id: number }>;
  createRunnerGroup(args: {
    org: string;
    name: string;
    allowsPublicRepositories?: boolean;
  }): Promise<{ id: number; name: string }>;
  createRepo(args: {
    owner: string;
    name: string;
    private?: boolean;
    /** public, private or internal; default private (or public when `private` is false). */
    visibility?: 'public' | 'private' | 'internal';
  }): Promise<{ fullName: string; id: number }>;
  createInstallation(args: {
    account: string;
    permissions?: Record<string, 'read' | 'write'>;
  }): Promise<{ id: number; account: string }>;
  /** A personal token (ghp_...) with scopes, e.g. manage_runners:enterprise for enterprise endpoints. */
  createPersonalToken(args: { scopes: string[] }): Promise<{ token: string }>;
  createWorkflowRun(args: {
    repo: string;
    workflowName?: string;
    headBranch?: string;
    event?: string;
    jobs: JobSpec[];
  }): Promise<RunView>;
  cancelJob(args: { jobId: number }): Promise<JobView>;
  cancelRun(args: { runId: number }): Promise<RunView>;
  rerunRun(args: { runId: number }): Promise<RunView>;
  approveJob(args: { jobId: number }): Promise<JobView>;
  getJob(args: { jobId: number }): Promise<JobView>;
  getRun(args: { runId: number }): Promise<RunView>;
  listJobs(args?: { repo?: string; status?: SimJob['status'] }): Promise<JobView[]>;
  listRunners(args?: { scope?: RunnerScope }): Promise<RunnerView[]>;
  getFaults(args?: Record<string, never>): Promise<SimFaults>;
  setFaults(args: Partial<SimFaults>): Promise<SimFaults>;
  setRateLimits(args: Partial<RateLimitOptions>): Promise<RateLimitOptions>;
  /** Starts every identity's primary and secondary windows afresh (after bulk seeding). */
  resetRateLimits(args?: Record<string, never>): Promise<{ ok: true }>;
  setTimings(args: Partial<StateTimings>): Promise<StateTimings>;
  addWebhookSink(args: WebhookSinkSpec): Promise<{ id: string }>;
  removeWebhookSink(args: { id: string }): Promise<{ removed: boolean }>;
  deliveries(args?: { jobId?: number }): Promise<DeliveryRecord[]>;
  /** Resolves when every queued webhook delivery has been attempted. */
  flushWebhooks(args?: Record<string, never>): Promise<{ ok: true }>;
}

export const CONTROL_METHODS: (keyof GitHubSimControl)[] = [
  'app',
  'createOrg',
  'createRunnerGroup',
  'createRepo',
  'createInstallation',
  'createPersonalToken',
  'createWorkflowRun',
  'cancelJob',
  'cancelRun',
  'rerunRun',
  'approveJob',
  'getJob',
  'getRun',
  'listJobs',
  'listRunners',
  'getFaults',
  'setFaults',
  'setRateLimits',
  'resetRateLimits',
  'setTimings',
  'addWebhookSink',
  'removeWebhookSink',
  'deliveries',
  'flushWebhooks',
];

export function jobView(job: SimJob): JobView {
  return {
    id: job.id,
    runId: job.runId,
    runAttempt: job.runAttempt,
    repo: job.repo,
    name: job.name,
    labels: [...job.labels],
    status: job.status,
    conclusion: job.conclusion,
    runnerId: job.runnerId,
    runnerName: job.runnerName,
    environment: job.environment,
    createdAtMs: job.createdAtMs,
    startedAtMs: job.startedAtMs,
    completedAtMs: job.completedAtMs,
  };
}

export interface ControlDeps {
  url: () => string;
  state: SimState;
  app: AppIdentity;
  webhookSecret: string;
  tokens: TokenStore;
  limiter: RateLimiter;
  webhooks: WebhookDispatcher;
  restFaults: RestFaults;
}

export function createControl(deps: ControlDeps): GitHubSimControl {
  const { state, webhooks } = deps;
  const runView = (runId: number): RunView => {
    const run = state.run(runId);
    const s = state.runStatus(run);
    return {
      runId: run.id,
      repo: run.repo,
      runAttempt: run.runAttempt,
      status: s.status,
      conclusion: s.conclusion,
      jobIds: state.jobsOfRun(run.id, 'latest').map((j) => j.id),
    };
  };
  const runnerView = (r: SimRunner): RunnerView => ({
    id: r.id,
    name: r.name,
    scope: r.scopeKey,
    labels: r.labels.map((l) => l.name),
    status: state.isOnline(r) ? 'online' : 'offline',
    busy: state.isBusy(r),
    jobId: r.jobId,
    os: r.os,
    version: r.version,
  });
  const faults = (): SimFaults => ({ ...webhooks.faults, ...deps.restFaults });

  return {
    async app() {
      return {
        url: deps.url(),
        appId: deps.app.appId,
        clientId: deps.app.clientId,
        privateKeyPem: deps.app.privateKeyPem,
        webhookSecret: deps.webhookSecret,
      };
    },
    async createOrg({ login, enterprise }) {
      const org = state.createOrg(login, enterprise);
      return { login: org.login, id: org.id };
    },
    async createRunnerGroup({ org, name, allowsPublicRepositories }) {
      const g = state.createRunnerGroup(org, name, {
        allowsPublicRepositories: allowsPublicRepositories === true,
      });
      return { id: g.id, name: g.name };
    },
    async createRepo({ owner, name, private: isPrivate, visibility }) {
      const repo = state.createRepo(owner, name, {
        ...(isPrivate === undefined ? {} : { private: isPrivate }),
        ...(visibility === undefined ? {} : { visibility }),
      });
      return { fullName: repo.fullName, id: repo.id };
    },
    async createInstallation({ account, permissions }) {
      const i = state.createInstallation(account, permissions);
      return { id: i.id, account: i.account };
    },
    async createPersonalToken({ scopes }) {
      if (!Array.isArray(scopes))
        throw new SimInvalidRequestError('scopes must be an array of strings');
      return { token: deps.tokens.issuePersonalToken(scopes) };
    },
    async createWorkflowRun(spec) {
      const { run } = state.createWorkflowRun(spec);
      return runView(run.id);
    },
    async cancelJob({ jobId }) {
      return jobView(state.cancelJob(jobId));
    },
    async cancelRun({ runId }) {
      state.cancelRun(runId);
      return runView(runId);
    },
    async rerunRun({ runId }) {
      state.rerunRun(runId);
      return runView(runId);
    },
    async approveJob({ jobId }) {
      return jobView(state.approveJob(jobId));
    },
    async getJob({ jobId }) {
      state.tick();
      return jobView(state.job(jobId));
    },
    async getRun({ runId }) {
      state.tick();
      return runView(runId);
    },
    async listJobs(args = {}) {
      state.tick();
      return [...state.jobs.values()]
        .filter((j) => !args.repo || j.repo.toLowerCase() === args.repo.toLowerCase())
        .filter((j) => !args.status || j.status === args.status)
        .sort((a, b) => a.id - b.id)
        .map(jobView);
    },
    async listRunners(args = {}) {
      state.tick();
      const key = args.scope ? scopeKey(args.scope) : undefined;
      return [...state.runners.values()]
        .filter((r) => !key || r.scopeKey === key)
        .sort((a, b) => a.id - b.id)
        .map(runnerView);
    },
    async getFaults() {
      return faults();
    },
    async setFaults(patch) {
      for (const [k, v] of Object.entries(patch)) {
        if (typeof v !== 'number' || !(v >= 0)) {
          throw new SimInvalidRequestError(
            `fault ${k} must be a number >= 0, got ${JSON.stringify(v)}`,
          );
        }
        if (k.endsWith('Rate') && v > 1)
          throw new SimInvalidRequestError(`fault ${k} is a rate in 0..1, got ${v}`);
        if (k in deps.restFaults) (deps.restFaults as unknown as Record<string, number>)[k] = v;
        else if (k in webhooks.faults)
          (webhooks.faults as unknown as Record<string, number>)[k] = v;
        else throw new SimInvalidRequestError(`unknown fault ${JSON.stringify(k)}`);
      }
      return faults();
    },
    async setRateLimits(patch) {
      deps.limiter.options = { ...deps.limiter.options, ...patch };
      return deps.limiter.options;
    },
    async resetRateLimits() {
      deps.limiter.reset();
      return { ok: true };
    },
    async setTimings(patch) {
      state.timings = { ...state.timings, ...patch };
      return state.timings;
    },
    async addWebhookSink(spec) {
      return { id: webhooks.addSink(spec).id };
    },
    async removeWebhookSink({ id }) {
      return { removed: webhooks.removeSink(id) };
    },
    async deliveries(args = {}) {
      return webhooks.deliveries.filter((d) => args.jobId === undefined || d.jobId === args.jobId);
    },
    async flushWebhooks() {
      await webhooks.flush();
      return { ok: true };
    },
  };
}

/** Serves the control API under /_sim/: POST /_sim/<method> with a JSON object body. */
export function buildControlRouter(control: GitHubSimControl): Router {
  const router = new Router();
  const call = async (ctx: RequestContext): Promise<Reply> => {
    const name = ctx.params.method as keyof GitHubSimControl;
    if (!CONTROL_METHODS.includes(name)) {
      return { status: 404, body: { message: `unknown control method ${JSON.stringify(name)}` } };
    }
    const args = ctx.body ?? {};
    if (typeof args !== 'object' || Array.isArray(args)) {
      return { status: 400, body: { message: 'the body must be one JSON object' } };
    }
    try {
      const fn = control[name] as (a: unknown) => Promise<unknown>;
      return { status: 200, body: await fn(args) };
    } catch (error) {
      const status =
        error instanceof SimNotFoundError
          ? 404
          : error instanceof SimInvalidRequestError || error instanceof TypeError
            ? 400
            : 500;
      return { status, body: { message: (error as Error).message, error: (error as Error).name } };
    }
  };
  router.add('POST', '/_sim/{method}', call);
  router.add('GET', '/_sim/{method}', call);
  return router;
}

/** A control client for a simulator running elsewhere (e.g. `runnerctl sandbox github`). */
export function connectGitHubSimulator(url: string): GitHubSimControl {
  const base = url.replace(/\/$/, '');
  const client = {} as Record<string, (args?: unknown) => Promise<unknown>>;
  for (const method of CONTROL_METHODS) {
    client[method] = async (args?: unknown) => {
      const response = await fetch(`${base}/_sim/${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(args ?? {}),
      });
      const body = (await response.json().catch(() => ({}))) as { message?: string };
      if (!response.ok) {
        throw new SimRemoteError(
          `GitHub simulator control call ${method} failed with ${response.status}: ${body.message ?? 'no message'}`,
          response.status,
        );
      }
      return body;
    };
  }
  return client as unknown as GitHubSimControl;
}
