// `npm start` without --once, as a user runs it: the sandbox process plays the plan, says how
// to drive it and keeps running; `runnerctl sandbox queue` queues a job that its timeline shows
// running; Ctrl-C (SIGINT) stops everything and the process exits 0 on its own.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../controller/cli/run.ts';
import { until } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dirs: string[] = [];

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('runnerctl sandbox (interactive)', () => {
  it('keeps running, runs queued jobs, and exits 0 on Ctrl-C', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rctl-interactive-'));
    dirs.push(dir);
    const child = spawn(
      process.execPath,
      [join(ROOT, 'bin/runnerctl.js'), 'sandbox', '--data-dir', 'sbx', '--task-start-ms', '500'],
      {
        cwd: dir,
        env: { PATH: process.env.PATH, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await until(
        () => out.includes('the sandbox keeps running'),
        () => out,
        25_000,
      );
      expect(out).toMatch(/webhook URL\s+http:\/\/127\.0\.0\.1:\d+\/webhook/);
      expect(out).toMatch(/plan: 2 jobs completed, 2 succeeded/);

      let queued = '';
      const code = await run(
        ['sandbox', 'queue', '--data-dir', 'sbx', '-l', 'self-hosted,2', '--job-ms', '300'],
        {
          stdout: { write: (s: string) => (queued += s) },
          stderr: { write: (s: string) => (queued += s) },
          stdin: new PassThrough(),
          env: {},
          cwd: dir,
        },
      );
      expect(code, queued).toBe(0);
      const jobId = /jobs (\d+)\)/.exec(queued)?.[1];
      expect(jobId, queued).toBeDefined();
      await until(
        () => new RegExp(`job ${jobId} job\\s+completed: success`).test(out),
        () => out,
      );
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(out).toContain('stopping:');
  }, 60_000);
});
