// Loads the controller's settings (ControllerConfig) from a YAML file and/or environment
// variables (the environment wins, field by field), fills defaults, validates, and resolves
// secret sources (file, environment variable, Secrets Manager ARN). Errors name the file or
// variable and the field; they never contain a secret's value.

import { createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  isMap,
  isScalar,
  LineCounter,
  parseDocument,
  type Document,
  type Node as YamlNode,
} from 'yaml';
import { DEFAULT_RUNNER_NAME_PREFIX, MAX_RUNNER_NAME_LENGTH } from '../api/constants.ts';
import { parsePriceTable } from '../cost/prices.ts';
import { MAX_RUNNER_NAME_PREFIX_LENGTH } from '../reconcile/names.ts';
import { DEFAULT_TABLE_NAME } from '../store/layout.ts';
import { awsClientSettings } from '../util/aws-client.ts';
import type { AdditionalApp, ControllerConfig, SecretSource } from './types.ts';

export class ConfigError extends Error {
  constructor(
    message: string,
    /** Where the bad value came from: a file path or `environment variable NAME`. */
    readonly source?: string,
    /** Dotted path of the field, e.g. `github.appId`. */
    readonly field?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

export const CONFIG_DEFAULTS = {
  apiUrl: 'https://api.github.com',
  table: DEFAULT_TABLE_NAME,
  port: 8080,
  metricsPort: 9090,
  metricsHost: '127.0.0.1',
  runnerNamePrefix: DEFAULT_RUNNER_NAME_PREFIX,
  resyncSeconds: 60,
  jitPerMinute: 180,
  runTaskPerSecond: 20,
  runTaskBurst: 100,
  leaseSeconds: 15,
  relistSeconds: 300,
} as const;

type Env = Record<string, string | undefined>;
type Json = Record<string, unknown>;

/** A value together with where it came from, for error messages. */
interface Sourced {
  value: unknown;
  source: string;
  /** `file:line:column` of a value read from the settings file. */
  at?: string;
}

/** `file:line:column` of a dotted path's key in the settings file (its value if no key). */
type Locate = (path: string) => string;

function locator(file: string, doc: Document, lines: LineCounter): Locate {
  return (path) => {
    const parts = path.split('.');
    const parent = parts.length > 1 ? doc.getIn(parts.slice(0, -1), true) : doc.contents;
    let range: readonly number[] | null | undefined;
    if (isMap(parent)) {
      const pair = parent.items.find(
        (p) => isScalar(p.key) && String(p.key.value) === parts.at(-1),
      );
      range =
        (pair?.key as YamlNode | undefined)?.range ?? (pair?.value as YamlNode | undefined)?.range;
    }
    if (!range) return file;
    const { line, col } = lines.linePos(range[0]!);
    return `${file}:${line}:${col}`;
  };
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function shown(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value);
  return JSON.stringify(value) ?? String(value);
}

// Every key the YAML file may hold; anything else is a typo worth an error.
const KNOWN_KEYS: Record<string, readonly string[]> = {
  '': [
    'github',
    'aws',
    'table',
    'queueUrl',
    'deadLetterQueueUrl',
    'server',
    'runnerNamePrefix',
    'resyncSeconds',
    'pacing',
    'leaseSeconds',
    'logLevel',
    'cost',
    'runnerNetwork',
    'runnerArchitectures',
    'cache',
  ],
  github: [
    'appId',
    'installationId',
    'privateKey',
    'webhookSecret',
    'apiUrl',
    'enterpriseToken',
    'apps',
  ],
  aws: ['region', 'dynamodbEndpoint', 'ecsEndpoint', 'sqsEndpoint'],
  server: ['port', 'metricsPort', 'metricsHost'],
  pacing: ['jitPerMinute', 'runTaskPerSecond', 'runTaskBurst', 'restPerHour'],
  cost: ['prices'],
  runnerNetwork: ['subnets', 'securityGroups'],
  cache: ['relistSeconds'],
};

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** Field → environment variable (plain values). */
const ENV_VARS: [string, string][] = [
  ['github.appId', 'GITHUB_APP_ID'],
  ['github.installationId', 'GITHUB_INSTALLATION_ID'],
  ['github.apiUrl', 'GITHUB_API_URL'],
  ['aws.region', 'AWS_REGION'],
  ['aws.dynamodbEndpoint', 'RUNNERCTL_DYNAMODB_ENDPOINT'],
  ['aws.ecsEndpoint', 'RUNNERCTL_ECS_ENDPOINT'],
  ['aws.sqsEndpoint', 'RUNNERCTL_SQS_ENDPOINT'],
  ['table', 'RUNNERCTL_TABLE'],
  ['queueUrl', 'RUNNERCTL_QUEUE_URL'],
  ['deadLetterQueueUrl', 'RUNNERCTL_DEAD_LETTER_QUEUE_URL'],
  ['server.port', 'RUNNERCTL_PORT'],
  ['server.metricsPort', 'RUNNERCTL_METRICS_PORT'],
  ['server.metricsHost', 'RUNNERCTL_METRICS_HOST'],
  ['runnerNamePrefix', 'RUNNERCTL_RUNNER_NAME_PREFIX'],
  ['resyncSeconds', 'RUNNERCTL_RESYNC_SECONDS'],
  ['pacing.jitPerMinute', 'RUNNERCTL_JIT_PER_MINUTE'],
  ['pacing.runTaskPerSecond', 'RUNNERCTL_RUNTASK_PER_SECOND'],
  ['pacing.runTaskBurst', 'RUNNERCTL_RUNTASK_BURST'],
  ['pacing.restPerHour', 'RUNNERCTL_REST_PER_HOUR'],
  ['leaseSeconds', 'RUNNERCTL_LEASE_SECONDS'],
  ['cache.relistSeconds', 'RUNNERCTL_CACHE_RELIST_SECONDS'],
  ['logLevel', 'RUNNERCTL_LOG_LEVEL'],
  ['runnerNetwork.subnets', 'RUNNERCTL_RUNNER_SUBNETS'],
  ['runnerNetwork.securityGroups', 'RUNNERCTL_RUNNER_SECURITY_GROUPS'],
  ['runnerArchitectures', 'RUNNERCTL_RUNNER_ARCHITECTURES'],
];

/** Secret field → [variable holding the value itself, ..._FILE, ..._SECRET_ARN / _ARN]. */
const SECRET_ENV_VARS: [string, { env: string; file: string; arn: string }][] = [
  [
    'github.privateKey',
    {
      env: 'GITHUB_APP_PRIVATE_KEY',
      file: 'GITHUB_APP_PRIVATE_KEY_FILE',
      arn: 'GITHUB_APP_PRIVATE_KEY_SECRET_ARN',
    },
  ],
  [
    'github.webhookSecret',
    {
      env: 'GITHUB_WEBHOOK_SECRET',
      file: 'GITHUB_WEBHOOK_SECRET_FILE',
      arn: 'GITHUB_WEBHOOK_SECRET_ARN',
    },
  ],
  [
    'github.enterpriseToken',
    {
      env: 'GITHUB_ENTERPRISE_TOKEN',
      file: 'GITHUB_ENTERPRISE_TOKEN_FILE',
      arn: 'GITHUB_ENTERPRISE_TOKEN_ARN',
    },
  ],
];

export interface LoadConfigOptions {
  /** YAML file (`--config FILE`). Optional when the environment says everything. */
  file?: string;
  /** Default process.env. */
  env?: Env;
}

/** The settings, validated, with secrets still as sources (see resolveSecret). */
export async function loadControllerConfig(
  options: LoadConfigOptions = {},
): Promise<ControllerConfig> {
  const env = options.env ?? process.env;
  const fields = new Map<string, Sourced>();

  if (options.file) {
    let text: string;
    try {
      text = await readFile(options.file, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `cannot read config file ${options.file}: ${(err as Error).message}`,
        options.file,
        undefined,
        {
          cause: err,
        },
      );
    }
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines });
    if (doc.errors.length > 0) {
      const first = doc.errors[0]!;
      const pos = first.linePos?.[0];
      throw new ConfigError(
        `${options.file}${pos ? `:${pos.line}:${pos.col}` : ''}: not valid YAML: ${first.message.split('\n')[0]}`,
        options.file,
      );
    }
    const data: unknown = doc.toJS() ?? {};
    if (!isObject(data))
      throw new ConfigError(
        `${options.file}: expected a mapping of settings at the top`,
        options.file,
      );
    flatten(data, '', options.file, fields, locator(options.file, doc, lines));
  }

