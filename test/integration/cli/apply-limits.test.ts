// `apply` input limits: documents and bytes per call, binary input refused without echo, and
// the runner network the deployment allows.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../../controller/cli/run.ts';

const ROOT = join(import.meta.dirname, '../../..');
const tmpRoot = mkdtempSync(join(tmpdir(), 'runnerctl-limits-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));
let n = 0;

async function cli(argv: string[], stdin?: string | Buffer, env: Record<string, string> = {}) {
  let out = '';
  let err = '';
  const dataDir = join(tmpRoot, `data-${++n}`);
  const code = await run(argv, {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    stdin: Readable.from(stdin === undefined ? [] : [stdin]),
    env: { RUNNERCTL_DATA_DIR: dataDir, ...env },
    cwd: ROOT,
  });
  return { code, out, err };
}

function pools(count: number): string {
  return Array.from(
    { length: count },
    (_, i) => `apiVersion: runnerctl.dev/v1alpha1
kind: RunnerPool
metadata: { name: p${i} }
spec:
  github: { scope: org, organization: acme }
  labels: [linux]
  maxRunners: 1
  ecs: { cluster: c, taskDefinition: t, subnets: [subnet-0a1b2c3d] }
`,
  ).join('---\n');
}

describe('apply limits', () => {
  it('refuses more documents than --max-documents (default 500) and writes nothing', async () => {
    const many = pools(501);
    const r = await cli(['apply', '-f', '-'], many);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toContain('501 RunnerPool documents in one apply, more than the limit of 500');
    expect(r.err).toContain('--max-documents');
    const raised = await cli(['apply', '-f', '-', '--max-documents', '501', '--dry-run'], many);
    expect(raised.code).toBe(0);
    expect(raised.out.split('\n').filter(Boolean)).toHaveLength(501);
  });

  it('refuses more than 1 MiB of input before parsing it', async () => {
    const file = join(tmpRoot, 'big.yaml');
    writeFileSync(file, `# ${'x'.repeat(1024 * 1024)}\n`);
    const r = await cli(['apply', '-f', file]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('more than 1048576 bytes of input in one apply');
    const stdin = await cli(['apply', '-f', '-', '--max-bytes', '100'], pools(2));
    expect(stdin.err).toContain('<stdin>: more than 100 bytes');
  });

  it('refuses binary input without echoing its bytes', async () => {
    const file = join(tmpRoot, 'binary.yaml');
    writeFileSync(file, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x00, 0xff, 0xfe, 0x41, 0x42]));
    const r = await cli(['apply', '-f', file]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`error: ${file}: binary input (not UTF-8 text); expected YAML\n`);
    const bad = await cli(['apply', '-f', '-'], Buffer.from([0xc3, 0x28, 0x41]));
    expect(bad.err).toContain('<stdin>: binary input');
    expect((await cli(['apply', '-f', '-', '--max-documents', 'lots'])).code).toBe(2);
  });
});

describe('apply and the allowed runner network', () => {
  const network = { RUNNERCTL_RUNNER_SUBNETS: 'subnet-11111111, subnet-22222222' };

  it('refuses a pool whose subnet the deployment does not allow, naming the field', async () => {
    const r = await cli(['apply', '-f', '-'], pools(1), network);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toContain('<stdin>:8:');
    expect(r.err).toContain('spec.ecs.subnets[0]: not one of the runner subnets');
    expect(r.err).toContain('got "subnet-0a1b2c3d"');
  });

  it('applies it once the subnet is allowed', async () => {
    const r = await cli(['apply', '-f', '-', '--dry-run'], pools(1), {
      RUNNERCTL_RUNNER_SUBNETS: 'subnet-0a1b2c3d',
    });
    expect(r.code).toBe(0);
  });
});
