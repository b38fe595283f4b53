// App authentication and rate limits of the GitHub simulator, through real Octokit clients:
// JWT rejections, installation-token expiry on the injected clock, clock-skew recovery by
// @octokit/auth-app, the primary limit and the secondary limit of JIT generation.

import { createSign, generateKeyPairSync } from 'node:crypto';
import { Octokit } from '@octokit/core';
import { RequestError } from '@octokit/request-error';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startGitHubSimulator,
  type GitHubSimulator,
} from '../../../controller/sandbox/github/index.ts';
import type { Clock } from '../../../controller/util/clock.ts';
import { appFor, newLog, validateResponses, type ValidationLog } from './github-helpers.ts';

/** A clock the test moves by hand. */
function manualClock(start = Date.now()): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    sleep: () => Promise.resolve(),
    advance: (ms) => (now += ms),
  };
}

function jwt(privateKeyPem: string, claims: Record<string, unknown>): string {
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const body = `${enc({ alg: 'RS256', typ: 'JWT' })}.${enc(claims)}`;
  const signature = createSign('RSA-SHA256').update(body).sign(privateKeyPem).toString('base64url');
  return `${body}.${signature}`;
}

async function failure(p: Promise<unknown>): Promise<RequestError> {
  try {
    await p;
  } catch (error) {
    if (error instanceof RequestError) return error;
    throw error;
  }
  throw new Error('expected the request to fail');
}

let sim: GitHubSimulator;
let clock: ReturnType<typeof manualClock>;
let log: ValidationLog;
let installationId: number;

beforeAll(async () => {
  clock = manualClock();
  sim = await startGitHubSimulator({ clock });
  log = newLog();
  await sim.control.createOrg({ login: 'acme' });
  installationId = (await sim.control.createInstallation({ account: 'acme' })).id;
});

afterAll(async () => {
  await sim?.close();
});

const jwtOctokit = (token: string) => {
  const o = new Octokit({ auth: token, baseUrl: sim.url });
  validateResponses(o, log);
  return o;
};

