// Helpers of the end-to-end suites: a sandbox in a temporary directory with short latencies,
// and polling with an upper bound (no timing is asserted; the bound only ends a hung test).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startSandbox,
  type Sandbox,
  type SandboxOptions,
} from '../../controller/sandbox/sandbox.ts';

export interface TestSandbox extends Sandbox {
  lines: string[];
  dir: string;
  close(): Promise<void>;
}

export async function testSandbox(options: Partial<SandboxOptions> = {}): Promise<TestSandbox> {
  const dir = await mkdtemp(join(tmpdir(), 'rctl-e2e-'));
  const lines: string[] = [];
  const sandbox = await startSandbox({
    dataDir: join(dir, 'sandbox'),
    taskStartMs: 400,
    runnerPollMs: 200,
    resyncSeconds: 2,
    print: (line) => lines.push(line),
    ...options,
  });
  return {
    ...sandbox,
    lines,
    dir,
    async close() {
      await sandbox.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function until(
  check: () => Promise<boolean> | boolean,
  what: string | (() => string | Promise<string>),
  limitMs = 20_000,
): Promise<void> {
  const start = Date.now();
  for (;;) {
    if (await check()) return;
    if (Date.now() - start > limitMs) {
      const detail = typeof what === 'string' ? what : await what();
      throw new Error(`never happened within ${limitMs} ms: ${detail}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
