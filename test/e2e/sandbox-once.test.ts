// `runnerctl sandbox --once` (what `npm start -- --once` runs), in-process through the CLI's
// run(): it exits 0, its timeline shows the seed plan step by step, sandbox.json and the key
// files are owner-only, no secret reaches the output, and the store it leaves behind holds no
// pool and no unfinished runner record.

import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../controller/cli/run.ts';
import type { SandboxInfo } from '../../controller/sandbox/sandbox.ts';
import { openStore } from '../../controller/store/factory.ts';

const dirs: string[] = [];

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

function io(cwd: string) {
  let stdout = '';
  let stderr = '';
  return {
    io: {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      stdin: new PassThrough(),
      env: {},
      cwd,
    },
    out: () => stdout,
    err: () => stderr,
  };
}

describe('runnerctl sandbox --once', () => {
  it('plays the seed plan, drains, and exits 0 with nothing left behind', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'rctl-sandbox-'));
    dirs.push(cwd);
    const cli = io(cwd);
    const code = await run(
      ['sandbox', '--once', '--task-start-ms', '600', '--job-ms', '800', '--timeout-seconds', '25'],
      cli.io,
    );
    const out = cli.out();
    expect(cli.err()).toBe('');
    expect(code, out).toBe(0);

    // The timeline tells the plan's story, in this order, for the job on [self-hosted, 1].
    const lines = out.split('\n');
    const first = (re: RegExp) => lines.findIndex((l) => re.test(l));
    const queued = first(/job \d+ run-it \(1\)\s+queued, runs-on \[self-hosted, 1\]/);
    const inProgress = first(/job \d+ run-it \(1\)\s+in progress on runner rctl-seed-/);
    const runnerName = /on runner (rctl-seed-\S+)/.exec(lines[inProgress] ?? '')?.[1];
    expect(runnerName, out).toBeDefined();
    const provisioning = first(new RegExp(`PROVISIONING \\(runner ${runnerName}, FARGATE_SPOT\\)`));
    const taskId = /task (\w+)/.exec(lines[provisioning] ?? '')?.[1];
    const running = first(new RegExp(`task ${taskId}\\s+RUNNING`));
    const completed = first(/job \d+ run-it \(1\)\s+completed: success/);
    const removed = first(new RegExp(`runner ${runnerName}\\s+removed from GitHub`));
    const stopped = first(new RegExp(`task ${taskId}\\s+STOPPED, exit 0`));
    const order = [queued, provisioning, running, inProgress, completed, removed];
    expect(
      order.every((i) => i >= 0),
      out,
    ).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(stopped, out).toBeGreaterThan(running);
    expect(out).toMatch(/plan: 2 jobs completed, 2 succeeded/);
    expect(out).toMatch(/ok: every job succeeded; no runner, task or runner record left/);

    // sandbox.json: the endpoints, owner-only; the key files too.
    const dataDir = join(cwd, '.runnerctl', 'sandbox');
    const infoFile = join(dataDir, 'sandbox.json');
    const info = JSON.parse(await readFile(infoFile, 'utf8')) as SandboxInfo;
    expect(info.webhook.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/webhook$/);
    expect(info.github.appId).toBeGreaterThan(0);
    expect(info.ecs).toMatchObject({ cluster: 'runnerctl', taskDefinition: 'runnerctl-runner' });
    expect(info.sqs.queueUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    for (const file of [infoFile, info.github.privateKeyFile, info.webhook.secretFile]) {
      expect(((await stat(file)).mode & 0o777).toString(8), file).toBe('600');
    }
    const key = await readFile(info.github.privateKeyFile, 'utf8');
    expect(key).toMatch(/-----BEGIN RSA PRIVATE KEY-----/);
    // No secret in the output or the controller's log.
    const log = await readFile(info.controller.logFile, 'utf8');
    for (const text of [out, log]) {
      expect(text).not.toContain(info.webhook.secret);
      expect(text).not.toContain('PRIVATE KEY');
      expect(text).not.toContain(key.split('\n')[1]);
    }
    expect(log).toContain('controller started');

    // The store it left behind: no pool (drained and removed), every runner record finished.
    const store = await openStore({ kind: 'local', dataDir });
    try {
      expect(await store.listPools()).toEqual([]);
      const records = await store.listRunners();
      expect(records.length).toBeGreaterThanOrEqual(2);
      expect(records.filter((r) => r.state !== 'finished')).toEqual([]);
      const jobs = await store.listJobs();
      expect(jobs.map((j) => [j.status, j.conclusion])).toEqual([
        ['completed', 'success'],
        ['completed', 'success'],
      ]);
    } finally {
      await store.close();
    }
  });
});
