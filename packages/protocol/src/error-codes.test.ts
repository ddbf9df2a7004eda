import { describe, expect, it } from 'vitest';
import { closeFor, ERRORS, type ErrorCode, haltsSource, isErrorCode, isWireCode } from './error-codes.js';
import { OplogError } from './errors.js';

const codes = Object.keys(ERRORS) as ErrorCode[];

describe('ERRORS', () => {
  it('names every code after itself, OPLOG_ and capitals', () => {
    for (const code of codes) expect(code).toMatch(/^OPLOG_[A-Z_]+$/);
  });

  it('halts a source on a poison change and on a row of another source only', () => {
    expect(codes.filter((code) => ERRORS[code].halts).sort()).toEqual(['OPLOG_NOT_OWNER', 'OPLOG_POISON_CHANGE']);
  });

  it('keeps the codes reported only locally out of the wire', () => {
    expect(codes.filter((code) => !isWireCode(code)).sort()).toEqual([
      'OPLOG_BAD_CONFIG',
      'OPLOG_CASCADE_NOT_CAPTURED',
    ]);
    expect(isErrorCode('OPLOG_BAD_CONFIG')).toBe(true);
    expect(isWireCode('OPLOG_BOGUS')).toBe(false);
  });
});

describe('haltsSource', () => {
  it('follows the table, and does not halt on an unknown code or none', () => {
    expect(haltsSource('OPLOG_POISON_CHANGE')).toBe(true);
    expect(haltsSource('OPLOG_NOT_OWNER')).toBe(true);
    expect(haltsSource('OPLOG_APPLY_FAILED')).toBe(false);
    expect(haltsSource('OPLOG_BOGUS')).toBe(false);
    expect(haltsSource('toString')).toBe(false);
    expect(haltsSource(undefined)).toBe(false);
  });

  it('is what an OplogError says of itself', () => {
    expect(OplogError.notOwner('Question', '{"id":1}', 'shop-2').haltsSource).toBe(true);
    expect(OplogError.seqGap(2, 3).haltsSource).toBe(false);
  });
});

describe('closeFor', () => {
  it("gives the table's close code and `CODE: detail`", () => {
    expect(closeFor('OPLOG_SHUTTING_DOWN', 'producer stopping')).toEqual({
      code: 1001,
      reason: 'OPLOG_SHUTTING_DOWN: producer stopping',
    });
    expect(closeFor('OPLOG_HELLO_FIRST', 'no hello in time').code).toBe(1002);
  });

  it('cuts the reason to 123 bytes without splitting a character', () => {
    const { reason } = closeFor('OPLOG_INTERNAL', 'é'.repeat(100));
    expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
    expect(Buffer.byteLength(reason)).toBeGreaterThanOrEqual(122);
    expect(reason).toMatch(/^OPLOG_INTERNAL: é+$/);
  });

  it('is the close an OplogError closes with', () => {
    const error = OplogError.sourceBusy('shop-1');
    expect(closeFor(error.code, error.message)).toEqual({ code: error.closeCode, reason: error.closeReason });
  });
});

describe('OplogError.fromFrame', () => {
  it('keeps a wire code, and turns an unknown or local-only one into OPLOG_INTERNAL', () => {
    expect(OplogError.fromFrame({ code: 'OPLOG_SEQ_GAP', message: 'm' }).code).toBe('OPLOG_SEQ_GAP');
    expect(OplogError.fromFrame({ code: 'OPLOG_BOGUS', message: 'm' }).code).toBe('OPLOG_INTERNAL');
    expect(OplogError.fromFrame({ code: 'OPLOG_BAD_CONFIG', message: 'm' }).code).toBe('OPLOG_INTERNAL');
  });
});
