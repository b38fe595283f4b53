// The app entry point as `npm run synth` and the cdk CLI run it: a real process that reads a
// config file and writes a cloud assembly (with cdk-nag attached to synthesis).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '../..');
const EXAMPLE = join(REPO, 'deploy/runnerctl.config.example.json');
const scratch = mkdtempSync(join(tmpdir(), 'runnerctl-deploy-app-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function runApp(env: Record<string, string>) {
  return spawnSync(process.execPath, ['bin/run-ts.js', 'deploy/bin/app.ts'], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? scratch, ...env },
    encoding: 'utf8',
  });
}

describe('deploy/bin/app.ts', () => {
  it('synthesises the stack from a config file into CDK_OUTDIR', { timeout: 180_000 }, () => {
    const outdir = join(scratch, 'out');
    const result = runApp({ RUNNERCTL_DEPLOY_CONFIG: EXAMPLE, CDK_OUTDIR: outdir });
    expect(result.stderr).toContain('synthesised stack runnerctl');
    expect(result.status).toBe(0);
    const templatePath = join(outdir, 'runnerctl.template.json');
    expect(existsSync(templatePath)).toBe(true);
    const template = JSON.parse(readFileSync(templatePath, 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const rules = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Events::Rule');
    expect(rules.map((rule) => rule.Properties.EventPattern)).toEqual([
      {
        account: [{ Ref: 'AWS::AccountId' }],
        source: ['github.com'],
        'detail-type': ['workflow_job'],
      },
      {
        source: ['aws.ecs'],
        'detail-type': ['ECS Task State Change'],
        detail: { clusterArn: [{ 'Fn::GetAtt': [expect.stringMatching(/^Cluster/), 'Arn'] }] },
      },
    ]);
    // cdk-nag ran as a validation plugin and found nothing unacknowledged.
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: unknown[];
    };
    expect(report.pluginReports).toEqual([]);
  });

  it(
    'exits 1 naming the file and field of a bad config, without a stack trace',
    { timeout: 60_000 },
    () => {
      const path = join(scratch, 'bad.json');
      writeFileSync(path, JSON.stringify({ github: { privateKeySecret: 'k' } }));
      const result = runApp({
        RUNNERCTL_DEPLOY_CONFIG: path,
        CDK_OUTDIR: join(scratch, 'bad-out'),
      });
      expect(result.status).toBe(1);
      // Every bad field at once, one line each.
      expect(result.stderr.trim().split('\n')).toEqual([
        `runnerctl deploy: ${path}: 3 errors:`,
        `  ${path} (github.appId): is required`,
        `  ${path} (controller.image.tag): is required`,
        `  ${path} (runner.image.tag): is required`,
      ]);
    },
  );
});
