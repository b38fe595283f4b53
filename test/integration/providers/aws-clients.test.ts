// Every AWS SDK client of the controller has connection and request timeouts (a black-holed
// endpoint must fail a call, not hold it), and a secret's ARN names the region it is read from.

import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ECSClient, ListTasksCommand } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretsManagerReader } from '../../../controller/config/load.ts';
import { awsClientSettings, NO_OP_AWS_LOGGER } from '../../../controller/util/aws-client.ts';

const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' };
let blackHole: Server;
const sockets = new Set<Socket>();
let blackHoleUrl: string;

beforeAll(async () => {
  // Accepts connections and never answers, like a dropped route behind a load balancer.
  blackHole = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
  blackHoleUrl = `http://127.0.0.1:${(blackHole.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => blackHole.close(resolve));
});

describe('AWS SDK client settings', () => {
  it('a call to a black-holed endpoint fails after the request timeout instead of hanging', async () => {
    const settings = awsClientSettings({ connectionTimeoutMs: 500, requestTimeoutMs: 300 });
    const ecs = new ECSClient({
      ...settings,
      endpoint: blackHoleUrl,
      region: 'us-east-1',
      credentials,
      maxAttempts: 1,
    });
    const dynamodb = new DynamoDBClient({
      ...settings,
      endpoint: blackHoleUrl,
      region: 'us-east-1',
      credentials,
      maxAttempts: 1,
    });
    try {
      await expect(ecs.send(new ListTasksCommand({ cluster: 'c' }))).rejects.toThrow(/timeout/i);
      await expect(dynamodb.send(new DescribeTableCommand({ TableName: 't' }))).rejects.toThrow(
        /timeout/i,
      );
    } finally {
      ecs.destroy();
      dynamodb.destroy();
    }
  }, 15_000);

  it('defaults: 3 s to connect, 10 s per attempt, and a logger that prints nothing', () => {
    const settings = awsClientSettings();
    expect(settings.requestHandler).toEqual({
      connectionTimeout: 3_000,
      requestTimeout: 10_000,
      throwOnRequestTimeout: true,
    });
    expect(settings.logger).toBe(NO_OP_AWS_LOGGER);
    // The logger middleware builds its filtered log entries only for a logger with info/error.
    expect((NO_OP_AWS_LOGGER as { info?: unknown }).info).toBeUndefined();
    expect((NO_OP_AWS_LOGGER as { error?: unknown }).error).toBeUndefined();
  });
});

describe('Secrets Manager reader', () => {
  it('reads a secret in the region of its ARN, whatever region is configured', async () => {
    const scopes: string[] = [];
    const server = createHttpServer((req, res) => {
      // SigV4 credential scope: AKID/date/REGION/service/aws4_request.
      const scope = /Credential=[^/]+\/\d+\/([^/]+)\//.exec(req.headers.authorization ?? '');
      scopes.push(scope?.[1] ?? 'none');
      req.resume();
      req.on('end', () => {
        res.setHeader('content-type', 'application/x-amz-json-1.1');
        res.end(JSON.stringify({ SecretString: 'value', Name: 'k' }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, key: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
    try {
      const reader = secretsManagerReader({
        region: 'us-east-1',
        endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      });
      expect(
        await reader.getSecretValue(
          'arn:aws:secretsmanager:eu-west-1:123456789012:secret:k-AbCdEf',
        ),
      ).toBe('value');
      expect(
        await reader.getSecretValue(
          'arn:aws:secretsmanager:ap-south-1:123456789012:secret:k-AbCdEf',
        ),
      ).toBe('value');
      // A name, not an ARN: the configured region.
      expect(await reader.getSecretValue('plain-name')).toBe('value');
      expect(scopes).toEqual(['eu-west-1', 'ap-south-1', 'us-east-1']);
    } finally {
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      else process.env.AWS_ACCESS_KEY_ID = saved.id;
      if (saved.key === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
      else process.env.AWS_SECRET_ACCESS_KEY = saved.key;
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
