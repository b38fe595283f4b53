import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpServer } from '../../../controller/server/http-server.ts';
import {
  DEFAULT_MAX_WEBHOOK_BYTES,
  webhookHandler,
  type WebhookRefusal,
} from '../../../controller/server/webhook.ts';
import { ingest } from '../../../controller/events/ingest.ts';
import { signWebhookBody } from '../../../controller/events/signature.ts';
import { MemoryIngestStore } from '../events/memory-ingest-store.ts';
import { example } from '../events/webhook-examples.ts';

const SECRET = 'test-webhook-secret';
const store = new MemoryIngestStore();
let failIngest = false;
let hangIngest = false;
const refusals: WebhookRefusal[] = [];
const server = new HttpServer();
server.addRoute(
  'POST',
  '/webhook',
  webhookHandler({
    secret: SECRET,
    maxBodyBytes: 64 * 1024,
    ingestTimeoutMs: 100,
    onRefused: (reason) => refusals.push(reason),
    ingest: (event) => {
      if (hangIngest) return new Promise(() => undefined);
      if (failIngest) return Promise.reject(new Error('dynamodb down'));
      return ingest(event, { store });
    },
  }),
);
let base = '';

beforeAll(async () => {
  base = (await server.listen(0, '127.0.0.1')).url;
});
afterAll(() => server.close());

/** Raw HTTP so that the test controls every byte and header. */
function post(
  body: string | Buffer,
  headers: Record<string, string>,
): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}/webhook`,
      { method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            json: JSON.parse(Buffer.concat(chunks).toString() || '{}'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function signed(payload: unknown, event = 'workflow_job') {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return post(body, {
    'x-github-event': event,
    'x-github-delivery': 'd-1',
    'x-hub-signature-256': signWebhookBody(SECRET, body),
  });
}

describe('POST /webhook', () => {
  it('202 once stored, and the job is in the store', async () => {
    const res = await signed(example('queued'));
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ status: 'recorded', jobId: 289782451, action: 'queued' });
    expect(store.jobs.get(289782451)?.status).toBe('queued');
  });

  it('202 for a duplicate, nothing written twice', async () => {
    const writes = store.writes;
    const res = await signed(example('queued'));
    expect(res.status).toBe(202);
    expect(res.json.status).toBe('duplicate');
    expect(store.writes).toBe(writes);
  });

  it('401 on a missing, tampered or wrongly prefixed signature; nothing stored', async () => {
    const body = JSON.stringify(example('waiting'));
    expect((await post(body, { 'x-github-event': 'workflow_job' })).status).toBe(401);
    const sig = signWebhookBody(SECRET, body);
    expect(
      (
        await post(body.replace('waiting', 'queued'), {
          'x-github-event': 'workflow_job',
          'x-hub-signature-256': sig,
        })
      ).status,
    ).toBe(401);
    expect(
      (
        await post(body, {
          'x-github-event': 'workflow_job',
          'x-hub-signature-256': sig.replace('sha256', 'sha1'),
        })
      ).status,
    ).toBe(401);
    expect(store.jobs.has(12877621891)).toBe(false);
  });

  it('401 on a missing or malformed signature header before the body is read', async () => {
    const { port } = new URL(base);
    for (const [sig, reason] of [
      [undefined, 'missing_signature'],
      ['sha256=nothex', 'malformed_signature'],
    ] as const) {
      refusals.length = 0;
      // Headers announce 60 KB but only 10 bytes follow: the answer must not wait for the rest.
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1');
        let text = '';
        socket.on('data', (c) => (text += c.toString()));
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
        socket.write(
          'POST /webhook HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n' +
            'x-github-event: workflow_job\r\ncontent-length: 60000\r\n' +
            (sig ? `x-hub-signature-256: ${sig}\r\n` : '') +
            '\r\n{"action":',
        );
      });
      expect(answer).toMatch(/^HTTP\/1\.1 401/);
      expect(answer.toLowerCase()).toContain('connection: close');
      expect(refusals).toEqual([reason]);
    }
  });

  it('503 beyond the concurrent deliveries, before reading the body', async () => {
    const small = new HttpServer();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: WebhookRefusal[] = [];
    small.addRoute(
      'POST',
      '/webhook',
      webhookHandler({
        secret: SECRET,
        maxConcurrent: 2,
        onRefused: (r) => seen.push(r),
        ingest: async (event) => {
          await gate;
          return ingest(event, { store: new MemoryIngestStore() });
        },
      }),
    );
    const { url } = await small.listen(0, '127.0.0.1');
    const body = JSON.stringify(example('queued'));
    const headers = {
      'x-github-event': 'workflow_job',
      'x-hub-signature-256': signWebhookBody(SECRET, body),
    };
    const send = () => fetch(`${url}/webhook`, { method: 'POST', headers, body });
    const held = [send(), send()];
    // Wait until both hold a slot: a third is refused.
    let third: Response;
    for (;;) {
      third = await send();
      if (third.status === 503) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(third.headers.get('retry-after')).toBe('1');
    expect(seen).toContain('busy');
    release();
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([202, 202]);
    expect((await send()).status).toBe(202);
    await small.close();
  });

  it('reports every refusal by reason', async () => {
    refusals.length = 0;
    await signed('{not json');
    await post('{}', {
      'x-github-event': 'workflow_job',
      'x-hub-signature-256': 'sha256=' + '0'.repeat(64),
    });
    expect(refusals).toEqual(['not_json', 'bad_signature']);
  });

  it('400 on a body that is not JSON, or a malformed payload naming the field', async () => {
    expect((await signed('{not json')).status).toBe(400);
    const bad = example('queued');
    delete bad.workflow_job.run_id;
    const res = await signed(bad);
    expect(res.status).toBe(400);
    expect(res.json.field).toBe('workflow_job.run_id');
  });

  it('413 on a body over the limit', async () => {
    const big = JSON.stringify({ ...example('queued'), padding: 'x'.repeat(100 * 1024) });
    const res = await signed(big);
    expect(res.status).toBe(413);
  });

  it('the default body limit is 256 KB (workflow_job bodies are a few KB)', () => {
    expect(DEFAULT_MAX_WEBHOOK_BYTES).toBe(256 * 1024);
  });

  it('202 ignored for other events, 200 for ping', async () => {
    const res = await signed({ zen: 'hi' }, 'push');
    expect(res.status).toBe(202);
    expect(res.json.status).toBe('ignored');
    expect((await signed({ zen: 'hi' }, 'ping')).status).toBe(200);
  });

  it('503 when the store fails, so GitHub marks the delivery failed', async () => {
    failIngest = true;
    try {
      expect((await signed(example('completed'))).status).toBe(503);
    } finally {
      failIngest = false;
    }
  });

  it('503 when the store does not answer in time (GitHub waits 10 s at most)', async () => {
    hangIngest = true;
    try {
      expect((await signed(example('completed'))).status).toBe(503);
    } finally {
      hangIngest = false;
    }
  });

  it('GET /healthz answers, unknown paths 404, wrong methods 405', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    const res = await fetch(`${base}/webhook`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });
});

describe('HttpServer', () => {
  it('close() lets a request in flight finish', async () => {
    const s = new HttpServer();
    let release!: () => void;
    s.addRoute('GET', '/slow', async (_req, res) => {
      await new Promise<void>((r) => (release = r));
      res.end('done');
    });
    const { url } = await s.listen(0, '127.0.0.1');
    const pending = fetch(`${url}/slow`).then((r) => r.text());
    while (!release) await new Promise((r) => setTimeout(r, 5));
    const closing = s.close();
    release();
    expect(await pending).toBe('done');
    await closing;
  });
});
