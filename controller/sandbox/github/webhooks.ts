// Delivery of workflow_job webhooks: signed HTTP POSTs (as GitHub's hookshot sends them) and/or
// EventBridge envelopes sent into an SQS queue with the real @aws-sdk/client-sqs. Delivery
// faults (drop, duplicate, delay, reorder) are drawn from a seeded PRNG so runs are repeatable.

import { createHmac, randomUUID } from 'node:crypto';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Clock } from '../../util/clock.ts';
import type { Random } from './rng.ts';
import { HTML_BASE, jobJson, webhookOrganization, webhookRepository } from './shapes.ts';
import type { JobEvent } from './state.ts';

export interface WebhookFaults {
  /** Probability that an event is never delivered. */
  dropRate: number;
  /** Probability that an event is delivered twice (same delivery id, like a manual redelivery). */
  duplicateRate: number;
  /** Probability that an event is held back for `delayMs` of clock time. */
  delayRate: number;
  delayMs: number;
  /** Probability that an event is held until the next one has been delivered. */
  reorderRate: number;
}

export const NO_WEBHOOK_FAULTS: WebhookFaults = {
  dropRate: 0,
  duplicateRate: 0,
  delayRate: 0,
  delayMs: 5_000,
  reorderRate: 0,
};

export type WebhookSinkSpec =
  | { kind: 'http'; url: string }
  | {
      kind: 'sqs';
      queueUrl: string;
      /** Defaults: the queue URL's origin, us-east-1, dummy credentials (for the SQS simulator). */
      endpoint?: string;
      region?: string;
      account?: string;
      credentials?: { accessKeyId: string; secretAccessKey: string };
    };

export interface WebhookSink {
  id: string;
  spec: WebhookSinkSpec;
}

export interface DeliveryRecord {
  deliveryId: string;
  event: 'workflow_job';
  action: string;
  jobId: number;
  runAttempt: number;
  sinkId: string;
  /** 'delivered' (2xx / SendMessage ok), 'failed' (non-2xx or error), 'dropped' (fault). */
  outcome: 'delivered' | 'failed' | 'dropped';
  statusCode?: number;
  error?: string;
  atMs: number;
  duplicate: boolean;
}

interface Pending {
  deliveryId: string;
  body: string;
  event: JobEvent;
}

/** An attempt to the App's webhook URL (HTTP sinks), as GET /app/hook/deliveries lists them. */
export interface AppDelivery {
  id: number;
  guid: string;
  deliveredAtMs: number;
  redelivery: boolean;
  durationMs: number;
  status: string;
  statusCode: number;
  action: string;
  installationId: number | null;
  repositoryId: number | null;
  sinkId: string;
  pending: Pending;
}

/** GitHub keeps deliveries for 3 days. */
const DELIVERY_RETENTION_MS = 3 * 24 * 3600_000;

export interface WebhookDispatcherOptions {
  clock: Clock;
  random: Random;
  secret: string;
  apiUrl: () => string;
  appId: number;
  faults: WebhookFaults;
  /** HTTP delivery timeout (GitHub: 10 s). Real time. */
  timeoutMs?: number;
}

