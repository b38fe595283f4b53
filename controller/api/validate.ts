// Turns YAML text into validated RunnerPool objects with defaults applied, or into a list of
// issues that each name file:line:column, the field path, and what was expected vs found.

import type { ErrorObject, SchemaObject } from 'ajv';
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  type Document,
  type Node as YamlNode,
} from 'yaml';
import { ValidationError, type ValidationIssue } from './errors.ts';
import { withSelfHosted } from './labels.ts';
import { showValue } from './rules.ts';
import {
  EXPECTED_KEYWORD,
  loadPoolSchema,
  RULES_KEYWORD,
  type PoolSchema,
  type RuleErrorParams,
} from './schema.ts';
import type { RunnerPool } from './types.ts';

/** One file (or stdin) to validate. */
export interface PoolSource {
  /** Shown in messages as written by the user (`crds/examples/seed.yaml`, `<stdin>`). */
  file: string;
  text: string;
}

export interface ValidatedPool {
  pool: RunnerPool;
  file: string;
  /** Position of the document's metadata.name. */
  line: number;
  column: number;
}

export type Segment = string | number;

/**
 * The runner network the deployment allows (the stack's RunnerSubnetIds and
 * RunnerSecurityGroupId outputs). An empty or absent list is not checked.
 */
export interface AllowedNetwork {
  subnets?: readonly string[];
  securityGroups?: readonly string[];
}

export interface ValidateOptions {
  network?: AllowedNetwork;
}

const NETWORK_FIELDS = [
  ['subnets', 'runner subnets', 'RUNNERCTL_RUNNER_SUBNETS'],
  ['securityGroups', 'runner security groups', 'RUNNERCTL_RUNNER_SECURITY_GROUPS'],
] as const;

/** Subnets and security groups of a pool that the deployment does not allow, by field path. */
export function disallowedNetwork(
  pool: Pick<RunnerPool, 'spec'>,
  allowed: AllowedNetwork | undefined,
): { segments: Segment[]; message: string }[] {
  const out: { segments: Segment[]; message: string }[] = [];
  for (const [field, what, variable] of NETWORK_FIELDS) {
    const list = allowed?.[field];
    if (!list || list.length === 0) continue;
    (pool.spec.ecs[field] ?? []).forEach((id, i) => {
      if (list.includes(id)) return;
      out.push({
        segments: ['spec', 'ecs', field, i],
        message:
          `not one of the ${what} the deployment allows: expected one of ` +
          `${list.join(', ')} (${variable}), got ${JSON.stringify(id)}`,
      });
    });
  }
  return out;
}

let cachedSchema: PoolSchema | undefined;

/** The schema of this checkout, loaded once per process. */
export function defaultPoolSchema(): PoolSchema {
  cachedSchema ??= loadPoolSchema();
  return cachedSchema;
}

export function pathToString(segments: readonly Segment[]): string {
  if (segments.length === 0) return '(document)';
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(s)) out += `[${JSON.stringify(s)}]`;
    else out += out === '' ? s : `.${s}`;
  }
  return out;
}

function pointerToSegments(pointer: string, data: unknown): Segment[] {
  if (pointer === '') return [];
  const out: Segment[] = [];
  let cursor: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const segment: Segment = Array.isArray(cursor) && /^[0-9]+$/.test(key) ? Number(key) : key;
    out.push(segment);
    cursor =
      cursor !== null && typeof cursor === 'object'
        ? (cursor as Record<string, unknown>)[String(segment)]
        : undefined;
  }
  return out;
}

/**
 * Locates a field path in the YAML document: the value node, or the key when `want` is `key`.
 * A path that does not exist (a missing field) resolves to the key of its deepest existing
 * parent, where the field should have been written.
 */
