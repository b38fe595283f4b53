// Loads crds/runnerpool.yaml and compiles its OpenAPI v3 schema with ajv, wiring the
// `x-runnerctl-validations` rules to their implementations in rules.ts.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type SchemaObject, type ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import { SchemaError } from './errors.ts';
import { RULES, type RuleDeclaration } from './rules.ts';
import { API_GROUP, POOL_KIND } from './types.ts';

export const POOL_VERSION = 'v1alpha1';

/** crds/runnerpool.yaml of this checkout (the container image ships crds/ next to controller/). */
export const DEFAULT_SCHEMA_FILE = fileURLToPath(
  new URL('../../crds/runnerpool.yaml', import.meta.url),
);

export const RULES_KEYWORD = 'x-runnerctl-validations';
export const EXPECTED_KEYWORD = 'x-runnerctl-expected';

export interface PoolSchema {
  file: string;
  /** The openAPIV3Schema of the served version, after defaults have been filled in by ajv. */
  schema: SchemaObject;
  validate: ValidateFunction;
}

/** Error params of a rule violation (ajv error with keyword RULES_KEYWORD). */
export interface RuleErrorParams {
  rule: string;
  expected: string;
  found: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function escapePointer(segment: string | number): string {
  return String(segment).replace(/~/g, '~0').replace(/\//g, '~1');
}

function ruleDeclarations(value: unknown, file: string): RuleDeclaration[] {
  if (!Array.isArray(value)) {
    throw new SchemaError(`${file}: ${RULES_KEYWORD} must be a list of rule declarations`, file);
  }
  return value.map((decl) => {
    if (!isObject(decl) || typeof decl.rule !== 'string' || typeof decl.message !== 'string') {
      throw new SchemaError(
        `${file}: each ${RULES_KEYWORD} entry needs a string "rule" and a string "message", got ${JSON.stringify(decl)}`,
        file,
      );
    }
    const rule = RULES[decl.rule];
    if (!rule) {
      throw new SchemaError(
        `${file}: unknown validation rule "${decl.rule}"; known rules: ${Object.keys(RULES).join(', ')}`,
        file,
      );
    }
    try {
      rule.checkDeclaration?.(decl as RuleDeclaration);
    } catch (cause) {
      throw new SchemaError(`${file}: rule "${decl.rule}": ${(cause as Error).message}`, file, {
        cause,
      });
    }
    return decl as RuleDeclaration;
  });
}

function buildAjv(file: string): Ajv {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true });
  ajv.addKeyword({ keyword: EXPECTED_KEYWORD, schemaType: 'string' });
  ajv.addKeyword({
    keyword: RULES_KEYWORD,
    schemaType: 'array',
    errors: true,
    compile(schemaValue: unknown) {
      const decls = ruleDeclarations(schemaValue, file);
      const validate = (data: unknown, dataCxt?: { instancePath: string }): boolean => {
        const errors: Partial<ErrorObject>[] = [];
        for (const decl of decls) {
          for (const v of RULES[decl.rule]!.validate(data, decl)) {
            const params: RuleErrorParams = {
              rule: decl.rule,
              expected: v.expected,
              found: v.found,
            };
            errors.push({
              keyword: RULES_KEYWORD,
              instancePath:
                (dataCxt?.instancePath ?? '') + v.path.map((s) => `/${escapePointer(s)}`).join(''),
              message: v.message ?? decl.message,
              params,
            });
          }
        }
        (validate as { errors?: Partial<ErrorObject>[] }).errors = errors;
        return errors.length === 0;
      };
      return validate;
    },
  });
  return ajv;
}

function findVersionSchema(crd: unknown, file: string): SchemaObject {
  const spec = isObject(crd) && isObject(crd.spec) ? crd.spec : undefined;
  if (!spec || spec.group !== API_GROUP || !isObject(spec.names) || spec.names.kind !== POOL_KIND) {
    throw new SchemaError(
      `${file}: expected a CustomResourceDefinition of group ${API_GROUP}, kind ${POOL_KIND}`,
      file,
    );
  }
  const versions = Array.isArray(spec.versions) ? spec.versions : [];
  const version = versions.find((v) => isObject(v) && v.name === POOL_VERSION);
  const schema =
    isObject(version) && isObject(version.schema) ? version.schema.openAPIV3Schema : undefined;
  if (!isObject(schema)) {
    throw new SchemaError(`${file}: no schema.openAPIV3Schema for version ${POOL_VERSION}`, file);
  }
  return schema;
}

/** Reads and compiles the pool schema; every problem with the file is a SchemaError. */
export function loadPoolSchema(file: string = DEFAULT_SCHEMA_FILE): PoolSchema {
  let crd: unknown;
  try {
    crd = parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new SchemaError(
      `cannot load the pool schema ${file}: ${(cause as Error).message}`,
      file,
      {
        cause,
      },
    );
  }
  const schema = findVersionSchema(crd, file);
  let validate: ValidateFunction;
  try {
    validate = buildAjv(file).compile(schema);
  } catch (cause) {
    if (cause instanceof SchemaError) throw cause;
    throw new SchemaError(`${file}: invalid schema: ${(cause as Error).message}`, file, { cause });
  }
  return { file, schema, validate };
}
