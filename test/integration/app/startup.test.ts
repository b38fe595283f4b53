// The composition root refuses to start on bad settings with a message that names the setting
// and never the secret, and starts nothing when it refuses.

import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControllerApp } from '../../../controller/app/app.ts';
import { StartupError } from '../../../controller/app/errors.ts';
import { run } from '../../../controller/cli/run.ts';
import type { ControllerConfig } from '../../../controller/config/types.ts';

let dir: string;
const SECRET = 'webhook-secret-value-never-printed';
const PEM = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .privateKey.export({ type: 'pkcs1', format: 'pem' })
  .toString();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rctl-app-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function cli(env: Record<string, string> = {}) {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: (s: string) => (err += s) },
      stdin: new PassThrough(),
      env,
      cwd: dir,
    },
    out: () => out,
    err: () => err,
  };
}

describe('runnerctl controller: bad settings', () => {
  it('a missing private key file: exit 1, the setting named, no secret printed', async () => {
    const file = join(dir, 'missing-key.yaml');
    await writeFile(
      file,
      [
        'github:',
        '  appId: 12345',
        `  privateKey: { file: ${join(dir, 'nope.pem')} }`,
        '  webhookSecret: { env: HOOK_SECRET }',
        'table: runnerctl',
        '',
      ].join('\n'),
    );
    const c = cli({ HOOK_SECRET: SECRET });
    const code = await run(['controller', '--config', file], c.io);
    expect(code).toBe(1);
    expect(c.err()).toMatch(/github\.privateKey/);
    expect(c.err()).toMatch(/nope\.pem/);
    expect(c.err() + c.out()).not.toContain(SECRET);
  });

  it('--check reads the secrets and says what it would run, without starting anything', async () => {
    const keyFile = join(dir, 'key.pem');
    await writeFile(keyFile, PEM);
    const file = join(dir, 'ok.yaml');
    await writeFile(
      file,
      [
        'github:',
        '  appId: 12345',
        `  privateKey: { file: ${keyFile} }`,
        '  webhookSecret: { env: HOOK_SECRET }',
        'queueUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/runnerctl',
        '',
      ].join('\n'),
    );
    const c = cli({ HOOK_SECRET: SECRET });
    const code = await run(['controller', '--config', file, '--check'], c.io);
    expect(c.err()).toBe('');
    expect(code).toBe(0);
    expect(c.out()).toMatch(/settings ok: App 12345, table runnerctl, queue https:\/\/sqs/);
    expect(c.out()).not.toContain(SECRET);
    expect(c.out()).not.toContain(PEM.split('\n')[1]!);

    // #13: a truncated key looks like PEM but does not parse: refused, the key never printed.
    const lines = PEM.trim().split('\n');
    await writeFile(keyFile, [...lines.slice(0, 10), lines.at(-1)].join('\n'));
    const t = cli({ HOOK_SECRET: SECRET });
    expect(await run(['controller', '--config', file, '--check'], t.io)).toBe(1);
    expect(t.err()).toMatch(/github\.privateKey: file .*key\.pem is not a valid PEM private key/);
    expect(t.out()).toBe('');
    expect(t.err()).not.toContain(lines[1]!);
  });

  it('a store that cannot be reached: StartupError naming the store, nothing left running', async () => {
    const keyFile = join(dir, 'key2.pem');
    await writeFile(keyFile, PEM);
    const config: ControllerConfig = {
      github: { appId: 1, privateKey: { file: keyFile } },
      // Nothing listens on port 9 of loopback.
      aws: { region: 'us-east-1', dynamodbEndpoint: 'http://127.0.0.1:9' },
      table: 'runnerctl',
      server: { port: 0 },
      runnerNamePrefix: 'rctl',
      resyncSeconds: 60,
      pacing: { jitPerMinute: 180, runTaskPerSecond: 20, runTaskBurst: 100 },
      leaseSeconds: 15,
    };
    const err = await startControllerApp({
      config,
      env: {},
      awsCredentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      log: { level: 'silent' },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect((err as StartupError).part).toBe('store');
  });
});
