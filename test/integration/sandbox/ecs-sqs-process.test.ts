// The ECS and SQS simulators run as their own processes (what `runnerctl sandbox ecs|sqs` wraps)
// and answer the real SDK clients.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ClusterNotFoundException, ECSClient, ListTasksCommand } from '@aws-sdk/client-ecs';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { dummyCredentials } from './ecs-sqs-helpers.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const children: ChildProcess[] = [];

/** Starts a simulator's main.ts and resolves with the URL it prints. */
function startProcess(script: string, args: string[]): Promise<{ url: string; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match && output.includes('\n', match.index)) resolve({ url: match[1]!, output });
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${output}`)));
  });
}

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode !== null) continue;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
});

describe('simulators as processes', () => {
  it('runs the ECS simulator: controller/sandbox/ecs/main.ts', async () => {
    const { url } = await startProcess('controller/sandbox/ecs/main.ts', ['--port', '0']);
    const ecs = new ECSClient({
      endpoint: url,
      region: 'us-east-1',
      credentials: dummyCredentials,
      maxAttempts: 1,
    });
    await expect(ecs.send(new ListTasksCommand({ cluster: 'none' }))).rejects.toBeInstanceOf(
      ClusterNotFoundException,
    );
    ecs.destroy();
  });

  it('runs the SQS simulator with its queues: controller/sandbox/sqs/main.ts', async () => {
    const { url, output } = await startProcess('controller/sandbox/sqs/main.ts', [
      '--port',
      '0',
      '--queue',
      'workflow-jobs',
    ]);
    const sqs = new SQSClient({
      endpoint: url,
      region: 'us-east-1',
      credentials: dummyCredentials,
      maxAttempts: 1,
    });
    const queue = await sqs.send(new GetQueueUrlCommand({ QueueName: 'workflow-jobs' }));
    expect(queue.QueueUrl).toBe(`${url}/000000000000/workflow-jobs`);
    expect(output).toContain(`queue ${queue.QueueUrl}`);
    sqs.destroy();
  });

  it('refuses a bad option with a clear message', async () => {
    await expect(
      startProcess('controller/sandbox/ecs/main.ts', ['--spot-shortage', '2']),
    ).rejects.toThrow(/--spot-shortage must be a probability between 0 and 1, got "2"/);
  });
});
