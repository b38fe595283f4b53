// Settings every AWS SDK client of the controller gets.
//
// - Timeouts: without them a black-holed endpoint (a connection that is accepted and never
//   answered) holds a call for minutes; a lease renewal stuck that way wedged the lease loop.
//   The connection timeout bounds the TCP/TLS set-up; the request timeout bounds one attempt
//   from sending to the answer (the SDK's retries then apply).
// - A no-op logger: the SDK's logger middleware otherwise runs its log filter (walking every
//   request and response for sensitive members) on each call, for a logger that prints nothing.

export interface AwsClientTimeouts {
  /** TCP (and TLS) connection set-up, ms. Default 3,000. */
  connectionTimeoutMs?: number;
  /** One attempt, from sending to the answer, ms. Default 10,000. */
  requestTimeoutMs?: number;
}

export const DEFAULT_CONNECTION_TIMEOUT_MS = 3_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** SQS long polls wait up to 20 s for messages: the request timeout must outlast them. */
export const SQS_REQUEST_TIMEOUT_MS = 30_000;

const noop = () => {};
/**
 * Prints nothing. No `info`/`error` on purpose: the logger middleware calls `logger?.info?.(...)`,
 * so without them it never builds the filtered copies of input and output (a no-op `info` would
 * still pay for them).
 */
export const NO_OP_AWS_LOGGER = { trace: noop, debug: noop, warn: noop } as unknown as {
  debug(...content: unknown[]): void;
  info(...content: unknown[]): void;
  warn(...content: unknown[]): void;
  error(...content: unknown[]): void;
};

/**
 * requestHandler and logger for an SDK client's constructor. The client builds its
 * NodeHttpHandler from these options itself (no direct dependency on @smithy packages).
 */
export function awsClientSettings(timeouts: AwsClientTimeouts = {}) {
  return {
    requestHandler: {
      connectionTimeout: timeouts.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS,
      requestTimeout: timeouts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      // Without it the handler only warns when the request timeout passes, and keeps waiting.
      throwOnRequestTimeout: true,
    },
    logger: NO_OP_AWS_LOGGER,
  };
}
