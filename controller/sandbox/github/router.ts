// A tiny method + path-template router shared by the REST API, the runner broker and the
// control API. Templates use GitHub's `{param}` syntax; literal segments match case-insensitively.

import type { IncomingHttpHeaders } from 'node:http';

export interface RequestContext {
  method: string;
  path: string;
  query: URLSearchParams;
  params: Record<string, string>;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** Parsed JSON body, or undefined when there was none. */
  body: unknown;
  /** Aborted when the client goes away (long polls stop waiting). */
  signal: AbortSignal;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Handler<A = undefined> = (ctx: RequestContext, extra: A) => Promise<Reply> | Reply;

interface Route<A> {
  method: string;
  template: string;
  regex: RegExp;
  names: string[];
  handler: Handler<A>;
}

export class Router<A = undefined> {
  private readonly routes: Route<A>[] = [];

  add(method: string, template: string, handler: Handler<A>): this {
    const names: string[] = [];
    const source = template
      .split('/')
      .map((segment) => {
        const m = /^\{(\w+)\}$/.exec(segment);
        if (m) {
          names.push(m[1] as string);
          return '([^/]+)';
        }
        return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/');
    this.routes.push({ method, template, regex: new RegExp(`^${source}/?$`, 'i'), names, handler });
    return this;
  }

  match(
    method: string,
    path: string,
  ):
    | { route: { template: string; handler: Handler<A> }; params: Record<string, string> }
    | 'method'
    | undefined {
    let pathMatched = false;
    for (const route of this.routes) {
      const m = route.regex.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => (params[name] = decodeURIComponent(m[i + 1] as string)));
      return { route, params };
    }
    return pathMatched ? 'method' : undefined;
  }
}
