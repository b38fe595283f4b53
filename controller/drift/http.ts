// GET /drift on the controller's metrics listener: the same report as `runnerctl drift -o json`
// (`?pool=NAME` limits it to one pool). Status 200 whatever the findings; the body says
// `inSync`. A report costs GitHub REST calls (every scope's runners, every repository's queued
// jobs), so a scraper must not be able to spend the budget: reports are cached briefly, a pool
// is looked up in the store before anything else (404 names it), and one report is built at a
// time (a request for another report meanwhile gets 429).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ControllerConfig } from '../config/types.ts';
import type { Store } from '../store/types.ts';
import { sendJson } from '../server/http-server.ts';
import { buildDriftReport, UnknownPoolError, type DriftDeps, type DriftOptions } from './report.ts';
import type { DriftReport } from './types.ts';

export interface DriftHandlerOptions extends DriftDeps {
  store: DriftDeps['store'] & Pick<Store, 'getPool'>;
  /** The controller's settings: runner name prefix, resync period. */
  config?: Pick<ControllerConfig, 'runnerNamePrefix' | 'resyncSeconds'>;
  settings?: Omit<DriftOptions, 'pool'>;
  /** A report younger than this is served again. Default 10 s. */
  cacheMs?: number;
  logger?: { warn(obj: object, msg?: string): void };
}

/** Longest pool name accepted (a RunnerPool name is a DNS label of at most 63 characters). */
const MAX_POOL_NAME = 63;

export function driftHandler(options: DriftHandlerOptions) {
  const cacheMs = options.cacheMs ?? 10_000;
  // Keys are '' (every pool) and names of pools that exist, so the cache stays small.
  const cache = new Map<string, { at: number; report: Promise<DriftReport> }>();
  /** The one report being built, and for which key. */
  let building: { key: string; report: Promise<DriftReport> } | undefined;

  const build = (key: string): Promise<DriftReport> =>
    buildDriftReport(options, {
      ...(options.config
        ? {
            runnerNamePrefix: options.config.runnerNamePrefix,
            resyncSeconds: options.config.resyncSeconds,
          }
        : {}),
      ...options.settings,
      ...(key ? { pool: key } : {}),
    });

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/drift', 'http://localhost');
    const pool = url.searchParams.get('pool') ?? undefined;
    try {
      if (pool !== undefined) {
        if (pool === '' || pool.length > MAX_POOL_NAME) {
          return sendJson(res, 400, {
            error: `pool: expected a RunnerPool name of 1 to ${MAX_POOL_NAME} characters`,
          });
        }
        if (!(await options.store.getPool(pool))) {
          return sendJson(res, 404, { error: new UnknownPoolError(pool).message });
        }
      }
      const key = pool ?? '';
      const now = options.clock.now();
      let entry = cache.get(key);
      if (!entry || now - entry.at >= cacheMs) {
        if (building && building.key !== key) {
          res.setHeader('retry-after', '5');
          return sendJson(res, 429, {
            error: 'another drift report is being built; retry in a few seconds',
          });
        }
        if (!building) {
          const report = build(key);
          const current = { key, report };
          building = current;
          void report
            .finally(() => {
              if (building === current) building = undefined;
            })
            .catch(() => cache.delete(key)); // a failed report is not kept
          cache.set(key, { at: now, report });
        }
        entry = cache.get(key)!;
      }
      sendJson(res, 200, await entry.report);
    } catch (err) {
      if (err instanceof UnknownPoolError) return sendJson(res, 404, { error: err.message });
      options.logger?.warn({ err }, 'drift report failed');
      sendJson(res, 503, { error: `drift report failed: ${(err as Error).message}` });
    }
  };
}
