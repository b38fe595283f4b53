// The fake runner as the controller sees it: exit codes and messages for malformed, unknown and
// used JIT configs, deregistration on abort while idle, and the `run.ts --jitconfig` process.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Octokit } from '@octokit/core';
import { RequestError } from '@octokit/request-error';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startGitHubSimulator,
  type GitHubSimulator,
} from '../../../controller/sandbox/github/index.ts';
import { runFakeRunner } from '../../../controller/sandbox/runner/fake-runner.ts';
import { scaledClock, type Clock } from '../../../controller/util/clock.ts';
import { appFor, eventually, newLog } from './github-helpers.ts';

const runScript = fileURLToPath(
  new URL('../../../controller/sandbox/runner/run.ts', import.meta.url),
);

let sim: GitHubSimulator;
let octokit: Octokit;

beforeAll(async () => {
  sim = await startGitHubSimulator();
  await sim.control.createOrg({ login: 'acme' });
  await sim.control.createRepo({ owner: 'acme', name: 'app' });
  const id = (await sim.control.createInstallation({ account: 'acme' })).id;
  octokit = await appFor(sim, newLog()).installation(id);
});

afterAll(async () => {
  await sim?.close();
});

async function jit(name: string, labels = ['self-hosted', 'linux']) {
  const res = await octokit.request('POST /orgs/{org}/actions/runners/generate-jitconfig', {
    org: 'acme',
    name,
    runner_group_id: 1,
    labels,
  });
  return { id: res.data.runner.id, config: res.data.encoded_jit_config };
}

async function exists(id: number): Promise<boolean> {
  try {
    await octokit.request('GET /orgs/{org}/actions/runners/{runner_id}', {
      org: 'acme',
      runner_id: id,
    });
    return true;
  } catch (error) {
    if (error instanceof RequestError && error.status === 404) return false;
    throw error;
  }
}

async function play(config: string, signal?: AbortSignal, clock?: Clock) {
  const lines: string[] = [];
  const code = await runFakeRunner({
    encodedJitConfig: config,
    log: (l) => lines.push(l),
    pollWaitMs: 2_000,
    ...(signal ? { signal } : {}),
    ...(clock ? { clock } : {}),
  });
  return { code, out: lines.join('\n') };
}

