import { MAX_FRAME_DEPTH } from './depth-check.js';
import { closeFor, ERRORS, isWireCode, type WireCode } from './error-codes.js';

/** An error with a stable code, one a peer may be told; `cause` keeps the original error. */
export class OplogError extends Error {
  override readonly name = 'OplogError';
  readonly code: WireCode;

  constructor(code: WireCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  get closeCode(): number {
    return ERRORS[this.code].close;
  }

  get retryable(): boolean {
    return ERRORS[this.code].retryable;
  }

  /** Whether this error halts its source (the table's `halts`). */
  get haltsSource(): boolean {
    return ERRORS[this.code].halts;
  }

  /** `CODE: message`, cut to fit a close frame (see closeFor). */
  get closeReason(): string {
    return closeFor(this.code, this.message).reason;
  }

  static badJson(cause: unknown) {
    return new OplogError('OPLOG_BAD_JSON', 'frame is not valid JSON', { cause });
  }

  static badFrame(detail: string) {
    return new OplogError('OPLOG_BAD_FRAME', detail);
  }

  static nestedTooDeep(where: string) {
    return new OplogError('OPLOG_BAD_FRAME', `${where || 'frame'}: nested deeper than ${MAX_FRAME_DEPTH} levels`);
  }

  static unknownFrame(type: unknown) {
    return new OplogError('OPLOG_UNKNOWN_FRAME', `unexpected frame type ${JSON.stringify(type)}`);
  }

  static helloFirst(type: string) {
    return new OplogError('OPLOG_HELLO_FIRST', `got ${type} before the handshake`);
  }

  static versionUnsupported(min: number, max: number) {
    return new OplogError(
      'OPLOG_VERSION_UNSUPPORTED',
      `peer speaks protocol ${min}..${max}, this side speaks a disjoint range`,
    );
  }

  static seqGap(expected: number, got: number) {
    return new OplogError('OPLOG_SEQ_GAP', `expected seq ${expected}, got ${got}`);
  }

  static foreignEntry(seq: number) {
    return new OplogError('OPLOG_FOREIGN_ENTRY', `entry ${seq} belongs to another source or incarnation`);
  }

  static unknownEntity(entity: string) {
    return new OplogError('OPLOG_UNKNOWN_ENTITY', `entity ${JSON.stringify(entity)} is not replicated here`);
  }

  static unknownField(entity: string, field: string) {
    return new OplogError('OPLOG_UNKNOWN_FIELD', `entity ${entity} has no field ${JSON.stringify(field)}`);
  }

  static ackMismatch(id: number) {
    return new OplogError('OPLOG_ACK_MISMATCH', `ack for frame ${id}, which is not in flight`);
  }

  static sourceRewound(head: number, cursor: number) {
    return new OplogError('OPLOG_SOURCE_REWOUND', `source head ${head} is behind the consumer's cursor ${cursor}`);
  }

  static sourceDiverged(seq: number) {
    return new OplogError(
      'OPLOG_SOURCE_REWOUND',
      `the source's entry ${seq} is not the one the consumer applied: its history was rewound (restored from a backup?)`,
    );
  }

  static schemaMismatch(problems: readonly string[]) {
    const more = problems.length > 3 ? ` (and ${problems.length - 3} more)` : '';
    return new OplogError('OPLOG_SCHEMA_MISMATCH', `schema differs: ${problems.slice(0, 3).join('; ')}${more}`);
  }

  /** `what`: the change refused and why, as the consumer diagnosed it (entity, key, constraint; never SQL). */
  static poisonChange(first: number, last: number, what: string, cause: unknown) {
    return new OplogError('OPLOG_POISON_CHANGE', `${what} (changes ${first}..${last} not applied)`, { cause });
  }

  static sourceBusy(source: string) {
    return new OplogError('OPLOG_SOURCE_BUSY', `source ${source} already has a live session`);
  }

  static notOwner(entity: string, pk: string, owner: string) {
    return new OplogError('OPLOG_NOT_OWNER', `${entity} ${pk} belongs to source ${owner}`);
  }

  /** A change of `from` points at a row of another source: references stay inside a source. */
  static foreignReference(from: string, entity: string, pk: string, owner: string) {
    return new OplogError(
      'OPLOG_NOT_OWNER',
      `${from} references ${entity} ${pk}, which belongs to source ${owner}: a source's rows may only reference its own`,
    );
  }

  static historyTrimmed(cursor: number, oldest: number) {
    return new OplogError(
      'OPLOG_HISTORY_TRIMMED',
      `resume point ${cursor + 1} was trimmed; the oldest entry is ${oldest}`,
    );
  }

  /** A database error's message quotes the SQL, rows included: the peer gets its class and code, the log the rest. */
  static applyFailed(cause: unknown) {
    const { name, code } = (cause ?? {}) as { name?: unknown; code?: unknown };
    const kind = `${typeof name === 'string' ? name : 'error'}${typeof code === 'string' || typeof code === 'number' ? ` ${code}` : ''}`;
    return new OplogError('OPLOG_APPLY_FAILED', `batch not applied (${kind}); the cause is in the consumer's log`, {
      cause,
    });
  }

  static peerTimeout() {
    return new OplogError('OPLOG_PEER_TIMEOUT', 'peer did not answer the ping in time');
  }

  static internal(cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new OplogError('OPLOG_INTERNAL', reason, { cause });
  }

  static needsTransaction(what: string) {
    return new OplogError(
      'OPLOG_NEEDS_TRANSACTION',
      `${what} must run inside em.transactional() so its oplog entries commit with it`,
    );
  }

  static captureMisuse(detail: string) {
    return new OplogError('OPLOG_CAPTURE_MISUSE', detail);
  }

  /** Rebuilds an error received in an `error` frame. */
  static fromFrame(frame: { code: string; message: string }) {
    return new OplogError(isWireCode(frame.code) ? frame.code : 'OPLOG_INTERNAL', frame.message);
  }

  static unauthorized(detail: string) {
    return new OplogError('OPLOG_UNAUTHORIZED', detail);
  }

  static credentialRevoked(sourceId: string) {
    return new OplogError('OPLOG_CREDENTIAL_REVOKED', `the credential of source ${sourceId} is no longer valid`);
  }

  static batchTooBig(entries: number, max: number) {
    return new OplogError('OPLOG_BATCH_TOO_BIG', `batch of ${entries} entries; at most ${max} are accepted`);
  }

  static frameTooBig(maxPayload: number) {
    return new OplogError('OPLOG_FRAME_TOO_BIG', `frame over ${maxPayload} bytes (maxPayload); not read`);
  }

  /** `holder`: who holds the center database, as far as it is known (pid, host, since when). */
  static centerLocked(holder: string | undefined) {
    return new OplogError(
      'OPLOG_CENTER_LOCKED',
      `another consumer holds the center database${holder ? ` (${holder})` : ''}; one consumer per center`,
    );
  }

  static centerLockLost(reason: string) {
    return new OplogError('OPLOG_CENTER_LOCKED', `this consumer lost its lock on the center database: ${reason}`);
  }

  static cursorConflict(source: string, cause: unknown) {
    return new OplogError(
      'OPLOG_CURSOR_CONFLICT',
      `another consumer wrote the cursor of source ${source} since this one read it; the step was not applied`,
      { cause },
    );
  }

  static tlsUntrusted(cause: Error & { code?: string }) {
    return new OplogError(
      'OPLOG_TLS_UNTRUSTED',
      `the consumer's certificate is not trusted (${cause.code ?? 'TLS'}: ${cause.message}); set tls.ca to the CA that signed it`,
      { cause },
    );
  }
}
