// Forks test/bench/controller-process.ts and talks to it: the controller under benchmark runs
// in its own process, so its RSS and CPU are not mixed with the local cloud's.

import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { controllerImageNodeFlags } from './image-flags.ts';
import type { ChildRequest, ChildSpec, ChildStats } from './protocol.ts';

const RUN_TS = fileURLToPath(new URL('../../bin/run-ts.js', import.meta.url));
const ENTRY = fileURLToPath(new URL('./controller-process.ts', import.meta.url));

type Reply = { id: number; result?: unknown; error?: string };
type Ready = { ready: true; webhookUrl?: string; url: string };
type Command = ChildRequest extends infer R ? (R extends { cmd: infer C } ? C : never) : never;

export interface ControllerChild {
  webhookUrl: string;
  url: string;
  pid: number;
  stats(reset?: boolean): Promise<ChildStats>;
  /** Takes the lease if free, reconciles every key once; the wall time it took. */
  reconcileOnce(): Promise<{ leader: boolean; ms: number }>;
  /** Stops the controller (lease released) and the process; its last stats. */
  stop(): Promise<ChildStats>;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  kill(): void;
}

export async function startControllerChild(spec: ChildSpec): Promise<ControllerChild> {
  const child: ChildProcess = fork(RUN_TS, [ENTRY], {
    env: {
      ...process.env,
      RUNNERCTL_BENCH_CHILD: JSON.stringify(spec),
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // RUNNERCTL_BENCH_CPU_PROF=DIR: a V8 CPU profile of the controller process, for finding
    // where its time goes (open it in Chrome DevTools, or see docs/benchmark.md).
    // The production image's Node flags (its GC settings shape the RSS), then
    // RUNNERCTL_BENCH_NODE_FLAGS='--flag ...': extra ones, to try one out before it goes there.
    execArgv: [
      ...controllerImageNodeFlags(),
      ...(process.env.RUNNERCTL_BENCH_CPU_PROF
        ? ['--cpu-prof', '--cpu-prof-dir', process.env.RUNNERCTL_BENCH_CPU_PROF]
        : []),
      ...(process.env.RUNNERCTL_BENCH_NODE_FLAGS?.split(/\s+/).filter(Boolean) ?? []),
    ],
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let exited: Error | undefined;
  const exitedPromise = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<Ready>((resolve, reject) => {
    child.on('message', (message: Reply | Ready) => {
      if ('ready' in message) return resolve(message);
      const waiter = pending.get(message.id);
      if (!waiter) return;
      pending.delete(message.id);
      if (message.error !== undefined) waiter.reject(new Error(message.error));
      else waiter.resolve(message.result);
    });
    child.on('exit', (code, signal) => {
      exited = new Error(`the controller process exited (${signal ?? `code ${code}`})`);
      reject(exited);
      for (const waiter of pending.values()) waiter.reject(exited);
      pending.clear();
    });
  });
  const request = <T>(cmd: Command, extra: Record<string, unknown> = {}): Promise<T> => {
    if (exited) return Promise.reject(exited);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, cmd, ...extra });
    });
  };
  const info = await ready;
  return {
    webhookUrl: info.webhookUrl ?? '',
    url: info.url,
    pid: child.pid!,
    stats: (reset = false) => request<ChildStats>('stats', { reset }),
    reconcileOnce: () => request<{ leader: boolean; ms: number }>('reconcileOnce'),
    stop: () => request<ChildStats>('stop'),
    exited: exitedPromise,
    kill: () => {
      if (!exited) child.kill('SIGKILL');
    },
  };
}