describe('fake runner', () => {
  it('refuses malformed JIT configs with a non-zero exit and never echoes them', async () => {
    const bad = [
      'not base64 at all!',
      Buffer.from('{"nope":1}').toString('base64'),
      Buffer.from(
        JSON.stringify({
          '.runner': 'e30=',
          '.credentials': 'e30=',
          '.credentials_rsaparams': 'e30=',
        }),
      ).toString('base64'),
      '',
    ];
    for (const config of bad) {
      const { code, out } = await play(config);
      expect(code).toBe(1);
      expect(out).toMatch(/Invalid JIT configuration/);
      if (config.length > 0) expect(out).not.toContain(config);
    }
  });

  it('runs one job, deregisters and exits 0; the same config then fails as used', async () => {
    const r = await jit('rctl-once');
    const run = await sim.control.createWorkflowRun({
      repo: 'acme/app',
      jobs: [{ name: 'build', runsOn: ['self-hosted', 'linux'], durationMs: 30 }],
    });
    const first = await play(r.config);
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/Connected to GitHub/);
    expect(first.out).toMatch(/Running job: build/);
    expect(first.out).toMatch(/completed with result: Succeeded/);
    expect(first.out).not.toContain(r.config);
    expect((await sim.control.getJob({ jobId: run.jobIds[0]! })).status).toBe('completed');
    expect(await exists(r.id)).toBe(false);

    const again = await play(r.config);
    expect(again.code).toBe(1);
    expect(again.out).toMatch(
      /The runner registration has been deleted from the server, please re-configure\./,
    );
  });

  it('fails for an unknown runner (deleted before it started)', async () => {
    const r = await jit('rctl-deleted');
    await octokit.request('DELETE /orgs/{org}/actions/runners/{runner_id}', {
      org: 'acme',
      runner_id: r.id,
    });
    const { code, out } = await play(r.config);
    expect(code).toBe(1);
    expect(out).toMatch(/Failed to create a session/);
  });

  it('refuses a second session while the first one runs', async () => {
    const r = await jit('rctl-twice', ['self-hosted', 'twice']);
    const stop = new AbortController();
    const first = play(r.config, stop.signal);
    await eventually(
      async () => (await sim.control.listRunners()).find((x) => x.id === r.id)?.status === 'online',
      'online',
    );
    // The runner retries a conflicting session for a while; a fast clock keeps the test short.
    const second = await play(r.config, undefined, scaledClock(1_000));
    expect(second.code).toBe(1);
    expect(second.out).toMatch(/A session for this runner already exists/);
    stop.abort();
    expect((await first).code).toBe(0);
  });

  it('deregisters and exits 0 when aborted while idle (SIGTERM)', async () => {
    const r = await jit('rctl-idle', ['self-hosted', 'idle-only']);
    const stop = new AbortController();
    const exit = play(r.config, stop.signal);
    await eventually(
      async () => (await sim.control.listRunners()).find((x) => x.id === r.id)?.status === 'online',
      'online',
    );
    stop.abort();
    const result = await exit;
    expect(result.code, result.out).toBe(0);
    expect(await exists(r.id), result.out).toBe(false);
  });

  it('cancels its job, deregisters and exits 0 when aborted while busy (SIGTERM)', async () => {
    const r = await jit('rctl-busy-term', ['self-hosted', 'busy-term']);
    const run = await sim.control.createWorkflowRun({
      repo: 'acme/app',
      jobs: [{ name: 'long', runsOn: ['busy-term'], durationMs: 3_600_000 }],
    });
    const jobId = run.jobIds[0]!;
    const stop = new AbortController();
    const exit = play(r.config, stop.signal);
    await eventually(
      async () => (await sim.control.getJob({ jobId })).status === 'in_progress',
      'job taken',
    );
    stop.abort();
    const result = await exit;
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/completed with result: Canceled/);
    expect(await sim.control.getJob({ jobId })).toMatchObject({
      status: 'completed',
      conclusion: 'cancelled',
    });
    expect(await exists(r.id)).toBe(false);
  });

  it('exits when GitHub deletes it while idle', async () => {
    const r = await jit('rctl-removed', ['self-hosted', 'removed-only']);
    const exit = play(r.config);
    await eventually(
      async () => (await sim.control.listRunners()).find((x) => x.id === r.id)?.status === 'online',
      'online',
    );
    await octokit.request('DELETE /orgs/{org}/actions/runners/{runner_id}', {
      org: 'acme',
      runner_id: r.id,
    });
    const { code, out } = await exit;
    expect(code).toBe(1);
    expect(out).toMatch(/registration has been deleted/);
  });

  it('runs as a process: run.ts --jitconfig X', async () => {
    const r = await jit('rctl-process', ['self-hosted', 'process']);
    await sim.control.createWorkflowRun({
      repo: 'acme/app',
      jobs: [{ name: 'proc', runsOn: ['process'], durationMs: 20 }],
    });
    const child = spawn(process.execPath, ['--import', 'tsx', runScript, '--jitconfig', r.config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, out).toBe(0);
    expect(out).toMatch(/completed with result: Succeeded/);
    expect(out).not.toContain(r.config);
  });

  it('fails the job of a runner killed while busy (SIGKILL) once it is lost', async () => {
    await sim.control.setTimings({ runnerLostAfterMs: 300 });
    const r = await jit('rctl-killed', ['self-hosted', 'killed']);
    const run = await sim.control.createWorkflowRun({
      repo: 'acme/app',
      jobs: [{ name: 'long', runsOn: ['killed'], durationMs: 3_600_000 }],
    });
    const child = spawn(process.execPath, ['--import', 'tsx', runScript, '--jitconfig', r.config], {
      stdio: 'ignore',
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => resolve(signal)),
    );
    const jobId = run.jobIds[0]!;
    await eventually(
      async () => (await sim.control.getJob({ jobId })).status === 'in_progress',
      'job taken',
    );
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const failed = await eventually(async () => {
      const j = await sim.control.getJob({ jobId });
      return j.status === 'completed' ? j : undefined;
    }, 'the lost-runner timeout');
    expect(failed.conclusion).toBe('failure');
    expect(await exists(r.id)).toBe(false);
  });
});
