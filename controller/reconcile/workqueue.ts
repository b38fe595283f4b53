// A work queue of reconcile keys on p-queue, with controller-runtime's guarantees:
// - a key enqueued while it waits is merged; a key enqueued while it is being reconciled runs
//   once more after the current run (never two workers on the same key);
// - a thrown error retries the key with per-key exponential backoff and jitter (reset on
//   success); a TerminalReconcileError is logged and not retried;
// - `requeueAfterMs` results schedule the key again (the earliest request wins);
// - a periodic full resync enqueues every known key, the safety net for lost events.

import PQueue from 'p-queue';
import type { Clock } from '../util/clock.ts';
import { TerminalReconcileError } from './errors.ts';
import type { Logger, Reconciler } from './types.ts';

export interface BackoffOptions {
  /** First retry delay. Default 1 s. */
  baseMs: number;
  /** Cap of the delay. Default 5 min. */
  maxMs: number;
  /** Fraction of the delay that is random (0 = none, 1 = "full jitter"). Default 0.5. */
  jitter: number;
}

export interface WorkQueueOptions {
  clock: Clock;
  log: Logger;
  /** Keys reconciled at the same time (never the same key twice). Default 4. */
  concurrency?: number;
  backoff?: Partial<BackoffOptions>;
  /** Period of the full resync; 0 or absent = none. */
  resyncMs?: number;
  /** Every key the resync enqueues. */
  listKeys?: () => Promise<string[]> | string[];
  /** Random source for the jitter (tests make it deterministic). */
  random?: () => number;
  /** Observability hooks (metrics): one reconcile done; keys waiting for a worker changed. */
  onReconcile?: (key: string, durationMs: number, outcome: 'ok' | 'error' | 'terminal') => void;
  onDepth?: (waiting: number) => void;
}

interface Delayed {
  dueMs: number;
  abort: AbortController;
}

export class WorkQueue {
  readonly #reconcile: Reconciler;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #queue: PQueue;
  readonly #backoff: BackoffOptions;
  readonly #random: () => number;
  readonly #resyncMs: number;
  readonly #listKeys: () => Promise<string[]> | string[];
  readonly #hooks: Pick<WorkQueueOptions, 'onReconcile' | 'onDepth'>;

  readonly #waiting = new Set<string>();
  readonly #running = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #delayed = new Map<string, Delayed>();
  readonly #failures = new Map<string, number>();
  #stopped = true;
  #resyncAbort?: AbortController;
  #resyncLoop?: Promise<void>;

  constructor(reconcile: Reconciler, options: WorkQueueOptions) {
    this.#reconcile = reconcile;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#queue = new PQueue({ concurrency: options.concurrency ?? 4 });
    this.#backoff = { baseMs: 1_000, maxMs: 300_000, jitter: 0.5, ...options.backoff };
    this.#random = options.random ?? Math.random;
    this.#resyncMs = options.resyncMs ?? 0;
    this.#listKeys = options.listKeys ?? (() => []);
    this.#hooks = { onReconcile: options.onReconcile, onDepth: options.onDepth };
  }

