// The JSON schema of a simulation scenario (docs/simulate.md describes every field). Inline
// RunnerPool documents are only checked to be mappings here; the pool schema of crds/ checks them
// afterwards, with positions in the scenario file.

import { Ajv, type SchemaObject, type ValidateFunction } from 'ajv';
import { DURATION_PATTERN } from '../api/duration.ts';
import { EXPECTED_KEYWORD } from '../api/schema.ts';

const duration: SchemaObject = {
  type: 'string',
  pattern: DURATION_PATTERN,
  [EXPECTED_KEYWORD]: 'a duration such as 90s, 5m, 2h or 1h30m',
};
const rate: SchemaObject = { type: 'number', minimum: 0, maximum: 1 };
const labels: SchemaObject = {
  type: 'array',
  minItems: 1,
  maxItems: 100,
  items: { type: 'string', minLength: 1 },
};
const repo: SchemaObject = {
  type: 'string',
  pattern: '^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$',
  [EXPECTED_KEYWORD]: 'a repository as owner/name',
};

const job: SchemaObject = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'runsOn'],
  properties: {
    name: { type: 'string', minLength: 1 },
    runsOn: labels,
    duration,
    matrix: { type: 'integer', minimum: 1, maximum: 256 },
    conclusion: { enum: ['success', 'failure'] },
    cancelAfter: duration,
  },
};

const run: SchemaObject = {
  type: 'object',
  additionalProperties: false,
  required: ['at', 'repo', 'jobs'],
  properties: {
    at: duration,
    repo,
    workflow: { type: 'string', minLength: 1 },
    jobs: { type: 'array', minItems: 1, items: job },
    repeat: {
      type: 'object',
      additionalProperties: false,
      required: ['count', 'every'],
      properties: { count: { type: 'integer', minimum: 1, maximum: 10_000 }, every: duration },
    },
    cancelAfter: duration,
    rerunAfter: duration,
  },
};

const poolEntry: SchemaObject = {
  type: 'object',
  [EXPECTED_KEYWORD]: 'a RunnerPool document or { file: PATH }',
};

export const SCENARIO_SCHEMA: SchemaObject = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'pools', 'workload'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 100 },
    description: { type: 'string' },
    seed: { type: 'integer', minimum: 0, maximum: 4_294_967_295 },
    speed: { type: 'number', minimum: 1, maximum: 10_000 },
    timeout: duration,
    drainTimeout: duration,
    cloud: {
      type: 'object',
      additionalProperties: false,
      properties: {
        taskStartTime: duration,
        restPerHour: { type: 'integer', minimum: 100 },
      },
    },
    controller: {
      type: 'object',
      additionalProperties: false,
      properties: {
        resyncInterval: duration,
        runnerPollInterval: duration,
        leaseDuration: duration,
        ingestion: { enum: ['both', 'webhook', 'sqs'] },
        coldStart: { type: 'boolean' },
      },
    },
    pools: { type: 'array', minItems: 1, items: poolEntry },
    workload: { type: 'array', minItems: 1, items: run },
    faults: {
      type: 'object',
      additionalProperties: false,
      properties: {
        github: {
          type: 'object',
          additionalProperties: false,
          properties: {
            serverErrorRate: rate,
            tooManyRequestsRate: rate,
            secondaryLimitRate: rate,
            retryAfter: duration,
          },
        },
        webhooks: {
          type: 'object',
          additionalProperties: false,
          properties: {
            dropRate: rate,
            duplicateRate: rate,
            reorderRate: rate,
            delayRate: rate,
            delay: duration,
          },
        },
        ecs: {
          type: 'object',
          additionalProperties: false,
          properties: {
            throttleRate: rate,
            spotCapacityShortageRate: rate,
            taskStartFailureRate: rate,
            spotInterruptionRate: rate,
            ec2GroupMaxSize: { type: 'integer', minimum: 0, maximum: 100 },
          },
        },
        runners: {
          type: 'object',
          additionalProperties: false,
          properties: { crashBeforeRegistrationRate: rate },
        },
        controller: {
          type: 'object',
          additionalProperties: false,
          properties: {
            restarts: {
              type: 'array',
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['at'],
                properties: { at: duration, downtime: duration },
              },
            },
          },
        },
      },
    },
  },
};

let compiled: ValidateFunction | undefined;

export function scenarioValidator(): ValidateFunction {
  if (!compiled) {
    const ajv = new Ajv({ allErrors: true, verbose: true, strict: true });
    ajv.addKeyword({ keyword: EXPECTED_KEYWORD, schemaType: 'string' });
    compiled = ajv.compile(SCENARIO_SCHEMA);
  }
  return compiled;
}
