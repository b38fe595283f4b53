// Runs the real runner entrypoint (runner/entrypoint.sh) against a fake run.sh that records its
// arguments, its environment and the signals it receives, and checks what the runner would see.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JIT_CONFIG_ENV } from '../../controller/api/constants.ts';

const REPO = resolve(import.meta.dirname, '../..');
const ENTRYPOINT = join(REPO, 'runner/entrypoint.sh');
// Looks like an encoded JIT config; unique so that any leak is unambiguous.
const JIT_CONFIG = `eyJydW5uZXIiOiJyY3RsLXRlc3QifQ-secret-${process.pid}-${Date.now()}`;

// FAKE_MODE=exit: exit at once with FAKE_EXIT_CODE.
// FAKE_MODE=wait: wait for a signal; FAKE_ON_SIGNAL=N traps TERM and INT and exits N,
// FAKE_ON_SIGNAL=default keeps the default disposition (the signal kills it).
const FAKE_RUN_SH = `#!/usr/bin/env bash
set -u
rec="\${FAKE_RECORD_DIR}"
printf '%s\\0' "$@" > "$rec/args"
env -0 > "$rec/env"
# What a job could read of the entrypoint (this script's parent) and of the temporary folder.
cat "/proc/$PPID/environ" > "$rec/parent-environ" 2>/dev/null || true
ls -A "\${TMPDIR}" > "$rec/tmp-listing"
on_signal() {
  echo "$1" >> "$rec/signals"
  exit "\${FAKE_ON_SIGNAL}"
}
if [[ "\${FAKE_MODE}" == wait && "\${FAKE_ON_SIGNAL}" != default ]]; then
  trap 'on_signal TERM' TERM
  trap 'on_signal INT' INT
fi
# A builtin, not touch: were bash waiting for a child when SIGINT arrives, it would assume the
# child handled it and carry on (wait-and-cooperative-exit), and the test would hang.
: > "$rec/ready"
if [[ "\${FAKE_MODE}" == exit ]]; then
  exit "\${FAKE_EXIT_CODE}"
fi
if [[ "\${FAKE_ON_SIGNAL}" == default ]]; then
  exec sleep 30 # dies by the signal, like a runner without handlers
fi
while :; do sleep 0.05; done
`;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Arguments run.sh received; undefined when it never started. */
  args?: string[];
  /** Environment run.sh saw. */
  env?: Map<string, string>;
  /** Signals run.sh trapped, in order. */
  signals: string[];
  /** /proc/<entrypoint pid>/environ as run.sh could read it. */
  parentEnviron?: string;
  /** The temporary folder's entries when run.sh started. */
  tmpListing?: string;
}

let root: string;
let runnerHome: string;
let runCount = 0;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'runnerctl-entrypoint-'));
  runnerHome = join(root, 'home');
  spawnSync('mkdir', ['-p', runnerHome]);
  writeFileSync(join(runnerHome, 'run.sh'), FAKE_RUN_SH, { mode: 0o755 });
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

async function runEntrypoint(options: {
  jitConfig?: string;
  fake: Record<string, string>;
  sendSignal?: NodeJS.Signals;
}): Promise<Run> {
  const recordDir = join(root, `run-${++runCount}`);
  spawnSync('mkdir', ['-p', recordDir]);
  const tmp = join(recordDir, 'tmp');
  spawnSync('mkdir', ['-p', tmp]);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    TMPDIR: tmp,
    RUNNER_HOME: runnerHome,
    FAKE_RECORD_DIR: recordDir,
    FAKE_MODE: 'exit',
    FAKE_EXIT_CODE: '0',
    FAKE_ON_SIGNAL: 'default',
    ...options.fake,
  };
  if (options.jitConfig !== undefined) env[JIT_CONFIG_ENV] = options.jitConfig;

  const child = spawn(ENTRYPOINT, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on('close', (code, signal) => done({ code, signal })),
  );

  if (options.sendSignal) {
    // Signal only once the fake runner has installed its traps.
    while (!existsSync(join(recordDir, 'ready'))) await sleep(10);
    child.kill(options.sendSignal);
  }
  const { code, signal } = await exited;

  const read = (name: string) => {
    const path = join(recordDir, name);
    return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  };
  const rawArgs = read('args');
  const rawEnv = read('env');
  return {
    code,
    signal,
    stdout,
    stderr,
    args: rawArgs === undefined ? undefined : rawArgs.split('\0').slice(0, -1),
    env:
      rawEnv === undefined
        ? undefined
        : new Map(
            rawEnv
              .split('\0')
              .filter((entry) => entry.includes('='))
              .map((entry) => [
                entry.slice(0, entry.indexOf('=')),
                entry.slice(entry.indexOf('=') + 1),
              ]),
          ),
    signals: (read('signals') ?? '').split('\n').filter(Boolean),
    parentEnviron: read('parent-environ'),
    tmpListing: read('tmp-listing'),
  };
}

function expectNoLeak(run: Run) {
  expect(run.stdout).not.toContain(JIT_CONFIG);
  expect(run.stderr).not.toContain(JIT_CONFIG);
}