  for (const [field, name] of ENV_VARS) {
    const value = env[name];
    if (value !== undefined && value !== '')
      fields.set(field, { value, source: `environment variable ${name}` });
  }
  if (env.AWS_REGION === undefined && env.AWS_DEFAULT_REGION) {
    fields.set('aws.region', {
      value: env.AWS_DEFAULT_REGION,
      source: 'environment variable AWS_DEFAULT_REGION',
    });
  }
  for (const [field, names] of SECRET_ENV_VARS) {
    const given = (['env', 'file', 'arn'] as const).filter(
      (k) => env[names[k]] !== undefined && env[names[k]] !== '',
    );
    if (given.length > 1) {
      throw new ConfigError(
        `environment variables ${given.map((k) => names[k]).join(' and ')} both set ${field}: set only one`,
        `environment variable ${names[given[0]!]}`,
        field,
      );
    }
    const kind = given[0];
    if (!kind) continue;
    const source: SecretSource =
      kind === 'env'
        ? { env: names.env }
        : kind === 'file'
          ? { file: env[names.file]! }
          : { secretArn: env[names.arn]! };
    fields.set(field, { value: source, source: `environment variable ${names[kind]}` });
  }

  return build(fields);
}

function flatten(
  data: Json,
  prefix: string,
  file: string,
  out: Map<string, Sourced>,
  locate: Locate,
): void {
  const allowed = KNOWN_KEYS[prefix];
  for (const [key, value] of Object.entries(data)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (allowed && !allowed.includes(key)) {
      throw new ConfigError(
        `${locate(path)}: unknown setting ${path} (expected one of: ${allowed.map((k) => (prefix ? `${prefix}.${k}` : k)).join(', ')})`,
        file,
        path,
      );
    }
    if (KNOWN_KEYS[path] && value !== null && value !== undefined) {
      if (!isObject(value))
        throw new ConfigError(
          `${locate(path)}: ${path}: expected a mapping, got ${shown(value)}`,
          file,
          path,
        );
      flatten(value, path, file, out, locate);
      continue;
    }
    if (value !== null && value !== undefined) {
      out.set(path, { value, source: file, at: locate(path) });
    }
  }
}

