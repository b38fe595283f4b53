// The REST API the controller uses, with GitHub's authentication, permissions, rate-limit
// headers, pagination (Link), ETags and 304 answers. Each route returns a body in GitHub's shape.

import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from '../../util/clock.ts';
import { type AppIdentity, isJwtShaped, type TokenStore, verifyAppJwt } from './auth.ts';
import { credentialProof, encodeJitConfig, newClientId, randomRsaParams } from './jitconfig.ts';
import { SimInvalidRequestError } from './errors.ts';
import type { RateLimiter } from './ratelimit.ts';
import { type Reply, type RequestContext, Router } from './router.ts';
import {
  errorBody,
  installationJson,
  jobJson,
  runnerGroupJson,
  runnerJson,
  webhookRepository,
  fullRepository,
  workflowRunJson,
} from './shapes.ts';
import type { RunnerScope, SimInstallation, SimState } from './state.ts';
import type { AppDelivery, WebhookDispatcher } from './webhooks.ts';

export type Caller =
  | { kind: 'app'; appId: number }
  | { kind: 'installation'; installation: SimInstallation }
  | { kind: 'personal'; scopes: string[]; tokenHash: string };

export interface RestFaults {
  /** The next N generate-jitconfig POSTs create the runner but answer 502 (lost response). */
  jitLostResponses: number;
  /** REST reports a runner busy only this long (clock ms) after it took a job. GitHub: 25-60 s. */
  busyLagMs: number;
}

export interface RestDeps {
  clock: Clock;
  state: SimState;
  /** The first App: the one webhooks and control answers speak for. */
  app: AppIdentity;
  /** Every App of the simulator (the first is `app`); each has its own installations. */
  apps: AppIdentity[];
  tokens: TokenStore;
  limiter: RateLimiter;
  faults: RestFaults;
  apiUrl: () => string;
  webhooks: WebhookDispatcher;
}

type Auth = 'jwt' | 'token' | 'any';

interface RestRoute {
  auth: Auth;
  /** Counted in the primary limit (GET /rate_limit is not). */
  counted?: boolean;
  jit?: boolean;
  handle: (ctx: RequestContext, caller: Caller) => Reply | Promise<Reply>;
}

const json = (status: number, body: unknown, headers?: Record<string, string>): Reply =>
  headers ? { status, body, headers } : { status, body };
const fail = (status: number, message: string, extra?: Record<string, unknown>): Reply =>
  json(status, errorBody(status, message, extra));
const notFound = (): Reply => fail(404, 'Not Found');
const forbiddenIntegration = (): Reply => fail(403, 'Resource not accessible by integration');

