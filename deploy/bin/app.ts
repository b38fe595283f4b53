// `npm run synth` / `npx cdk deploy --app "node bin/run-ts.js deploy/bin/app.ts"`.
// Config: the file named by `-c config=FILE` (cdk CLI) or RUNNERCTL_DEPLOY_CONFIG, else
// deploy/runnerctl.config.json, else the documented example (with a warning).

import { existsSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../build.ts';
import { loadDeployConfig } from '../config.ts';
import { DeployError } from '../errors.ts';

const deployDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function contextConfigPath(): string | undefined {
  // The cdk CLI passes -c values to the app as JSON in CDK_CONTEXT_JSON.
  const raw = process.env.CDK_CONTEXT_JSON;
  if (!raw) return undefined;
  const value = (JSON.parse(raw) as Record<string, unknown>).config;
  return typeof value === 'string' ? value : undefined;
}

function configPath(): string {
  const chosen = contextConfigPath() ?? process.env.RUNNERCTL_DEPLOY_CONFIG;
  if (chosen) return resolve(chosen);
  const own = resolve(deployDir, 'runnerctl.config.json');
  if (existsSync(own)) return own;
  const example = resolve(deployDir, 'runnerctl.config.example.json');
  console.error(
    `runnerctl deploy: no config given; synthesising from the example ${relative(process.cwd(), example)}. ` +
      'Copy it to deploy/runnerctl.config.json and edit it before deploying.',
  );
  return example;
}

try {
  const path = configPath();
  const config = loadDeployConfig(path);
  // Under the cdk CLI, CDK_OUTDIR is set and wins; `npm run synth` writes to deploy/cdk.out.
  const outdir = process.env.CDK_OUTDIR ?? resolve(deployDir, 'cdk.out');
  const { app, stack } = buildApp(config, { outdir });
  app.synth();
  console.error(
    `runnerctl deploy: synthesised stack ${stack.stackName} from ${relative(process.cwd(), path)} ` +
      `to ${relative(process.cwd(), outdir)}/${stack.templateFile}`,
  );
} catch (error) {
  if (error instanceof DeployError) {
    console.error(`runnerctl deploy: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
