// An in-process GitHub for unit tests, injected into Octokit as its fetch (no network).
import { generateKeyPairSync } from 'node:crypto';

export const TEST_PRIVATE_KEY = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();
export const INSTALLATION_TOKEN = 'ghs_' + 'T0k3n'.repeat(8);
export const ENTERPRISE_TOKEN = 'ghp_' + 'Ent3rpr1se'.repeat(4);

export interface SeenRequest {
  method: string;
  path: string;
  search: URLSearchParams;
  headers: Headers;
  body: unknown;
}

type Reply = { status: number; body?: unknown; headers?: Record<string, string> };

export class FakeGitHub {
  requests: SeenRequest[] = [];
  runners = new Map<
    number,
    { id: number; name: string; busy: boolean; status: string; labels: { name: string }[] }
  >();
  nextRunnerId = 1;
  installations = [{ id: 42, account: { login: 'Acme' } }];
  /** Jobs per run (repo acme/app); runs listed by status. */
  runs: { id: number; status: string; jobs: Record<string, unknown>[] }[] = [];
  /** Replies forced for the next requests matching METHOD path (consumed in order). */
  forced: { match: string; reply: Reply }[] = [];
  rateLimitRemaining = 4999;
  /** The installation token the fake accepts; revokeToken() replaces it. */
  token = INSTALLATION_TOKEN;
  tokensIssued = 0;

  revokeToken(): void {
    this.token = `ghs_${'R3v0k3d'.repeat(5)}${this.tokensIssued}`;
  }

  readonly fetch: typeof fetch = async (input, init) => {
    const url = new URL(
      typeof input === 'string' ? input : input instanceof URL ? input.href : input.url,
    );
    const method = (init?.method ?? 'GET').toUpperCase();
    const headers = new Headers(init?.headers as Record<string, string>);
    const body = init?.body ? JSON.parse(String(init.body)) : undefined;
    this.requests.push({ method, path: url.pathname, search: url.searchParams, headers, body });
    const key = `${method} ${url.pathname}`; // with the /api/v3 prefix of the test base URL
    const forcedIndex = this.forced.findIndex((f) => f.match === key);
    const reply =
      forcedIndex >= 0
        ? this.forced.splice(forcedIndex, 1)[0]!.reply
        : this.route(method, url, headers, body);
    const h = new Headers({
      'content-type': 'application/json; charset=utf-8',
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': String(this.rateLimitRemaining),
      'x-ratelimit-reset': '1900000000',
      'x-ratelimit-resource': 'core',
      ...reply.headers,
    });
    const noBody = reply.status === 204 || reply.status === 304;
    return new Response(noBody ? null : JSON.stringify(reply.body ?? {}), {
      status: reply.status,
      headers: h,
    });
  };

