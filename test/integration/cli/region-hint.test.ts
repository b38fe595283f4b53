// The AWS SDK's bare "Region is missing" becomes where to set a region, naming the context.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../controller/cli/run.ts';

const cwd = mkdtempSync(join(tmpdir(), 'runnerctl-region-'));
// The SDK reads the region from the process environment and ~/.aws: empty both for this file.
const REGION_VARS = ['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_PROFILE'];
const CONFIG_VARS = ['AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE'];
const saved = new Map<string, string | undefined>();
beforeAll(() => {
  for (const name of [...REGION_VARS, ...CONFIG_VARS]) saved.set(name, process.env[name]);
  for (const name of REGION_VARS) delete process.env[name];
  for (const name of CONFIG_VARS) process.env[name] = join(cwd, 'no-such-aws-file');
});
afterAll(() => {
  for (const [name, value] of saved) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  rmSync(cwd, { recursive: true, force: true });
});

async function cli(argv: string[]) {
  let out = '';
  let err = '';
  const code = await run(argv, {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    stdin: Readable.from([]),
    env: {},
    cwd,
  });
  return { code, out, err };
}

describe('no AWS region', () => {
  it('a named context without a region: the hint names the context', async () => {
    await cli(['config', 'set-context', 'prod', '--table', 'runners']);
    await cli(['config', 'use-context', 'prod']);
    const r = await cli(['get', 'pools']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('no AWS region for DynamoDB table "runners" (context "prod"');
    expect(r.err).toContain(
      "set --region, AWS_REGION, or the context's region (runnerctl config set-context prod --region REGION)",
    );
    expect(r.err).not.toMatch(/^error: .*Region is missing$/m);
  });

  it('store flags without a region', async () => {
    const r = await cli(['get', 'pools', '--store', 'dynamodb', '--table', 'x']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /no AWS region for DynamoDB table "x" \(context "flags".*set --region, AWS_REGION/,
    );
  });
});