function where(field: string, s: Sourced): string {
  return s.source.startsWith('environment variable')
    ? `${s.source} (${field})`
    : `${s.at ?? s.source}: ${field}`;
}

function integer(
  fields: Map<string, Sourced>,
  field: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const s = fields.get(field);
  if (!s) return undefined;
  const n =
    typeof s.value === 'number'
      ? s.value
      : typeof s.value === 'string' && /^\s*-?\d+\s*$/.test(s.value)
        ? Number(s.value)
        : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new ConfigError(
      `${where(field, s)}: expected an integer ${range}, got ${shown(s.value)}`,
      s.source,
      field,
    );
  }
  return n;
}

function positiveNumber(fields: Map<string, Sourced>, field: string): number | undefined {
  const s = fields.get(field);
  if (!s) return undefined;
  const n =
    typeof s.value === 'number'
      ? s.value
      : typeof s.value === 'string' && s.value.trim() !== ''
        ? Number(s.value)
        : NaN;
  if (!Number.isFinite(n) || n <= 0) {
    throw new ConfigError(
      `${where(field, s)}: expected a number > 0, got ${shown(s.value)}`,
      s.source,
      field,
    );
  }
  return n;
}

function string(
  fields: Map<string, Sourced>,
  field: string,
  pattern?: { re: RegExp; says: string },
): string | undefined {
  const s = fields.get(field);
  if (!s) return undefined;
  if (typeof s.value !== 'string' || s.value.trim() === '') {
    throw new ConfigError(
      `${where(field, s)}: expected a non-empty string, got ${shown(s.value)}`,
      s.source,
      field,
    );
  }
  const value = s.value.trim();
  if (pattern && !pattern.re.test(value)) {
    throw new ConfigError(
      `${where(field, s)}: expected ${pattern.says}, got ${shown(value)}`,
      s.source,
      field,
    );
  }
  return value;
}

/** A list of ids: a YAML sequence, or a comma-separated string (environment variables). */
function idList(
  fields: Map<string, Sourced>,
  field: string,
  pattern: { re: RegExp; says: string },
): string[] | undefined {
  const s = fields.get(field);
  if (!s) return undefined;
  const items =
    typeof s.value === 'string'
      ? s.value.split(',').map((item) => item.trim())
      : Array.isArray(s.value)
        ? s.value
        : undefined;
  if (!items) {
    throw new ConfigError(
      `${where(field, s)}: expected a list of ${pattern.says}, got ${shown(s.value)}`,
      s.source,
      field,
    );
  }
  return items.map((item, i) => {
    if (typeof item !== 'string' || !pattern.re.test(item)) {
      throw new ConfigError(
        `${where(field, s)}: item ${i + 1}: expected ${pattern.says}, got ${shown(item)}`,
        s.source,
        field,
      );
    }
    return item;
  });
}

