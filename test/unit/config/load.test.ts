import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  loadControllerConfig,
  resolveControllerSecrets,
  resolveSecret,
} from '../../../controller/config/load.ts';

const PEM = generateKeyPairSync('rsa', { modulusLength: 1024 })
  .privateKey.export({ type: 'pkcs1', format: 'pem' })
  .toString();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rctl-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

async function error(p: Promise<unknown>): Promise<ConfigError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

describe('loadControllerConfig', () => {
  it('reads the YAML file and fills the defaults', async () => {
    const path = await file(
      'full.yaml',
      `github:
  appId: 123
  privateKey: { file: /secrets/app.pem }
  webhookSecret: { secretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hook-AbCd" }
aws:
  region: eu-west-1
queueUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/runnerctl-events
`,
    );
    const config = await loadControllerConfig({ file: path, env: {} });
    expect(config).toEqual({
      github: {
        appId: 123,
        privateKey: { file: '/secrets/app.pem' },
        webhookSecret: {
          secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:hook-AbCd',
        },
        apiUrl: 'https://api.github.com',
      },
      aws: { region: 'eu-west-1' },
      table: 'runnerctl',
      queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/runnerctl-events',
      server: { port: 8080, metricsPort: 9090, metricsHost: '127.0.0.1' },
      runnerNamePrefix: 'rctl',
      resyncSeconds: 60,
      pacing: { jitPerMinute: 180, runTaskPerSecond: 20, runTaskBurst: 100 },
      leaseSeconds: 15,
      cache: { relistSeconds: 300 },
    });
  });

  it('the environment wins, field by field, and can say everything alone', async () => {
    const path = await file(
      'base.yaml',
      'github:\n  appId: 1\n  privateKey: { file: /a.pem }\ntable: from-file\n',
    );
    const config = await loadControllerConfig({
      file: path,
      env: {
        GITHUB_APP_ID: '999',
        GITHUB_APP_PRIVATE_KEY_SECRET_ARN:
          'arn:aws:secretsmanager:us-east-1:123456789012:secret:key',
        GITHUB_WEBHOOK_SECRET: 'whatever',
        RUNNERCTL_PORT: '0',
        RUNNERCTL_JIT_PER_MINUTE: '90',
        RUNNERCTL_DEAD_LETTER_QUEUE_URL: 'http://127.0.0.1:9324/000000000000/dlq',
        AWS_DEFAULT_REGION: 'us-east-1',
      },
    });
    expect(config.github.appId).toBe(999);
    expect(config.github.privateKey).toEqual({
      secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:key',
    });
    expect(config.github.webhookSecret).toEqual({ env: 'GITHUB_WEBHOOK_SECRET' });
    expect(config.table).toBe('from-file');
    expect(config.server.port).toBe(0);
    expect(config.pacing.jitPerMinute).toBe(90);
    expect(config.aws.region).toBe('us-east-1');
    expect(config.deadLetterQueueUrl).toBe('http://127.0.0.1:9324/000000000000/dlq');

    const envOnly = await loadControllerConfig({
      env: { GITHUB_APP_ID: '5', GITHUB_APP_PRIVATE_KEY_FILE: '/k.pem' },
    });
    expect(envOnly.github).toMatchObject({ appId: 5, privateKey: { file: '/k.pem' } });
  });

  it('reads pacing.restPerHour from the file and RUNNERCTL_REST_PER_HOUR, the environment winning', async () => {
    const path = await file(
      'rest.yaml',
      'github:\n  appId: 1\n  privateKey: { file: /k }\npacing:\n  restPerHour: 15000\n',
    );
    expect((await loadControllerConfig({ file: path, env: {} })).pacing.restPerHour).toBe(15000);
    const fromEnv = await loadControllerConfig({
      file: path,
      env: { RUNNERCTL_REST_PER_HOUR: '12500' },
    });
    expect(fromEnv.pacing.restPerHour).toBe(12500);
    const unset = await loadControllerConfig({
      env: { GITHUB_APP_ID: '1', GITHUB_APP_PRIVATE_KEY_FILE: '/k' },
    });
    expect(unset.pacing).not.toHaveProperty('restPerHour');
  });

  it('reads the allowed runner network from the file or the stack-set variables', async () => {
    const path = await file(
      'net.yaml',
      'github:\n  appId: 1\n  privateKey: { file: /k }\nrunnerNetwork:\n  subnets: [subnet-0a1b2c3d]\n',
    );
    expect((await loadControllerConfig({ file: path, env: {} })).runnerNetwork).toEqual({
      subnets: ['subnet-0a1b2c3d'],
    });
    const fromEnv = await loadControllerConfig({
      env: {
        GITHUB_APP_ID: '1',
        GITHUB_APP_PRIVATE_KEY_FILE: '/k',
        RUNNERCTL_RUNNER_SUBNETS: 'subnet-0a1b2c3d, subnet-0123456789abcdef0',
        RUNNERCTL_RUNNER_SECURITY_GROUPS: 'sg-0a1b2c3d',
      },
    });
    expect(fromEnv.runnerNetwork).toEqual({
      subnets: ['subnet-0a1b2c3d', 'subnet-0123456789abcdef0'],
      securityGroups: ['sg-0a1b2c3d'],
    });
    const bad = await error(
      loadControllerConfig({
        env: {
          GITHUB_APP_ID: '1',
          GITHUB_APP_PRIVATE_KEY_FILE: '/k',
          RUNNERCTL_RUNNER_SECURITY_GROUPS: 'sg-1,default',
        },
      }),
    );
    expect(bad.field).toBe('runnerNetwork.securityGroups');
    const arch = await loadControllerConfig({
      env: {
        GITHUB_APP_ID: '1',
        GITHUB_APP_PRIVATE_KEY_FILE: '/k',
        RUNNERCTL_RUNNER_ARCHITECTURES: 'X86_64,ARM64',
      },
    });
    expect(arch.runnerArchitectures).toEqual(['X86_64', 'ARM64']);
    const badArch = await error(
      loadControllerConfig({
        env: {
          GITHUB_APP_ID: '1',
          GITHUB_APP_PRIVATE_KEY_FILE: '/k',
          RUNNERCTL_RUNNER_ARCHITECTURES: 'X86_64,arm',
        },
      }),
    );
    expect(badArch.field).toBe('runnerArchitectures');
    expect(badArch.message).toContain('"arm"');
    expect(bad.message).toContain('RUNNERCTL_RUNNER_SECURITY_GROUPS');
    expect(bad.message).toContain('item 1');
  });

  it('reads cache.relistSeconds from the file and RUNNERCTL_CACHE_RELIST_SECONDS, and names a bad one', async () => {
    const path = await file(
      'cache.yaml',
      'github:\n  appId: 1\n  privateKey: { file: /k }\ncache:\n  relistSeconds: 120\n',
    );
    expect((await loadControllerConfig({ file: path, env: {} })).cache).toEqual({
      relistSeconds: 120,
    });
    const fromEnv = await loadControllerConfig({
      file: path,
      env: { RUNNERCTL_CACHE_RELIST_SECONDS: '600' },
    });
    expect(fromEnv.cache?.relistSeconds).toBe(600);
    const bad = await file(
      'bad-cache.yaml',
      'github:\n  appId: 1\n  privateKey: { file: /k }\ncache:\n  relistSeconds: 2\n',
    );
    await expect(loadControllerConfig({ file: bad, env: {} })).rejects.toThrow(
      /cache\.relistSeconds/,
    );
  });

  it('reads cost.prices from the file and names a bad price', async () => {
    const head = 'github:\n  appId: 1\n  privateKey: { file: /k }\ncost:\n  prices:\n';
    const ok = await file(
      'cost.yaml',
      `${head}    eu-central-1:\n      FARGATE: { vcpuHour: 0.04656, gbHour: 0.00511 }\n`,
    );
    expect((await loadControllerConfig({ file: ok, env: {} })).cost?.prices).toEqual({
      'eu-central-1': { FARGATE: { vcpuHour: 0.04656, gbHour: 0.00511, storageGbHour: 0.000111 } },
    });
    const bad = await file(
      'cost-bad.yaml',
      `${head}    eu-central-1:\n      FARGATE: { vcpuHour: cheap, gbHour: 0.005 }\n`,
    );
    const err = await error(loadControllerConfig({ file: bad, env: {} }));
    expect(err.field).toBe('cost.prices');
    expect(err.message).toMatch(
      /cost-bad.yaml:\d+:\d+: cost.prices: cost.prices.eu-central-1.FARGATE.vcpuHour: expected a price in USD >= 0, got "cheap"/,
    );
  });

  it('reads github.apps (more Apps, owners optional) and names a bad entry', async () => {
    const head = 'github:\n  appId: 1\n  privateKey: { file: /k }\n  apps:\n';
    const ok = await file(
      'apps.yaml',
      `${head}    - { appId: 2, privateKey: { env: APP2_KEY } }\n    - { appId: 3, privateKey: { file: /k3 }, owners: [acme] }\n`,
    );
    const config = await loadControllerConfig({ file: ok, env: {} });
    expect(config.github.apps).toEqual([
      { appId: 2, privateKey: { env: 'APP2_KEY' } },
      { appId: 3, privateKey: { file: '/k3' }, owners: ['acme'] },
    ]);
    const secrets = await resolveControllerSecrets(
      {
        ...config,
        github: { ...config.github, privateKey: { env: 'K1' }, apps: [config.github.apps![0]!] },
      },
      { env: { K1: PEM, APP2_KEY: PEM } },
    );
    expect(secrets.appKeys).toEqual([PEM.trimEnd()]);
    const cases: [string, string, RegExp][] = [
      [
        '    - { appId: 0, privateKey: { file: /k } }\n',
        'github.apps[0].appId',
        /expected an integer >= 1, got 0/,
      ],
      [
        '    - { appId: 2 }\n',
        'github.apps[0].privateKey',
        /github.apps\[0\] needs appId and privateKey/,
      ],
      [
        '    - { appId: 1, privateKey: { file: /k } }\n',
        'github.apps[0].appId',
        /App 1 is listed twice/,
      ],
      [
        '    - { appId: 2, privateKey: { file: /k }, owner: [a] }\n',
        'github.apps[0].owner',
        /unknown setting github.apps\[0\].owner/,
      ],
      [
        '    - { appId: 2, privateKey: { file: /k }, owners: [] }\n',
        'github.apps[0].owners',
        /non-empty list of GitHub owner logins/,
      ],
    ];
    for (const [entry, field, message] of cases) {
      const err = await error(
        loadControllerConfig({ file: await file('apps-bad.yaml', `${head}${entry}`), env: {} }),
      );
      expect(err.field, entry).toBe(field);
      expect(err.message).toMatch(message);
      expect(err.message).toContain('apps-bad.yaml');
    }
  });

  it("caps the runner name prefix so runner names fit GitHub's 64 characters", async () => {
    const env = { GITHUB_APP_ID: '1', GITHUB_APP_PRIVATE_KEY_FILE: '/k' };
    const ok = await loadControllerConfig({
      env: { ...env, RUNNERCTL_RUNNER_NAME_PREFIX: 'a'.repeat(20) },
    });
    expect(ok.runnerNamePrefix).toBe('a'.repeat(20));
    const long = await error(
      loadControllerConfig({ env: { ...env, RUNNERCTL_RUNNER_NAME_PREFIX: 'a'.repeat(21) } }),
    );
    expect(long.field).toBe('runnerNamePrefix');
    expect(long.message).toMatch(
      /environment variable RUNNERCTL_RUNNER_NAME_PREFIX \(runnerNamePrefix\): "a{21}" is 21 characters, at most 20 are allowed .*64 characters/,
    );
    const path = await file(
      'prefix.yaml',
      'github:\n  appId: 1\n  privateKey: { file: /k }\nrunnerNamePrefix: rctl-\n',
    );
    const dash = await error(loadControllerConfig({ file: path, env: {} }));
    expect(dash.message).toMatch(/prefix.yaml:4:1: runnerNamePrefix: expected lower-case letters/);
  });

  it('errors name the file or variable and the field', async () => {
    const cases: [string | undefined, Record<string, string>, RegExp, string | undefined][] = [
      [undefined, {}, /github.appId is required/, 'github.appId'],
      [
        undefined,
        { GITHUB_APP_ID: 'abc', GITHUB_APP_PRIVATE_KEY_FILE: '/k' },
        /environment variable GITHUB_APP_ID \(github.appId\): expected an integer >= 1, got "abc"/,
        'github.appId',
      ],
      [undefined, { GITHUB_APP_ID: '1' }, /github.privateKey is required/, 'github.privateKey'],
      [
        'github:\n  appId: 1\n  privateKey: { file: /k }\nserver:\n  port: 70000\n',
        {},
        /typo.yaml:5:3: server.port: expected an integer from 0 to 65535, got 70000/,
        'server.port',
      ],
      [
        'github:\n  appId: 1\n  privateKey: { file: /k }\nresync: 5\n',
        {},
        /typo.yaml:4:1: unknown setting resync \(expected one of: github, aws/,
        'resync',
      ],
      [
        'github:\n  appId: 1\n  privateKey: { file: /k }\n  installationID: 3\n',
        {},
        /typo.yaml:4:3: unknown setting github.installationID/,
        'github.installationID',
      ],
      [
        'github:\n  appId: 1\n  privateKey: { file: /k }\nqueueUrl: not a url\n',
        {},
        /queueUrl: expected an http\(s\) URL/,
        'queueUrl',
      ],
      [
        'github:\n  appId: 1\n  privateKey: { file: /k }\nrunnerNamePrefix: Has Spaces\n',
        {},
        /runnerNamePrefix: expected lower-case letters/,
        'runnerNamePrefix',
      ],
      [
        'github:\n  appId: 1\n  privateKey: { secretArn: "arn:aws:s3:::bucket" }\n',
        {},
        /github.privateKey.secretArn: expected a Secrets Manager ARN/,
        'github.privateKey.secretArn',
      ],
      [
        'github:\n  appId: 1\n  privateKey: { file: /k, env: X }\n',
        {},
        /expected exactly one of/,
        'github.privateKey',
      ],
      ['github: [1, 2]\n', {}, /typo.yaml:1:1: github: expected a mapping/, 'github'],
      [
        'github:\n  appId: 1\n  privateKey: { file: /k }\npacing:\n  jitPerMinute: -5\n',
        {},
        /pacing.jitPerMinute: expected a number > 0/,
        'pacing.jitPerMinute',
      ],
      [
        'github:\n  appId: 1\n  privateKey: { file: /k }\npacing:\n  restPerHour: lots\n',
        {},
        /typo.yaml:5:3: pacing.restPerHour: expected an integer >= 1, got "lots"/,
        'pacing.restPerHour',
      ],
      [
        undefined,
        { GITHUB_APP_ID: '1', GITHUB_APP_PRIVATE_KEY_FILE: '/k', GITHUB_APP_PRIVATE_KEY: 'x' },
        /GITHUB_APP_PRIVATE_KEY and GITHUB_APP_PRIVATE_KEY_FILE both set github.privateKey/,
        'github.privateKey',
      ],
      ['github: {appId: 1\n', {}, /typo.yaml:\d+:\d+: not valid YAML/, undefined],
    ];
    for (const [yaml, env, message, field] of cases) {
      const path = yaml === undefined ? undefined : await file('typo.yaml', yaml);
      const err = await error(loadControllerConfig({ ...(path ? { file: path } : {}), env }));
      expect(err.message).toMatch(message);
      expect(err.field).toBe(field);
    }
  });

  it('a secret pasted in place of its source is refused without echoing it', async () => {
    const path = await file(
      'pasted.yaml',
      `github:\n  appId: 1\n  privateKey: |\n${PEM.split('\n')
        .map((l) => `    ${l}`)
        .join('\n')}\n`,
    );
    const err = await error(loadControllerConfig({ file: path, env: {} }));
    expect(err.message).toMatch(
      /github.privateKey: expected exactly one of .* \(the secret itself does not belong in the file\)/,
    );
    expect(err.message).not.toContain('PRIVATE KEY-----');
    expect(err.message).not.toContain(PEM.split('\n')[2]!);
  });

  it('a missing file is named', async () => {
    const err = await error(loadControllerConfig({ file: join(dir, 'nope.yaml'), env: {} }));
    expect(err.message).toMatch(/cannot read config file .*nope.yaml/);
  });
});

describe('secrets', () => {
  it('resolves file, env and Secrets Manager sources, trimming the final newline', async () => {
    const keyFile = await file('app.pem', PEM + '\n\n');
    const config = await loadControllerConfig({
      env: {
        GITHUB_APP_ID: '1',
        GITHUB_APP_PRIVATE_KEY_FILE: keyFile,
        GITHUB_WEBHOOK_SECRET: 'hook-secret\n',
        GITHUB_ENTERPRISE_TOKEN_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ent',
      },
    });
    const asked: string[] = [];
    const secrets = await resolveControllerSecrets(config, {
      env: { GITHUB_WEBHOOK_SECRET: 'hook-secret\n' },
      secretsManager: {
        getSecretValue: async (arn) => {
          asked.push(arn);
          return 'ghp_enterprise\n';
        },
      },
    });
    expect(secrets.privateKey).toBe(PEM.trimEnd());
    expect(secrets.webhookSecret).toBe('hook-secret');
    expect(secrets.enterpriseToken).toBe('ghp_enterprise');
    expect(asked).toEqual(['arn:aws:secretsmanager:eu-west-1:123456789012:secret:ent']);
  });

  it('failures name the source, never the value', async () => {
    const missing = await error(
      resolveSecret({ file: join(dir, 'missing.pem') }, 'github.privateKey'),
    );
    expect(missing.message).toMatch(/github.privateKey: cannot read file .*missing.pem \(ENOENT\)/);
    const unset = await error(
      resolveSecret({ env: 'NOPE_NOT_SET' }, 'github.webhookSecret', { env: {} }),
    );
    expect(unset.message).toBe(
      'github.webhookSecret: environment variable NOPE_NOT_SET is not set',
    );
    const denied = await error(
      resolveSecret(
        { secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x' },
        'github.privateKey',
        {
          secretsManager: {
            getSecretValue: async () => {
              throw Object.assign(new Error('User is not authorized ... value=TOPSECRET'), {
                name: 'AccessDeniedException',
              });
            },
          },
        },
      ),
    );
    expect(denied.message).toMatch(
      /cannot read Secrets Manager secret arn:.*:secret:x \(AccessDeniedException\)/,
    );
    expect(denied.message).not.toContain('TOPSECRET');

    const notPem = await file('not.pem', 'hunter2-not-a-key');
    const config = await loadControllerConfig({
      env: { GITHUB_APP_ID: '1', GITHUB_APP_PRIVATE_KEY_FILE: notPem },
    });
    const bad = await error(resolveControllerSecrets(config));
    expect(bad.message).toMatch(/does not hold a PEM private key/);
    expect(bad.message).not.toContain('hunter2');
  });
});
