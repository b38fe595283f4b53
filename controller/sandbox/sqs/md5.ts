// The MD5 digests SQS returns with messages; the SDK verifies MD5OfMessageBody / MD5OfBody.

import { createHash } from 'node:crypto';

export interface MessageAttributeValue {
  DataType: string;
  StringValue?: string;
  /** Base64, as the JSON protocol carries blobs. */
  BinaryValue?: string;
}

export function md5Hex(data: string | Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

function lengthPrefixed(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length, 0);
  return Buffer.concat([length, bytes]);
}

/**
 * MD5 of message attributes, SQS's documented algorithm: for each attribute sorted by name,
 * length-prefixed name, length-prefixed data type, one transport byte (1 string, 2 binary) and
 * the length-prefixed value.
 */
export function md5OfMessageAttributes(attributes: Record<string, MessageAttributeValue>): string {
  const parts: Buffer[] = [];
  for (const name of Object.keys(attributes).sort()) {
    const attribute = attributes[name]!;
    parts.push(lengthPrefixed(Buffer.from(name, 'utf8')));
    parts.push(lengthPrefixed(Buffer.from(attribute.DataType, 'utf8')));
    if (attribute.BinaryValue !== undefined) {
      parts.push(Buffer.from([2]));
      parts.push(lengthPrefixed(Buffer.from(attribute.BinaryValue, 'base64')));
    } else {
      parts.push(Buffer.from([1]));
      parts.push(lengthPrefixed(Buffer.from(attribute.StringValue ?? '', 'utf8')));
    }
  }
  return md5Hex(Buffer.concat(parts));
}
