import { OplogError } from './errors.js';

/** A source id that can carry a credential: also safe in a log line, a metric label and a table key. */
export const SOURCE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** 32 random bytes in base64url, unpadded. */
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** A source credential, `<sourceId>.<secret>`: the id says which stored hash to compare the secret with. */
export interface SourceToken {
  sourceId: string;
  secret: string;
}

export function isSourceId(value: string): boolean {
  return SOURCE_ID_PATTERN.test(value);
}

/** Splits a token into its source id and secret; a token of any other shape is refused as unauthorized. */
export function parseSourceToken(token: string): SourceToken {
  if (!isSourceToken(token)) {
    // Never echo the token: a malformed one may still be most of a real secret.
    throw OplogError.unauthorized('malformed source token (expected <sourceId>.<43 base64url characters>)');
  }
  const dot = token.indexOf('.');
  return { sourceId: token.slice(0, dot), secret: token.slice(dot + 1) };
}

export function isSourceToken(token: string): boolean {
  const dot = token.indexOf('.');
  return dot >= 0 && isSourceId(token.slice(0, dot)) && SECRET_PATTERN.test(token.slice(dot + 1));
}

export function formatSourceToken({ sourceId, secret }: SourceToken): string {
  const token = `${sourceId}.${secret}`;
  parseSourceToken(token);
  return token;
}