describe('runner entrypoint', () => {
  it('starts run.sh with the JIT config as its only argument, and not in its environment', async () => {
    const run = await runEntrypoint({ jitConfig: JIT_CONFIG, fake: {} });
    expect(run.code).toBe(0);
    expect(run.args).toEqual(['--jitconfig', JIT_CONFIG]);
    expect(run.env).toBeDefined();
    expect(run.env!.has(JIT_CONFIG_ENV)).toBe(false);
    for (const [name, value] of run.env!) {
      expect(value, `environment variable ${name}`).not.toContain(JIT_CONFIG);
    }
    // The rest of the environment is passed through untouched.
    expect(run.env!.get('FAKE_MODE')).toBe('exit');
    expectNoLeak(run);
  });

  it("keeps the JIT config out of the entrypoint's /proc environ and off the disk", async () => {
    const run = await runEntrypoint({ jitConfig: JIT_CONFIG, fake: {} });
    expect(run.code).toBe(0);
    expect(run.args).toEqual(['--jitconfig', JIT_CONFIG]);
    expect(run.parentEnviron).toBeDefined();
    expect(run.parentEnviron).toContain('RUNNER_HOME=');
    expect(run.parentEnviron).not.toContain(JIT_CONFIG);
    expect(run.parentEnviron).not.toContain(`${JIT_CONFIG_ENV}=`);
    // The file that carried it across the re-exec is gone before the runner starts.
    expect(run.tmpListing).toBe('');
    expect(run.env!.has('RUNNERCTL_JIT_CONFIG_FILE')).toBe(false);
    expectNoLeak(run);
  });

  it('never reads a file that RUNNERCTL_JIT_CONFIG_FILE names outside its own folder', async () => {
    const outside = join(root, 'not-a-jit-config');
    writeFileSync(outside, 'precious');
    const run = await runEntrypoint({ fake: { RUNNERCTL_JIT_CONFIG_FILE: outside } });
    expect(run.code).toBe(64);
    expect(run.args).toBeUndefined();
    expect(readFileSync(outside, 'utf8')).toBe('precious');
  });

  it("exits with the runner's exit code", async () => {
    const run = await runEntrypoint({ jitConfig: JIT_CONFIG, fake: { FAKE_EXIT_CODE: '3' } });
    expect(run.code).toBe(3);
    expect(run.args).toEqual(['--jitconfig', JIT_CONFIG]);
    expect(run.stderr).toContain('runner exited with status 3');
    expectNoLeak(run);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
  ])('refuses to start when the JIT config is %s', async (_case, jitConfig) => {
    const run = await runEntrypoint({ jitConfig, fake: {} });
    expect(run.code).not.toBe(0);
    expect(run.code).toBe(64);
    expect(run.stderr).toContain(`${JIT_CONFIG_ENV} is missing or empty`);
    expect(run.args).toBeUndefined(); // run.sh never started
  });

  it('refuses to start when RUNNER_HOME has no run.sh', async () => {
    const recordDir = join(root, 'no-runner');
    spawnSync('mkdir', ['-p', recordDir]);
    const result = spawnSync(ENTRYPOINT, [], {
      env: { PATH: process.env.PATH ?? '', RUNNER_HOME: recordDir, [JIT_CONFIG_ENV]: JIT_CONFIG },
      encoding: 'utf8',
    });
    expect(result.status).toBe(66);
    expect(result.stderr).toContain(`no executable run.sh in RUNNER_HOME=${recordDir}`);
    expect(result.stderr).not.toContain(JIT_CONFIG);
  });

  it('forwards SIGTERM to the runner and exits with the code the runner chose', async () => {
    const run = await runEntrypoint({
      jitConfig: JIT_CONFIG,
      fake: { FAKE_MODE: 'wait', FAKE_ON_SIGNAL: '0' },
      sendSignal: 'SIGTERM',
    });
    expect(run.signals).toEqual(['TERM']);
    expect(run.code).toBe(0);
    expect(run.signal).toBeNull();
    expectNoLeak(run);
  });

  it('forwards SIGINT to the runner (not ignored as for plain background jobs)', async () => {
    const run = await runEntrypoint({
      jitConfig: JIT_CONFIG,
      fake: { FAKE_MODE: 'wait', FAKE_ON_SIGNAL: '42' },
      sendSignal: 'SIGINT',
    });
    expect(run.signals).toEqual(['INT']);
    expect(run.code).toBe(42);
    expectNoLeak(run);
  });

  it('exits 143 when SIGTERM kills a runner that does not handle it', async () => {
    const run = await runEntrypoint({
      jitConfig: JIT_CONFIG,
      fake: { FAKE_MODE: 'wait', FAKE_ON_SIGNAL: 'default' },
      sendSignal: 'SIGTERM',
    });
    expect(run.signals).toEqual([]);
    expect(run.code).toBe(128 + 15);
    expectNoLeak(run);
  });

  it('exits 130 when SIGINT kills a runner that does not handle it', async () => {
    const run = await runEntrypoint({
      jitConfig: JIT_CONFIG,
      fake: { FAKE_MODE: 'wait', FAKE_ON_SIGNAL: 'default' },
      sendSignal: 'SIGINT',
    });
    expect(run.code).toBe(128 + 2);
    expectNoLeak(run);
  });
});

describe('shell scripts', () => {
  it.each(['runner/entrypoint.sh'])('%s is shellcheck-clean', (script) => {
    const result = spawnSync('shellcheck', ['--severity=style', script], {
      cwd: REPO,
      encoding: 'utf8',
    });
    expect(
      result.error,
      'shellcheck must be installed (CI installs it in .ci/run)',
    ).toBeUndefined();
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
