// Cross-field rules that crds/runnerpool.yaml declares with `x-runnerctl-validations` at the node
// they apply to. The schema names a rule; this file implements it. Rules run on data that may be
// structurally wrong (ajv reports that separately), so each one checks the shapes it relies on and
// stays silent otherwise.

import { describeFargateMemory, fargateMemoryOptions, isValidFargateSize } from './fargate.ts';
import { duplicateLabels, normalizeLabel, SELF_HOSTED_LABEL } from './labels.ts';
import { formatDuration, isDuration, parseDuration } from './duration.ts';

/** One `x-runnerctl-validations` entry as written in the schema. */
export interface RuleDeclaration {
  rule: string;
  message: string;
  [param: string]: unknown;
}

export interface RuleViolation {
  /** Path below the node the rule is declared at. */
  path: (string | number)[];
  /** Replaces the declaration's message when set. */
  message?: string;
  expected: string;
  found: string;
}

export interface Rule {
  /** Checks the declaration's parameters; throws an Error with a reason when they are wrong. */
  checkDeclaration?(decl: RuleDeclaration): void;
  validate(value: unknown, decl: RuleDeclaration): RuleViolation[];
}

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

/** A value as it appears in messages. */
export function showValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'an empty value (null)';
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.length === 0 ? 'an empty list' : `a list of ${v.length}`;
  return 'a mapping';
}

