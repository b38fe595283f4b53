// The real workflow_job payloads from @octokit/webhooks-examples.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const all = require('@octokit/webhooks-examples/api.github.com/index.json') as {
  name: string;
  examples: Record<string, unknown>[];
}[];

export const workflowJobExamples = all.find((e) => e.name === 'workflow_job')!.examples as (Record<
  string,
  unknown
> & {
  action: string;
  workflow_job: Record<string, unknown>;
  repository: Record<string, unknown>;
})[];

export function example(action: string, index = 0) {
  const found = workflowJobExamples.filter((e) => e.action === action)[index];
  if (!found) throw new Error(`no ${action} example #${index}`);
  return structuredClone(found);
}