export function locate(
  doc: Document,
  segments: readonly Segment[],
  want: 'value' | 'key',
): [number, number] | undefined {
  let node: unknown = doc.contents;
  let parentKey: [number, number] | undefined = rangeOf(node);
  for (let i = 0; i < segments.length; i++) {
    if (isAlias(node)) node = node.resolve(doc);
    const segment = segments[i]!;
    const last = i === segments.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === segment);
      if (!pair) return parentKey;
      if (last)
        return (want === 'key' ? rangeOf(pair.key) : rangeOf(pair.value)) ?? rangeOf(pair.key);
      // A missing value (`key:` alone) has no node: point at the key.
      node = pair.value;
      parentKey = rangeOf(pair.key) ?? parentKey;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (item === undefined) return parentKey;
      if (last) return rangeOf(item) ?? parentKey;
      node = item;
      parentKey = rangeOf(item) ?? parentKey;
    } else {
      return parentKey;
    }
  }
  return rangeOf(node) ?? parentKey;
}

function rangeOf(node: unknown): [number, number] | undefined {
  const range = (node as YamlNode | undefined)?.range;
  return range ? [range[0], range[1]] : undefined;
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  null: 'null',
};

function foundType(v: unknown): string {
  if (typeof v === 'string') return `the string ${showValue(v)}`;
  if (typeof v === 'number') return `the number ${v}`;
  return showValue(v);
}

/** What a schema node accepts, in words. */
function describeSchema(schema: SchemaObject | undefined): string {
  if (!schema) return 'a value';
  if (Array.isArray(schema.enum)) return oneOf(schema.enum);
  if (typeof schema[EXPECTED_KEYWORD] === 'string') return schema[EXPECTED_KEYWORD] as string;
  if (schema.type === 'array' && schema.items?.type) {
    return `a list, each item ${describeSchema(schema.items)}`;
  }
  if (schema.type === 'object' && schema.properties) {
    return `a mapping with ${Object.keys(schema.properties).join(', ')}`;
  }
  return TYPE_NAMES[schema.type as string] ?? 'a value';
}

function oneOf(values: readonly unknown[]): string {
  const shown = values.map((v) => (typeof v === 'string' ? JSON.stringify(v) : String(v)));
  return shown.length === 1 ? shown[0]! : `one of ${shown.join(', ')}`;
}

function numberRange(schema: SchemaObject): string {
  const kind = schema.type === 'integer' ? 'an integer' : 'a number';
  const { minimum: min, maximum: max } = schema;
  if (typeof min === 'number' && typeof max === 'number') return `${kind} from ${min} to ${max}`;
  if (typeof min === 'number') return `${kind} of at least ${min}`;
  return `${kind} of at most ${max}`;
}

/** Closest known field name, for "did you mean" hints on typos. */
function closest(name: string, candidates: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = editDistance(lower, c.toLowerCase());
    if (d <= Math.max(2, Math.floor(c.length / 4)) && (!best || d < best.d)) best = { c, d };
  }
  return best?.c;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        prev[j]! + 1,
        cur[j - 1]! + 1,
        prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length]!;
}

export interface Described {
  segments: Segment[];
  message: string;
  /** Point at the key (unknown field) instead of the value. */
  at: 'value' | 'key';
}

