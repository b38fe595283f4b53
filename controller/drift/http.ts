// GET /drift on the controller's HTTP server: the same report as `runnerctl drift -o json`
// (`?pool=NAME` limits it to one pool). Status 200 whatever the findings; the body says
// `inSync`. Reports are cached briefly and concurrent requests share one, so a scraper cannot
// spend the GitHub REST budget.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ControllerConfig } from '../config/types.ts';
import { sendJson } from '../server/http-server.ts';
import { buildDriftReport, UnknownPoolError, type DriftDeps, type DriftOptions } from './report.ts';
import type { DriftReport } from './types.ts';

export interface DriftHandlerOptions extends DriftDeps {
  /** The controller's settings: runner name prefix, resync period. */
  config?: Pick<ControllerConfig, 'runnerNamePrefix' | 'resyncSeconds'>;
  settings?: Omit<DriftOptions, 'pool'>;
  /** A report younger than this is served again. Default 10 s. */
  cacheMs?: number;
  logger?: { warn(obj: object, msg?: string): void };
}

export function driftHandler(options: DriftHandlerOptions) {
  const cacheMs = options.cacheMs ?? 10_000;
  const cache = new Map<string, { at: number; report: Promise<DriftReport> }>();
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/drift', 'http://localhost');
    const pool = url.searchParams.get('pool') ?? undefined;
    const key = pool ?? '';
    const now = options.clock.now();
    let entry = cache.get(key);
    if (!entry || now - entry.at >= cacheMs) {
      entry = {
        at: now,
        report: buildDriftReport(options, {
          ...(options.config
            ? {
                runnerNamePrefix: options.config.runnerNamePrefix,
                resyncSeconds: options.config.resyncSeconds,
              }
            : {}),
          ...options.settings,
          ...(pool ? { pool } : {}),
        }),
      };
      cache.set(key, entry);
      // A failed report is not kept.
      entry.report.catch(() => cache.delete(key));
    }
    try {
      sendJson(res, 200, await entry.report);
    } catch (err) {
      if (err instanceof UnknownPoolError) return sendJson(res, 404, { error: err.message });
      options.logger?.warn({ err }, 'drift report failed');
      sendJson(res, 503, { error: `drift report failed: ${(err as Error).message}` });
    }
  };
}
