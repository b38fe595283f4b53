// Builds the CDK app from a validated config: one stack, cdk-nag's AwsSolutions checks attached
// so that synthesis fails on any finding that is not acknowledged with a reason.

import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { DeployConfig } from './config.ts';
import { RunnerctlStack } from './stack.ts';

export interface BuildOptions {
  /** Where the cloud assembly goes. */
  outdir?: string;
  /** Attach cdk-nag to synthesis. Default true. */
  nag?: boolean;
}

export function buildApp(
  config: DeployConfig,
  options: BuildOptions = {},
): { app: App; stack: RunnerctlStack } {
  const app = new App({ outdir: options.outdir });
  const stack = new RunnerctlStack(app, config.stackName, {
    config,
    stackName: config.stackName,
    description: 'runnerctl: single-use GitHub Actions runners on Fargate, driven by a controller',
    env:
      config.account || config.region
        ? { account: config.account, region: config.region }
        : undefined,
  });
  if (options.nag ?? true) {
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  }
  return { app, stack };
}
