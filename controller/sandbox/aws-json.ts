// The AWS JSON RPC protocols (1.0 for SQS, 1.1 for ECS) on the wire, as the AWS SDK for
// JavaScript v3 speaks them: POST / with `X-Amz-Target: <service>.<Operation>`, a JSON body, and
// errors as `{ "__type": ..., "message": ... }` plus the `x-amzn-errortype` header (and, for
// query-compatible services like SQS, `x-amzn-query-error: <Code>;<Sender|Receiver>`).

import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** An error answered to the client in the service's own error shape. */
export class AwsServiceError extends Error {
  /** Shape name as the SDK knows it, e.g. `ClientException`, `QueueDoesNotExist`. */
  readonly type: string;
  readonly statusCode: number;
  /** Query-compatible error code (SQS), e.g. `AWS.SimpleQueueService.NonExistentQueue`. */
  readonly queryCode?: string;
  /** Extra members of the error shape (e.g. ConflictException.resourceIds). */
  readonly fields?: Record<string, unknown>;

  constructor(
    type: string,
    message: string,
    options: {
      statusCode?: number;
      queryCode?: string;
      fields?: Record<string, unknown>;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AwsServiceError';
    this.type = type;
    this.statusCode = options.statusCode ?? 400;
    if (options.queryCode !== undefined) this.queryCode = options.queryCode;
    if (options.fields !== undefined) this.fields = options.fields;
  }
}

export interface AwsRequestContext {
  operation: string;
  requestId: string;
  /** Aborted when the client goes away (long polls stop waiting). */
  signal: AbortSignal;
}

export type AwsOperationHandler = (
  input: Record<string, unknown>,
  ctx: AwsRequestContext,
) => unknown;

export interface AwsJsonServerOptions {
  host?: string;
  port?: number;
  /** `1.0` or `1.1`. */
  jsonVersion: '1.0' | '1.1';
  /** Target prefix, e.g. `AmazonEC2ContainerServiceV20141113` or `AmazonSQS`. */
  targetPrefix: string;
  /** Namespace used in `__type` (`com.amazonaws.sqs`); plain shape names when absent. */
  typeNamespace?: string;
  /** Query-compatible services add `x-amzn-query-error`. */
  queryCompatible?: boolean;
  operations: Record<string, AwsOperationHandler>;
  /**
   * Called with an unexpected error (a simulator bug) before it is answered as InternalFailure.
   * Default: one line on stderr with the operation and the error message (never the request).
   */
  onInternalError?: (operation: string, error: unknown) => void;
}

export interface AwsJsonServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 2 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new AwsServiceError('SerializationException', 'Request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** AWS rejects unsigned requests before looking at the operation. */
function hasSigV4Authorization(req: IncomingMessage): boolean {
  const auth = req.headers.authorization;
  return typeof auth === 'string' && auth.startsWith('AWS4-HMAC-SHA256 Credential=');
}

export async function startAwsJsonServer(options: AwsJsonServerOptions): Promise<AwsJsonServer> {
  const contentType = `application/x-amz-json-${options.jsonVersion}`;
  const sockets = new Set<Socket>();

  const reportInternalError =
    options.onInternalError ??
    ((operation: string, error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(
        `${options.targetPrefix}.${operation} failed inside the simulator: ${message}\n`,
      );
    });

  const sendError = (res: ServerResponse, requestId: string, error: AwsServiceError) => {
    const qualified = options.typeNamespace ? `${options.typeNamespace}#${error.type}` : error.type;
    const headers: Record<string, string> = {
      'content-type': contentType,
      'x-amzn-requestid': requestId,
      'x-amzn-errortype': `${error.type}:http://internal.amazon.com/coral/${options.typeNamespace ?? 'com.amazonaws'}/`,
    };
    if (options.queryCompatible) {
      const sender = error.statusCode >= 500 ? 'Receiver' : 'Sender';
      headers['x-amzn-query-error'] = `${error.queryCode ?? error.type};${sender}`;
    }
    const body = JSON.stringify({ __type: qualified, message: error.message, ...error.fields });
    res.writeHead(error.statusCode, headers);
    res.end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const requestId = randomUUID();
    let operationName = 'unknown';
    const abort = new AbortController();
    res.on('close', () => abort.abort(new Error('client closed the connection')));
    try {
      if (req.method !== 'POST') {
        throw new AwsServiceError(
          'UnknownOperationException',
          `Method ${req.method} is not supported`,
        );
      }
      const raw = await readBody(req);
      if (!hasSigV4Authorization(req)) {
        throw new AwsServiceError(
          'MissingAuthenticationTokenException',
          'Missing Authentication Token',
          {
            statusCode: 400,
            queryCode: 'MissingAuthenticationToken',
          },
        );
      }
      const target = req.headers['x-amz-target'];
      const [prefix, operation] = typeof target === 'string' ? target.split('.') : [];
      if (prefix !== options.targetPrefix || !operation || !options.operations[operation]) {
        throw new AwsServiceError(
          'UnknownOperationException',
          `Unknown operation ${String(target)}`,
        );
      }
      operationName = operation;
      let input: unknown;
      try {
        input = raw.length === 0 ? {} : JSON.parse(raw);
      } catch (cause) {
        throw new AwsServiceError('SerializationException', 'Request body is not valid JSON', {
          cause,
        });
      }
      if (input === null || typeof input !== 'object' || Array.isArray(input)) {
        throw new AwsServiceError('SerializationException', 'Request body must be a JSON object');
      }
      const output = await options.operations[operation](input as Record<string, unknown>, {
        operation,
        requestId,
        signal: abort.signal,
      });
      if (res.destroyed) return;
      res.writeHead(200, { 'content-type': contentType, 'x-amzn-requestid': requestId });
      res.end(JSON.stringify(output ?? {}));
    } catch (error) {
      if (res.destroyed) return;
      if (error instanceof AwsServiceError) return sendError(res, requestId, error);
      reportInternalError(operationName, error);
      sendError(
        res,
        requestId,
        new AwsServiceError(
          'InternalFailure',
          'The request processing has failed because of an unknown error.',
          {
            statusCode: 500,
          },
        ),
      );
    }
  };

  const server = createServer((req, res) => void handle(req, res));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

// ---- small input readers: bad input becomes the service's validation error ----

export function validationError(message: string): AwsServiceError {
  return new AwsServiceError('InvalidParameterException', message);
}

export function optionalString(input: Record<string, unknown>, name: string): string | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw new AwsServiceError('SerializationException', `${name} must be a string`);
  }
  return value;
}

export function optionalNumber(input: Record<string, unknown>, name: string): number | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new AwsServiceError('SerializationException', `${name} must be a number`);
  }
  return value;
}

export function optionalArray(input: Record<string, unknown>, name: string): unknown[] | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value))
    throw new AwsServiceError('SerializationException', `${name} must be a list`);
  return value;
}

export function optionalObject(
  input: Record<string, unknown>,
  name: string,
): Record<string, unknown> | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new AwsServiceError('SerializationException', `${name} must be a structure`);
  }
  return value as Record<string, unknown>;
}

/** Epoch seconds with millisecond precision, the JSON protocols' timestamp format. */
export function epochSeconds(ms: number): number {
  return Math.round(ms) / 1000;
}

/** A small seeded PRNG (mulberry32), so fault injection is reproducible. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
