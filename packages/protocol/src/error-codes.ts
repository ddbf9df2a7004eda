import { MAX_FRAME_DEPTH } from './depth-check.js';

/**
 * Every error code, in one place: a stable code, the WebSocket close code that goes with it (null for a code only
 * reported locally, never sent to a peer), whether retrying can help, whether it halts the source (its stream stops
 * at the change until the cause is fixed on the consumer, or the transaction is quarantined), what it means and what
 * the operator should do. docs/errors.md is generated from this table (`npm run docs:errors`), and a test keeps the
 * two equal.
 */
export const ERRORS = {
  OPLOG_BAD_JSON: {
    close: 1007,
    retryable: false,
    halts: false,
    meaning: 'A frame is not valid JSON.',
    action:
      "Nothing to do on a healthy pair: the peer's frame was corrupted or hostile. If it repeats, check the peer's version and what sits between them (proxies).",
  },
  OPLOG_BAD_FRAME: {
    close: 1007,
    retryable: false,
    halts: false,
    meaning: `A frame does not match its schema, or nests objects and arrays more than ${MAX_FRAME_DEPTH} levels deep (the frame itself is level 1, so a row's value has ${MAX_FRAME_DEPTH - 4} levels of its own).`,
    action:
      'Run the same version of oplog on both sides; if the producer is ours and current, report the frame (the log line has the path of the bad field).',
  },
  OPLOG_UNKNOWN_FRAME: {
    close: 1002,
    retryable: false,
    halts: false,
    meaning: 'The frame type is unknown or not allowed in this direction.',
    action: 'Upgrade the older side: the peer speaks a frame type this side does not know.',
  },
  OPLOG_HELLO_FIRST: {
    close: 1002,
    retryable: false,
    halts: false,
    meaning: 'A frame arrived before the hello / welcome handshake completed.',
    action:
      "A client that is not an oplog producer reached the endpoint, or a producer bug: check what connects to the consumer's path.",
  },
  OPLOG_HELLO_TIMEOUT: {
    close: 1008,
    retryable: true,
    halts: false,
    meaning:
      'A connection sent no hello within helloTimeoutMs of its upgrade; the consumer closed it to free the slot.',
    action:
      'None for a producer on a slow link (it reconnects); otherwise something opens connections to the consumer and stays silent: find it.',
  },
  OPLOG_VERSION_UNSUPPORTED: {
    close: 1002,
    retryable: false,
    halts: false,
    meaning: 'The peers share no protocol version.',
    action: 'Upgrade the older side so that both speak a common PROTOCOL_VERSION.',
  },
  OPLOG_FRAME_TOO_BIG: {
    close: 1009,
    retryable: false,
    halts: false,
    meaning:
      'A frame is larger than the peer accepts (its maxPayload): it is not read past its header; the error frame and the close reason give the limit.',
    action:
      "Raise the receiver's maxPayload, or lower the producer's batch.maxBytes; one source transaction must fit in a frame.",
  },
  OPLOG_UNAUTHORIZED: {
    close: 1008,
    retryable: false,
    halts: false,
    meaning:
      'The source credential is missing, malformed, unknown, wrong, expired or revoked, or names another source.',
    action:
      'Give the producer a valid token (oplog-consumer sources add <id>), and check that its hello names the source its token is for.',
  },
  OPLOG_SESSION_REPLACED: {
    close: 1008,
    retryable: true,
    halts: false,
    meaning: 'A newer session of the same source took over this one.',
    action: 'None: the producer reconnects. If it repeats, two producers run for one source: stop one.',
  },
  OPLOG_FOREIGN_ENTRY: {
    close: 1008,
    retryable: false,
    halts: false,
    meaning: "An entry names a source or incarnation other than the session's.",
    action:
      "A producer bug or a hostile peer: entries must carry the session's source and incarnation. Check the producer's version.",
  },
  OPLOG_UNKNOWN_ENTITY: {
    close: 1008,
    retryable: false,
    halts: false,
    meaning: 'An entry names an entity the consumer does not replicate.',
    action:
      "Replicate only entities the consumer has: add the entity to the consumer's entity module, or exclude it from capture at the source.",
  },
  OPLOG_UNKNOWN_FIELD: {
    close: 1008,
    retryable: false,
    halts: false,
    meaning: "An entry names a field the consumer's entity does not have.",
    action:
      'Align the entity definitions of both sides (the message names entity and field), or run the consumer with schemaPolicy apply-known.',
  },
  OPLOG_SEQ_GAP: {
    close: 1002,
    retryable: true,
    halts: false,
    meaning: "A batch does not continue from the consumer's cursor; the producer must resend from it.",
    action: "None: the producer resends from the consumer's cursor. If it repeats, report it with both sides' logs.",
  },
  OPLOG_ACK_MISMATCH: {
    close: 1002,
    retryable: true,
    halts: false,
    meaning: 'An ack names a frame that is not in flight.',
    action: "None: the session restarts and resends from the cursor. If it repeats, report it with both sides' logs.",
  },
  OPLOG_SOURCE_REWOUND: {
    close: 1008,
    retryable: true,
    halts: false,
    meaning:
      "The source's log does not continue what the consumer applied (its head is behind the cursor, or another transaction holds the cursor's seq): it was restored from a backup. The producer gives the source a new incarnation and reconnects; the consumer then resnapshots it.",
    action:
      "None: the producer renews the source's incarnation and the consumer resnapshots it. Check why the local database went back (a restore).",
  },
  OPLOG_HISTORY_TRIMMED: {
    close: 1008,
    retryable: false,
    halts: false,
    meaning: "The source's outbox no longer reaches back to the consumer's cursor; the source needs a snapshot.",
    action:
      "None with a current consumer (it asks for a snapshot instead). With an old one, upgrade it, or raise the producer's retainAcked.",
  },
  OPLOG_APPLY_FAILED: {
    close: 1011,
    retryable: true,
    halts: false,
    meaning:
      "The consumer could not commit a batch; nothing of it was applied. The message gives the error's class and code only: the whole error, SQL included, is in the consumer's log.",
    action:
      "Look at the consumer's log and database (disk, locks, connectivity); the batch is retried after the producer's backoff.",
  },
  OPLOG_PEER_TIMEOUT: {
    close: 1001,
    retryable: true,
    halts: false,
    meaning: 'The peer stopped answering pings.',
    action: 'Check the network between the two (and peerTimeoutMs); the producer reconnects by itself.',
  },
  OPLOG_SHUTTING_DOWN: {
    close: 1001,
    retryable: true,
    halts: false,
    meaning: 'The peer is stopping; reconnect later.',
    action: 'None: the peer is stopping; the producer reconnects once it is back.',
  },
  OPLOG_NEEDS_TRANSACTION: {
    close: 1011,
    retryable: false,
    halts: false,
    meaning: 'A write that capture must record ran outside a transaction (capture refuses it).',
    action: 'Run the write inside em.transactional(), so its oplog entries commit with it.',
  },
  OPLOG_CAPTURE_MISUSE: {
    close: 1011,
    retryable: false,
    halts: false,
    meaning: 'Capture was asked to record an entity it does not know or does not replicate.',
    action: 'Call recordWrites() only with entities capture replicates (see include/exclude).',
  },
  OPLOG_INTERNAL: {
    close: 1011,
    retryable: true,
    halts: false,
    meaning: 'An unexpected internal error.',
    action: 'Report it with the log line; the producer retries.',
  },
  OPLOG_SCHEMA_MISMATCH: {
    close: 1008,
    retryable: false,
    halts: false,
    meaning:
      "A replicated entity's fields or types differ between the source and the consumer (the message names the entity and field). Refused unless the consumer's schemaPolicy is apply-known.",
    action:
      'Deploy the same entity definitions on both sides (the message names entity and field), or run the consumer with schemaPolicy apply-known to apply the shared fields.',
  },
  OPLOG_SOURCE_BUSY: {
    close: 1008,
    retryable: true,
    halts: false,
    meaning:
      'Another live session of this source is streaming; the newcomer is refused until that one closes or goes silent.',
    action:
      'None if a producer is just restarting (it gets in once the old session is gone). Otherwise two producers run for one source: stop one.',
  },
  OPLOG_NOT_OWNER: {
    close: 1008,
    retryable: false,
    halts: true,
    meaning:
      'A change touches a row that another source created, or points at one (a relation, a many-to-many list); it is not applied. The source halts there, or the transaction is quarantined, as for a poison change.',
    action:
      'Two sources write the same rows: give their rows globally unique keys (UUIDs), or find the misconfigured source. The change is halted or quarantined (poison).',
  },
  OPLOG_POISON_CHANGE: {
    close: 1008,
    retryable: true,
    halts: true,
    meaning:
      'A source transaction the consumer cannot apply (a constraint violation, a row another source owns). The source halts there, its producer backing off and retrying, until the cause is fixed on the consumer; with poison: quarantine, the transaction is parked in oplog_quarantine and the stream goes on.',
    action:
      "Fix the cause on the consumer (the message names the entity, key and constraint of the first change refused; the consumer's log has the database's whole error), after which the source resumes by itself; or run with poison: quarantine and apply oplog_quarantine's rows by hand.",
  },
  OPLOG_CREDENTIAL_REVOKED: {
    close: 1008,
    retryable: false,
    halts: false,
    meaning: "The session's source credential was revoked, expired or replaced while it was connected.",
    action: 'Issue the source a new credential (oplog-consumer sources add <id>) if it should stream again.',
  },
  OPLOG_BATCH_TOO_BIG: {
    close: 1009,
    retryable: false,
    halts: false,
    meaning: 'A batch frame holds more entries than the consumer accepts (maxBatchEntries).',
    action: "Lower the producer's batch.maxEntries, or raise the consumer's maxBatchEntries.",
  },
  OPLOG_TLS_UNTRUSTED: {
    close: 1015,
    retryable: false,
    halts: false,
    meaning:
      "The consumer's TLS certificate could not be verified (unknown CA, expired, or another host name); it is never sent, only reported locally.",
    action:
      "Give the producer the CA that signed the consumer's certificate (tls.ca), and check the host name and the certificate's dates.",
  },
  OPLOG_CONSUMER_UNREACHABLE: {
    close: 1006,
    retryable: true,
    halts: false,
    meaning:
      'The producer could not reach a consumer at its url: the connection was refused, the host name did not resolve, it timed out, or something other than a consumer answered the upgrade (an HTTP status other than 401). It is never sent, only reported locally (1006: no connection); the producer keeps retrying with backoff.',
    action:
      "Check that the consumer runs and listens there, and the producer's url: its host, port and path (/oplog unless listen.path says otherwise), and any proxy between them.",
  },
  OPLOG_CENTER_LOCKED: {
    close: 1011,
    retryable: true,
    halts: false,
    meaning:
      'Another consumer holds the center database (one writer per center): this consumer refuses to start, or, having lost its lock while running, stops applying and exits. A producer connected to it reconnects, to whichever consumer holds the center.',
    action:
      'Run one consumer per center database: stop the other one (the message names it when known), or point this one at another database. A consumer that lost its lock exits non-zero; let its supervisor restart it.',
  },
  OPLOG_CURSOR_CONFLICT: {
    close: 1011,
    retryable: true,
    halts: false,
    meaning:
      "Another consumer wrote this source's cursor since this one read it: the step is refused, nothing of it is applied, and the source's next session starts from the cursor in the database.",
    action:
      'None if it is rare (the producer reconnects and resends from the durable cursor). If it repeats, two consumers write one center database: run one (see OPLOG_CENTER_LOCKED).',
  },
  OPLOG_CASCADE_NOT_CAPTURED: {
    close: null,
    retryable: false,
    halts: false,
    meaning:
      "A warning at start (producer) or at the first write (capture): a replicated relation has deleteRule 'cascade', so the rows the database deletes with their parent make no oplog entry and stay in the central copy.",
    action:
      "Remove such rows through the ORM (cascade: ['remove'], or orphanRemoval on a loaded collection), or record them with recordWrites(); the warning names the entity and relation.",
  },
  OPLOG_BAD_CONFIG: {
    close: null,
    retryable: false,
    halts: false,
    meaning:
      'A configuration (file, OPLOG_* environment variables, flags) failed validation, or names something that is not there (an entity module that does not load, a database or an SQLite directory that does not exist); the CLI prints one line on stderr and exits with status 2 before it starts. The line names each problem by its flag, variable or file key, separated by semicolons. (A failure while running, such as a database that cannot be reached or a port in use, is also one line on stderr, with status 1; OPLOG_LOG_LEVEL=debug adds the stack.)',
    action:
      'Fix what the line names (`--port: …`, `OPLOG_LISTEN__PORT in the environment: …`, `listen.port in app.json: …`) and start again; a database or SQLite directory that should be created is created with --create-db.',
  },
} as const satisfies Record<
  string,
  { close: number | null; retryable: boolean; halts: boolean; meaning: string; action: string }
>;

export type ErrorCode = keyof typeof ERRORS;

/** The codes a peer may be told (in an error frame and a close reason); the others are only reported locally. */
export type WireCode = { [C in ErrorCode]: (typeof ERRORS)[C]['close'] extends number ? C : never }[ErrorCode];

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERRORS, code);
}

export function isWireCode(code: string): code is WireCode {
  return isErrorCode(code) && ERRORS[code].close !== null;
}

/** Whether an error with this code halts its source (see `halts` in the table); an unknown code does not. */
export function haltsSource(code: string | undefined): boolean {
  return code !== undefined && isErrorCode(code) && ERRORS[code].halts;
}

/**
 * The close code and reason a side closes with for `code`: `CODE: detail`, cut to 123 bytes (RFC 6455 §5.5: 125
 * minus the status code).
 */
export function closeFor(code: WireCode, detail: string): { code: number; reason: string } {
  return { code: ERRORS[code].close, reason: truncateUtf8(`${code}: ${detail}`, 123) };
}

function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= maxBytes) return text;
  // Cutting mid-character leaves a U+FFFD; drop it.
  return new TextDecoder().decode(bytes.subarray(0, maxBytes)).replace(/\uFFFD$/, '');
}
