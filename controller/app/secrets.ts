// Reads the secrets a controller needs (GitHub App private key, webhook secret, enterprise
// token) from their configured source: a file, an environment variable or a Secrets Manager
// ARN. Errors name the setting and the source, never the value.

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { SecretSource } from '../config/types.ts';
import { SecretSourceError } from './errors.ts';

export interface SecretReaders {
  env: Record<string, string | undefined>;
  /** Reads a Secrets Manager secret's string (built lazily by the composition root). */
  secretsManager?: (arn: string) => Promise<string>;
  /** Resolves relative file paths (default: the process's working directory). */
  cwd?: string;
}

function describeSource(source: SecretSource): string {
  if ('file' in source) return `file ${source.file}`;
  if ('env' in source) return `environment variable ${source.env}`;
  return `Secrets Manager secret ${source.secretArn}`;
}

export async function readSecret(
  setting: string,
  source: SecretSource,
  readers: SecretReaders,
): Promise<string> {
  const where = describeSource(source);
  let value: string | undefined;
  try {
    if ('file' in source) {
      value = await readFile(resolve(readers.cwd ?? process.cwd(), source.file), 'utf8');
    } else if ('env' in source) {
      value = readers.env[source.env];
      if (value === undefined) {
        throw new SecretSourceError(`${setting}: ${where} is not set`, setting);
      }
    } else {
      if (!readers.secretsManager) {
        throw new SecretSourceError(
          `${setting}: no Secrets Manager client to read ${where}`,
          setting,
        );
      }
      value = await readers.secretsManager(source.secretArn);
    }
  } catch (err) {
    if (err instanceof SecretSourceError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).name;
    // The cause is kept out of the message: an SDK error could quote the request.
    throw new SecretSourceError(`${setting}: cannot read ${where} (${code})`, setting, {
      cause: err,
    });
  }
  const trimmed = value.trim();
  if (trimmed.length === 0) throw new SecretSourceError(`${setting}: ${where} is empty`, setting);
  return trimmed;
}
