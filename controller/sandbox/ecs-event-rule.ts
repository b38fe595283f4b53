// The EventBridge rule of the stack, in-process: ECS Task State Change events of one cluster
// (source aws.ecs, detail.clusterArn = the cluster) go into the controller's SQS queue, as
// deploy/stack.ts sets it up in an account. EventBridge neither orders nor de-duplicates.

import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { EcsSimulator } from './ecs/simulator.ts';

export interface EcsEventRuleOptions {
  ecs: EcsSimulator;
  clusterArn: string;
  queueUrl: string;
  sqsEndpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

/** Starts forwarding; the returned close stops it and waits for sends in flight. */
export function forwardEcsTaskEvents(options: EcsEventRuleOptions): { close(): Promise<void> } {
  const client = new SQSClient({
    endpoint: options.sqsEndpoint,
    region: options.region,
    credentials: options.credentials,
    maxAttempts: 3,
  });
  const inFlight = new Set<Promise<unknown>>();
  const unsubscribe = options.ecs.onTaskStateChange((envelope) => {
    const detail = envelope.detail as { clusterArn?: unknown } | undefined;
    if (detail?.clusterArn !== options.clusterArn) return;
    const send: Promise<unknown> = client
      .send(
        new SendMessageCommand({
          QueueUrl: options.queueUrl,
          MessageBody: JSON.stringify(envelope),
        }),
      )
      // EventBridge would retry; a lost hint is what the controller's relist covers.
      .catch(() => undefined)
      .finally(() => inFlight.delete(send));
    inFlight.add(send);
  });
  return {
    async close() {
      unsubscribe();
      await Promise.allSettled([...inFlight]);
      client.destroy();
    },
  };
}
