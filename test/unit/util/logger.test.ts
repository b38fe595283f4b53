import { generateKeyPairSync } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { childLogger, createLogger } from '../../../controller/util/logger.ts';
import { Redactor, REDACTED, isSecretKey } from '../../../controller/util/redact.ts';

const PRIVATE_KEY = generateKeyPairSync('rsa', { modulusLength: 1024 })
  .privateKey.export({ type: 'pkcs1', format: 'pem' })
  .toString();
const KEY_BODY = PRIVATE_KEY.split('\n')[2]!; // a line from the middle of the PEM
const JIT =
  'eyJhIjoiYmFzZTY0LWVuY29kZWQtaml0LWNvbmZpZy10aGF0LWlzLW92ZXItNGtiIn0' + 'A'.repeat(4000);
const TOKEN = 'ghs_' + 'x1Y2z3'.repeat(7);
const WEBHOOK_SECRET = 'webhook-secret-value-42';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return {
    lines,
    destination: destination as unknown as NodeJS.WritableStream & { write(s: string): boolean },
  };
}

function assertClean(output: string) {
  expect(output).not.toContain(KEY_BODY);
  expect(output).not.toContain('BEGIN RSA PRIVATE KEY');
  expect(output).not.toContain(JIT.slice(0, 40));
  expect(output).not.toContain(TOKEN);
  expect(output).not.toContain(WEBHOOK_SECRET);
}

describe('logger redaction', () => {
  it('redacts secret fields wherever they sit in a log object', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ destination });
    logger.info(
      {
        privateKey: PRIVATE_KEY,
        jit: { encoded_jit_config: JIT, encodedJitConfig: JIT },
        request: { headers: { authorization: `token ${TOKEN}` } },
        github: { webhookSecret: WEBHOOK_SECRET },
        launch: { environment: { RUNNERCTL_JIT_CONFIG: JIT }, cpu: 1024 },
        containerOverrides: [{ name: 'runner', environment: [{ name: 'X', value: JIT }] }],
      },
      'launching',
    );
    const out = lines.join('');
    assertClean(out);
    const line = JSON.parse(out);
    expect(line.msg).toBe('launching');
    expect(line.launch.cpu).toBe(1024);
    expect(line.launch.environment).toBe(REDACTED);
    expect(line.privateKey).toBe(REDACTED);
  });

  it('redacts secrets carried by an error: message, fields, cause', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ destination });
    const cause = Object.assign(new Error(`auth failed with ${TOKEN}`), {
      request: { headers: { authorization: `bearer ${TOKEN}` }, body: { encoded_jit_config: JIT } },
    });
    const err = new Error(`could not parse key ${PRIVATE_KEY}`, { cause });
    logger.error(err);
    logger.error({ err, jobId: 7 }, 'launch failed');
    const out = lines.join('');
    assertClean(out);
    expect(out).toContain('could not parse key');
    expect(out).toContain('auth failed with');
    expect(JSON.parse(lines[1]!).jobId).toBe(7);
  });

  it('scrubs registered secret values from messages and child bindings', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ destination, redactor: new Redactor([WEBHOOK_SECRET]) });
    const child = childLogger(logger, {
      runner: 'rctl-a-1',
      taskArn: 'arn:aws:ecs:task/1',
      jobId: undefined,
    });
    child.warn(`secret is ${WEBHOOK_SECRET} and token ${TOKEN}`);
    const out = lines.join('');
    assertClean(out);
    const line = JSON.parse(out);
    expect(line.runner).toBe('rctl-a-1');
    expect(line.taskArn).toBe('arn:aws:ecs:task/1');
    expect('jobId' in line).toBe(false);
  });

  it('knows which keys are secret', () => {
    for (const k of [
      'privateKey',
      'encoded_jit_config',
      'Authorization',
      'webhookSecret',
      'GITHUB_TOKEN',
      'environment',
    ]) {
      expect(isSecretKey(k)).toBe(true);
    }
    for (const k of ['name', 'labels', 'cpu', 'tokens', 'taskArn'])
      expect(isSecretKey(k)).toBe(false);
  });

  it('bounds cycles', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    expect(new Redactor().value(a)).toEqual({ name: 'a', self: '[circular]' });
  });
});
