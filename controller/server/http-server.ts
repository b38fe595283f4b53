// The controller's HTTP server (node:http): a small route table so later work can add
// /readyz, /metrics and /drift next to /webhook and /healthz, and a graceful close.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../util/logger.ts';
import { silentLogger } from '../util/logger.ts';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export class HttpServerError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'HttpServerError';
  }
}

export interface HttpServerOptions {
  logger?: Logger;
  /** How long close() waits for requests in flight before cutting connections. Default 5 s. */
  closeGraceMs?: number;
  /**
   * Open connections at most (default 512); Node closes the ones beyond at once, so a flood of
   * idle sockets cannot exhaust file descriptors.
   */
  maxConnections?: number;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export class HttpServer {
  private readonly routes = new Map<string, Map<string, RouteHandler>>();
  private readonly server: Server;
  private readonly logger: Logger;
  private readonly closeGraceMs: number;
  private closing = false;

  constructor(options: HttpServerOptions = {}) {
    this.logger = options.logger ?? silentLogger();
    this.closeGraceMs = options.closeGraceMs ?? 5_000;
    this.server = createServer((req, res) => void this.dispatch(req, res));
    // Slow clients must not hold webhook deliveries (GitHub waits 10 s) or the process.
    this.server.requestTimeout = 30_000;
    this.server.headersTimeout = 15_000;
    this.server.maxConnections = options.maxConnections ?? 512;
    this.addRoute('GET', '/healthz', (_req, res) => sendJson(res, 200, { status: 'ok' }));
  }

  /** Adds (or replaces) the handler of METHOD PATH; paths match exactly, query ignored. */
  addRoute(method: string, path: string, handler: RouteHandler): this {
    let byMethod = this.routes.get(path);
    if (!byMethod) this.routes.set(path, (byMethod = new Map()));
    byMethod.set(method.toUpperCase(), handler);
    return this;
  }

  /** Listens; resolves with the URL (e.g. http://127.0.0.1:41234). */
  listen(port: number, host = '0.0.0.0'): Promise<{ url: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) =>
        reject(
          new HttpServerError(`cannot listen on ${host}:${port}: ${err.message}`, { cause: err }),
        );
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        const address = this.server.address() as AddressInfo;
        const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
        resolve({ url: `http://${shownHost}:${address.port}`, port: address.port });
      });
    });
  }

  /** Stops accepting, lets requests in flight finish (up to the grace period), then closes. */
  close(): Promise<void> {
    if (!this.server.listening) return Promise.resolve();
    this.closing = true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.server.closeAllConnections(), this.closeGraceMs);
      timer.unref();
      this.server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      this.server.closeIdleConnections();
    });
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // While closing, a keep-alive connection is let go as soon as its last answer is sent.
    res.once('finish', () => {
      if (this.closing) setImmediate(() => this.server.closeIdleConnections());
    });
    if (this.closing) res.setHeader('connection', 'close');
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const byMethod = this.routes.get(path);
    const handler =
      byMethod?.get(req.method ?? 'GET') ??
      (req.method === 'HEAD' ? byMethod?.get('GET') : undefined);
    if (!byMethod) return sendJson(res, 404, { error: `no route for ${path}` });
    if (!handler) {
      res.setHeader('allow', [...byMethod.keys()].join(', '));
      return sendJson(res, 405, { error: `${req.method} not allowed on ${path}` });
    }
    try {
      await handler(req, res);
    } catch (err) {
      this.logger.error({ err, method: req.method, path }, 'request handler failed');
      sendJson(res, 500, { error: 'internal error' });
    }
  }
}
