// Test helpers for driving the AWS simulators through the real SDK clients.
//
// `RecordingHandler` wraps the SDK's own Node HTTP handler and keeps the raw JSON of every
// answer, so a test can check that each field the simulator sent survived the SDK's
// model-driven deserialiser (which silently drops members the service model does not know).

import { Readable } from 'node:stream';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { HttpHandlerOptions } from '@smithy/types';

type HandleArgs = Parameters<NodeHttpHandler['handle']>;

export class RecordingHandler extends NodeHttpHandler {
  readonly bodies: unknown[] = [];

  override async handle(request: HandleArgs[0], options?: HttpHandlerOptions) {
    const result = await super.handle(request, options);
    const chunks: Buffer[] = [];
    for await (const chunk of result.response.body as Readable) chunks.push(Buffer.from(chunk));
    const buffer = Buffer.concat(chunks);
    try {
      this.bodies.push(JSON.parse(buffer.toString('utf8')));
    } catch {
      this.bodies.push(undefined);
    }
    result.response.body = Readable.from([buffer]);
    (result.response as { rawBody?: Buffer }).rawBody = buffer;
    return result;
  }

  last(): unknown {
    return this.bodies.at(-1);
  }
}

export const dummyCredentials = { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'sandbox-secret' };

/**
 * Paths of fields present in `raw` (the wire answer) but absent in `parsed` (the SDK's output):
 * fields the real service model does not have.
 */
export function fieldsUnknownToSdk(raw: unknown, parsed: unknown, path = '$'): string[] {
  if (raw === null || typeof raw !== 'object') return [];
  if (parsed instanceof Date) return [];
  if (Array.isArray(raw)) {
    if (!Array.isArray(parsed)) return [path];
    return raw.flatMap((item, i) => fieldsUnknownToSdk(item, parsed[i], `${path}[${i}]`));
  }
  if (parsed === null || typeof parsed !== 'object') return [path];
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    const child = (parsed as Record<string, unknown>)[key];
    if (child === undefined) unknown.push(`${path}.${key}`);
    else unknown.push(...fieldsUnknownToSdk(value, child, `${path}.${key}`));
  }
  return unknown;
}

interface StackClient {
  middlewareStack: {
    add(
      middleware: (
        next: (args: unknown) => Promise<{ output: unknown; response: unknown }>,
        context: { commandName?: string },
      ) => (args: unknown) => Promise<{ output: unknown; response: unknown }>,
      options: { step: 'initialize'; name: string },
    ): void;
  };
}

export interface FieldAudit {
  /** Operations whose answers were compared. */
  checked: Set<string>;
  /** `Operation: $.path` of every field the SDK dropped. */
  unknown: string[];
}

/**
 * Compares every successful answer of this client (it must use a RecordingHandler) with the
 * SDK's parsed output, so a test can assert that no field the simulator sends is unknown to the
 * service model.
 */
export function auditResponseFields(client: unknown): FieldAudit {
  const audit: FieldAudit = { checked: new Set(), unknown: [] };
  (client as StackClient).middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const raw = (result.response as { rawBody?: Buffer }).rawBody;
      if (raw && raw.length > 0) {
        const operation = (context.commandName ?? 'unknown').replace(/Command$/, '');
        audit.checked.add(operation);
        const parsed = withoutMetadata(result.output as object);
        for (const path of fieldsUnknownToSdk(JSON.parse(raw.toString('utf8')), parsed)) {
          audit.unknown.push(`${operation}: ${path}`);
        }
      }
      return result;
    },
    { step: 'initialize', name: 'auditResponseFields' },
  );
  return audit;
}

/** Strips the SDK's `$metadata` before comparing. */
export function withoutMetadata<T extends object>(output: T): Omit<T, '$metadata'> {
  const { $metadata: _metadata, ...rest } = output as T & { $metadata?: unknown };
  return rest;
}

/**
 * A clock that only moves when the test says so. Sleepers wake when `advance` passes their
 * deadline, so "returns as soon as a message arrives" is checked without any timing.
 */
export class ManualClock {
  private current: number;
  private timers: { at: number; resolve: () => void }[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.current = start;
  }

  now = (): number => this.current;

  sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = {
        at: this.current + Math.max(0, ms),
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.timers = this.timers.filter((t) => t !== timer);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.timers.push(timer);
    });

  /** Moves time forward, waking due sleepers in order and letting them run. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > target) break;
      this.timers.shift();
      this.current = Math.max(this.current, next.at);
      next.resolve();
      await settle();
    }
    this.current = target;
    await settle();
  }
}

/** Lets pending promise callbacks and I/O run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
}
