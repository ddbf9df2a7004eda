import { describe, expect, it } from 'vitest';
import { decodeConsumerFrame, decodeProducerFrame, encodeFrame } from './codec.js';
import { OplogError } from './errors.js';
import { PROTOCOL_VERSION } from './version.js';

const hello = {
  type: 'hello',
  protocol: { min: PROTOCOL_VERSION, max: PROTOCOL_VERSION },
  source: 's1',
  incarnation: 'i1',
  head: { seq: 10, epoch: 123 },
  oldest: 11,
  schema: { Question: { id: 'uuid' } },
};

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return error instanceof OplogError ? error.code : `not an OplogError: ${error}`;
  }
  return 'no error';
};

describe('decodeProducerFrame', () => {
  it('round-trips a hello', () => {
    expect(decodeProducerFrame(encodeFrame(hello as never))).toEqual(hello);
  });

  it('rejects malformed JSON with OPLOG_BAD_JSON', () => {
    expect(codeOf(() => decodeProducerFrame('{"type":'))).toBe('OPLOG_BAD_JSON');
  });

  it('rejects unknown frame types with OPLOG_UNKNOWN_FRAME', () => {
    expect(codeOf(() => decodeProducerFrame('{"type":"drop_tables"}'))).toBe('OPLOG_UNKNOWN_FRAME');
  });

  it('rejects a consumer-only frame coming from a producer', () => {
    expect(codeOf(() => decodeProducerFrame('{"type":"ack","id":1,"seq":1}'))).toBe('OPLOG_UNKNOWN_FRAME');
  });

  it('rejects wrong types and extra keys with OPLOG_BAD_FRAME', () => {
    expect(codeOf(() => decodeProducerFrame(JSON.stringify({ ...hello, head: { seq: '10', epoch: 1 } })))).toBe(
      'OPLOG_BAD_FRAME',
    );
    expect(codeOf(() => decodeProducerFrame(JSON.stringify({ ...hello, extra: 1 })))).toBe('OPLOG_BAD_FRAME');
  });

  it('rejects a delete that carries an after-image', () => {
    const entry = {
      source: 's',
      incarnation: 'i',
      seq: 1,
      txId: 't',
      epoch: 1,
      entity: 'Q',
      op: 'delete',
      pk: { id: 1 },
      after: {},
    };
    expect(codeOf(() => decodeProducerFrame(JSON.stringify({ type: 'batch', id: 1, entries: [entry] })))).toBe(
      'OPLOG_BAD_FRAME',
    );
  });
});

describe('decodeConsumerFrame', () => {
  it('accepts an ack and refuses a batch', () => {
    expect(decodeConsumerFrame('{"type":"ack","id":1,"seq":5}')).toEqual({ type: 'ack', id: 1, seq: 5 });
    expect(codeOf(() => decodeConsumerFrame('{"type":"batch","id":1,"entries":[]}'))).toBe('OPLOG_UNKNOWN_FRAME');
  });
});

describe('OplogError', () => {
  it('carries its close code and cuts the close reason to 123 bytes', () => {
    const error = OplogError.badFrame('é'.repeat(200));
    expect(error.closeCode).toBe(1007);
    expect(Buffer.byteLength(error.closeReason)).toBeLessThanOrEqual(123);
  });

  it('gives a peer the class and code of the database error that failed a batch, never its SQL', () => {
    const sql = `insert into "choice" ("id") values ('x') - SQLITE_BUSY: database is locked`;
    const cause = Object.assign(new Error(sql), { name: 'LockWaitTimeoutException', code: 'SQLITE_BUSY' });
    const error = OplogError.applyFailed(cause);
    expect(error.message).toBe(
      "batch not applied (LockWaitTimeoutException SQLITE_BUSY); the cause is in the consumer's log",
    );
    expect(error.cause).toBe(cause);
  });
});
