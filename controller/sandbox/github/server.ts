// HTTP plumbing: reads requests, sends them to the control API (/_sim/), the runner broker
// (/_runner/) or the REST API, and wraps REST answers in GitHub's headers: rate limits on every
// answer, ETag + 304 for GETs (304s are free), request ids and a Date from the injected clock.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Clock } from '../../util/clock.ts';
import type { RateLimiter } from './ratelimit.ts';
import {
  authenticate,
  type buildRestRouter,
  type Caller,
  etagOf,
  identityOf,
  requestId,
  type RestDeps,
} from './rest.ts';
import type { Reply, RequestContext, Router } from './router.ts';
import { GitHubSimulatorError } from './errors.ts';
import { errorBody } from './shapes.ts';
import type { SimState } from './state.ts';

export interface ServerParts {
  clock: Clock;
  state: SimState;
  limiter: RateLimiter;
  rest: ReturnType<typeof buildRestRouter>;
  restDeps: RestDeps;
  broker: Router;
  control: Router;
  closing: AbortSignal;
  /** Unexpected errors of a handler (the client gets a 500). */
  onError?: (error: Error) => void;
}

const UNAUTHENTICATED_LIMIT = 60;

class BodyTooLargeError extends GitHubSimulatorError {
  constructor() {
    super(`request body larger than ${MAX_BODY_BYTES} bytes`);
    this.name = 'BodyTooLargeError';
  }
}
const MAX_BODY_BYTES = 1024 * 1024;

export function createSimServer(parts: ServerParts): Server {
  return createServer((req, res) => {
    void handle(parts, req, res).catch((error: unknown) => {
      const tooLarge = error instanceof BodyTooLargeError;
      if (!tooLarge) parts.onError?.(error as Error);
      if (res.headersSent) return void res.destroy();
      send(res, parts.clock, {
        status: tooLarge ? 413 : 500,
        body: errorBody(tooLarge ? 413 : 500, tooLarge ? 'Payload Too Large' : 'Server Error'),
      });
    });
  });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLargeError();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function handle(parts: ServerParts, req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? '/', 'http://sim.invalid');
  const method = (req.method ?? 'GET').toUpperCase();
  const rawBody = await readBody(req);
  let body: unknown;
  if (rawBody.length > 0) {
    try {
      body = JSON.parse(rawBody);
    } catch {
      return send(res, parts.clock, { status: 400, body: errorBody(400, 'Problems parsing JSON') });
    }
  }
  const aborter = new AbortController();
  res.on('close', () => aborter.abort());
  const ctx: RequestContext = {
    method,
    path: url.pathname,
    query: url.searchParams,
    params: {},
    headers: req.headers,
    rawBody,
    body,
    signal: aborter.signal,
  };
  parts.state.tick();

  if (url.pathname.startsWith('/_sim/') || url.pathname.startsWith('/_runner/')) {
    const router = url.pathname.startsWith('/_sim/') ? parts.control : parts.broker;
    const match = router.match(method, url.pathname);
    if (!match || match === 'method') {
      return send(res, parts.clock, { status: 404, body: { message: 'Not Found' } });
    }
    ctx.params = match.params;
    return send(res, parts.clock, await match.route.handler(ctx, undefined));
  }
  return send(res, parts.clock, await handleRest(parts, ctx));
}

async function handleRest(parts: ServerParts, ctx: RequestContext): Promise<Reply> {
  const { limiter } = parts;
  const match = parts.rest.match(ctx.method, ctx.path);
  const rid = requestId();
  const base: Record<string, string> = {
    'x-github-request-id': rid,
    'x-github-api-version-selected': '2022-11-28',
    'x-github-media-type': 'github.v3; format=json',
  };
  if (!match || match === 'method') {
    return withHeaders({ status: 404, body: errorBody(404, 'Not Found') }, base);
  }
  ctx.params = match.params;
  const spec = parts.rest.specs.get(`${ctx.method} ${match.route.template}`);
  if (!spec) return withHeaders({ status: 404, body: errorBody(404, 'Not Found') }, base);

  const authed = authenticate(ctx, spec.auth, parts.restDeps);
  if ('status' in authed) {
    return withHeaders(authed, {
      ...base,
      'x-ratelimit-limit': String(UNAUTHENTICATED_LIMIT),
      'x-ratelimit-remaining': String(UNAUTHENTICATED_LIMIT),
      'x-ratelimit-reset': String(Math.ceil(parts.clock.now() / 1000) + 3600),
      'x-ratelimit-used': '0',
      'x-ratelimit-resource': 'core',
    });
  }
  const caller: Caller = authed;
  const identity = identityOf(caller);
  const rateHeaders = () => {
    const s = limiter.peek(identity);
    return {
      'x-ratelimit-limit': String(s.limit),
      'x-ratelimit-remaining': String(s.remaining),
      'x-ratelimit-reset': String(s.resetSeconds),
      'x-ratelimit-used': String(s.used),
      'x-ratelimit-resource': 'core',
    };
  };
  if (spec.counted !== false && !limiter.spend(identity)) {
    const who =
      caller.kind === 'installation'
        ? `installation ID ${caller.installation.id}`
        : caller.kind === 'app'
          ? `app ID ${caller.appId}`
          : 'user';
    return withHeaders(
      {
        status: 403,
        body: errorBody(
          403,
          `API rate limit exceeded for ${who}. If you reach out to GitHub Support for help, please include the request ID ${rid}.`,
          {
            documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
          },
        ),
      },
      { ...base, ...rateHeaders() },
    );
  }
  if (spec.jit) {
    const retryAfter = limiter.spendJit(identity);
    if (retryAfter > 0) {
      const status = limiter.options.secondaryStatus;
      return withHeaders(
        {
          status,
          body: errorBody(
            status,
            `You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID ${rid}.`,
            {
              documentation_url:
                'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
            },
          ),
        },
        { ...base, ...rateHeaders(), 'retry-after': String(retryAfter) },
      );
    }
  }
  const reply = await spec.handle(ctx, caller);
  if (ctx.method === 'GET' && reply.status === 200) {
    const etag = etagOf(reply.body);
    const inm = ctx.headers['if-none-match'];
    if (inm && inm.split(',').some((t) => t.trim() === etag || t.trim() === '*')) {
      if (spec.counted !== false) limiter.refund(identity);
      return { status: 304, headers: { ...base, ...rateHeaders(), etag } };
    }
    return withHeaders(reply, {
      ...base,
      ...rateHeaders(),
      etag,
      'cache-control': 'private, max-age=60, s-maxage=60',
      vary: 'Accept, Authorization, Cookie, X-GitHub-OTP',
    });
  }
  return withHeaders(reply, { ...base, ...rateHeaders() });
}

function withHeaders(reply: Reply, headers: Record<string, string>): Reply {
  return { ...reply, headers: { ...headers, ...(reply.headers ?? {}) } };
}

function send(res: ServerResponse, clock: Clock, reply: Reply): void {
  if (res.destroyed) return;
  const headers: Record<string, string> = {
    date: new Date(clock.now()).toUTCString(),
    ...reply.headers,
  };
  if (reply.body !== undefined && reply.status !== 204 && reply.status !== 304) {
    const text = JSON.stringify(reply.body);
    headers['content-type'] = 'application/json; charset=utf-8';
    headers['content-length'] = String(Buffer.byteLength(text));
    res.writeHead(reply.status, headers);
    res.end(text);
  } else {
    res.writeHead(reply.status, headers);
    res.end();
  }
}