  /** Accepts keys from now on and starts the periodic resync (which runs once right away). */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    if (this.#resyncMs > 0) {
      const abort = new AbortController();
      this.#resyncAbort = abort;
      this.#resyncLoop = this.#runResync(abort.signal);
    }
  }

  /** Drops waiting and delayed keys, stops the resync and waits for running reconciles. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#resyncAbort?.abort(new Error('work queue stopped'));
    for (const d of this.#delayed.values()) d.abort.abort(new Error('work queue stopped'));
    this.#delayed.clear();
    this.#queue.clear();
    this.#waiting.clear();
    this.#hooks.onDepth?.(0);
    this.#dirty.clear();
    await this.#resyncLoop;
    await this.#queue.onIdle();
  }

  /** Reconciles `key` as soon as a worker is free (merged with a waiting run of the same key). */
  enqueue(key: string): void {
    if (this.#stopped) return;
    if (this.#waiting.has(key)) return;
    if (this.#running.has(key)) {
      this.#dirty.add(key);
      return;
    }
    this.#waiting.add(key);
    this.#hooks.onDepth?.(this.#waiting.size);
    void this.#queue.add(() => this.#run(key));
  }

  /** Reconciles `key` after `delayMs` (of the injected clock); the earliest request wins. */
  enqueueAfter(key: string, delayMs: number): void {
    if (this.#stopped) return;
    if (delayMs <= 0) return this.enqueue(key);
    const dueMs = this.#clock.now() + delayMs;
    const existing = this.#delayed.get(key);
    if (existing && existing.dueMs <= dueMs) return;
    existing?.abort.abort(new Error('rescheduled'));
    const abort = new AbortController();
    this.#delayed.set(key, { dueMs, abort });
    this.#clock.sleep(delayMs, abort.signal).then(
      () => {
        if (this.#delayed.get(key)?.abort === abort) this.#delayed.delete(key);
        this.enqueue(key);
      },
      () => {},
    );
  }

  /** Resolves when no key is waiting or running (delayed keys do not count). */
  async idle(): Promise<void> {
    await this.#queue.onIdle();
  }

  /** Enqueues every known key now (what the periodic resync does). */
  async resyncNow(): Promise<void> {
    let keys: string[];
    try {
      keys = await this.#listKeys();
    } catch (err) {
      this.#log.error({ err }, 'resync could not list keys');
      return;
    }
    for (const key of keys) this.enqueue(key);
  }

  /** Keys scheduled for later, with their due time (for status pages and tests). */
  delayedKeys(): Map<string, number> {
    return new Map([...this.#delayed].map(([k, d]) => [k, d.dueMs]));
  }

  /** Consecutive failures of a key (0 after a success). */
  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** The retry delay after `failures` consecutive failures. */
  backoffDelay(failures: number): number {
    const { baseMs, maxMs, jitter } = this.#backoff;
    const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(failures - 1, 30)));
    return Math.round(exp * (1 - jitter) + exp * jitter * this.#random());
  }

  async #run(key: string): Promise<void> {
    this.#waiting.delete(key);
    this.#hooks.onDepth?.(this.#waiting.size);
    if (this.#stopped) return;
    // This run observes the current state: an earlier "look again later" is covered by it.
    const delayed = this.#delayed.get(key);
    if (delayed) {
      delayed.abort.abort(new Error('superseded'));
      this.#delayed.delete(key);
    }
    this.#running.add(key);
    const startedAt = performance.now();
    const done = (outcome: 'ok' | 'error' | 'terminal') =>
      this.#hooks.onReconcile?.(key, performance.now() - startedAt, outcome);
    try {
      const result = await this.#reconcile(key);
      done('ok');
      this.#failures.delete(key);
      if (result?.requeueAfterMs !== undefined) this.enqueueAfter(key, result.requeueAfterMs);
    } catch (err) {
      done(err instanceof TerminalReconcileError ? 'terminal' : 'error');
      if (err instanceof TerminalReconcileError) {
        this.#failures.delete(key);
        this.#log.error({ key, err }, 'reconcile failed for good; not retried');
      } else {
        const failures = (this.#failures.get(key) ?? 0) + 1;
        this.#failures.set(key, failures);
        // An error that says when to come back (GitHub's retry-after) is honoured.
        const retryAfterMs = (err as { retryAfterMs?: unknown } | null)?.retryAfterMs;
        const delayMs = Math.max(
          this.backoffDelay(failures),
          typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) ? retryAfterMs : 0,
        );
        this.#log.warn({ key, err, failures, retryInMs: delayMs }, 'reconcile failed; retrying');
        this.enqueueAfter(key, delayMs);
      }
    } finally {
      this.#running.delete(key);
      if (this.#dirty.delete(key)) this.enqueue(key);
    }
  }

  async #runResync(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.resyncNow();
      try {
        await this.#clock.sleep(this.#resyncMs, signal);
      } catch {
        return;
      }
    }
  }
}