export function describeError(err: ErrorObject, data: unknown): Described {
  const segments = pointerToSegments(err.instancePath, data);
  const schema = (err.parentSchema ?? {}) as SchemaObject;
  const value = err.data;
  const params = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'type':
      return {
        segments,
        message: `expected ${TYPE_NAMES[params.type as string] ?? params.type}, got ${foundType(value)}`,
        at: 'value',
      };
    case 'required': {
      const field = params.missingProperty as string;
      return {
        segments: [...segments, field],
        message: `missing required field: expected ${describeSchema(schema.properties?.[field])}, got nothing`,
        at: 'value',
      };
    }
    case 'additionalProperties': {
      const field = params.additionalProperty as string;
      const known = Object.keys(schema.properties ?? {});
      const hint = closest(field, known);
      return {
        segments: [...segments, field],
        message:
          `unknown field ${JSON.stringify(field)}: expected one of ${known.join(', ')}` +
          (hint ? ` (did you mean ${JSON.stringify(hint)}?)` : ''),
        at: 'key',
      };
    }
    case 'enum':
      return {
        segments,
        message: `expected ${oneOf(params.allowedValues as unknown[])}, got ${showValue(value)}`,
        at: 'value',
      };
    case 'pattern':
      return {
        segments,
        message: `expected ${(schema[EXPECTED_KEYWORD] as string | undefined) ?? `a string matching ${params.pattern}`}, got ${showValue(value)}`,
        at: 'value',
      };
    case 'minimum':
    case 'maximum':
      return { segments, message: `expected ${numberRange(schema)}, got ${value}`, at: 'value' };
    case 'minLength':
      return {
        segments,
        message:
          params.limit === 1
            ? `expected a non-empty string, got ""`
            : `expected at least ${params.limit} characters, got ${showValue(value)}`,
        at: 'value',
      };
    case 'maxLength':
      return {
        segments,
        message: `expected at most ${params.limit} characters, got ${String(value).length}: ${showValue(value)}`,
        at: 'value',
      };
    case 'minItems':
      return {
        segments,
        message: `expected at least ${params.limit} item${params.limit === 1 ? '' : 's'}, got ${
          Array.isArray(value) && value.length === 0
            ? 'an empty list'
            : `${(value as unknown[]).length}`
        }`,
        at: 'value',
      };
    case 'maxItems':
      return {
        segments,
        message: `expected at most ${params.limit} items, got ${(value as unknown[]).length}`,
        at: 'value',
      };
    case 'uniqueItems': {
      const i = params.i as number;
      const j = params.j as number;
      const [first, second] = i < j ? [i, j] : [j, i];
      return {
        segments: [...segments, second],
        message: `duplicate item: expected unique items, got ${showValue((value as unknown[])[second])} again (also [${first}])`,
        at: 'value',
      };
    }
    case RULES_KEYWORD: {
      const p = params as unknown as RuleErrorParams;
      return {
        segments,
        message: `${err.message}: expected ${p.expected}, got ${p.found}`,
        at: 'value',
      };
    }
    default:
      return { segments, message: err.message ?? `failed ${err.keyword}`, at: 'value' };
  }
}

/** Orders keys as the schema declares them so that equal specs serialise identically. */
function canonical(value: unknown, schema: SchemaObject | undefined): unknown {
  if (Array.isArray(value)) return value.map((v) => canonical(v, schema?.items));
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  const props = (schema?.properties ?? {}) as Record<string, SchemaObject>;
  const keys = [
    ...Object.keys(props).filter((k) => k in obj),
    ...Object.keys(obj)
      .filter((k) => !(k in props))
      .sort(),
  ];
  return Object.fromEntries(keys.map((k) => [k, canonical(obj[k], props[k])]));
}

export function toPool(data: Record<string, unknown>, schema: SchemaObject): RunnerPool {
  const pool = canonical(data, schema) as RunnerPool & { status?: unknown };
  // Status belongs to the controller: validated, never taken from an applied document.
  delete pool.status;
  pool.spec.labels = withSelfHosted(pool.spec.labels);
  return pool;
}

export function yamlErrorIssue(
  file: string,
  err: { message: string; linePos?: [{ line: number; col: number }, ...unknown[]] },
): ValidationIssue {
  const pos = err.linePos?.[0];
  const message = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  return {
    file,
    line: pos?.line ?? 0,
    column: pos?.col ?? 0,
    path: '(document)',
    message: `invalid YAML: ${message}`,
  };
}

/**
 * Validates every document of every source. Returns the pools (defaults applied, `self-hosted`
 * label added) in source order, or throws a ValidationError with every issue found.
 */
