// Errors of the reconcile loops.

import { NotActingError } from '../util/acting.ts';

export class ReconcileError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ReconcileError';
  }
}

/**
 * Retrying cannot help (bad configuration, a pool that can never launch): the work queue logs
 * it and does not retry; the next event or the periodic resync will look at the key again.
 */
export class TerminalReconcileError extends ReconcileError {
  constructor(
    message: string,
    readonly key?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'TerminalReconcileError';
  }
}

/** This replica lost the lease while acting: stop, another replica takes over. */
export class LeaseLostError extends NotActingError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LeaseLostError';
  }
}

/** An acquire-or-renew of the lease did not answer within its deadline; it was aborted. */
export class LeaseCallTimeoutError extends ReconcileError {
  constructor(readonly timeoutMs: number) {
    super(`lease call did not answer within ${timeoutMs} ms; aborted`);
    this.name = 'LeaseCallTimeoutError';
  }
}