export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export class WebhookDispatcher {
  readonly sinks = new Map<string, WebhookSink>();
  readonly deliveries: DeliveryRecord[] = [];
  private readonly appDeliveries: AppDelivery[] = [];
  private nextAppDelivery = 1;
  faults: WebhookFaults;
  private chain: Promise<void> = Promise.resolve();
  private held: Pending | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly sqsClients = new Map<string, SQSClient>();
  private nextSink = 1;
  private closed = false;

  constructor(private readonly options: WebhookDispatcherOptions) {
    this.faults = { ...options.faults };
  }

  addSink(spec: WebhookSinkSpec): WebhookSink {
    if (spec.kind === 'http' && !/^https?:\/\//.test(spec.url)) {
      throw new TypeError(`webhook sink url must be http(s), got ${JSON.stringify(spec.url)}`);
    }
    if (spec.kind === 'sqs' && !/^https?:\/\//.test(spec.queueUrl)) {
      throw new TypeError(
        `webhook sink queueUrl must be http(s), got ${JSON.stringify(spec.queueUrl)}`,
      );
    }
    const sink = { id: `sink-${this.nextSink++}`, spec };
    this.sinks.set(sink.id, sink);
    return sink;
  }

  removeSink(id: string): boolean {
    return this.sinks.delete(id);
  }

  /** The webhook body for an event, as GitHub sends it to an App. */
  payload(event: JobEvent): Record<string, unknown> {
    const api = this.options.apiUrl();
    const body: Record<string, unknown> = {
      action: event.action,
      workflow_job: jobJson(api, event.job),
      repository: webhookRepository(api, event.repo),
    };
    if (event.org) body.organization = webhookOrganization(api, event.org);
    body.sender = {
      login: 'octocat',
      id: 583231,
      node_id: 'MDQ6VXNlcjU4MzIzMQ==',
      avatar_url: 'https://avatars.githubusercontent.com/u/583231?v=4',
      gravatar_id: '',
      url: `${api}/users/octocat`,
      html_url: `${HTML_BASE}/octocat`,
      followers_url: `${api}/users/octocat/followers`,
      following_url: `${api}/users/octocat/following{/other_user}`,
      gists_url: `${api}/users/octocat/gists{/gist_id}`,
      starred_url: `${api}/users/octocat/starred{/owner}{/repo}`,
      subscriptions_url: `${api}/users/octocat/subscriptions`,
      organizations_url: `${api}/users/octocat/orgs`,
      repos_url: `${api}/users/octocat/repos`,
      events_url: `${api}/users/octocat/events{/privacy}`,
      received_events_url: `${api}/users/octocat/received_events`,
      type: 'User',
      site_admin: false,
    };
    if (event.installation) {
      body.installation = {
        id: event.installation.id,
        node_id: Buffer.from(`030:Integration::Installation${event.installation.id}`).toString(
          'base64',
        ),
      };
    }
    return body;
  }

  /** Queues one event; deliveries keep their order unless a fault says otherwise. */
  enqueue(event: JobEvent): void {
    if (this.closed || this.sinks.size === 0) return;
    const pending: Pending = {
      deliveryId: randomUUID(),
      body: JSON.stringify(this.payload(event)),
      event,
    };
    const { random } = this.options;
    const f = this.faults;
    if (random.chance(f.dropRate)) {
      for (const sink of this.sinks.values()) {
        this.record(pending, sink, 'dropped', false);
        // The App's delivery log shows a dropped delivery as one that never connected.
        if (sink.spec.kind === 'http') {
          this.recordAppDelivery(sink, pending, {
            deliveredAtMs: this.options.clock.now(),
            redelivery: false,
            durationMs: 0,
            status: 'failed to connect',
            statusCode: 0,
          });
        }
      }
      return;
    }
    const copies = random.chance(f.duplicateRate) ? 2 : 1;
    if (random.chance(f.delayRate)) {
      const p = this.options.clock
        .sleep(f.delayMs)
        .then(() => this.deliverAll(pending, copies))
        .catch(() => undefined);
      this.track(p);
      return;
    }
    if (!this.held && random.chance(f.reorderRate)) {
      this.held = pending;
      return;
    }
    const held = this.held;
    this.held = undefined;
    this.chain = this.chain.then(async () => {
      await this.deliverAll(pending, copies);
      if (held) await this.deliverAll(held, 1);
    });
    this.track(this.chain);
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** Resolves when every queued delivery has been attempted (held reorders are released). */
  async flush(): Promise<void> {
    if (this.held) {
      const held = this.held;
      this.held = undefined;
      this.chain = this.chain.then(() => this.deliverAll(held, 1));
      this.track(this.chain);
    }
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async deliverAll(pending: Pending, copies: number): Promise<void> {
    for (let i = 0; i < copies; i++) {
      await Promise.all(
        [...this.sinks.values()].map((sink) => this.deliverTo(sink, pending, i > 0)),
      );
    }
  }

  private async deliverTo(
    sink: WebhookSink,
    pending: Pending,
    duplicate: boolean,
    redelivery = false,
  ): Promise<boolean> {
    const startedMs = Date.now();
    const deliveredAtMs = this.options.clock.now();
    try {
      if (sink.spec.kind === 'http') {
        let statusCode = 0;
        let status = 'failed to connect';
        try {
          const response = await fetch(sink.spec.url, {
            method: 'POST',
            headers: this.headers(pending),
            body: pending.body,
            signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
          });
          await response.arrayBuffer().catch(() => undefined);
          statusCode = response.status;
          status = response.ok ? 'OK' : `Invalid HTTP Response: ${response.status}`;
        } finally {
          this.recordAppDelivery(sink, pending, {
            deliveredAtMs,
            redelivery,
            durationMs: Date.now() - startedMs,
            status,
            statusCode,
          });
        }
        const ok = statusCode >= 200 && statusCode < 300;
        this.record(pending, sink, ok ? 'delivered' : 'failed', duplicate, statusCode);
        return ok;
      } else {
        await this.sendToSqs(sink.spec, pending);
        this.record(pending, sink, 'delivered', duplicate);
        return true;
      }
    } catch (error) {
      this.record(pending, sink, 'failed', duplicate, undefined, (error as Error).name);
      return false;
    }
  }

  private recordAppDelivery(
    sink: WebhookSink,
    pending: Pending,
    outcome: Pick<
      AppDelivery,
      'deliveredAtMs' | 'redelivery' | 'durationMs' | 'status' | 'statusCode'
    >,
  ): void {
    this.appDeliveries.push({
      id: this.nextAppDelivery++,
      guid: pending.deliveryId,
      action: pending.event.action,
      installationId: pending.event.installation?.id ?? null,
      repositoryId: pending.event.repo.id,
      sinkId: sink.id,
      pending,
      ...outcome,
    });
  }

  /** The App's deliveries of the last 3 days, newest first. */
  listAppDeliveries(): AppDelivery[] {
    const since = this.options.clock.now() - DELIVERY_RETENTION_MS;
    return this.appDeliveries.filter((d) => d.deliveredAtMs >= since).reverse();
  }

  /** POST /app/hook/deliveries/{id}/attempts: sends the same payload again (same guid). */
  redeliver(id: number): boolean {
    const since = this.options.clock.now() - DELIVERY_RETENTION_MS;
    const found = this.appDeliveries.find((d) => d.id === id && d.deliveredAtMs >= since);
    const sink = found ? this.sinks.get(found.sinkId) : undefined;
    if (!found || !sink) return false;
    this.track(this.deliverTo(sink, found.pending, false, true).then(() => undefined));
    return true;
  }

  headers(pending: Pending): Record<string, string> {
    return {
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/sandbox',
      'x-github-event': 'workflow_job',
      'x-github-delivery': pending.deliveryId,
      'x-github-hook-id': '1',
      'x-github-hook-installation-target-id': String(this.options.appId),
      'x-github-hook-installation-target-type': 'integration',
      'x-hub-signature': `sha1=${createHmac('sha1', this.options.secret).update(pending.body).digest('hex')}`,
      'x-hub-signature-256': signBody(this.options.secret, pending.body),
    };
  }

  private client(spec: Extract<WebhookSinkSpec, { kind: 'sqs' }>): SQSClient {
    const endpoint = spec.endpoint ?? new URL(spec.queueUrl).origin;
    const key = `${endpoint}|${spec.region ?? ''}`;
    let client = this.sqsClients.get(key);
    if (!client) {
      client = new SQSClient({
        endpoint,
        region: spec.region ?? 'us-east-1',
        credentials: spec.credentials ?? { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
        maxAttempts: 3,
      });
      this.sqsClients.set(key, client);
    }
    return client;
  }

  private async sendToSqs(spec: Extract<WebhookSinkSpec, { kind: 'sqs' }>, pending: Pending) {
    // EventBridge drops the HTTP headers: only the body travels, as `detail`.
    const envelope = {
      version: '0',
      id: randomUUID(),
      'detail-type': 'workflow_job',
      source: 'github.com',
      account: spec.account ?? '123456789012',
      time: new Date(this.options.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: spec.region ?? 'us-east-1',
      resources: [],
      detail: JSON.parse(pending.body) as unknown,
    };
    await this.client(spec).send(
      new SendMessageCommand({ QueueUrl: spec.queueUrl, MessageBody: JSON.stringify(envelope) }),
    );
  }

  private record(
    pending: Pending,
    sink: WebhookSink,
    outcome: DeliveryRecord['outcome'],
    duplicate: boolean,
    statusCode?: number,
    error?: string,
  ): void {
    const r: DeliveryRecord = {
      deliveryId: pending.deliveryId,
      event: 'workflow_job',
      action: pending.event.action,
      jobId: pending.event.job.id,
      runAttempt: pending.event.job.runAttempt,
      sinkId: sink.id,
      outcome,
      atMs: this.options.clock.now(),
      duplicate,
    };
    if (statusCode !== undefined) r.statusCode = statusCode;
    if (error !== undefined) r.error = error;
    this.deliveries.push(r);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush().catch(() => undefined);
    for (const c of this.sqsClients.values()) c.destroy();
  }
}
