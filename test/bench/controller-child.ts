// Forks test/bench/controller-process.ts and talks to it: the controller under benchmark runs
// in its own process, so its RSS and CPU are not mixed with the local cloud's. It runs as the
// image runs it: compiled to JavaScript (tsconfig.build.json, type checks skipped), started by
// plain Node with the image's flags. Run through tsx instead (RUNNERCTL_BENCH_TSX=1, no compile
// step) its RSS would count tsx's loader thread too, about 24 MiB that production never has.

import { execFile, fork, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { controllerImageNodeFlags } from './image-flags.ts';
import type { ChildRequest, ChildSpec, ChildStats } from './protocol.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const RUN_TS = join(REPO, 'bin/run-ts.js');
const ENTRY = join(REPO, 'test/bench/controller-process.ts');

let compiled: Promise<string> | undefined;

/** controller-process.ts and what it imports, compiled once per benchmark process: its entry. */
function compiledEntry(): Promise<string> {
  compiled ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runnerctl-bench-controller-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const out = join(dir, 'app');
    // tsc resolves `types` (@types/node) from the config's folder.
    symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: join(REPO, 'tsconfig.build.json'),
        compilerOptions: { outDir: out, rootDir: REPO, noCheck: true },
        files: [ENTRY],
        include: [],
      }),
    );
    await promisify(execFile)(process.execPath, [
      join(REPO, 'node_modules/typescript/bin/tsc'),
      '-p',
      join(dir, 'tsconfig.json'),
    ]).catch((err: Error & { stdout?: string }) => {
      throw new Error(`bench: compiling the controller failed: ${err.stdout || err.message}`);
    });
    // What the compiled code reads beside itself, as in the image.
    copyFileSync(join(REPO, 'package.json'), join(out, 'package.json'));
    symlinkSync(join(REPO, 'crds'), join(out, 'crds'));
    symlinkSync(join(REPO, 'node_modules'), join(out, 'node_modules'));
    return join(out, 'test/bench/controller-process.js');
  })();
  return compiled;
}

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
  const fromSource = process.env.RUNNERCTL_BENCH_TSX === '1';
  const [modulePath, args] = fromSource ? [RUN_TS, [ENTRY]] : [await compiledEntry(), []];
  const child: ChildProcess = fork(modulePath, args, {
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
