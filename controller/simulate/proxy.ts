// Loopback proxies between the controller and the GitHub and ECS simulators. They count every
// API call by endpoint, notice the rate-limit errors the controller meets, and inject the
// scenario's API faults (GitHub 5xx, 429 and secondary limits; ECS throttling) from a seeded PRNG.
// The runners' own traffic (the broker) does not pass through them.

import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Random } from './random.ts';

export interface GitHubFaultRates {
  serverErrorRate: number;
  tooManyRequestsRate: number;
  secondaryLimitRate: number;
  /** The retry-after of injected limits, in ms of simulated time (sent in whole seconds). */
  retryAfterMs: number;
}

export interface EcsFaultRates {
  throttleRate: number;
}

export interface RateLimitCounts {
  /** GitHub: primary limit spent (403/429 with x-ratelimit-remaining 0). */
  primary: number;
  /** GitHub: secondary limit (403/429 "secondary rate limit"). */
  secondary: number;
  /** GitHub: other 429 answers. */
  tooManyRequests: number;
  /** ECS: ThrottlingException. */
  throttling: number;
}

export interface ProxyStats {
  /** Calls by endpoint (`GET /repos/{owner}/{repo}/actions/runs`, `RunTask`). */
  calls: Record<string, number>;
  /** Errors injected, by kind. */
  injected: Record<string, number>;
  /** Rate-limit errors the controller met: injected and the simulators' own. */
  rateLimited: { injected: RateLimitCounts; simulator: RateLimitCounts };
  /** Answers by status class (`2xx`, `4xx`, `5xx`). */
  statuses: Record<string, number>;
}

export interface RunTaskObservation {
  atMs: number;
  pool?: string;
  runner?: string;
  /** The strategy the call asked for, as written (ECS picks the provider per task). */
  capacityProviderStrategy?: { capacityProvider?: string; weight?: number; base?: number }[];
  taskArns: string[];
  /** `failures[].reason` of the answer, or the error type when the call failed. */
  failures: string[];
}

export interface FaultProxy {
  url: string;
  stats(): ProxyStats;
  close(): Promise<void>;
}

export interface EcsProxy extends FaultProxy {
  runTasks(): RunTaskObservation[];
}

function emptyCounts(): RateLimitCounts {
  return { primary: 0, secondary: 0, tooManyRequests: 0, throttling: 0 };
}

function newStats(): ProxyStats {
  return {
    calls: {},
    injected: {},
    rateLimited: { injected: emptyCounts(), simulator: emptyCounts() },
    statuses: {},
  };
}

function bump(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

interface Forwarded {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

function forward(target: URL, req: IncomingMessage, body: Buffer): Promise<Forwarded> {
  return new Promise((resolve, reject) => {
    const headers = { ...req.headers, host: target.host };
    const out = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const h: Record<string, string | string[]> = {};
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h[k] = v;
          resolve({ status: res.statusCode ?? 502, headers: h, body: Buffer.concat(chunks) });
        });
        res.on('error', reject);
      },
    );
    out.on('error', reject);
    out.end(body);
  });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * `GET /repos/acme/app/actions/runs/17/jobs?filter=latest` -> `GET /repos/{owner}/{repo}/actions/runs/{id}/jobs`.
 */
export function githubEndpoint(method: string, url: string): string {
  const path = url.split('?')[0]!;
  const parts = path.split('/');
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const prev = parts[i - 1];
    if (prev === 'orgs' && i === 2) out.push('{org}');
    else if (prev === 'enterprises' && i === 2) out.push('{enterprise}');
    else if (parts[1] === 'repos' && i === 2) out.push('{owner}');
    else if (parts[1] === 'repos' && i === 3) out.push('{repo}');
    else if (parts[1] === 'users' && i === 2) out.push('{username}');
    else if (/^\d+$/.test(p)) out.push('{id}');
    else out.push(p);
  }
  return `${method} ${out.join('/')}`;
}

/** The GitHub App's own endpoints (installations, tokens) get no injected faults. */
function isAuthEndpoint(path: string): boolean {
  return path.startsWith('/app') || path === '/rate_limit';
}

function sendJson(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: unknown,
): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

