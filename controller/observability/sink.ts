// The narrow sink the reconcile loops report to. The reconcile code depends on this interface
// only (every hook is optional and changes no behaviour); controller/observability/metrics.ts
// implements it on a prom-client Registry.

export interface ReconcileMetrics {
  /** A RunTask started a runner's task (adoptions of existing tasks do not count). */
  launched(pool: string, capacityProvider: string | undefined): void;
  /** A launch attempt failed; `reason` is the attempt's failure text (classified by the sink). */
  launchFailed(pool: string, reason: string): void;
  /** One reconcile of a work-queue key finished. */
  reconciled(key: string, durationMs: number, outcome: 'ok' | 'error' | 'terminal'): void;
  /**
   * A spot-interrupted job's re-run decision: `requested` (POST accepted), `refused` (a 403,
   * retried), `gave_up`, `not_needed` (the job succeeded or ran nowhere), `already_rerun`.
   */
  spotRerun?(pool: string, outcome: string): void;
  /** A finished runner's task cost `usd` (controller/cost), attributed to its job's repository. */
  runnerCost?(pool: string, repository: string, usd: number): void;
  /** One job-confirmation listing of a run (controller/reconcile/confirm.ts) and its answer. */
  jobConfirmation?(result: string): void;
  /** Keys waiting for a worker (not counting keys being reconciled or scheduled for later). */
  queueDepth(waiting: number): void;
}
