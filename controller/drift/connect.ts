// Opens what the read-only tools (`runnerctl drift`, the views) need to look at the world: the
// store, the GitHub provider and the ECS provider, from the controller's settings (`--config`,
// as `runnerctl controller` reads them) or from a running sandbox's `sandbox.json`. The clients
// are built the way the composition root (app/app.ts) builds them.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadControllerConfig, resolveSecret, ConfigError } from '../config/load.ts';
import { githubProviderOptions } from '../config/provider-options.ts';
import type { ControllerConfig } from '../config/types.ts';
import { ECSClient } from '@aws-sdk/client-ecs';
import { SdkEcsProvider } from '../ecs/sdk-provider.ts';
import type { EcsProvider } from '../ecs/types.ts';
import { OctokitGitHubProvider } from '../github/octokit-provider.ts';
import type { GitHubProvider } from '../github/types.ts';
import { openStore } from '../store/factory.ts';
import type { Store } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';
import type { DriftDeps } from './report.ts';
import type { DriftSettings } from './types.ts';

/** The file a running sandbox writes into its data directory (controller/sandbox/sandbox.ts). */
export const SANDBOX_INFO_FILE = 'sandbox.json';

export interface OpenedWorld extends DriftDeps {
  store: Store;
  github: GitHubProvider;
  ecs: EcsProvider;
  /** Settings of the controller being looked at (prefix, resync period). */
  settings: Partial<DriftSettings>;
  /** Where it points, for messages (never a secret). */
  source: string;
  close(): Promise<void>;
}

export class ConnectError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConnectError';
  }
}

/** The parts of sandbox.json used here. */
interface SandboxInfoFile {
  pid: number;
  github: { url: string; appId: number; privateKeyFile: string };
  ecs: { endpoint: string; region: string };
  dynamodb: { endpoint: string; region: string; table: string };
  aws: { region: string; accessKeyId: string; secretAccessKey: string };
  runnerNamePrefix: string;
}

/** sandbox.json of `dataDir`, or undefined when there is none. */
export async function readSandboxInfo(dataDir: string): Promise<SandboxInfoFile | undefined> {
  const file = join(dataDir, SANDBOX_INFO_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConnectError(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const info = JSON.parse(text) as SandboxInfoFile;
    if (!info.github?.url || !info.ecs?.endpoint || !info.dynamodb?.endpoint) {
      throw new Error('github.url, ecs.endpoint or dynamodb.endpoint missing');
    }
    return info;
  } catch (err) {
    throw new ConnectError(`${file} is not a sandbox description: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Is the process that wrote sandbox.json still alive? (It does not remove the file on exit.) */
export function sandboxAlive(info: { pid: number }): boolean {
  if (!Number.isInteger(info.pid) || info.pid <= 0) return false;
  try {
    process.kill(info.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The store, GitHub and ECS of a running sandbox (its endpoints and App key file). */
export async function openSandboxWorld(
  dataDir: string,
  clock: Clock,
): Promise<OpenedWorld | undefined> {
  const info = await readSandboxInfo(dataDir);
  if (!info) return undefined;
  if (!sandboxAlive(info)) {
    throw new ConnectError(
      `the sandbox in ${dataDir} is not running (process ${info.pid} is gone); start it with npm start`,
    );
  }
  const credentials = {
    accessKeyId: info.aws.accessKeyId,
    secretAccessKey: info.aws.secretAccessKey,
  };
  let privateKey: string;
  try {
    privateKey = await resolveSecret({ file: info.github.privateKeyFile }, 'github.privateKey');
  } catch (err) {
    throw new ConnectError(`sandbox in ${dataDir}: ${(err as Error).message}`, { cause: err });
  }
  const store = await openStore({
    kind: 'dynamodb',
    endpoint: info.dynamodb.endpoint,
    region: info.dynamodb.region,
    table: info.dynamodb.table,
    credentials,
    createTable: false,
    clock,
  });
  const ecsClient = new ECSClient({
    endpoint: info.ecs.endpoint,
    region: info.ecs.region,
    credentials,
    maxAttempts: 2,
  });
  const ecs = new SdkEcsProvider({ client: ecsClient, clock });
  const github = new OctokitGitHubProvider({
    appId: info.github.appId,
    privateKey,
    baseUrl: info.github.url,
    clock,
    // The sandbox's simulated GitHub allows 20 times GitHub's budget (sandbox.ts).
    pacing: { restPerHour: 100_000 },
    retries: 1,
  });
  return {
    store,
    github,
    ecs,
    clock,
    settings: { runnerNamePrefix: info.runnerNamePrefix, resyncSeconds: 10 },
    source: `sandbox ${dataDir}`,
    close: async () => {
      ecsClient.destroy();
      await store.close();
    },
  };
}

export interface ConfigWorldOptions {
  /** The YAML settings file, as `runnerctl controller --config`. */
  file?: string;
  env: Record<string, string | undefined>;
  clock: Clock;
}

/** The store, GitHub and ECS the controller of these settings uses (the real AWS and GitHub). */
export async function openConfigWorld(options: ConfigWorldOptions): Promise<OpenedWorld> {
  const { env, clock } = options;
  const config: ControllerConfig = await loadControllerConfig({
    ...(options.file ? { file: options.file } : {}),
    env,
  });
  // Only the secrets the readers need: the App key (and the enterprise token).
  const privateKey = await resolveSecret(config.github.privateKey, 'github.privateKey', { env });
  const enterpriseToken = config.github.enterpriseToken
    ? await resolveSecret(config.github.enterpriseToken, 'github.enterpriseToken', { env })
    : undefined;
  const region = config.aws.region ?? env.AWS_REGION;
  // The environment given (the process's, for the CLI) first, as the SDK's chain reads it.
  const credentials =
    env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? {
          accessKeyId: env.AWS_ACCESS_KEY_ID,
          secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
          ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
        }
      : undefined;
  const store = await openStore({
    kind: 'dynamodb',
    table: config.table,
    ...(region ? { region } : {}),
    ...(config.aws.dynamodbEndpoint ? { endpoint: config.aws.dynamodbEndpoint } : {}),
    ...(credentials ? { credentials } : {}),
    createTable: false,
    clock,
  });
  const ecsClient = new ECSClient({
    ...(region ? { region } : {}),
    ...(credentials ? { credentials } : {}),
    ...(config.aws.ecsEndpoint ? { endpoint: config.aws.ecsEndpoint } : {}),
    maxAttempts: 3,
  });
  const ecs = new SdkEcsProvider({ client: ecsClient, clock });
  const github = new OctokitGitHubProvider({
    ...githubProviderOptions(config, { privateKey, enterpriseToken }),
    clock,
  });
  return {
    store,
    github,
    ecs,
    clock,
    settings: { runnerNamePrefix: config.runnerNamePrefix, resyncSeconds: config.resyncSeconds },
    source: `table ${config.table}`,
    close: async () => {
      ecsClient.destroy();
      await store.close();
    },
  };
}

export { ConfigError };
