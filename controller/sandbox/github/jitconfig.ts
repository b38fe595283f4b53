// The encoded JIT config, shaped like the real one: base64 of a JSON document whose keys are the
// runner's configuration files (.runner, .credentials, .credentials_rsaparams), each base64 JSON.
// The RSA parameters are random bytes of the real sizes: the simulator never does RSA with them,
// it keeps a hash of `d` and the runner proves possession by sending that hash (see broker.ts).
// The whole document is a secret: never log it.

import { createHash, randomBytes, randomUUID } from 'node:crypto';

export interface RunnerFile {
  agentId: number;
  agentName: string;
  poolId: number;
  poolName: string;
  disableUpdate: boolean;
  ephemeral: boolean;
  serverUrl: string;
  gitHubUrl: string;
  workFolder: string;
  useV2Flow: boolean;
  /** The simulator's broker endpoint (stands in for broker.actions.githubusercontent.com). */
  serverUrlV2: string;
}

export interface CredentialsFile {
  scheme: 'OAuth';
  data: { clientId: string; authorizationUrl: string; requireFipsCryptography: 'True' | 'False' };
}

export interface RsaParamsFile {
  d: string;
  dp: string;
  dq: string;
  exponent: string;
  inverseQ: string;
  modulus: string;
  p: string;
  q: string;
}

export interface DecodedJitConfig {
  runner: RunnerFile;
  credentials: CredentialsFile;
  rsaParams: RsaParamsFile;
}

export class JitConfigFormatError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'JitConfigFormatError';
  }
}

const b64json = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64');

/** Random RSA-2048-sized parameters (the real runner's .credentials_rsaparams layout). */
export function randomRsaParams(): RsaParamsFile {
  const b = (n: number) => randomBytes(n).toString('base64');
  return {
    d: b(256),
    dp: b(128),
    dq: b(128),
    exponent: 'AQAB',
    inverseQ: b(128),
    modulus: b(256),
    p: b(128),
    q: b(128),
  };
}

/** What the runner sends to prove it holds the credential, and what the simulator stores. */
export function credentialProof(rsa: RsaParamsFile): string {
  return createHash('sha256').update(rsa.d).digest('hex');
}

export function encodeJitConfig(config: DecodedJitConfig): string {
  return b64json({
    '.runner': b64json(config.runner),
    '.credentials': b64json(config.credentials),
    '.credentials_rsaparams': b64json(config.rsaParams),
  });
}

export function newClientId(): string {
  return randomUUID();
}

function parseB64Json(text: unknown, what: string): Record<string, unknown> {
  if (typeof text !== 'string' || text.length === 0) {
    throw new JitConfigFormatError(`${what} is missing or not a string`);
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw new JitConfigFormatError(`${what} is not base64`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
  } catch (error) {
    throw new JitConfigFormatError(`${what} is not base64-encoded JSON`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new JitConfigFormatError(`${what} is not a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/** Decodes and checks the shape; the error message never contains the input. */
export function decodeJitConfig(encoded: string): DecodedJitConfig {
  const outer = parseB64Json(encoded.trim(), 'the JIT config');
  const runner = parseB64Json(outer['.runner'], 'the .runner file of the JIT config');
  const credentials = parseB64Json(
    outer['.credentials'],
    'the .credentials file of the JIT config',
  );
  const rsa = parseB64Json(
    outer['.credentials_rsaparams'],
    'the .credentials_rsaparams file of the JIT config',
  );
  if (typeof runner.agentId !== 'number' || typeof runner.agentName !== 'string') {
    throw new JitConfigFormatError('the .runner file of the JIT config has no agentId/agentName');
  }
  if (typeof runner.serverUrlV2 !== 'string' || !/^https?:\/\//.test(runner.serverUrlV2)) {
    throw new JitConfigFormatError('the .runner file of the JIT config has no serverUrlV2');
  }
  const data = credentials.data as Record<string, unknown> | undefined;
  if (credentials.scheme !== 'OAuth' || typeof data?.clientId !== 'string') {
    throw new JitConfigFormatError(
      'the .credentials file of the JIT config is not an OAuth credential',
    );
  }
  if (typeof rsa.d !== 'string' || typeof rsa.modulus !== 'string') {
    throw new JitConfigFormatError('the .credentials_rsaparams file of the JIT config has no key');
  }
  return {
    runner: runner as unknown as RunnerFile,
    credentials: credentials as unknown as CredentialsFile,
    rsaParams: rsa as unknown as RsaParamsFile,
  };
}
