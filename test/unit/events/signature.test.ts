import { describe, expect, it } from 'vitest';
import { signWebhookBody, verifyWebhookSignature } from '../../../controller/events/signature.ts';
import { SignatureError } from '../../../controller/events/errors.ts';

const SECRET = "It's a Secret to Everybody";
const BODY = Buffer.from('Hello, World!');

function reason(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(SignatureError);
    expect((err as Error).message).not.toContain(SECRET);
    return (err as SignatureError).reason;
  }
}

describe('webhook signature', () => {
  it("matches GitHub's documented example", () => {
    // From GitHub's "Validating webhook deliveries" documentation.
    expect(signWebhookBody(SECRET, BODY)).toBe(
      'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
    );
  });

  it('accepts a valid signature', () => {
    expect(
      reason(() => verifyWebhookSignature(SECRET, BODY, signWebhookBody(SECRET, BODY))),
    ).toBeUndefined();
  });

  it('rejects a tampered body', () => {
    const header = signWebhookBody(SECRET, BODY);
    expect(reason(() => verifyWebhookSignature(SECRET, Buffer.from('Hello, World?'), header))).toBe(
      'mismatch',
    );
  });

  it('rejects another secret', () => {
    expect(reason(() => verifyWebhookSignature(SECRET, BODY, signWebhookBody('other', BODY)))).toBe(
      'mismatch',
    );
  });

  it('rejects a missing header', () => {
    expect(reason(() => verifyWebhookSignature(SECRET, BODY, undefined))).toBe('missing');
    expect(reason(() => verifyWebhookSignature(SECRET, BODY, ''))).toBe('missing');
  });

  it('rejects a wrong prefix or length', () => {
    const hex = signWebhookBody(SECRET, BODY).slice('sha256='.length);
    expect(reason(() => verifyWebhookSignature(SECRET, BODY, `sha1=${hex}`))).toBe('malformed');
    expect(reason(() => verifyWebhookSignature(SECRET, BODY, hex))).toBe('malformed');
    expect(reason(() => verifyWebhookSignature(SECRET, BODY, `sha256=${hex.slice(2)}`))).toBe(
      'malformed',
    );
  });

  it('refuses to verify without a secret', () => {
    expect(reason(() => verifyWebhookSignature('', BODY, 'sha256=00'))).toBe('no-secret');
  });
});
