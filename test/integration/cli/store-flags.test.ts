// The store flags: how flags, environment and defaults pick the store, and a real run of
// `--store dynamodb --endpoint` against a DynamoDB engine on loopback (dynalite, in memory).

import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import dynalite from 'dynalite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeOptionsFrom, type CliIo } from '../../../controller/cli/context.ts';
import { run } from '../../../controller/cli/run.ts';

const ROOT = join(import.meta.dirname, '../../..');

function io(env: Record<string, string> = {}, cwd = '/work/here'): CliIo {
  return {
    stdout: { write: () => true },
    stderr: { write: () => true },
    stdin: Readable.from([]),
    env,
    cwd,
  };
}

describe('store options', () => {
  it('defaults to the local store in .runnerctl under the working directory', () => {
    expect(storeOptionsFrom({}, io())).toEqual({ kind: 'local', dataDir: '/work/here/.runnerctl' });
  });

  it('takes RUNNERCTL_DATA_DIR, and --data-dir over it, relative to the working directory', () => {
    expect(storeOptionsFrom({}, io({ RUNNERCTL_DATA_DIR: 'state' }))).toEqual({
      kind: 'local',
      dataDir: '/work/here/state',
    });
    expect(storeOptionsFrom({ dataDir: '/abs/dir' }, io({ RUNNERCTL_DATA_DIR: 'state' }))).toEqual({
      kind: 'local',
      dataDir: '/abs/dir',
    });
  });

  it('builds DynamoDB options from flags, then the environment, then defaults', () => {
    expect(storeOptionsFrom({ store: 'dynamodb' }, io())).toEqual({
      kind: 'dynamodb',
      table: 'runnerctl',
    });
    expect(
      storeOptionsFrom(
        {},
        io({
          RUNNERCTL_STORE: 'dynamodb',
          RUNNERCTL_TABLE: 'from-env',
          RUNNERCTL_DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000',
        }),
      ),
    ).toEqual({ kind: 'dynamodb', table: 'from-env', endpoint: 'http://127.0.0.1:8000' });
    expect(
      storeOptionsFrom(
        { store: 'dynamodb', table: 'flag', region: 'eu-west-1', endpoint: 'http://x' },
        io({ RUNNERCTL_TABLE: 'from-env' }),
      ),
    ).toEqual({ kind: 'dynamodb', table: 'flag', region: 'eu-west-1', endpoint: 'http://x' });
  });

  it('refuses an unknown RUNNERCTL_STORE', () => {
    expect(() => storeOptionsFrom({}, io({ RUNNERCTL_STORE: 'sqlite' }))).toThrow(
      'RUNNERCTL_STORE must be local or dynamodb, got "sqlite"',
    );
  });
});

describe('--store dynamodb --endpoint', () => {
  let server: Server;
  let endpoint: string;
  const dataDir = mkdtempSync(join(tmpdir(), 'runnerctl-flags-'));
  const saved = { ...process.env };

  beforeAll(async () => {
    // The SDK's default credential chain reads the process environment.
    process.env.AWS_ACCESS_KEY_ID = 'test';
    process.env.AWS_SECRET_ACCESS_KEY = 'test';
    server = dynalite({ createTableMs: 0 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    process.env = saved;
    await new Promise((resolve) => server.close(resolve));
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function cli(argv: string[]) {
    let out = '';
    let err = '';
    const code = await run(argv, {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: (s: string) => (err += s) },
      stdin: Readable.from([]),
      env: { RUNNERCTL_DATA_DIR: dataDir },
      cwd: ROOT,
    });
    return { code, out, err };
  }

  it('applies to and reads from the table named by --table', async () => {
    const flags = ['--store', 'dynamodb', '--endpoint', endpoint, '--region', 'us-east-1'];
    expect((await cli(['init', ...flags, '--table', 'pools-a'])).code).toBe(0);
    const applied = await cli(['apply', '-f', 'crds/examples', ...flags, '--table', 'pools-a']);
    expect(applied).toMatchObject({ code: 0, err: '' });
    expect(applied.out).toContain('runnerpool/seed created');

    const listed = await cli(['get', 'pools', '-o', 'json', ...flags, '--table', 'pools-a']);
    expect(JSON.parse(listed.out).items).toHaveLength(4);
    // Reads create no table: a typo is an error naming the table.
    const other = await cli(['get', 'pools', '-o', 'json', ...flags, '--table', 'pools-b']);
    expect(other).toMatchObject({ code: 1, out: '' });
    expect(other.err).toContain('table "pools-b" does not exist');
    expect(other.err).toContain('runnerctl init --table pools-b');
    const local = await cli(['get', 'pools', '-o', 'json']);
    expect(JSON.parse(local.out).items).toHaveLength(0);
  });
});