export async function startGitHubProxy(options: {
  target: string;
  faults: GitHubFaultRates;
  random: Random;
  /** Simulated now (ms): the rate-limit reset header of injected answers. */
  now: () => number;
}): Promise<FaultProxy> {
  const target = new URL(options.target);
  const stats = newStats();
  const { random, faults } = options;
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const path = (req.url ?? '/').split('?')[0]!;
      const internal = path.startsWith('/_sim/') || path.startsWith('/_runner/');
      const endpoint = githubEndpoint(req.method ?? 'GET', req.url ?? '/');
      if (!internal) bump(stats.calls, endpoint);
      const eligible = !internal && !isAuthEndpoint(path);
      const retryAfter = String(Math.max(1, Math.round(faults.retryAfterMs / 1000)));
      const resetAt = String(Math.ceil((options.now() + faults.retryAfterMs) / 1000));
      if (eligible && random.chance(faults.secondaryLimitRate)) {
        bump(stats.injected, 'github secondary limit');
        stats.rateLimited.injected.secondary++;
        bump(stats.statuses, '4xx');
        return sendJson(
          res,
          403,
          { 'retry-after': retryAfter, 'x-ratelimit-reset': resetAt },
          {
            message:
              'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
            documentation_url:
              'https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api',
          },
        );
      }
      if (eligible && random.chance(faults.tooManyRequestsRate)) {
        bump(stats.injected, 'github 429');
        stats.rateLimited.injected.tooManyRequests++;
        bump(stats.statuses, '4xx');
        return sendJson(
          res,
          429,
          { 'retry-after': retryAfter },
          { message: 'Too Many Requests (injected by runnerctl simulate)' },
        );
      }
      // A 5xx either before GitHub saw the request or after it acted on it (the answer lost).
      const serverError = eligible && random.chance(faults.serverErrorRate);
      const afterwards = serverError && req.method !== 'GET' && random.chance(0.5);
      if (serverError && !afterwards) {
        bump(stats.injected, 'github 5xx');
        bump(stats.statuses, '5xx');
        return sendJson(res, 502, {}, { message: 'Server Error' });
      }
      const answer = await forward(target, req, body);
      if (afterwards) {
        bump(stats.injected, 'github 5xx (answer lost)');
        bump(stats.statuses, '5xx');
        return sendJson(res, 503, {}, { message: 'Service Unavailable' });
      }
      if (!internal) {
        bump(stats.statuses, `${String(answer.status)[0]}xx`);
        if (answer.status === 403 || answer.status === 429) {
          const text = answer.body.toString('utf8');
          if (/secondary rate limit/i.test(text)) stats.rateLimited.simulator.secondary++;
          else if (String(answer.headers['x-ratelimit-remaining']) === '0')
            stats.rateLimited.simulator.primary++;
          else if (answer.status === 429) stats.rateLimited.simulator.tooManyRequests++;
        }
      }
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body);
    })().catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 502, {}, { message: `proxy: ${(err as Error).message}` });
      else res.destroy();
    });
  });
  const url = await listen(server);
  return { url, stats: () => structuredClone(stats), close: () => closeServer(server) };
}

function tagValue(tags: unknown, key: string): string | undefined {
  if (!Array.isArray(tags)) return undefined;
  const tag = (tags as { key?: string; value?: string }[]).find((t) => t.key === key);
  return tag?.value;
}

export async function startEcsProxy(options: {
  target: string;
  faults: EcsFaultRates;
  random: Random;
  now: () => number;
  tagKeys: { runner: string; pool: string };
}): Promise<EcsProxy> {
  const target = new URL(options.target);
  const stats = newStats();
  const runTasks: RunTaskObservation[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const op = String(req.headers['x-amz-target'] ?? 'unknown')
        .split('.')
        .pop()!;
      bump(stats.calls, op);
      let input: Record<string, unknown> = {};
      try {
        input = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        // Forwarded as is; the simulator answers the malformed request.
      }
      const observation: RunTaskObservation | undefined =
        op === 'RunTask'
          ? {
              atMs: options.now(),
              ...(tagValue(input.tags, options.tagKeys.pool)
                ? { pool: tagValue(input.tags, options.tagKeys.pool)! }
                : {}),
              ...(tagValue(input.tags, options.tagKeys.runner)
                ? { runner: tagValue(input.tags, options.tagKeys.runner)! }
                : {}),
              ...(Array.isArray(input.capacityProviderStrategy)
                ? {
                    capacityProviderStrategy: structuredClone(
                      input.capacityProviderStrategy,
                    ) as RunTaskObservation['capacityProviderStrategy'],
                  }
                : {}),
              taskArns: [],
              failures: [],
            }
          : undefined;
      if (observation) runTasks.push(observation);
      if (options.random.chance(options.faults.throttleRate)) {
        bump(stats.injected, 'ecs throttling');
        stats.rateLimited.injected.throttling++;
        bump(stats.statuses, '4xx');
        observation?.failures.push('ThrottlingException (injected)');
        res.writeHead(400, {
          'content-type': 'application/x-amz-json-1.1',
          'x-amzn-errortype': 'ThrottlingException:http://internal.amazon.com/coral/com.amazonaws/',
        });
        res.end(JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }));
        return;
      }
      const answer = await forward(target, req, body);
      bump(stats.statuses, `${String(answer.status)[0]}xx`);
      const errorType = String(answer.headers['x-amzn-errortype'] ?? '').split(':')[0];
      if (errorType === 'ThrottlingException') stats.rateLimited.simulator.throttling++;
      if (observation) {
        if (answer.status >= 300) observation.failures.push(errorType || `HTTP ${answer.status}`);
        else {
          try {
            const out = JSON.parse(answer.body.toString('utf8')) as {
              tasks?: { taskArn?: string }[];
              failures?: { reason?: string }[];
            };
            for (const t of out.tasks ?? []) if (t.taskArn) observation.taskArns.push(t.taskArn);
            for (const f of out.failures ?? []) observation.failures.push(f.reason ?? 'unknown');
          } catch {
            observation.failures.push('unreadable answer');
          }
        }
      }
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body);
    })().catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify({ __type: 'InternalFailure', message: (err as Error).message }));
      } else res.destroy();
    });
  });
  const url = await listen(server);
  return {
    url,
    stats: () => structuredClone(stats),
    runTasks: () =>
      runTasks.map((r) => ({ ...r, taskArns: [...r.taskArns], failures: [...r.failures] })),
    close: () => closeServer(server),
  };
}
