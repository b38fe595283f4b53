// Test helpers for the GitHub simulator: real Octokit clients (App auth, installation tokens,
// plugin-retry) pointed at the simulator, and an OpenAPI response validator that checks every
// answer against GitHub's official description in @octokit/openapi.

import { createRequire } from 'node:module';
import { App } from '@octokit/app';
import { Octokit } from '@octokit/core';
import { retry } from '@octokit/plugin-retry';
import { Ajv, type ValidateFunction } from 'ajv';
import type { GitHubSimulator } from '../../../controller/sandbox/github/index.ts';

const require = createRequire(import.meta.url);

type OpenApiDoc = {
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  components: { responses: Record<string, unknown> };
};

/** OpenAPI 3.0 `nullable` → JSON Schema (Ajv refuses `nullable` without a sibling `type`). */
function denullable(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(denullable);
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) if (k !== 'nullable') out[k] = denullable(v);
  if ((node as { nullable?: unknown }).nullable !== true) return out;
  if (typeof out.type === 'string') {
    out.type = [out.type, 'null'];
    if (Array.isArray(out.enum)) out.enum = [...(out.enum as unknown[]), null];
    return out;
  }
  return { anyOf: [out, { type: 'null' }] };
}

const ajv = new Ajv({
  strict: false,
  allErrors: true,
  validateFormats: false,
  validateSchema: false,
});
const compiled = new Map<string, ValidateFunction | null>();
const SOURCES = [
  { id: 'dotcom', file: '@octokit/openapi/generated/api.github.com.json' },
  { id: 'ghec', file: '@octokit/openapi/generated/ghec.json' },
];
const loaded = new Map<string, OpenApiDoc>();

/** Loads a description on first use (they are large); GHEC only for enterprise paths. */
function doc(id: string): OpenApiDoc {
  let d = loaded.get(id);
  if (!d) {
    const source = SOURCES.find((s) => s.id === id) as (typeof SOURCES)[number];
    d = denullable(require(source.file)) as OpenApiDoc;
    ajv.addSchema(d as object, id);
    loaded.set(id, d);
  }
  return d;
}

const escapePointer = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * The validator of the JSON response schema of (method, path template, status), resolved from
 * the OpenAPI description (api.github.com first, then GHEC for enterprise paths); null when the
 * operation documents no JSON body for that status.
 */
export function responseValidator(
  method: string,
  path: string,
  status: number,
): ValidateFunction | null {
  const key = `${method} ${path} ${status}`;
  if (compiled.has(key)) return compiled.get(key) ?? null;
  let result: ValidateFunction | null = null;
  for (const { id } of SOURCES) {
    const description = doc(id);
    const op = description.paths[path]?.[method.toLowerCase()];
    if (!op) continue;
    let response = op.responses[String(status)] as
      { $ref?: string; content?: Record<string, { schema?: unknown }> } | undefined;
    let pointer = `${id}#/paths/${escapePointer(path)}/${method.toLowerCase()}/responses/${status}`;
    if (!response) {
      // GitHub answers undocumented statuses (404, 403, 401) with its basic error body.
      if (status < 400) throw new Error(`${key}: status ${status} is not documented in ${id}`);
      result = ajv.compile({ $ref: `${id}#/components/schemas/basic-error` });
      compiled.set(key, result);
      return result;
    }
    if (response.$ref) {
      const name = response.$ref.split('/').pop() as string;
      response = description.components.responses[name] as typeof response;
      pointer = `${id}#/components/responses/${escapePointer(name)}`;
    }
    if (response?.content?.['application/json']?.schema) {
      result = ajv.compile({ $ref: `${pointer}/content/application~1json/schema` });
    }
    compiled.set(key, result);
    return result;
  }
  throw new Error(`${key}: no such operation in @octokit/openapi`);
}

export interface ValidationLog {
  checked: string[];
  failures: string[];
}

function check(log: ValidationLog, method: string, url: string, status: number, data: unknown) {
  const validate = responseValidator(method, url, status);
  log.checked.push(`${method} ${url} ${status}`);
  if (!validate) {
    if (data !== undefined && data !== '' && status !== 204 && status !== 304) {
      log.failures.push(`${method} ${url} ${status}: body served but none documented`);
    }
    return;
  }
  if (!validate(data)) {
    log.failures.push(`${method} ${url} ${status}: ${ajv.errorsText(validate.errors)}`);
  }
}

/** Validates every response (and documented error body) of this Octokit against the OpenAPI. */
export function validateResponses(octokit: InstanceType<typeof Octokit>, log: ValidationLog): void {
  octokit.hook.after('request', (response, options) => {
    check(log, options.method ?? 'GET', options.url ?? '', response.status, response.data);
  });
  octokit.hook.error('request', (error, options) => {
    const e = error as { status?: number; response?: { data?: unknown } };
    if (e.status && e.status !== 304 && e.status < 500) {
      check(log, options.method ?? 'GET', options.url ?? '', e.status, e.response?.data);
    }
    throw error;
  });
}

export const RetryingOctokit = Octokit.plugin(retry);

/** App-level Octokit and installation Octokits, as the controller builds them. */
export function appFor(sim: GitHubSimulator, log: ValidationLog, retries = 0) {
  const OctokitForSim = RetryingOctokit.defaults({
    baseUrl: sim.url,
    retry: { retries, retryAfterBaseValue: 1 },
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
  });
  const app = new App({ appId: sim.appId, privateKey: sim.privateKeyPem, Octokit: OctokitForSim });
  validateResponses(app.octokit, log);
  return {
    app,
    async installation(installationId: number) {
      const octokit = await app.getInstallationOctokit(installationId);
      validateResponses(octokit, log);
      return octokit;
    },
  };
}

export function newLog(): ValidationLog {
  return { checked: [], failures: [] };
}

/** Polls a condition on the simulated world (no timed assertions: only an upper bound). */
export async function eventually<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  limitMs = 10_000,
): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() - start > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