function url(fields: Map<string, Sourced>, field: string): string | undefined {
  const value = string(fields, field);
  if (value === undefined) return undefined;
  const s = fields.get(field)!;
  try {
    const parsed = new URL(value);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new ConfigError(
      `${where(field, s)}: expected an http(s) URL, got ${shown(value)}`,
      s.source,
      field,
    );
  }
  return value.replace(/\/+$/, '');
}

function secret(fields: Map<string, Sourced>, field: string): SecretSource | undefined {
  const s = fields.get(field);
  if (!s) return undefined;
  const v = s.value;
  const says = 'exactly one of { file: PATH }, { env: VARIABLE } or { secretArn: ARN }';
  if (!isObject(v)) {
    // Never echo the value: a secret pasted in place of its source must not be printed.
    throw new ConfigError(
      `${where(field, s)}: expected ${says} (the secret itself does not belong in the file)`,
      s.source,
      field,
    );
  }
  const keys = Object.keys(v);
  if (keys.length !== 1 || !['file', 'env', 'secretArn'].includes(keys[0]!)) {
    throw new ConfigError(
      `${where(field, s)}: expected ${says}, got the keys ${keys.join(', ') || '(none)'}`,
      s.source,
      field,
    );
  }
  const key = keys[0] as 'file' | 'env' | 'secretArn';
  const value = v[key];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ConfigError(
      `${where(field, s)}.${key}: expected a non-empty string`,
      s.source,
      `${field}.${key}`,
    );
  }
  if (
    key === 'secretArn' &&
    !/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+/.test(value)
  ) {
    throw new ConfigError(
      `${where(field, s)}.secretArn: expected a Secrets Manager ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME), got ${shown(value)}`,
      s.source,
      `${field}.secretArn`,
    );
  }
  if (key === 'env' && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) {
    throw new ConfigError(
      `${where(field, s)}.env: expected an environment variable name, got ${shown(value)}`,
      s.source,
      `${field}.env`,
    );
  }
  return key === 'file' ? { file: value } : key === 'env' ? { env: value } : { secretArn: value };
}

/**
 * The runner name prefix. Runner names are `<prefix>-<pool>-<8-character suffix>` and GitHub
 * refuses names over 64 characters; the pool part is shortened to fit, so the prefix is capped
 * at 20 characters to leave the pool name at least 34 of them.
 */
function runnerNamePrefix(fields: Map<string, Sourced>): string | undefined {
  const value = string(fields, 'runnerNamePrefix');
  if (value === undefined) return undefined;
  const s = fields.get('runnerNamePrefix')!;
  if (value.length > MAX_RUNNER_NAME_PREFIX_LENGTH) {
    throw new ConfigError(
      `${where('runnerNamePrefix', s)}: ${shown(value)} is ${value.length} characters, at most ` +
        `${MAX_RUNNER_NAME_PREFIX_LENGTH} are allowed (runner names are <prefix>-<pool>-<suffix> ` +
        `and GitHub refuses names over ${MAX_RUNNER_NAME_LENGTH} characters)`,
      s.source,
      'runnerNamePrefix',
    );
  }
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(value)) {
    throw new ConfigError(
      `${where('runnerNamePrefix', s)}: expected lower-case letters, digits and dashes ` +
        `(starting and ending with a letter or digit), got ${shown(value)}`,
      s.source,
      'runnerNamePrefix',
    );
  }
  return value;
}

const APP_KEYS = ['appId', 'privateKey', 'owners'];

