// /readyz and /metrics handlers. Readiness asks whether this replica can do its work: the store,
// GitHub and ECS answer (cheap probes, each result reused for a few seconds so a probe storm
// costs nothing), and what the lease says. A standby replica (lease held elsewhere) is ready: it
// takes over when the holder goes away. Not ready = 503 with one reason per failing check.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson, type RouteHandler } from './http-server.ts';

/** A probe resolves when the dependency answered; its error message becomes the reason. */
export type Probe = (signal: AbortSignal) => Promise<unknown>;

export interface LeaseState {
  /** This replica holds the lease and acts. */
  leader: boolean;
  /** The current holder as stored (undefined when free or unknown). */
  holder?: string;
  expiresAt?: string;
}

export interface ReadinessOptions {
  probes: Record<string, Probe>;
  lease: () => LeaseState | Promise<LeaseState>;
  /** A probe result is reused for this long. Default 5 s. */
  cacheMs?: number;
  /** A probe that takes longer fails. Default 3 s. */
  timeoutMs?: number;
  /** Scrubs reasons before they are served (the app's Redactor). */
  scrub?: (text: string) => string;
  now?: () => number;
}

export interface CheckResult {
  ok: boolean;
  /** Why not (only when !ok). */
  reason?: string;
  /** When this result was measured (ISO). */
  checkedAt: string;
  durationMs: number;
}

export interface Readiness {
  ready: boolean;
  checks: Record<string, CheckResult>;
  lease: LeaseState;
  reasons: string[];
}

function withTimeout(probe: Probe, timeoutMs: number): Promise<unknown> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new Error(`no answer within ${timeoutMs} ms`);
      abort.abort(err);
      reject(err);
    }, timeoutMs);
    timer.unref();
  });
  return Promise.race([Promise.resolve().then(() => probe(abort.signal)), timeout]).finally(() =>
    clearTimeout(timer),
  );
}

export class ReadinessChecker {
  readonly #probes: Record<string, Probe>;
  readonly #lease: ReadinessOptions['lease'];
  readonly #cacheMs: number;
  readonly #timeoutMs: number;
  readonly #scrub: (text: string) => string;
  readonly #now: () => number;
  readonly #cache = new Map<string, { at: number; result: Promise<CheckResult> }>();

  constructor(options: ReadinessOptions) {
    this.#probes = options.probes;
    this.#lease = options.lease;
    this.#cacheMs = options.cacheMs ?? 5_000;
    this.#timeoutMs = options.timeoutMs ?? 3_000;
    this.#scrub = options.scrub ?? ((t) => t);
    this.#now = options.now ?? Date.now;
  }

  /** Every probe (cached results when fresh, concurrent callers share one run) and the lease. */
  async check(): Promise<Readiness> {
    const names = Object.keys(this.#probes);
    const results = await Promise.all(names.map((name) => this.#checkOne(name)));
    const checks: Record<string, CheckResult> = {};
    const reasons: string[] = [];
    names.forEach((name, i) => {
      const result = results[i]!;
      checks[name] = result;
      if (!result.ok) reasons.push(`${name}: ${result.reason}`);
    });
    let lease: LeaseState;
    try {
      lease = await this.#lease();
    } catch (err) {
      lease = { leader: false };
      reasons.push(`lease: ${this.#scrub((err as Error).message)}`);
    }
    return { ready: reasons.length === 0, checks, lease, reasons };
  }

  #checkOne(name: string): Promise<CheckResult> {
    const now = this.#now();
    const cached = this.#cache.get(name);
    if (cached && now - cached.at < this.#cacheMs) return cached.result;
    const result = this.#run(name);
    this.#cache.set(name, { at: now, result });
    return result;
  }

  async #run(name: string): Promise<CheckResult> {
    const started = this.#now();
    const checkedAt = new Date(started).toISOString();
    try {
      await withTimeout(this.#probes[name]!, this.#timeoutMs);
      return { ok: true, checkedAt, durationMs: this.#now() - started };
    } catch (err) {
      const message = err instanceof Error ? err.message || err.name : String(err);
      return {
        ok: false,
        reason: this.#scrub(message).slice(0, 300),
        checkedAt,
        durationMs: this.#now() - started,
      };
    }
  }
}

/** GET /readyz: 200 `{ status: 'ready', lease, checks }` or 503 with `reasons`. */
export function readyzHandler(checker: ReadinessChecker): RouteHandler {
  return async (_req: IncomingMessage, res: ServerResponse) => {
    const r = await checker.check();
    sendJson(res, r.ready ? 200 : 503, {
      status: r.ready ? 'ready' : 'not ready',
      ...(r.ready ? {} : { reasons: r.reasons }),
      lease: { ...r.lease, state: r.lease.leader ? 'leader' : 'standby' },
      checks: r.checks,
    });
  };
}

/** GET /metrics: the Prometheus text exposition of a registry. */
export function metricsHandler(source: {
  text(): Promise<string>;
  contentType: string;
}): RouteHandler {
  return async (_req: IncomingMessage, res: ServerResponse) => {
    const body = await source.text();
    res.writeHead(200, {
      'content-type': source.contentType,
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };
}
