// Helpers for the synthesis tests: build the stack once, read its policies, run cdk-nag.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import type { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildApp } from '../../deploy/build.ts';
import { parseDeployConfig } from '../../deploy/config.ts';
import type { DeployConfig } from '../../deploy/config.ts';
import type { RunnerctlStack } from '../../deploy/stack.ts';

export interface Synthesized {
  config: DeployConfig;
  app: App;
  stack: RunnerctlStack;
  template: Template;
  resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
}

/** Builds and synthesises the app (cdk-nag attached, so synthesis fails on a finding). */
export function synthesize(rawConfig: unknown): Synthesized {
  const config = parseDeployConfig(rawConfig, 'test config');
  const outdir = mkdtempSync(join(tmpdir(), 'runnerctl-cdk-'));
  const { app, stack } = buildApp(config, { outdir });
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Synthesized['resources'];
  return { config, app, stack, template, resources };
}

/** The one resource of a type whose logical id starts with a construct id. */
export function logicalId(s: Synthesized, type: string, prefix: string): string {
  const ids = Object.entries(s.resources)
    .filter(([id, resource]) => resource.Type === type && id.startsWith(prefix))
    .map(([id]) => id);
  if (ids.length !== 1) throw new Error(`expected one ${type} ${prefix}*, found ${ids.join(', ')}`);
  return ids[0]!;
}

export interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, unknown>;
}

export const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Every statement of every policy attached to a role (AWS::IAM::Policy and inline policies). */
export function statementsOfRole(s: Synthesized, roleId: string): Statement[] {
  const statements: Statement[] = [];
  for (const resource of Object.values(s.resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    const roles = (resource.Properties?.Roles ?? []) as unknown[];
    if (!roles.some((role) => JSON.stringify(role) === JSON.stringify({ Ref: roleId }))) continue;
    const document = resource.Properties?.PolicyDocument as { Statement: Statement[] };
    statements.push(...document.Statement);
  }
  const role = s.resources[roleId];
  for (const inline of (role?.Properties?.Policies ?? []) as {
    PolicyDocument: { Statement: Statement[] };
  }[]) {
    statements.push(...inline.PolicyDocument.Statement);
  }
  return statements;
}

/** All identity-policy statements in the template. */
export function allIdentityStatements(s: Synthesized): Statement[] {
  return Object.values(s.resources)
    .filter((resource) => resource.Type === 'AWS::IAM::Policy')
    .flatMap(
      (resource) => (resource.Properties!.PolicyDocument as { Statement: Statement[] }).Statement,
    );
}

/** cdk-nag AwsSolutions findings that are not acknowledged, as readable lines. */
export function unacknowledgedNagFindings(s: Synthesized): string[] {
  const report = new AwsSolutionsChecks(s.app).validateScope(s.app);
  return report.violations.map(
    (violation) =>
      `${violation.ruleName}: ${violation.description} at ${violation.violatingResources
        .map((resource) => resource.resourceLogicalId)
        .join(', ')}`,
  );
}

/**
 * Error and warning annotations (CDK's own and any rule pack's), read from the construct tree
 * after synthesis (Annotations.fromStack would synthesise the app a second time).
 */
export function errorAndWarningAnnotations(s: Synthesized): string[] {
  return s.app.node
    .findAll()
    .flatMap((construct) =>
      construct.node.metadata
        .filter((entry) => entry.type === 'aws:cdk:error' || entry.type === 'aws:cdk:warning')
        .map((entry) => `${construct.node.path} ${entry.type}: ${JSON.stringify(entry.data)}`),
    );
}

/** Every acknowledgment recorded with Validations.of(...).acknowledge, with its reason. */
export function acknowledgments(s: Synthesized): { path: string; id: string; reason: string }[] {
  const found: { path: string; id: string; reason: string }[] = [];
  for (const construct of s.app.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        // CDK stores bare ids as `Annotation::<id>` (cdk-nag strips that prefix when matching).
        found.push({ path: construct.node.path, id: id.replace(/^annotation::/i, ''), reason });
      }
    }
  }
  return found;
}

/** The config the tests start from: only the required fields, everything else defaulted. */
export const MINIMAL_CONFIG = {
  github: {
    appId: 123456,
    privateKeySecret: 'runnerctl/github-app-private-key',
    webhookSecret: 'runnerctl/github-webhook-secret',
  },
  controller: { image: { tag: '0.1.0' } },
  runner: { image: { tag: '2.337.0' } },
};
