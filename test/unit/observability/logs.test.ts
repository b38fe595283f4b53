// The controller's JSON log: lines about a runner carry its name, pool, task ARN and job id, and
// no JIT config or private key reaches a line, even inside an error message.

import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createController } from '../../../controller/reconcile/controller.ts';
import { createLogger } from '../../../controller/util/logger.ts';
import { Redactor } from '../../../controller/util/redact.ts';
import { World } from '../../support/fakes/world.ts';

function capture() {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  return {
    destination,
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const PEM = [
  '-----BEGIN RSA PRIVATE KEY-----',
  ...Array.from({ length: 6 }, () => randomBytes(48).toString('base64')),
  '-----END RSA PRIVATE KEY-----',
].join('\n');

describe('controller logs', () => {
  it("a runner's lines carry runner, pool, task ARN and job id; no JIT config anywhere", async () => {
    const w = new World();
    const out = capture();
    const logger = createLogger({ level: 'debug', destination: out.destination });
    let n = 0;
    const c = createController({
      store: w.store,
      github: w.github,
      ecs: w.ecs,
      clock: w.clock,
      log: logger,
      config: { resyncMs: 60_000 },
      leaseHolderId: 'replica-a',
      suffix: () => `s${++n}`,
      random: () => 0.5,
    });
    await w.pool('linux');
    await w.queue(1, ['linux']);
    await c.reconcileOnce();
    const [record] = await w.runners();
    w.bootTasks();
    await c.reconcileOnce();
    await w.start(1, record!.name);
    await c.reconcileOnce();
    await w.complete(1);
    await c.reconcileOnce();
    await c.stop();

    const lines = out.lines().filter((l) => l.runner === record!.name);
    const byEvent = (event: string) => lines.find((l) => l.event === event);
    const taskArn = (await w.store.getRunner(record!.name))!.taskArn;
    expect(taskArn).toBeDefined();
    expect(byEvent('task-started')).toMatchObject({ level: 'info', pool: 'linux', taskArn });
    expect(byEvent('busy')).toMatchObject({ level: 'info', taskArn, jobId: 1 });
    expect(byEvent('finished')).toMatchObject({ level: 'info', taskArn, jobId: 1 });
    expect(byEvent('configured')).toMatchObject({ level: 'debug', pool: 'linux' });

    // The fake GitHub's JIT configs are `jit-secret-<id>-<name>`.
    expect(w.github.jitConfigs.size).toBe(1);
    expect(out.text()).not.toContain('jit-secret');
  });

  it('long base64 blobs (JIT configs) and PEM keys are scrubbed from messages and errors', () => {
    const jit = randomBytes(3000).toString('base64');
    const out = capture();
    const logger = createLogger({
      level: 'debug',
      destination: out.destination,
      redactor: new Redactor([PEM]),
    });
    logger.error(
      { err: new Error(`RunTask refused overrides ${jit}`), detail: { note: `key ${PEM}` } },
      `launch failed with ${jit.slice(0, 400)}`,
    );
    logger.info({ runner: 'rctl-a-1', taskArn: 'arn:aws:ecs:us-east-1:1:task/c/0123' }, 'ok');
    const text = out.text();
    expect(text).toContain('[redacted]');
    expect(text).not.toContain(jit.slice(0, 200));
    expect(text).not.toContain(jit.slice(1000, 1200));
    expect(text).not.toContain('PRIVATE KEY');
    for (const line of PEM.split('\n').slice(1, -1)) expect(text).not.toContain(line);
    // Ordinary fields survive.
    expect(out.lines()[1]).toMatchObject({
      runner: 'rctl-a-1',
      taskArn: 'arn:aws:ecs:us-east-1:1:task/c/0123',
    });
  });
});