export function validatePoolSources(
  sources: readonly PoolSource[],
  schema: PoolSchema = defaultPoolSchema(),
  options: ValidateOptions = {},
): ValidatedPool[] {
  const issues: ValidationIssue[] = [];
  const pools: ValidatedPool[] = [];
  const names = new Map<string, string>();

  for (const source of sources) {
    const lineCounter = new LineCounter();
    const parsed = parseAllDocuments(source.text, { lineCounter, prettyErrors: true });
    const docs = 'empty' in parsed ? [] : parsed;
    const at = (range: [number, number] | undefined) => {
      if (!range) return { line: 1, column: 1 };
      const { line, col } = lineCounter.linePos(range[0]);
      return { line, column: col };
    };
    if ('empty' in parsed) {
      for (const err of parsed.errors) issues.push(yamlErrorIssue(source.file, err));
    }

    for (const doc of docs) {
      if (doc.errors.length > 0) {
        for (const err of doc.errors) issues.push(yamlErrorIssue(source.file, err));
        continue;
      }
      // An empty document (a stray `---`) is not a pool.
      if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null))
        continue;

      // `get -o yaml` prints a RunnerPoolList (kubectl: a List); each item is one pool.
      for (const { item, prefix } of listItems(doc.toJS({ maxAliasCount: 100 }))) {
        const data = withoutServerFields(item);
        const valid = schema.validate(data);
        if (!valid) {
          const errors = schema.validate.errors ?? [];
          // A value of the wrong type also fails its enum or pattern; the type error says it all.
          const wrongType = new Set(
            errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath),
          );
          const relevant = errors.filter(
            (e) => e.keyword === 'type' || !wrongType.has(e.instancePath),
          );
          const found = relevant.map((err) => {
            const d = describeError(err, data);
            const range = locate(doc, [...prefix, ...d.segments], d.at);
            return {
              file: source.file,
              ...at(range),
              path: pathToString([...prefix, ...d.segments]),
              message: d.message,
            };
          });
          issues.push(...found.sort((a, b) => a.line - b.line || a.column - b.column));
          continue;
        }
        const pool = toPool(data as Record<string, unknown>, schema.schema);
        const network = disallowedNetwork(pool, options.network);
        if (network.length > 0) {
          for (const problem of network) {
            issues.push({
              file: source.file,
              ...at(locate(doc, [...prefix, ...problem.segments], 'value')),
              path: pathToString([...prefix, ...problem.segments]),
              message: problem.message,
            });
          }
          continue;
        }
        const position = at(locate(doc, [...prefix, 'metadata', 'name'], 'value'));
        const where = `${source.file}:${position.line}:${position.column}`;
        const first = names.get(pool.metadata.name);
        if (first !== undefined) {
          issues.push({
            file: source.file,
            ...position,
            path: 'metadata.name',
            message: `duplicate pool name: expected names unique across all applied documents, got ${JSON.stringify(pool.metadata.name)} again (first at ${first})`,
          });
          continue;
        }
        names.set(pool.metadata.name, where);
        pools.push({ pool, file: source.file, ...position });
      }
    }
  }

  if (issues.length > 0) throw new ValidationError(dedupe(issues));
  return pools;
}

const LIST_KINDS = new Set(['RunnerPoolList', 'List']);

function listItems(data: unknown): { item: unknown; prefix: Segment[] }[] {
  const obj = data as { kind?: unknown; items?: unknown } | null;
  if (obj && typeof obj === 'object' && LIST_KINDS.has(obj.kind as string)) {
    if (Array.isArray(obj.items)) {
      return obj.items.map((item: unknown, i) => ({ item, prefix: ['items', i] }));
    }
  }
  return [{ item: data, prefix: [] }];
}

/**
 * Metadata the store sets (what `get -o yaml` prints) is ignored on apply, as kubectl ignores
 * it: so an object read back applies unchanged. `status` stays, validated and then dropped.
 */
const SERVER_METADATA = [
  'generation',
  'resourceVersion',
  'creationTimestamp',
  'deletionTimestamp',
  'uid',
  'managedFields',
];

function withoutServerFields(data: unknown): unknown {
  const obj = data as { metadata?: unknown } | null;
  if (!obj || typeof obj !== 'object' || !obj.metadata || typeof obj.metadata !== 'object') {
    return data;
  }
  const metadata = { ...(obj.metadata as Record<string, unknown>) };
  for (const key of SERVER_METADATA) delete metadata[key];
  return { ...obj, metadata };
}

function dedupe(issues: ValidationIssue[]): ValidationIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.file}:${i.line}:${i.column}:${i.path}:${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Validates one YAML text (any number of documents). */
export function validatePoolYaml(text: string, file = '<input>'): ValidatedPool[] {
  return validatePoolSources([{ file, text }]);
}
