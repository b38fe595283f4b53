// GitHub App authentication as GitHub does it: RS256 app JWTs checked against the App's public
// key, installation tokens that expire after an hour, personal tokens for enterprise endpoints.
// node:crypto only. Messages of rejections are GitHub's own texts, because @octokit/auth-app
// recognises the clock-skew ones and retries with the server's Date header.

import { createHash, generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { Clock } from '../../util/clock.ts';

export const MAX_JWT_LIFETIME_S = 600;
export const INSTALLATION_TOKEN_TTL_MS = 60 * 60 * 1000;
/** Seconds of clock drift GitHub tolerates on `iat`. */
const IAT_LEEWAY_S = 60;

export const JWT_MESSAGES = {
  undecodable: 'A JSON web token could not be decoded',
  iat: "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued.",
  expFuture: "'Expiration time' claim ('exp') is too far in the future",
  expPast:
    "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires",
  iss: "'Issuer' claim ('iss') must be an Integer or the client ID of the GitHub App",
  integrationNotFound: 'Integration not found',
} as const;

export interface AppIdentity {
  appId: number;
  clientId: string;
  slug: string;
  privateKeyPem: string;
  publicKey: KeyObject;
}

export function createAppIdentity(appId: number): AppIdentity {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    appId,
    clientId: `Iv23li${randomBytes(7).toString('hex')}`,
    slug: 'runnerctl-sandbox',
    // PKCS#1, the format GitHub hands out ("BEGIN RSA PRIVATE KEY").
    privateKeyPem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    publicKey,
  };
}

/** Writes the App's private key with owner-only permissions. */
export async function writePrivateKeyFile(identity: AppIdentity, path: string): Promise<void> {
  await writeFile(path, identity.privateKeyPem, { mode: 0o600 });
}

export type JwtCheck = { ok: true; appId: number } | { ok: false; message: string };

function b64urlJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

export function verifyAppJwt(token: string, identity: AppIdentity, clock: Clock): JwtCheck {
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, message: JWT_MESSAGES.undecodable };
  const [h, p, s] = parts as [string, string, string];
  const header = b64urlJson(h);
  const payload = b64urlJson(p);
  if (!header || !payload || header.alg !== 'RS256') {
    return { ok: false, message: JWT_MESSAGES.undecodable };
  }
  const signatureOk = verify(
    'RSA-SHA256',
    Buffer.from(`${h}.${p}`),
    identity.publicKey,
    Buffer.from(s, 'base64url'),
  );
  if (!signatureOk) return { ok: false, message: JWT_MESSAGES.undecodable };
  const iss = payload.iss;
  if (!(iss === identity.appId || iss === String(identity.appId) || iss === identity.clientId)) {
    return { ok: false, message: JWT_MESSAGES.iss };
  }
  const now = Math.floor(clock.now() / 1000);
  const { iat, exp } = payload;
  if (typeof iat !== 'number' || !Number.isInteger(iat) || iat > now + IAT_LEEWAY_S) {
    return { ok: false, message: JWT_MESSAGES.iat };
  }
  if (typeof exp !== 'number' || exp <= now) return { ok: false, message: JWT_MESSAGES.expPast };
  if (exp - iat > MAX_JWT_LIFETIME_S || exp > now + MAX_JWT_LIFETIME_S + IAT_LEEWAY_S) {
    return { ok: false, message: JWT_MESSAGES.expFuture };
  }
  return { ok: true, appId: identity.appId };
}

export function isJwtShaped(token: string): boolean {
  return token.split('.').length === 3 && token.startsWith('eyJ');
}

export interface IssuedToken {
  kind: 'installation' | 'personal';
  installationId?: number;
  /** Personal tokens: their scopes, e.g. manage_runners:enterprise. */
  scopes?: string[];
  expiresAtMs: number;
}

/** Tokens are kept hashed: the simulator holds no secret it does not need. */
export class TokenStore {
  private readonly tokens = new Map<string, IssuedToken>();

  constructor(private readonly clock: Clock) {}

  issueInstallationToken(installationId: number): { token: string; expiresAtMs: number } {
    // New-format tokens are longer than 40 characters (GitHub, April 2026).
    const token = `ghs_${randomBytes(36).toString('base64url')}`;
    const expiresAtMs = this.clock.now() + INSTALLATION_TOKEN_TTL_MS;
    this.tokens.set(hash(token), { kind: 'installation', installationId, expiresAtMs });
    return { token, expiresAtMs };
  }

  issuePersonalToken(scopes: string[], ttlMs = 365 * 24 * 3600 * 1000): string {
    const token = `ghp_${randomBytes(27).toString('base64url')}`;
    this.tokens.set(hash(token), {
      kind: 'personal',
      scopes,
      expiresAtMs: this.clock.now() + ttlMs,
    });
    return token;
  }

  /** The token if it is known and not expired. */
  lookup(token: string): IssuedToken | undefined {
    const issued = this.tokens.get(hash(token));
    if (!issued || issued.expiresAtMs <= this.clock.now()) return undefined;
    return issued;
  }

  revoke(token: string): boolean {
    return this.tokens.delete(hash(token));
  }
}

function hash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