describe('GitHub simulator App authentication', () => {
  it('accepts a fresh App JWT and rejects bad ones with 401 and GitHub messages', async () => {
    const now = Math.floor(clock.now() / 1000);
    const good = jwt(sim.privateKeyPem, { iat: now - 30, exp: now + 540, iss: sim.appId });
    expect((await jwtOctokit(good).request('GET /app/installations')).status).toBe(200);

    const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs1', format: 'pem' })
      .toString();
    const cases: [string, string, RegExp][] = [
      [
        'expired',
        jwt(sim.privateKeyPem, { iat: now - 700, exp: now - 100, iss: sim.appId }),
        /'exp'/,
      ],
      [
        'wrong key',
        jwt(otherKey, { iat: now - 30, exp: now + 540, iss: sim.appId }),
        /could not be decoded/,
      ],
      [
        'over 10 minutes',
        jwt(sim.privateKeyPem, { iat: now - 30, exp: now + 900, iss: sim.appId }),
        /too far in the future/,
      ],
      [
        'issued in the future',
        jwt(sim.privateKeyPem, { iat: now + 300, exp: now + 800, iss: sim.appId }),
        /'iat'/,
      ],
      ['wrong issuer', jwt(sim.privateKeyPem, { iat: now - 30, exp: now + 540, iss: 1 }), /Issuer/],
      ['not a JWT', 'eyJhbGciOiJSUzI1NiJ9.e30.c2ln', /could not be decoded/],
    ];
    for (const [name, token, message] of cases) {
      const error = await failure(jwtOctokit(token).request('GET /app/installations'));
      expect(error.status, name).toBe(401);
      expect((error.response?.data as { message: string }).message, name).toMatch(message);
    }
    const unknown = await failure(
      jwtOctokit('ghs_' + 'x'.repeat(50)).request('GET /orgs/{org}/actions/runners', {
        org: 'acme',
      }),
    );
    expect(unknown.status).toBe(401);
    expect((unknown.response?.data as { message: string }).message).toBe('Bad credentials');
  });

  it('issues installation tokens longer than 40 characters that expire after 1 h of clock time', async () => {
    const now = Math.floor(clock.now() / 1000);
    const appJwt = jwt(sim.privateKeyPem, { iat: now - 30, exp: now + 540, iss: sim.appId });
    const res = await jwtOctokit(appJwt).request(
      'POST /app/installations/{installation_id}/access_tokens',
      {
        installation_id: installationId,
      },
    );
    expect(res.status).toBe(201);
    const token = res.data.token;
    expect(token.length).toBeGreaterThan(40);
    expect(Date.parse(res.data.expires_at) - clock.now()).toBeGreaterThan(59 * 60_000);

    const installation = jwtOctokit(token);
    expect(
      (await installation.request('GET /orgs/{org}/actions/runners', { org: 'acme' })).status,
    ).toBe(200);
    clock.advance(59 * 60_000);
    expect(
      (await installation.request('GET /orgs/{org}/actions/runners', { org: 'acme' })).status,
    ).toBe(200);
    clock.advance(2 * 60_000);
    const expired = await failure(
      installation.request('GET /orgs/{org}/actions/runners', { org: 'acme' }),
    );
    expect(expired.status).toBe(401);
    expect((expired.response?.data as { message: string }).message).toBe('Bad credentials');
  });

  it('lets @octokit/auth-app recover from clock skew through the Date header', async () => {
    // The simulator's clock is now > 1 h ahead of the real one: Octokit's JWTs look old.
    const { app } = appFor(sim, log);
    const res = await app.octokit.request('GET /app/installations');
    expect(res.status).toBe(200);
    expect(Date.parse(res.headers.date as string)).toBeGreaterThan(Date.now() + 3600_000 - 5_000);
  });

  it('answers 403 with x-ratelimit-remaining 0 when the primary limit is spent', async () => {
    const local = await startGitHubSimulator({ rateLimits: { primaryLimit: 5 } });
    try {
      await local.control.createOrg({ login: 'acme' });
      const id = (await local.control.createInstallation({ account: 'acme' })).id;
      const octokit = await appFor(local, log).installation(id);
      const seen: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await octokit.request('GET /orgs/{org}/actions/runners', { org: 'acme' });
        seen.push(r.headers['x-ratelimit-remaining'] as string);
      }
      expect(seen).toEqual(['4', '3', '2', '1', '0']);
      const error = await failure(
        octokit.request('GET /orgs/{org}/actions/runners', { org: 'acme' }),
      );
      expect(error.status).toBe(403);
      expect(error.response?.headers['x-ratelimit-remaining']).toBe('0');
      expect((error.response?.data as { message: string }).message).toMatch(
        /API rate limit exceeded for installation ID/,
      );
    } finally {
      await local.close();
    }
  });

  it('meters JIT generation: 900 points a minute at 5 a POST, then 403 with retry-after', async () => {
    const local = await startGitHubSimulator({ clock: manualClock() });
    try {
      await local.control.createOrg({ login: 'acme' });
      const id = (await local.control.createInstallation({ account: 'acme' })).id;
      const now = Math.floor(Date.now() / 1000);
      const appJwt = jwt(local.privateKeyPem, { iat: now - 30, exp: now + 540, iss: local.appId });
      const tokenRes = await new Octokit({ auth: appJwt, baseUrl: local.url }).request(
        'POST /app/installations/{installation_id}/access_tokens',
        { installation_id: id },
      );
      const octokit = new Octokit({ auth: tokenRes.data.token, baseUrl: local.url });
      validateResponses(octokit, log);
      let created = 0;
      let limited: RequestError | undefined;
      for (let i = 0; i < 200 && !limited; i++) {
        try {
          await octokit.request('POST /orgs/{org}/actions/runners/generate-jitconfig', {
            org: 'acme',
            name: `rctl-burst-${i}`,
            runner_group_id: 1,
            labels: ['self-hosted'],
          });
          created++;
        } catch (error) {
          limited = error as RequestError;
        }
      }
      expect(created).toBe(180);
      expect(limited?.status).toBe(403);
      expect(Number(limited?.response?.headers['retry-after'])).toBeGreaterThan(0);
      expect((limited?.response?.data as { message: string }).message).toMatch(
        /secondary rate limit/,
      );
      expect((await local.control.listRunners()).length).toBe(180);
      // Other endpoints are not in the secondary bucket.
      expect(
        (await octokit.request('GET /orgs/{org}/actions/runners', { org: 'acme' })).status,
      ).toBe(200);
    } finally {
      await local.close();
    }
  });

  it('served only bodies that match the OpenAPI description', () => {
    expect(log.failures).toEqual([]);
  });
});
