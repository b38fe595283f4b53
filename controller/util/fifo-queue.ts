// First come, first served: the pacers (token bucket, sliding window) hand out grants in the
// order callers asked, and an aborted caller leaves the line at once without blocking the rest.

export class FifoQueue {
  private tail: Promise<void> = Promise.resolve();
  private count = 0;

  /** Callers currently in line (including the one being served). */
  get waiting(): number {
    return this.count;
  }

  /** Runs `serve` once everyone ahead is done; rejects with the signal's reason when aborted. */
  run(serve: () => Promise<void>, signal?: AbortSignal): Promise<void> {
    this.count += 1;
    const turn = this.tail.then(serve);
    // The next caller starts after this one, whether it was served or aborted.
    this.tail = turn.then(
      () => undefined,
      () => undefined,
    );
    // An aborted caller leaves at once, even while others are still ahead of it.
    let onAbort: (() => void) | undefined;
    const result = signal
      ? Promise.race([
          turn,
          new Promise<never>((_, reject) => {
            if (signal.aborted) return reject(signal.reason);
            onAbort = () => reject(signal.reason);
            signal.addEventListener('abort', onAbort, { once: true });
          }),
        ])
      : turn;
    return result.finally(() => {
      this.count -= 1;
      // A long-lived signal (shutdown) must not collect one listener per call.
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    });
  }
}
