// Graceful shutdown on SIGTERM (ECS stopping the task) and SIGINT (Ctrl-C): the first signal
// stops the process's parts in order; a second one exits at once.

export type ShutdownSignal = 'SIGTERM' | 'SIGINT';

export interface SignalOptions {
  /** Called when the first signal arrives (e.g. to print "stopping..."). */
  onSignal?: (signal: ShutdownSignal) => void;
  /** Exit code of a second signal while stopping. Default 130. */
  forceExitCode?: number;
  /** Process to listen on (tests pass an EventEmitter). */
  target?: Pick<NodeJS.Process, 'once' | 'removeListener' | 'exit'>;
}

/** Resolves with the signal once `stop` has finished. */
export function untilSignal(
  stop: () => Promise<void>,
  options: SignalOptions = {},
): Promise<ShutdownSignal> {
  const target = options.target ?? process;
  const signals: ShutdownSignal[] = ['SIGTERM', 'SIGINT'];
  return new Promise((resolve, reject) => {
    const handlers = new Map<ShutdownSignal, () => void>();
    const detach = () => {
      for (const [sig, handler] of handlers) target.removeListener(sig, handler);
    };
    for (const signal of signals) {
      const handler = () => {
        detach();
        // A second Ctrl-C while stopping: the operator does not want to wait.
        for (const again of signals) {
          target.once(again, () => target.exit(options.forceExitCode ?? 130));
        }
        options.onSignal?.(signal);
        stop().then(
          () => resolve(signal),
          (err: unknown) => reject(err instanceof Error ? err : new Error(String(err))),
        );
      };
      handlers.set(signal, handler);
      target.once(signal, handler);
    }
  });
}