function oneOf(values: readonly string[]): string {
  if (values.length === 1) return JSON.stringify(values[0]);
  return `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
}

const SCOPE_FIELDS: Record<string, { required: string; expected: string; allowed: string[] }> = {
  org: {
    required: 'organization',
    expected: 'an organization login',
    allowed: ['scope', 'organization', 'runnerGroup'],
  },
  repo: {
    required: 'repository',
    expected: 'owner/name',
    allowed: ['scope', 'repository', 'runnerGroup'],
  },
  enterprise: {
    required: 'enterprise',
    expected: 'an enterprise slug',
    allowed: ['scope', 'enterprise', 'runnerGroup'],
  },
};

const SCOPE_FIELDS_BY_NAME: Record<string, true> = {
  organization: true,
  repository: true,
  enterprise: true,
};

const githubScope: Rule = {
  validate(github) {
    if (!isObject(github) || typeof github.scope !== 'string') return [];
    const fields = SCOPE_FIELDS[github.scope];
    if (!fields) return [];
    const out: RuleViolation[] = [];
    if (github[fields.required] === undefined) {
      out.push({
        path: [fields.required],
        message: `required for scope ${github.scope}`,
        expected: fields.expected,
        found: 'nothing',
      });
    }
    for (const key of Object.keys(github)) {
      if (fields.allowed.includes(key) || !(key in SCOPE_FIELDS_BY_NAME)) continue;
      out.push({
        path: [key],
        message: `not allowed for scope ${github.scope}`,
        expected: `only ${fields.allowed.filter((f) => f !== 'scope').join(' and ')}`,
        found: showValue(github[key]),
      });
    }
    // Runner groups belong to organizations and enterprises; repository runners are in Default.
    if (
      github.scope === 'repo' &&
      typeof github.runnerGroup === 'string' &&
      github.runnerGroup.toLowerCase() !== 'default'
    ) {
      out.push({
        path: ['runnerGroup'],
        message: 'repository runners can only join the Default runner group',
        expected: '"Default"',
        found: showValue(github.runnerGroup),
      });
    }
    return out;
  },
};

const uniqueLabels: Rule = {
  validate(labels) {
    if (!isStringArray(labels)) return [];
    return duplicateLabels(labels).map(({ index, firstIndex }) => ({
      path: [index],
      expected: 'labels that differ from each other ignoring case',
      found: `${showValue(labels[index])} again (labels[${firstIndex}] is ${showValue(labels[firstIndex])})`,
    }));
  },
};

function sizeLabelsOf(spec: Obj): string[] | undefined {
  if (!Array.isArray(spec.sizes)) return undefined;
  return spec.sizes
    .map((s) => (isObject(s) && typeof s.label === 'string' ? s.label : undefined))
    .filter((l): l is string => l !== undefined);
}

const defaultSize: Rule = {
  validate(spec) {
    if (!isObject(spec)) return [];
    const labels = sizeLabelsOf(spec);
    const declared = spec.defaultSize;
    if (labels === undefined || labels.length === 0) {
      if (typeof declared === 'string' && spec.sizes === undefined) {
        return [
          {
            path: ['defaultSize'],
            message: 'defaultSize needs sizes',
            expected: 'no defaultSize when the pool declares no sizes',
            found: showValue(declared),
          },
        ];
      }
      return [];
    }
    if (declared === undefined) {
      return [
        {
          path: ['defaultSize'],
          message: 'required when sizes are declared',
          expected: `the label of a declared size (${oneOf(labels)})`,
          found: 'nothing',
        },
      ];
    }
    if (typeof declared !== 'string') return [];
    if (labels.some((l) => normalizeLabel(l) === normalizeLabel(declared))) return [];
    return [
      {
        path: ['defaultSize'],
        message: 'defaultSize does not name a declared size',
        expected: oneOf(labels),
        found: showValue(declared),
      },
    ];
  },
};

const sizeLabels: Rule = {
  validate(spec) {
    if (!isObject(spec) || !Array.isArray(spec.sizes)) return [];
    const poolLabels = new Set(
      [SELF_HOSTED_LABEL, ...(isStringArray(spec.labels) ? spec.labels : [])].map(normalizeLabel),
    );
    const seen = new Map<string, number>();
    const out: RuleViolation[] = [];
    spec.sizes.forEach((size, i) => {
      if (!isObject(size) || typeof size.label !== 'string') return;
      const key = normalizeLabel(size.label);
      const first = seen.get(key);
      if (first !== undefined) {
        out.push({
          path: ['sizes', i, 'label'],
          message: 'duplicate size label',
          expected: 'size labels that differ from each other ignoring case',
          found: `${showValue(size.label)} again (sizes[${first}].label)`,
        });
        return;
      }
      seen.set(key, i);
      if (poolLabels.has(key)) {
        out.push({
          path: ['sizes', i, 'label'],
          message: 'size label collides with a pool label',
          expected: 'a label that is not one of the pool labels or self-hosted',
          found: showValue(size.label),
        });
      }
    });
    return out;
  },
};

const minIdleWithinMax: Rule = {
  validate(spec) {
    if (!isObject(spec)) return [];
    const { minIdle, maxRunners } = spec;
    if (typeof minIdle !== 'number' || typeof maxRunners !== 'number') return [];
    if (minIdle <= maxRunners) return [];
    return [
      {
        path: ['minIdle'],
        expected: `at most maxRunners (${maxRunners})`,
        found: String(minIdle),
      },
    ];
  },
};

/** The pool's sizes must be Fargate cpu/memory pairs, unless the pool runs on EC2. */
const fargateCpuMemory: Rule = {
  validate(spec) {
    if (!isObject(spec) || !Array.isArray(spec.sizes)) return [];
    if (isObject(spec.ecs) && spec.ecs.launch === 'ec2') return [];
    const out: RuleViolation[] = [];
    spec.sizes.forEach((size, i) => {
      if (!isObject(size)) return;
      const { cpu, memory } = size;
      if (typeof cpu !== 'number' || typeof memory !== 'number') return;
      // An unknown cpu is the enum's error; only judge the pair when the cpu exists.
      if (fargateMemoryOptions(cpu).length === 0 || isValidFargateSize(cpu, memory)) return;
      out.push({
        path: ['sizes', i, 'memory'],
        expected: `memory (MiB) ${describeFargateMemory(cpu)} for cpu ${cpu}`,
        found: String(memory),
      });
    });
    return out;
  },
};

/** The Fargate capacity providers; every other name is an Auto Scaling group provider. */
export const FARGATE_CAPACITY_PROVIDERS: readonly string[] = ['FARGATE', 'FARGATE_SPOT'];

/**
 * Settings that only one launch platform supports. Fargate runs no privileged container (so no
 * Docker daemon), only awsvpc and only the Fargate capacity providers; ECS on EC2 takes Auto
 * Scaling group capacity providers (a strategy may not mix the two kinds) and has no RunTask
 * ephemeral storage override.
 */
const launchPlatform: Rule = {
  validate(spec) {
    if (!isObject(spec) || !isObject(spec.ecs)) return [];
    const ecs = spec.ecs;
    const ec2 = ecs.launch === 'ec2';
    const out: RuleViolation[] = [];
    if (spec.docker === true && !ec2) {
      out.push({
        path: ['docker'],
        message: 'Docker needs a privileged container, which Fargate does not run',
        expected: 'docker on a pool with ecs.launch: ec2 (ECS on EC2 capacity providers)',
        found: `docker: true with ecs.launch ${showValue(ecs.launch ?? 'fargate')}`,
      });
    }
    const strategy = Array.isArray(ecs.capacityProviderStrategy)
      ? ecs.capacityProviderStrategy
      : undefined;
    if (ec2 && strategy === undefined) {
      out.push({
        path: ['ecs', 'capacityProviderStrategy'],
        message: 'an EC2 pool launches through its capacity providers',
        expected: 'a capacityProviderStrategy naming Auto Scaling group capacity providers',
        found: 'nothing',
      });
    }
    strategy?.forEach((item, i) => {
      if (!isObject(item) || typeof item.capacityProvider !== 'string') return;
      const fargate = FARGATE_CAPACITY_PROVIDERS.includes(item.capacityProvider);
      if (fargate === ec2) {
        out.push({
          path: ['ecs', 'capacityProviderStrategy', i, 'capacityProvider'],
          message: ec2
            ? 'an EC2 pool cannot use a Fargate capacity provider'
            : 'a Fargate pool names only Fargate capacity providers',
          expected: ec2
            ? 'an Auto Scaling group capacity provider (or ecs.launch: fargate)'
            : 'FARGATE or FARGATE_SPOT (or ecs.launch: ec2 for an Auto Scaling group provider)',
          found: showValue(item.capacityProvider),
        });
      }
    });
    if (!ec2 && ecs.networkMode === 'bridge') {
      out.push({
        path: ['ecs', 'networkMode'],
        message: 'Fargate supports only the awsvpc network mode',
        expected: '"awsvpc" (or ecs.launch: ec2)',
        found: '"bridge"',
      });
    }
    if (ecs.networkMode === 'bridge') {
      for (const field of ['subnets', 'securityGroups'] as const) {
        const v = ecs[field];
        if (Array.isArray(v) && v.length > 0) {
          out.push({
            path: ['ecs', field],
            message: "bridge tasks use the container instance's network",
            expected: `no ${field} with networkMode bridge`,
            found: showValue(v),
          });
        }
      }
      if (ecs.assignPublicIp === true) {
        out.push({
          path: ['ecs', 'assignPublicIp'],
          message: "bridge tasks use the container instance's network",
          expected: 'no public IP with networkMode bridge',
          found: 'true',
        });
      }
    } else if (ecs.subnets === undefined) {
      out.push({
        path: ['ecs', 'subnets'],
        message: 'missing required field',
        expected: 'a list, each item a subnet ID (subnet- and 8 or 17 hex digits)',
        found: 'nothing',
      });
    }
    if (ec2 && Array.isArray(spec.sizes)) {
      spec.sizes.forEach((size, i) => {
        if (!isObject(size) || size.ephemeralStorageGiB === undefined) return;
        out.push({
          path: ['sizes', i, 'ephemeralStorageGiB'],
          message: 'ephemeral storage is a Fargate setting',
          expected: "no ephemeralStorageGiB on an EC2 pool (size the instances' volumes instead)",
          found: showValue(size.ephemeralStorageGiB),
        });
      });
    }
    return out;
  },
};

const capacityProviderStrategy: Rule = {
  validate(ecs) {
    if (!isObject(ecs) || !Array.isArray(ecs.capacityProviderStrategy)) return [];
    const items = ecs.capacityProviderStrategy.filter(isObject);
    if (items.length !== ecs.capacityProviderStrategy.length) return [];
    const out: RuleViolation[] = [];
    const seen = new Map<unknown, number>();
    items.forEach((item, i) => {
      const first = seen.get(item.capacityProvider);
      if (first !== undefined) {
        out.push({
          path: ['capacityProviderStrategy', i, 'capacityProvider'],
          message: 'duplicate capacity provider',
          expected: 'each capacity provider at most once',
          found: `${showValue(item.capacityProvider)} again (capacityProviderStrategy[${first}])`,
        });
      } else seen.set(item.capacityProvider, i);
    });
    const withBase = items.map((item, i) => ({ item, i })).filter(({ item }) => item.base);
    if (withBase.length > 1) {
      out.push({
        path: ['capacityProviderStrategy', withBase[1]!.i, 'base'],
        message: 'only one capacity provider may have a base',
        expected: 'base on one item at most',
        found: `base on ${withBase.length} items`,
      });
    }
    // ECS: with more than one provider, at least one must have a weight above zero.
    if (
      items.length > 1 &&
      !items.some((item) => typeof item.weight === 'number' && item.weight > 0)
    ) {
      out.push({
        path: ['capacityProviderStrategy'],
        message: 'no capacity provider has a weight',
        expected: 'a weight above 0 on at least one item',
        found: 'all weights 0 or absent',
      });
    }
    return out;
  },
};

const durationRange: Rule = {
  checkDeclaration(decl) {
    for (const key of ['min', 'max']) {
      const v = decl[key];
      if (typeof v !== 'string' || !isDuration(v)) {
        throw new Error(`durationRange needs a duration "${key}", got ${showValue(v)}`);
      }
    }
  },
  validate(value, decl) {
    if (typeof value !== 'string' || !isDuration(value)) return [];
    const ms = parseDuration(value);
    const min = parseDuration(decl.min as string);
    const max = parseDuration(decl.max as string);
    if (ms >= min && ms <= max) return [];
    return [
      {
        path: [],
        expected: `a duration from ${formatDuration(min)} to ${formatDuration(max)}`,
        found: showValue(value),
      },
    ];
  },
};

/** Every rule the schema may name. */
export const RULES: Readonly<Record<string, Rule>> = {
  githubScope,
  uniqueLabels,
  defaultSize,
  sizeLabels,
  minIdleWithinMax,
  fargateCpuMemory,
  launchPlatform,
  capacityProviderStrategy,
  durationRange,
};
