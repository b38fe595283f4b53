// POST /webhook: signed GitHub webhooks straight to the controller (the sandbox, and users
// without EventBridge). Answers within GitHub's 10 s: 202 once the event is stored.
//
//   401 missing or malformed X-Hub-Signature-256 (before the body is read), or a signature
//       that does not match the body
//   413 body over the limit (256 KB by default: workflow_job bodies are a few KB; GitHub's own
//       cap of 25 MB would let anyone hold that much memory per connection)
//   503 too many deliveries in flight, or the store failed or was too slow (GitHub shows the
//       delivery as failed; resync recovers the job)
//   202 another event type (ignored) 200 ping
//   400 not JSON / malformed payload 202 stored (or duplicate / unchanged)
//
// Every refusal is reported to `onRefused` with its reason (the app counts them in /metrics).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidEventError, SignatureError } from '../events/errors.ts';
import type { IngestResult } from '../events/ingest.ts';
import { normaliseWorkflowJob, type WorkflowJobEvent } from '../events/normalise.ts';
import {
  checkSignatureHeader,
  SIGNATURE_HEADER,
  verifyWebhookSignature,
} from '../events/signature.ts';
import type { Logger } from '../util/logger.ts';
import { silentLogger } from '../util/logger.ts';
import { sendJson, type RouteHandler } from './http-server.ts';

export const DEFAULT_MAX_WEBHOOK_BYTES = 256 * 1024;
/** Deliveries handled at once; GitHub sends one request per event, so bursts stay far below. */
export const DEFAULT_MAX_CONCURRENT_WEBHOOKS = 64;

/** Why a delivery was refused (the `reason` label of runnerctl_webhook_refused_total). */
export type WebhookRefusal =
  | 'missing_signature'
  | 'malformed_signature'
  | 'bad_signature'
  | 'too_large'
  | 'busy'
  | 'not_json'
  | 'malformed_payload'
  | 'store_failed';

export interface WebhookHandlerOptions {
  /** The webhook secret (resolved, not its source). */
  secret: string;
  ingest: (event: WorkflowJobEvent) => Promise<IngestResult>;
  /** Largest body read, in bytes (default 256 KB); larger ones get 413. */
  maxBodyBytes?: number;
  /** Deliveries in flight at once (default 64); beyond that 503 before the body is read. */
  maxConcurrent?: number;
  /** Told about every refused delivery. */
  onRefused?: (reason: WebhookRefusal) => void;
  /**
   * GitHub gives up on a delivery after 10 s; past this many ms of real time the handler answers
   * 503 instead (the store may still finish the write; resync covers it if not). Default 8 s.
   */
  ingestTimeoutMs?: number;
  logger?: Logger;
}

class IngestTimeoutError extends Error {
  constructor(ms: number) {
    super(`event not stored within ${ms} ms`);
    this.name = 'IngestTimeoutError';
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new IngestTimeoutError(ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request body over ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/** Reads the raw body (the signature covers the exact bytes) up to `limit`. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) return reject(new BodyTooLargeError(limit));
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function webhookHandler(options: WebhookHandlerOptions): RouteHandler {
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_WEBHOOK_BYTES;
  const maxConcurrent = options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT_WEBHOOKS;
  const logger = options.logger ?? silentLogger();
  const refused = options.onRefused ?? (() => {});
  let inFlight = 0;
  return async (req: IncomingMessage, res: ServerResponse) => {
    if (inFlight >= maxConcurrent) {
      refused('busy');
      // The unread body is not drained: the connection closes after this answer.
      res.setHeader('connection', 'close');
      res.setHeader('retry-after', '1');
      return sendJson(res, 503, { error: 'too many deliveries in flight; retry later' });
    }
    inFlight += 1;
    try {
      return await handle(req, res);
    } finally {
      inFlight -= 1;
    }
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const delivery = header(req, 'x-github-delivery');
    const log = logger.child({ delivery });
    const signature = header(req, SIGNATURE_HEADER);
    try {
      checkSignatureHeader(signature);
    } catch (err) {
      if (err instanceof SignatureError) {
        refused(err.reason === 'missing' ? 'missing_signature' : 'malformed_signature');
        log.warn({ reason: err.reason }, 'webhook refused: no valid signature header');
        res.setHeader('connection', 'close');
        return sendJson(res, 401, { error: err.message });
      }
      throw err;
    }

    let body: Buffer;
    try {
      body = await readBody(req, limit);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        refused('too_large');
        log.warn({ limit }, 'webhook refused: body too large');
        res.setHeader('connection', 'close');
        return sendJson(res, 413, { error: err.message });
      }
      throw err;
    }

    try {
      verifyWebhookSignature(options.secret, body, signature);
    } catch (err) {
      if (err instanceof SignatureError) {
        refused('bad_signature');
        log.warn({ reason: err.reason }, 'webhook refused: bad signature');
        return sendJson(res, 401, { error: err.message });
      }
      throw err;
    }

    const eventName = header(req, 'x-github-event');
    if (eventName === 'ping') return sendJson(res, 200, { status: 'pong' });
    if (eventName !== 'workflow_job') {
      return sendJson(res, 202, {
        status: 'ignored',
        reason: `event ${eventName ?? '(none)'} is not handled`,
      });
    }

    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      refused('not_json');
      log.warn('webhook refused: body is not JSON');
      return sendJson(res, 400, { error: 'body is not valid JSON' });
    }

    let event: WorkflowJobEvent;
    try {
      const result = normaliseWorkflowJob(parsed);
      if (result.kind === 'ignored')
        return sendJson(res, 202, { status: 'ignored', reason: result.reason });
      event = result.event;
    } catch (err) {
      if (err instanceof InvalidEventError) {
        refused('malformed_payload');
        log.warn({ field: err.field, error: err.message }, 'webhook refused: malformed payload');
        return sendJson(res, 400, { error: err.message, field: err.field });
      }
      throw err;
    }

    try {
      const result = await withTimeout(options.ingest(event), options.ingestTimeoutMs ?? 8_000);
      return sendJson(res, 202, {
        status: result.outcome,
        jobId: event.job.id,
        action: event.action,
      });
    } catch (err) {
      refused('store_failed');
      log.error({ err, jobId: event.job.id }, 'webhook not stored');
      return sendJson(res, 503, { error: 'event could not be stored; retry later' });
    }
  }
}