/** `github.apps`: a list of { appId, privateKey: { file | env | secretArn }, owners? }. */
function additionalApps(
  fields: Map<string, Sourced>,
  firstAppId: number,
): AdditionalApp[] | undefined {
  const s = fields.get('github.apps');
  if (!s) return undefined;
  if (!Array.isArray(s.value)) {
    throw new ConfigError(
      `${where('github.apps', s)}: expected a list of { appId, privateKey, owners? }, got ${shown(s.value)}`,
      s.source,
      'github.apps',
    );
  }
  const seen = new Set([firstAppId]);
  return s.value.map((item: unknown, i) => {
    const at = `github.apps[${i}]`;
    if (!isObject(item)) {
      throw new ConfigError(
        `${where(at, s)}: expected { appId, privateKey, owners? }, got ${shown(item)}`,
        s.source,
        at,
      );
    }
    for (const key of Object.keys(item)) {
      if (!APP_KEYS.includes(key)) {
        throw new ConfigError(
          `${s.source}: unknown setting ${at}.${key} (expected one of: ${APP_KEYS.map((k) => `${at}.${k}`).join(', ')})`,
          s.source,
          `${at}.${key}`,
        );
      }
    }
    // Read each member with the same checks (and messages) as the single App's fields.
    const one = new Map<string, Sourced>();
    for (const [key, value] of Object.entries(item)) {
      if (value !== null && value !== undefined)
        one.set(`${at}.${key}`, { value, source: s.source });
    }
    const appId = integer(one, `${at}.appId`, 1);
    const privateKey = secret(one, `${at}.privateKey`);
    if (appId === undefined || !privateKey) {
      throw new ConfigError(
        `${s.source}: ${at} needs appId and privateKey ({ file | env | secretArn })`,
        s.source,
        appId === undefined ? `${at}.appId` : `${at}.privateKey`,
      );
    }
    if (seen.has(appId)) {
      throw new ConfigError(
        `${s.source}: ${at}.appId: App ${appId} is listed twice (github.appId and github.apps hold each App once)`,
        s.source,
        `${at}.appId`,
      );
    }
    seen.add(appId);
    const owners = one.get(`${at}.owners`);
    if (!owners) return { appId, privateKey };
    const list = owners.value;
    if (
      !Array.isArray(list) ||
      list.length === 0 ||
      !list.every((o) => typeof o === 'string' && /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/.test(o))
    ) {
      throw new ConfigError(
        `${s.source}: ${at}.owners: expected a non-empty list of GitHub owner logins, got ${shown(list)}`,
        s.source,
        `${at}.owners`,
      );
    }
    return { appId, privateKey, owners: list as string[] };
  });
}

