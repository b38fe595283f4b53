// Contexts: with a sandbox running (its sandbox.json in .runnerctl/sandbox) commands talk to its
// DynamoDB engine without flags; `config` switches contexts; reads never create a table.

import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import dynalite from 'dynalite';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../../../controller/cli/run.ts';
import { openStore } from '../../../controller/store/factory.ts';

const EXAMPLES = join(import.meta.dirname, '../../../crds/examples');
const creds = { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' };

let server: Server;
let endpoint: string;
const roots: string[] = [];
let cwd: string;

beforeAll(async () => {
  server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // What the sandbox does at start: its table exists.
  for (const table of ['runnerctl', 'prod']) {
    const store = await openStore({
      kind: 'dynamodb',
      endpoint,
      region: 'us-east-1',
      table,
      credentials: creds,
    });
    await store.close();
  }
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), 'runnerctl-ctx-'));
  roots.push(cwd);
});

function writeSandboxJson(pid: number) {
  const dir = join(cwd, '.runnerctl/sandbox');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'sandbox.json'),
    JSON.stringify({
      pid,
      dataDir: dir,
      github: { url: 'http://127.0.0.1:1', appId: 1, privateKeyFile: join(dir, 'none.pem') },
      ecs: { endpoint: 'http://127.0.0.1:1', region: 'us-east-1' },
      dynamodb: { endpoint, region: 'us-east-1', table: 'runnerctl' },
      aws: { region: 'us-east-1', ...creds },
      runnerNamePrefix: 'rctl',
    }),
  );
}

async function cli(argv: string[], env: Record<string, string> = {}) {
  let out = '';
  let err = '';
  const code = await run(argv, {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    stdin: Readable.from([]),
    env,
    cwd,
  });
  return { code, out, err };
}

describe('contexts', () => {
  it('finds the running sandbox and says so; use-context local switches away', async () => {
    writeSandboxJson(process.pid);
    expect(await cli(['config', 'current-context'])).toMatchObject({ code: 0, out: 'sandbox\n' });

    const applied = await cli(['apply', '-f', EXAMPLES]);
    expect(applied.code).toBe(0);
    expect(applied.out).toContain('runnerpool/seed ');
    expect(applied.err).toMatch(
      /^\(context "sandbox": sandbox in \.runnerctl\/sandbox: table runnerctl at http/,
    );
    // No local store was made beside it.
    expect(existsSync(join(cwd, '.runnerctl/dynamodb'))).toBe(false);

    const verbose = await cli(['get', 'pools', '-v']);
    expect(verbose.err).toContain('using context "sandbox"');
    expect(verbose.out).toContain('seed');
    // --data-dir of a running sandbox talks to its engine instead of failing on its lock.
    const byDir = await cli(['get', 'pools', '--data-dir', '.runnerctl/sandbox']);
    expect(byDir).toMatchObject({ code: 0 });
    expect(byDir.out).toContain('seed');

    const switched = await cli(['config', 'use-context', 'local']);
    expect(switched.code).toBe(0);
    expect(existsSync(join(cwd, '.runnerctl/contexts.yaml'))).toBe(true);
    const local = await cli(['get', 'pools']);
    expect(local).toMatchObject({ code: 0, err: 'No runner pools found.\n' });
    const listed = await cli(['config', 'get-contexts']);
    expect(listed.out).toMatch(/\*\s+local/);
  });

  it('a stopped sandbox is an error that says it is not running', async () => {
    writeSandboxJson(2 ** 22 + 12345); // no such process
    expect((await cli(['config', 'current-context'])).out).toBe('local\n');
    await cli(['config', 'use-context', 'sandbox']);
    const r = await cli(['get', 'pools']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('context "sandbox": no sandbox is running in .runnerctl/sandbox');
    const queued = await cli(['sandbox', 'queue', '--labels', 'self-hosted,1']);
    expect(queued.code).toBe(1);
    expect(queued.err).toContain('the sandbox in .runnerctl/sandbox is not running');
  });

  it('set-context names a DynamoDB table; a typo in --table is "does not exist" with the context', async () => {
    const file = join(cwd, 'my-contexts.yaml');
    const env = {
      RUNNERCTL_CONTEXTS: file,
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'x',
    };
    const set = await cli(
      [
        'config',
        'set-context',
        'prod',
        '--table',
        'prod',
        '--region',
        'us-east-1',
        '--endpoint',
        endpoint,
      ],
      env,
    );
    expect(set).toMatchObject({ code: 0 });
    expect((await cli(['config', 'use-context', 'prod'], env)).code).toBe(0);
    expect(existsSync(file)).toBe(true);
    const saved = process.env;
    process.env = { ...saved, ...env };
    try {
      const applied = await cli(['apply', '-f', join(EXAMPLES, 'seed-org-pool.yaml')], env);
      expect(applied.code).toBe(0);
      expect(applied.err).toContain('(context "prod": DynamoDB table prod in us-east-1 at');
      const typo = await cli(['get', 'pools', '--table', 'typo'], env);
      expect(typo.code).toBe(1);
      expect(typo.err).toContain('table "typo" does not exist (context "prod"');
      expect(typo.err).toContain('runnerctl init --table typo');
    } finally {
      process.env = saved;
    }
    expect((await cli(['config', 'use-context', 'nope'], env)).code).toBe(1);
  });

  it('--endpoint that is not a URL is a usage error', async () => {
    const r = await cli(['get', 'pools', '--endpoint', 'notaurl']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--endpoint must be an http:// or https:// URL, got "notaurl"');
  });
});