export function buildRestRouter(
  deps: RestDeps,
): Router<Caller> & { specs: Map<string, RestRoute> } {
  const { state, app, tokens, apiUrl } = deps;
  const router = new Router<Caller>() as Router<Caller> & { specs: Map<string, RestRoute> };
  router.specs = new Map();
  const add = (method: string, template: string, route: RestRoute) => {
    router.specs.set(`${method} ${template}`, route);
    router.add(method, template, (ctx, caller) => route.handle(ctx, caller));
  };

  const appOf = (caller: Caller) =>
    deps.apps.find((a) => caller.kind === 'app' && a.appId === caller.appId) ?? app;
  const inst = (i: SimInstallation) =>
    installationJson(apiUrl(), appById(deps, i.appId).slug, i.appId, i);
  /** An App's JWT sees only its own installations. */
  const own = (caller: Caller, i: SimInstallation | undefined) =>
    i && caller.kind === 'app' && i.appId === caller.appId ? i : undefined;

  // ---- App endpoints (JWT) ---------------------------------------------------------------
  add('GET', '/app', {
    auth: 'jwt',
    handle: (_ctx, caller) => {
      const app = appOf(caller);
      return json(200, {
        id: app.appId,
        slug: app.slug,
        client_id: app.clientId,
        node_id: Buffer.from(`03:App${app.appId}`).toString('base64'),
        name: 'runnerctl sandbox',
        description: 'The GitHub App of the runnerctl local cloud',
        external_url: 'https://github.com',
        html_url: `https://github.com/apps/${app.slug}`,
        owner: null,
        created_at: new Date(0).toISOString(),
        updated_at: new Date(0).toISOString(),
        permissions: {
          actions: 'write',
          administration: 'write',
          organization_self_hosted_runners: 'write',
        },
        events: ['workflow_job'],
      });
    },
  });
  add('GET', '/app/installations', {
    auth: 'jwt',
    handle: (ctx, caller) =>
      paginate(
        ctx,
        [...state.installations.values()].filter((i) => own(caller, i)).map(inst),
        apiUrl(),
        (items) => items,
      ),
  });
  add('GET', '/app/installations/{installation_id}', {
    auth: 'jwt',
    handle: (ctx, caller) => {
      const i = own(caller, state.installations.get(Number(ctx.params.installation_id)));
      return i ? json(200, inst(i)) : notFound();
    },
  });
  add('POST', '/app/installations/{installation_id}/access_tokens', {
    auth: 'jwt',
    handle: (ctx, caller) => {
      const i = own(caller, state.installations.get(Number(ctx.params.installation_id)));
      if (!i) return notFound();
      const { token, expiresAtMs } = tokens.issueInstallationToken(i.id);
      return json(201, {
        token,
        expires_at: new Date(expiresAtMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        permissions: i.permissions,
        repository_selection: 'all',
      });
    },
  });
  const installationOf = (caller: Caller, account: string | undefined): Reply => {
    const appId = caller.kind === 'app' ? caller.appId : undefined;
    const i = account && appId !== undefined ? state.installationFor(account, appId) : undefined;
    return i ? json(200, inst(i)) : notFound();
  };
  add('GET', '/orgs/{org}/installation', {
    auth: 'jwt',
    handle: (ctx, caller) =>
      installationOf(caller, state.orgs.get((ctx.params.org ?? '').toLowerCase())?.login),
  });
  add('GET', '/users/{username}/installation', {
    auth: 'jwt',
    handle: (ctx, caller) => installationOf(caller, ctx.params.username),
  });
  add('GET', '/repos/{owner}/{repo}/installation', {
    auth: 'jwt',
    handle: (ctx, caller) => {
      const repo = state.repo(`${ctx.params.owner}/${ctx.params.repo}`);
      return repo ? installationOf(caller, repo.owner) : notFound();
    },
  });
  // ---- the App's webhook deliveries (last 3 days) and redelivery -----------------------------
  const deliveryJson = (d: AppDelivery) => ({
    id: d.id,
    guid: d.guid,
    delivered_at: new Date(d.deliveredAtMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    redelivery: d.redelivery,
    duration: d.durationMs / 1000,
    status: d.status,
    status_code: d.statusCode,
    event: 'workflow_job',
    action: d.action,
    installation_id: d.installationId,
    repository_id: d.repositoryId,
    throttled_at: null,
  });
  add('GET', '/app/hook/deliveries', {
    auth: 'jwt',
    handle: (ctx) => {
      const perPage = Math.min(100, Math.max(1, Number(ctx.query.get('per_page') ?? 30) || 30));
      const cursor = Number(ctx.query.get('cursor') ?? Infinity) || Infinity;
      const status = ctx.query.get('status');
      const all = deps.webhooks
        .listAppDeliveries()
        .filter((d) => d.id < cursor)
        .filter((d) => {
          // Deliveries that never connected (status code 0) count as failures.
          if (status === 'success') return d.statusCode >= 200 && d.statusCode < 400;
          if (status === 'failure') return d.statusCode === 0 || d.statusCode >= 400;
          return true;
        });
      const page = all.slice(0, perPage);
      const last = page[page.length - 1];
      if (all.length <= perPage || !last) return json(200, page.map(deliveryJson));
      const q = new URLSearchParams(ctx.query);
      q.set('per_page', String(perPage));
      q.set('cursor', String(last.id));
      return json(200, page.map(deliveryJson), {
        link: `<${apiUrl()}${ctx.path}?${q.toString()}>; rel="next"`,
      });
    },
  });
  add('POST', '/app/hook/deliveries/{delivery_id}/attempts', {
    auth: 'jwt',
    handle: (ctx) =>
      deps.webhooks.redeliver(Number(ctx.params.delivery_id)) ? json(202, {}) : notFound(),
  });
  add('DELETE', '/installation/token', {
    auth: 'token',
    handle: (ctx) => {
      const token = bearer(ctx);
      if (token) tokens.revoke(token);
      return { status: 204 };
    },
  });
  // Every repository of the installation's account (the simulator's installations are
  // `repository_selection: all`), oldest first, paginated like GitHub's other lists.
  add('GET', '/installation/repositories', {
    auth: 'token',
    handle: (ctx, caller) => {
      if (caller.kind !== 'installation') {
        return fail(
          403,
          'You must authenticate with an installation access token in order to list repositories for an installation.',
        );
      }
      const account = caller.installation.account.toLowerCase();
      const repositories = [...state.repos.values()]
        .filter((r) => r.owner.toLowerCase() === account)
        .sort((a, b) => a.id - b.id)
        .map((r) => webhookRepository(apiUrl(), r));
      return paginate(ctx, repositories, apiUrl(), (items, total) => ({
        total_count: total,
        repository_selection: 'all',
        repositories: items,
      }));
    },
  });
  add('GET', '/rate_limit', {
    auth: 'any',
    counted: false,
    handle: (_ctx, caller) => {
      const s = deps.limiter.peek(identityOf(caller));
      const core = { limit: s.limit, remaining: s.remaining, reset: s.resetSeconds, used: s.used };
      return json(200, { resources: { core }, rate: core });
    },
  });

  // ---- self-hosted runners, at org, repo and enterprise scope -----------------------------
  const scopes: { prefix: string; scope: (p: Record<string, string>) => RunnerScope }[] = [
    { prefix: '/orgs/{org}', scope: (p) => ({ kind: 'org', org: p.org ?? '' }) },
    {
      prefix: '/repos/{owner}/{repo}',
      scope: (p) => ({ kind: 'repo', owner: p.owner ?? '', repo: p.repo ?? '' }),
    },
    {
      prefix: '/enterprises/{enterprise}',
      scope: (p) => ({ kind: 'enterprise', enterprise: p.enterprise ?? '' }),
    },
  ];

  /** GitHub's permission model for runner endpoints; undefined when allowed. */
  const authorize = (caller: Caller, scope: RunnerScope, write: boolean): Reply | undefined => {
    if (scope.kind === 'enterprise') {
      if (caller.kind !== 'personal') return forbiddenIntegration();
      return caller.scopes.includes('manage_runners:enterprise') ||
        caller.scopes.includes('admin:enterprise')
        ? undefined
        : fail(403, 'Must have admin rights to Repository.');
    }
    if (caller.kind !== 'installation') return forbiddenIntegration();
    const account = scope.kind === 'org' ? scope.org : scope.owner;
    if (caller.installation.account.toLowerCase() !== account.toLowerCase()) return notFound();
    const permission = scope.kind === 'org' ? 'organization_self_hosted_runners' : 'administration';
    const level = caller.installation.permissions[permission];
    if (!level || (write && level !== 'write')) return forbiddenIntegration();
    return undefined;
  };

  for (const { prefix, scope: scopeOf } of scopes) {
    add('POST', `${prefix}/actions/runners/generate-jitconfig`, {
      auth: 'token',
      jit: true,
      handle: (ctx, caller) => {
        const scope = scopeOf(ctx.params);
        const denied = authorize(caller, scope, true);
        if (denied) return denied;
        if (typeof ctx.body !== 'object' || ctx.body === null || Array.isArray(ctx.body)) {
          return fail(400, 'Problems parsing JSON');
        }
        const rsa = randomRsaParams();
        const result = state.generateJitRunner(
          scope,
          ctx.body as Record<string, unknown>,
          credentialProof(rsa),
        );
        if (!result.ok) {
          return result.errors
            ? fail(result.status, result.message, { errors: result.errors })
            : fail(result.status, result.message);
        }
        const runner = result.runner;
        const base = apiUrl();
        const encoded = encodeJitConfig({
          runner: {
            agentId: runner.id,
            agentName: runner.name,
            poolId: runner.runnerGroupId,
            poolName: 'Default',
            disableUpdate: true,
            ephemeral: true,
            // Shaped like the real pipelines URL, whose path carries a tenant token.
            serverUrl: `${base}/_runner/${randomBytes(38).toString('base64url')}/`,
            gitHubUrl: githubUrlOf(scope),
            workFolder: runner.workFolder,
            useV2Flow: true,
            serverUrlV2: `${base}/_runner/`,
          },
          credentials: {
            scheme: 'OAuth',
            data: {
              clientId: runner.clientId,
              authorizationUrl: `${base}/_runner/_apis/oauth2/token/${newClientId()}`,
              requireFipsCryptography: 'False',
            },
          },
          rsaParams: rsa,
        });
        if (deps.faults.jitLostResponses > 0) {
          deps.faults.jitLostResponses -= 1;
          return fail(502, 'Server Error');
        }
        return json(201, { runner: runnerJson(state, runner), encoded_jit_config: encoded });
      },
    });
    add('GET', `${prefix}/actions/runners`, {
      auth: 'token',
      handle: (ctx, caller) => {
        const scope = scopeOf(ctx.params);
        const denied = authorize(caller, scope, false);
        if (denied) return denied;
        if (!state.scopeExists(scope)) return notFound();
        const name = ctx.query.get('name');
        const runners = state
          .runnersOf(scope)
          .filter((r) => name === null || r.name === name)
          .map((r) => runnerJson(state, r, deps.faults.busyLagMs));
        return paginate(ctx, runners, apiUrl(), (items, total) => ({
          total_count: total,
          runners: items,
        }));
      },
    });
    add('GET', `${prefix}/actions/runners/{runner_id}`, {
      auth: 'token',
      handle: (ctx, caller) => {
        const scope = scopeOf(ctx.params);
        const denied = authorize(caller, scope, false);
        if (denied) return denied;
        const r = state.runners.get(Number(ctx.params.runner_id));
        if (!r || !state.runnersOf(scope).includes(r)) return notFound();
        return json(200, runnerJson(state, r, deps.faults.busyLagMs));
      },
    });
    add('DELETE', `${prefix}/actions/runners/{runner_id}`, {
      auth: 'token',
      handle: (ctx, caller) => {
        const scope = scopeOf(ctx.params);
        const denied = authorize(caller, scope, true);
        if (denied) return denied;
        const result = state.deleteRunner(scope, Number(ctx.params.runner_id));
        return result.ok ? { status: 204 } : fail(result.status, result.message);
      },
    });
  }

  add('GET', '/orgs/{org}/actions/runner-groups', {
    auth: 'token',
    handle: (ctx, caller) => {
      const scope: RunnerScope = { kind: 'org', org: ctx.params.org ?? '' };
      const denied = authorize(caller, scope, false);
      if (denied) return denied;
      if (!state.scopeExists(scope)) return notFound();
      const org = state.orgs.get(scope.org.toLowerCase())?.login ?? scope.org;
      const groups = state.runnerGroupsOf(scope).map((g) => runnerGroupJson(apiUrl(), org, g));
      return paginate(ctx, groups, apiUrl(), (items, total) => ({
        total_count: total,
        runner_groups: items,
      }));
    },
  });
  add('GET', '/orgs/{org}/actions/runner-groups/{runner_group_id}', {
    auth: 'token',
    handle: (ctx, caller) => {
      const scope: RunnerScope = { kind: 'org', org: ctx.params.org ?? '' };
      const denied = authorize(caller, scope, false);
      if (denied) return denied;
      const g = state
        .runnerGroupsOf(scope)
        .find((x) => x.id === Number(ctx.params.runner_group_id));
      return g ? json(200, runnerGroupJson(apiUrl(), scope.org, g)) : notFound();
    },
  });

  add('GET', '/enterprises/{enterprise}/actions/runner-groups', {
    auth: 'token',
    handle: (ctx, caller) => {
      const scope: RunnerScope = { kind: 'enterprise', enterprise: ctx.params.enterprise ?? '' };
      const denied = authorize(caller, scope, false);
      if (denied) return denied;
      if (!state.scopeExists(scope)) return notFound();
      const groups = state.runnerGroupsOf(scope).map((g) => ({
        id: g.id,
        name: g.name,
        visibility: 'all',
        default: g.isDefault,
        runners_url: `${apiUrl()}/enterprises/${scope.enterprise}/actions/runner-groups/${g.id}/runners`,
        allows_public_repositories: false,
        restricted_to_workflows: false,
        selected_workflows: [],
        workflow_restrictions_read_only: false,
      }));
      return paginate(ctx, groups, apiUrl(), (items, total) => ({
        total_count: total,
        runner_groups: items,
      }));
    },
  });

  // ---- workflow runs and jobs (repo "Actions: read") ---------------------------------------
  const authorizeActions = (caller: Caller, owner: string, repoName: string): Reply | undefined => {
    if (caller.kind !== 'installation') return forbiddenIntegration();
    const repo = state.repo(`${owner}/${repoName}`);
    if (!repo || caller.installation.account.toLowerCase() !== repo.owner.toLowerCase()) {
      return notFound();
    }
    return caller.installation.permissions.actions ? undefined : forbiddenIntegration();
  };
  const RUN_STATUSES = new Set([
    'queued',
    'in_progress',
    'completed',
    'waiting',
    'requested',
    'pending',
  ]);
  const RUN_CONCLUSIONS = new Set([
    'action_required',
    'cancelled',
    'failure',
    'neutral',
    'skipped',
    'stale',
    'success',
    'timed_out',
  ]);

  // A repository the installation can access (its visibility tells public repositories apart).
  add('GET', '/repos/{owner}/{repo}', {
    auth: 'token',
    handle: (ctx, caller) => {
      if (caller.kind !== 'installation') return forbiddenIntegration();
      const repo = state.repo(`${ctx.params.owner}/${ctx.params.repo}`);
      if (!repo || caller.installation.account.toLowerCase() !== repo.owner.toLowerCase()) {
        return notFound();
      }
      return json(200, fullRepository(apiUrl(), repo));
    },
  });
  add('GET', '/repos/{owner}/{repo}/actions/runs', {
    auth: 'token',
    handle: (ctx, caller) => {
      const { owner = '', repo = '' } = ctx.params;
      const denied = authorizeActions(caller, owner, repo);
      if (denied) return denied;
      const status = ctx.query.get('status');
      if (status !== null && !RUN_STATUSES.has(status) && !RUN_CONCLUSIONS.has(status)) {
        return fail(422, 'Validation Failed', {
          errors: [{ resource: 'WorkflowRun', field: 'status', code: 'invalid' }],
        });
      }
      const fullName = state.repo(`${owner}/${repo}`)?.fullName;
      const runs = [...state.runs.values()]
        .filter((r) => r.repo === fullName)
        .filter((r) => {
          if (status === null) return true;
          const s = state.runStatus(r);
          return RUN_STATUSES.has(status) ? s.status === status : s.conclusion === status;
        })
        .sort((a, b) => b.id - a.id)
        .map((r) => workflowRunJson(apiUrl(), state, r));
      return paginate(ctx, runs, apiUrl(), (items, total) => ({
        total_count: total,
        workflow_runs: items,
      }));
    },
  });
  add('GET', '/repos/{owner}/{repo}/actions/runs/{run_id}', {
    auth: 'token',
    handle: (ctx, caller) => {
      const { owner = '', repo = '' } = ctx.params;
      const denied = authorizeActions(caller, owner, repo);
      if (denied) return denied;
      const run = state.runs.get(Number(ctx.params.run_id));
      if (!run || run.repo !== state.repo(`${owner}/${repo}`)?.fullName) return notFound();
      return json(200, workflowRunJson(apiUrl(), state, run));
    },
  });
  add('GET', '/repos/{owner}/{repo}/actions/runs/{run_id}/jobs', {
    auth: 'token',
    handle: (ctx, caller) => {
      const { owner = '', repo = '' } = ctx.params;
      const denied = authorizeActions(caller, owner, repo);
      if (denied) return denied;
      const run = state.runs.get(Number(ctx.params.run_id));
      if (!run || run.repo !== state.repo(`${owner}/${repo}`)?.fullName) return notFound();
      const filter = ctx.query.get('filter') ?? 'latest';
      if (filter !== 'latest' && filter !== 'all') {
        return fail(422, 'Validation Failed', {
          errors: [{ resource: 'WorkflowJob', field: 'filter', code: 'invalid' }],
        });
      }
      const jobs = state.jobsOfRun(run.id, filter).map((j) => jobJson(apiUrl(), j));
      return paginate(ctx, jobs, apiUrl(), (items, total) => ({ total_count: total, jobs: items }));
    },
  });
  add('GET', '/repos/{owner}/{repo}/actions/jobs/{job_id}', {
    auth: 'token',
    handle: (ctx, caller) => {
      const { owner = '', repo = '' } = ctx.params;
      const denied = authorizeActions(caller, owner, repo);
      if (denied) return denied;
      const job = state.jobs.get(Number(ctx.params.job_id));
      if (!job || job.repo !== state.repo(`${owner}/${repo}`)?.fullName) return notFound();
      return json(200, jobJson(apiUrl(), job));
    },
  });

  // Re-run one job: repo "Actions: write". The optional body takes only two booleans.
  add('POST', '/repos/{owner}/{repo}/actions/jobs/{job_id}/rerun', {
    auth: 'token',
    handle: (ctx, caller) => {
      const { owner = '', repo = '' } = ctx.params;
      const denied = authorizeActions(caller, owner, repo);
      if (denied) return denied;
      if (caller.kind !== 'installation' || caller.installation.permissions.actions !== 'write') {
        return forbiddenIntegration();
      }
      const job = state.jobs.get(Number(ctx.params.job_id));
      if (!job || job.repo !== state.repo(`${owner}/${repo}`)?.fullName) return notFound();
      const body = ctx.body;
      if (body !== undefined && body !== null) {
        const fields = typeof body === 'object' && !Array.isArray(body) ? body : undefined;
        const bad =
          !fields ||
          Object.entries(fields).some(
            ([k, v]) =>
              !['enable_debug_logging', 'enable_debugger'].includes(k) || typeof v !== 'boolean',
          );
        if (bad) {
          return fail(422, 'Invalid request.', {
            errors: [{ resource: 'WorkflowJob', field: 'body', code: 'invalid' }],
          });
        }
      }
      try {
        state.rerunJob(job.id);
      } catch (err) {
        if (err instanceof SimInvalidRequestError) return fail(403, err.message);
        throw err;
      }
      return json(201, {});
    },
  });

  return router;
}

function githubUrlOf(scope: RunnerScope): string {
  switch (scope.kind) {
    case 'org':
      return `https://github.com/${scope.org}`;
    case 'repo':
      return `https://github.com/${scope.owner}/${scope.repo}`;
    case 'enterprise':
      return `https://github.com/enterprises/${scope.enterprise}`;
  }
}

export function bearer(ctx: RequestContext): string | undefined {
  const header = ctx.headers.authorization;
  if (!header) return undefined;
  const m = /^(?:token|bearer)\s+(\S+)$/i.exec(header);
  return m?.[1];
}

export function identityOf(caller: Caller): string {
  switch (caller.kind) {
    case 'app':
      return `app:${caller.appId}`;
    case 'installation':
      return `installation:${caller.installation.id}`;
    case 'personal':
      return `personal:${caller.tokenHash}`;
  }
}

/** Pages a list like GitHub: per_page (default 30, max 100), page, and a Link header. */
export function paginate<T>(
  ctx: RequestContext,
  all: T[],
  api: string,
  wrap: (items: T[], total: number) => unknown,
): Reply {
  const perPage = Math.min(100, Math.max(1, Number(ctx.query.get('per_page') ?? 30) || 30));
  const page = Math.max(1, Number(ctx.query.get('page') ?? 1) || 1);
  const lastPage = Math.max(1, Math.ceil(all.length / perPage));
  const items = all.slice((page - 1) * perPage, page * perPage);
  const link = (p: number, rel: string) => {
    const q = new URLSearchParams(ctx.query);
    q.set('per_page', String(perPage));
    q.set('page', String(p));
    return `<${api}${ctx.path}?${q.toString()}>; rel="${rel}"`;
  };
  const links: string[] = [];
  if (page > 1) links.push(link(page - 1, 'prev'));
  if (page < lastPage) links.push(link(page + 1, 'next'));
  if (page < lastPage) links.push(link(lastPage, 'last'));
  if (page > 1) links.push(link(1, 'first'));
  return json(
    200,
    wrap(items, all.length),
    links.length > 0 ? { link: links.join(', ') } : undefined,
  );
}

function appById(deps: Pick<RestDeps, 'app' | 'apps'>, appId: number): AppIdentity {
  return deps.apps.find((a) => a.appId === appId) ?? deps.app;
}

/** Authenticates the caller of a REST route; answers GitHub's 401 bodies otherwise. */
export function authenticate(
  ctx: RequestContext,
  auth: Auth,
  deps: Pick<RestDeps, 'app' | 'apps' | 'tokens' | 'clock' | 'state'>,
): Caller | Reply {
  const token = bearer(ctx);
  if (!token) return fail(401, 'Requires authentication');
  if (isJwtShaped(token)) {
    const check = verifyAppJwt(token, jwtIssuer(token, deps.apps) ?? deps.app, deps.clock);
    if (!check.ok) return fail(401, check.message);
    if (auth === 'token') {
      return fail(403, 'Resource not accessible by integration');
    }
    return { kind: 'app', appId: check.appId };
  }
  const issued = deps.tokens.lookup(token);
  if (!issued) return fail(401, 'Bad credentials');
  if (auth === 'jwt') {
    return fail(401, 'A JSON web token could not be decoded');
  }
  if (issued.kind === 'installation') {
    const installation = deps.state.installations.get(issued.installationId ?? -1);
    if (!installation) return fail(401, 'Bad credentials');
    return { kind: 'installation', installation };
  }
  return {
    kind: 'personal',
    scopes: issued.scopes ?? [],
    tokenHash: createHash('sha256').update(token).digest('hex').slice(0, 16),
  };
}

export function etagOf(body: unknown): string {
  return `W/"${createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 40)}"`;
}

export function requestId(): string {
  return randomUUID().replace(/-/g, '').slice(0, 20).toUpperCase();
}

/** The App a JWT names in `iss` (its id or client ID), to verify the signature with its key. */
function jwtIssuer(token: string, apps: AppIdentity[]): AppIdentity | undefined {
  try {
    const payload = JSON.parse(
      Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'),
    ) as {
      iss?: unknown;
    };
    return apps.find(
      (a) =>
        payload.iss === a.appId || payload.iss === String(a.appId) || payload.iss === a.clientId,
    );
  } catch {
    return undefined;
  }
}
