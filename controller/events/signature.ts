// GitHub webhook signatures: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`
// keyed with the webhook secret. Compared in constant time.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { SignatureError } from './errors.ts';

export const SIGNATURE_HEADER = 'x-hub-signature-256';
const PREFIX = 'sha256=';

/** The header value GitHub would send for this body. */
export function signWebhookBody(secret: string, rawBody: Buffer | string): string {
  return PREFIX + createHmac('sha256', secret).update(rawBody).digest('hex');
}

/**
 * Throws SignatureError unless `header` has the shape of a signature ("sha256=" and 64 hex
 * digits). Needs no body, so a request without one is refused before its body is read.
 */
export function checkSignatureHeader(header: string | undefined): asserts header is string {
  if (header === undefined || header === '') {
    throw new SignatureError(`missing ${SIGNATURE_HEADER} header`, 'missing');
  }
  if (!header.startsWith(PREFIX) || !/^[0-9a-f]{64}$/i.test(header.slice(PREFIX.length))) {
    throw new SignatureError(
      `malformed ${SIGNATURE_HEADER} header: expected "sha256=" and 64 hex digits`,
      'malformed',
    );
  }
}

/** Throws SignatureError unless `header` is a valid signature of `rawBody` under `secret`. */
export function verifyWebhookSignature(
  secret: string,
  rawBody: Buffer | string,
  header: string | undefined,
): void {
  if (!secret) throw new SignatureError('no webhook secret is configured', 'no-secret');
  checkSignatureHeader(header);
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  const given = Buffer.from(header.slice(PREFIX.length), 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new SignatureError(`${SIGNATURE_HEADER} does not match the body`, 'mismatch');
  }
}
