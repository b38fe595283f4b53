// The reconcile contract (controller-runtime style) and the logger the loops write to.

/**
 * A reconciler converges one key. Resolving means done (until the next event or resync);
 * `requeueAfterMs` asks to look again later; throwing retries with per-key exponential backoff,
 * except a TerminalReconcileError, which is logged and not retried. The reconciler must not care
 * which event woke it: the same state reached twice produces the same actions.
 */
export type Reconciler = (key: string) => Promise<ReconcileResult | void>;

export interface ReconcileResult {
  requeueAfterMs?: number;
}

/** The subset of a pino logger the controller uses (pino's Logger satisfies it). */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

/** The earliest of several requeue requests (undefined = none). */
export function earliestRequeue(...delays: (number | undefined)[]): number | undefined {
  const set = delays.filter((d): d is number => d !== undefined && Number.isFinite(d));
  return set.length ? Math.max(0, Math.min(...set)) : undefined;
}
