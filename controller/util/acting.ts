// Fencing outside the store. A reconcile may wait a long time in a rate limiter (a JIT window
// of 60 s, a paused bucket) and the lease can run out meanwhile; DynamoDB's fence only guards
// the store's writes, not the GitHub and ECS calls that follow. The controller runs each
// reconcile inside `runActing(check, ...)`; the providers call `assertActing()` after every
// pacing wait, right before they send a request, and the check throws when the lease is gone.
// Outside a reconcile (drift, the CLI) there is no check.

import { AsyncLocalStorage } from 'node:async_hooks';

/** Thrown by the check when this replica may no longer act (its lease ran out or moved). */
export class NotActingError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'NotActingError';
  }
}

const guard = new AsyncLocalStorage<() => void>();

/** Runs `fn` with `check` as the guard of every provider call it makes. */
export function runActing<T>(check: () => void, fn: () => T): T {
  return guard.run(check, fn);
}

/** Throws (a NotActingError) when the code runs for a replica that may no longer act. */
export function assertActing(): void {
  guard.getStore()?.();
}