function build(fields: Map<string, Sourced>): ControllerConfig {
  const appId = integer(fields, 'github.appId', 1);
  if (appId === undefined) {
    throw new ConfigError(
      'github.appId is required: set it in the config file or GITHUB_APP_ID',
      undefined,
      'github.appId',
    );
  }
  const privateKey = secret(fields, 'github.privateKey');
  if (!privateKey) {
    throw new ConfigError(
      'github.privateKey is required: set it in the config file ({ file | env | secretArn }) or one of GITHUB_APP_PRIVATE_KEY, GITHUB_APP_PRIVATE_KEY_FILE, GITHUB_APP_PRIVATE_KEY_SECRET_ARN',
      undefined,
      'github.privateKey',
    );
  }
  const prefix = runnerNamePrefix(fields) ?? CONFIG_DEFAULTS.runnerNamePrefix;

  const config: ControllerConfig = {
    github: {
      appId,
      privateKey,
      apiUrl: url(fields, 'github.apiUrl') ?? CONFIG_DEFAULTS.apiUrl,
    },
    aws: {},
    table:
      string(fields, 'table', {
        re: /^[A-Za-z0-9_.-]{3,255}$/,
        says: 'a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)',
      }) ?? CONFIG_DEFAULTS.table,
    server: {
      port: integer(fields, 'server.port', 0, 65535) ?? CONFIG_DEFAULTS.port,
      metricsPort: integer(fields, 'server.metricsPort', 0, 65535) ?? CONFIG_DEFAULTS.metricsPort,
      metricsHost:
        string(fields, 'server.metricsHost', {
          re: /^[A-Za-z0-9.:-]+$/,
          says: 'an IP address or host name to listen on (127.0.0.1, 0.0.0.0, ::)',
        }) ?? CONFIG_DEFAULTS.metricsHost,
    },
    runnerNamePrefix: prefix,
    resyncSeconds: integer(fields, 'resyncSeconds', 5) ?? CONFIG_DEFAULTS.resyncSeconds,
    pacing: {
      jitPerMinute: positiveNumber(fields, 'pacing.jitPerMinute') ?? CONFIG_DEFAULTS.jitPerMinute,
      runTaskPerSecond:
        positiveNumber(fields, 'pacing.runTaskPerSecond') ?? CONFIG_DEFAULTS.runTaskPerSecond,
      runTaskBurst: integer(fields, 'pacing.runTaskBurst', 1) ?? CONFIG_DEFAULTS.runTaskBurst,
    },
    leaseSeconds: integer(fields, 'leaseSeconds', 5) ?? CONFIG_DEFAULTS.leaseSeconds,
    cache: {
      relistSeconds: integer(fields, 'cache.relistSeconds', 10) ?? CONFIG_DEFAULTS.relistSeconds,
    },
  };
  const apps = additionalApps(fields, appId);
  if (apps) config.github.apps = apps;
  const prices = fields.get('cost.prices');
  if (prices) {
    try {
      config.cost = { prices: parsePriceTable(prices.value, 'cost.prices') };
    } catch (err) {
      throw new ConfigError(
        `${where('cost.prices', prices)}: ${(err as Error).message}`,
        prices.source,
        'cost.prices',
      );
    }
  }
  const restPerHour = integer(fields, 'pacing.restPerHour', 1);
  if (restPerHour !== undefined) config.pacing.restPerHour = restPerHour;
  const installationId = integer(fields, 'github.installationId', 1);
  if (installationId !== undefined) config.github.installationId = installationId;
  const webhookSecret = secret(fields, 'github.webhookSecret');
  if (webhookSecret) config.github.webhookSecret = webhookSecret;
  const enterpriseToken = secret(fields, 'github.enterpriseToken');
  if (enterpriseToken) config.github.enterpriseToken = enterpriseToken;
  const region = string(fields, 'aws.region', {
    re: /^[a-z]{2}(-[a-z]+)+-\d+$/,
    says: 'an AWS region such as eu-west-1',
  });
  if (region) config.aws.region = region;
  for (const key of ['dynamodbEndpoint', 'ecsEndpoint', 'sqsEndpoint'] as const) {
    const value = url(fields, `aws.${key}`);
    if (value) config.aws[key] = value;
  }
  const queueUrl = url(fields, 'queueUrl');
  if (queueUrl) config.queueUrl = queueUrl;
  const dlq = url(fields, 'deadLetterQueueUrl');
  if (dlq) config.deadLetterQueueUrl = dlq;
  const logLevel = string(fields, 'logLevel', {
    re: new RegExp(`^(${LOG_LEVELS.join('|')})$`),
    says: LOG_LEVELS.join(', '),
  });
  if (logLevel) config.logLevel = logLevel as (typeof LOG_LEVELS)[number];
  const subnets = idList(fields, 'runnerNetwork.subnets', {
    re: /^subnet-[0-9a-f]{8}([0-9a-f]{9})?$/,
    says: 'subnet IDs (subnet- and 8 or 17 hex digits)',
  });
  const securityGroups = idList(fields, 'runnerNetwork.securityGroups', {
    re: /^sg-[0-9a-f]{8}([0-9a-f]{9})?$/,
    says: 'security group IDs (sg- and 8 or 17 hex digits)',
  });
  const architectures = idList(fields, 'runnerArchitectures', {
    re: /^(X86_64|ARM64)$/,
    says: "CPU architectures (X86_64, ARM64), the stack's own first",
  });
  if (architectures) config.runnerArchitectures = architectures as ('X86_64' | 'ARM64')[];
  if (subnets || securityGroups) {
    config.runnerNetwork = {
      ...(subnets ? { subnets } : {}),
      ...(securityGroups ? { securityGroups } : {}),
    };
  }
  return config;
}

// --- secrets ------------------------------------------------------------------------------

/** The region of a Secrets Manager ARN (arn:partition:secretsmanager:REGION:account:secret:name). */
export function secretRegionOf(arn: string): string | undefined {
  const parts = arn.split(':');
  return parts[0] === 'arn' && parts[2] === 'secretsmanager' && parts[3] ? parts[3] : undefined;
}

export interface SecretsManagerReader {
  /** The SecretString (or the UTF-8 SecretBinary) of the secret. */
  getSecretValue(arn: string): Promise<string>;
}

