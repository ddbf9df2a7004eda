import { ERRORS } from './error-codes.js';

const CLOSE_NAMES: Record<number, string> = {
  1001: 'going away',
  1002: 'protocol error',
  1006: 'no connection (local only)',
  1007: 'invalid data',
  1008: 'policy violation',
  1009: 'message too big',
  1011: 'internal error',
  1015: 'TLS handshake (local only)',
};

/** docs/errors.md, rendered from the ERRORS table: every code, its close code, whether it retries, and what to do. */
export function errorDocs(): string {
  const lines = [
    '# Error codes',
    '',
    '<!-- Generated from packages/protocol/src/error-codes.ts by `npm run docs:errors`; edit the table, not this file. -->',
    '',
    'Every error a producer or consumer reports has a stable `OPLOG_*` code: in `error` frames, in the WebSocket',
    'close reason (`CODE: message`), in pino log lines (`code`), in `/metrics` (`oplog_errors_total{code}`) and in',
    "the dashboard's last error. *Retryable* says whether trying again can help: the producer always reconnects",
    'with backoff, and a code that is not retryable comes back until its cause is fixed. *Halts the source* says',
    "that the source's stream stops at the change refused (its producer backing off) until the cause is fixed on the",
    'consumer, or the transaction is quarantined. A code that is *local only* is never sent to a peer.',
    '',
  ];
  for (const [code, { close, retryable, halts, meaning, action }] of Object.entries(ERRORS)) {
    const closing = close === null ? 'Local only' : `Close code ${close} (${CLOSE_NAMES[close] ?? 'other'})`;
    lines.push(
      `## ${code}`,
      '',
      `${closing} · ${retryable ? 'retryable' : 'not retryable'}${halts ? ' · halts the source' : ''}`,
      '',
      meaning,
      '',
      `**What to do:** ${action}`,
      '',
    );
  }
  return lines.join('\n');
}
