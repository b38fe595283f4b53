// Keeps secrets (GitHub App private key, webhook secret, installation and enterprise tokens,
// JIT configs, container environment overrides) out of logs and error output. Two layers:
// keys that name a secret have their value replaced wherever they sit in an object, and
// strings are scrubbed of things that look like secrets (PEM keys, GitHub tokens, bearer
// headers) and of the secret values the process registered when it loaded them.

export const REDACTED = '[redacted]';

/** Normalised (lower case, no `_`/`-`) key names whose values are always secret. */
const SECRET_KEYS = new Set([
  'authorization',
  'environment',
  'env',
  'cookie',
  'setcookie',
  'password',
  'privatekey',
  'secret',
  'token',
  'jwt',
]);
const SECRET_KEY_SUFFIXES = ['token', 'secret', 'privatekey', 'jitconfig', 'password'];

/** Patterns of secret-looking text inside strings. */
const SECRET_PATTERNS: RegExp[] = [
  // PEM private keys (also inside JSON, where the newlines are escaped).
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----/g,
  // GitHub tokens: installation (ghs_), personal (ghp_, github_pat_), OAuth, refresh, user.
  /\b(?:gh[pousr]_[A-Za-z0-9_]{16,}|github_pat_[A-Za-z0-9_]{20,})/g,
  // Authorization header values.
  /\b(?:[Bb]earer|token)\s+[A-Za-z0-9._~+/=-]{16,}/g,
  // JWTs (App authentication).
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g,
  // Long base64 blobs: encoded JIT configs (base64 JSON, several KB) and other credentials an
  // error might echo. Nothing a log line needs is 200 base64 characters without a break.
  /[A-Za-z0-9+/]{200,}={0,2}/g,
];

export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[-_]/g, '');
  return SECRET_KEYS.has(k) || SECRET_KEY_SUFFIXES.some((suffix) => k.endsWith(suffix));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class Redactor {
  private readonly known: string[] = [];
  private knownPattern: RegExp | undefined;

  constructor(secrets: Iterable<string> = []) {
    for (const s of secrets) this.addSecret(s);
  }

  /**
   * Registers a secret value loaded at run time (private key, webhook secret, token) so that
   * it is scrubbed from any string, in raw and JSON-escaped form. Short values are ignored:
   * they would redact ordinary words.
   */
  addSecret(value: string | undefined): void {
    if (!value || value.length < 8) return;
    const forms = [value, JSON.stringify(value).slice(1, -1)];
    for (const form of forms) {
      if (!this.known.includes(form)) this.known.push(form);
    }
    // Longest first, so a value that contains another is replaced whole.
    this.known.sort((a, b) => b.length - a.length);
    this.knownPattern = new RegExp(this.known.map(escapeRegExp).join('|'), 'g');
  }

  /** The string with secret-looking parts and known secret values replaced. */
  string(text: string): string {
    let out = text;
    if (this.knownPattern) out = out.replace(this.knownPattern, REDACTED);
    for (const pattern of SECRET_PATTERNS) out = out.replace(pattern, REDACTED);
    return out;
  }

  /**
   * A deep copy safe to log: values under secret keys replaced, strings scrubbed, errors turned
   * into plain objects (type, message, stack, own fields, cause). Cycles and depth are bounded.
   */
  value(input: unknown): unknown {
    return this.walk(input, 0, new WeakSet());
  }

  private walk(input: unknown, depth: number, seen: WeakSet<object>): unknown {
    if (typeof input === 'string') return this.string(input);
    if (input === null || typeof input !== 'object') {
      return typeof input === 'function' ? undefined : input;
    }
    if (seen.has(input)) return '[circular]';
    if (depth > 8) return '[too deep]';
    seen.add(input);
    try {
      if (input instanceof Error) return this.error(input, depth, seen);
      if (Array.isArray(input)) return input.map((item) => this.walk(item, depth + 1, seen));
      if (input instanceof Date) return input.toISOString();
      if (Buffer.isBuffer(input) || ArrayBuffer.isView(input)) return `[${input.byteLength} bytes]`;
      if (input instanceof Map) {
        return this.walk(Object.fromEntries(input), depth, seen);
      }
      if (input instanceof Headers) {
        return this.walk(Object.fromEntries(input.entries()), depth, seen);
      }
      const out: Record<string, unknown> = {};
      for (const [key, val] of Object.entries(input)) {
        out[key] = isSecretKey(key) ? REDACTED : this.walk(val, depth + 1, seen);
      }
      return out;
    } finally {
      seen.delete(input);
    }
  }

  private error(err: Error, depth: number, seen: WeakSet<object>): Record<string, unknown> {
    const out: Record<string, unknown> = {
      type: err.name,
      message: this.string(err.message),
    };
    if (err.stack) out.stack = this.string(err.stack);
    for (const [key, val] of Object.entries(err)) {
      if (key === 'message' || key === 'stack' || key === 'cause') continue;
      out[key] = isSecretKey(key) ? REDACTED : this.walk(val, depth + 1, seen);
    }
    if (err.cause !== undefined) out.cause = this.walk(err.cause, depth + 1, seen);
    return out;
  }
}