  private route(method: string, url: URL, headers: Headers, body: Record<string, unknown>): Reply {
    const p = url.pathname.replace(/^\/api\/v3/, '');
    let m: RegExpExecArray | null;
    if (method === 'POST' && (m = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(p))) {
      if (!headers.get('authorization')?.startsWith('bearer '))
        return { status: 401, body: { message: 'JWT' } };
      if (m[1] !== '42') return { status: 404, body: { message: 'Not Found' } };
      this.tokensIssued += 1;
      return {
        status: 201,
        body: {
          token: this.token,
          expires_at: new Date(Date.now() + 3600_000).toISOString(),
          permissions: {},
          repository_selection: 'all',
        },
      };
    }
    if (method === 'GET' && p === '/app/installations')
      return { status: 200, body: this.installations };
    const auth = headers.get('authorization') ?? '';
    if (p.startsWith('/enterprises/')) {
      if (!auth.includes(ENTERPRISE_TOKEN))
        return { status: 403, body: { message: 'Resource not accessible by integration' } };
    } else if (!auth.includes(this.token)) {
      return { status: 401, body: { message: 'Bad credentials' } };
    }
    const scope = '(?:/orgs/[^/]+|/repos/[^/]+/[^/]+|/enterprises/[^/]+)';
    if (method === 'POST' && new RegExp(`^${scope}/actions/runners/generate-jitconfig$`).test(p)) {
      const existing = [...this.runners.values()].find((r) => r.name === body.name);
      if (existing)
        return {
          status: 409,
          body: { message: 'Already exists - A runner with the name already exists.' },
        };
      const runner = {
        id: this.nextRunnerId++,
        name: String(body.name),
        busy: false,
        status: 'offline',
        labels: (body.labels as string[]).map((name) => ({ name })),
      };
      this.runners.set(runner.id, runner);
      return {
        status: 201,
        body: {
          runner: { ...runner, os: 'unknown', runner_group_id: body.runner_group_id },
          encoded_jit_config: 'ENCODED-JIT-' + 'x'.repeat(4096),
        },
      };
    }
    if (method === 'GET' && new RegExp(`^${scope}/actions/runners$`).test(p)) {
      const name = url.searchParams.get('name');
      const all = [...this.runners.values()].filter((r) => !name || r.name === name);
      const perPage = Number(url.searchParams.get('per_page') ?? 30);
      const page = Number(url.searchParams.get('page') ?? 1);
      return {
        status: 200,
        body: {
          total_count: all.length,
          runners: all
            .slice((page - 1) * perPage, page * perPage)
            .map((r) => ({ ...r, os: 'linux' })),
        },
      };
    }
    if ((m = new RegExp(`^${scope}/actions/runners/(\\d+)$`).exec(p))) {
      const runner = this.runners.get(Number(m[1]));
      if (!runner) return { status: 404, body: { message: 'Not Found' } };
      if (method === 'GET') return { status: 200, body: { ...runner, os: 'linux' } };
      if (method === 'DELETE') {
        if (runner.busy)
          return {
            status: 422,
            body: { message: `Bad request - Runner "${runner.name}" is still running a job"` },
          };
        this.runners.delete(runner.id);
        return { status: 204 };
      }
    }
    if (method === 'GET' && new RegExp(`^${scope}/actions/runner-groups$`).test(p)) {
      return {
        status: 200,
        body: {
          total_count: 2,
          runner_groups: [
            { id: 1, name: 'Default' },
            { id: 7, name: 'Fargate' },
          ],
        },
      };
    }
    if (method === 'GET' && p === '/repos/acme/app/actions/runs') {
      const runs = this.runs
        .filter((r) => r.status === url.searchParams.get('status'))
        .map((r) => ({ id: r.id, status: r.status }));
      return this.conditional(headers, { total_count: runs.length, workflow_runs: runs });
    }
    if (method === 'GET' && (m = /^\/repos\/acme\/app\/actions\/runs\/(\d+)\/jobs$/.exec(p))) {
      const run = this.runs.find((r) => r.id === Number(m![1]));
      if (!run) return { status: 404, body: { message: 'Not Found' } };
      return this.conditional(headers, { total_count: run.jobs.length, jobs: run.jobs });
    }
    if (method === 'GET' && (m = /^\/repos\/acme\/app\/actions\/jobs\/(\d+)$/.exec(p))) {
      const job = this.runs.flatMap((r) => r.jobs).find((j) => j.id === Number(m![1]));
      return job ? { status: 200, body: job } : { status: 404, body: { message: 'Not Found' } };
    }
    return { status: 404, body: { message: `fake: no route ${method} ${p}` } };
  }

  private conditional(headers: Headers, body: unknown): Reply {
    const etag = `"${Buffer.from(JSON.stringify(body)).toString('base64url').slice(-24)}"`;
    if (headers.get('if-none-match') === etag) return { status: 304, headers: { etag } };
    return { status: 200, body, headers: { etag } };
  }
}

export function job(id: number, runId: number, status: string, labels = ['self-hosted', 'linux']) {
  return {
    id,
    run_id: runId,
    run_attempt: 1,
    status,
    conclusion: null,
    labels,
    name: `job ${id}`,
    workflow_name: 'CI',
    html_url: `https://github.com/acme/app/actions/runs/${runId}/job/${id}`,
    runner_id: null,
    runner_name: null,
    created_at: '2026-11-23T18:00:00Z',
    started_at: null,
    completed_at: null,
  };
}