export function secretsManagerReader(
  options: { region?: string; endpoint?: string } = {},
): SecretsManagerReader {
  let client: SecretsManagerClient | undefined;
  let clientRegion: string | undefined;
  return {
    async getSecretValue(arn) {
      // The region in the secret's ARN wins: a secret lives in one region only.
      const region = secretRegionOf(arn) ?? options.region;
      if (client && clientRegion !== region) {
        client.destroy();
        client = undefined;
      }
      clientRegion = region;
      client ??= new SecretsManagerClient({
        ...awsClientSettings(),
        ...(region ? { region } : {}),
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      });
      const res = await client.send(new GetSecretValueCommand({ SecretId: arn }));
      if (typeof res.SecretString === 'string') return res.SecretString;
      if (res.SecretBinary) return Buffer.from(res.SecretBinary).toString('utf8');
      throw new Error('the secret has no value');
    },
  };
}

export interface ResolveSecretDeps {
  env?: Env;
  secretsManager?: SecretsManagerReader;
}

function describeSource(source: SecretSource): string {
  if ('file' in source) return `file ${source.file}`;
  if ('env' in source) return `environment variable ${source.env}`;
  return `Secrets Manager secret ${source.secretArn}`;
}

/** Reads a secret. Errors say which source failed and why, never the value. */
export async function resolveSecret(
  source: SecretSource,
  field: string,
  deps: ResolveSecretDeps = {},
): Promise<string> {
  const from = describeSource(source);
  let value: string;
  if ('file' in source) {
    try {
      value = await readFile(source.file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new ConfigError(`${field}: cannot read ${from} (${code})`, from, field);
    }
  } else if ('env' in source) {
    const v = (deps.env ?? process.env)[source.env];
    if (v === undefined || v === '')
      throw new ConfigError(`${field}: ${from} is not set`, from, field);
    value = v;
  } else {
    const reader = deps.secretsManager ?? secretsManagerReader();
    try {
      value = await reader.getSecretValue(source.secretArn);
    } catch (err) {
      const name = (err as Error).name ?? 'Error';
      // The SDK's message names the secret at most; still, keep only the error's type.
      throw new ConfigError(`${field}: cannot read ${from} (${name})`, from, field);
    }
  }
  // Files and secrets often end with a newline; PEM parsers and HMAC keys must not see it.
  value = value.replace(/\s+$/, '');
  if (value === '') throw new ConfigError(`${field}: ${from} is empty`, from, field);
  return value;
}

export interface ResolvedSecrets {
  privateKey: string;
  /** The private keys of github.apps, in order. */
  appKeys?: string[];
  webhookSecret?: string;
  enterpriseToken?: string;
}

/** Resolves an App's private key and checks that it parses as a PEM key (never shown). */
async function resolvePem(
  source: SecretSource,
  field: string,
  deps: ResolveSecretDeps,
): Promise<string> {
  const key = await resolveSecret(source, field, deps);
  if (!/-----BEGIN (RSA )?PRIVATE KEY-----/.test(key)) {
    throw new ConfigError(
      `${field}: ${describeSource(source)} does not hold a PEM private key (expected "-----BEGIN RSA PRIVATE KEY-----")`,
      describeSource(source),
      field,
    );
  }
  try {
    // Parsed, not only pattern-matched: a truncated or corrupted key fails here, not at the
    // first GitHub call. Node's own message (never the key) is kept.
    createPrivateKey(key);
  } catch (err) {
    throw new ConfigError(
      `${field}: ${describeSource(source)} is not a valid PEM private key (truncated or corrupted? ${(err as { code?: string }).code ?? 'parse error'})`,
      describeSource(source),
      field,
    );
  }
  return key;
}

/** Resolves every secret of the config; checks that the private keys parse as PEM keys. */
export async function resolveControllerSecrets(
  config: ControllerConfig,
  deps: ResolveSecretDeps = {},
): Promise<ResolvedSecrets> {
  const privateKey = await resolvePem(config.github.privateKey, 'github.privateKey', deps);
  const out: ResolvedSecrets = { privateKey };
  if (config.github.apps?.length) {
    out.appKeys = [];
    for (const [i, app] of config.github.apps.entries()) {
      out.appKeys.push(await resolvePem(app.privateKey, `github.apps[${i}].privateKey`, deps));
    }
  }
  if (config.github.webhookSecret) {
    out.webhookSecret = await resolveSecret(
      config.github.webhookSecret,
      'github.webhookSecret',
      deps,
    );
  }
  if (config.github.enterpriseToken) {
    out.enterpriseToken = await resolveSecret(
      config.github.enterpriseToken,
      'github.enterpriseToken',
      deps,
    );
  }
  return out;
}
