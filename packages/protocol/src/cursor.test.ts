import { describe, expect, it } from 'vitest';
import { admitBatch, advanceCursor, continuesCursor } from './cursor.js';
import type { OplogEntry } from './entry.js';

const session = { source: 's1', incarnation: 'i1' };
const entry = (seq: number, over: Partial<OplogEntry> = {}): OplogEntry => ({
  ...session,
  seq,
  txId: `t${seq}`,
  epoch: 1000 + seq,
  entity: 'Question',
  op: 'insert',
  pk: { id: String(seq) },
  after: { id: String(seq) },
  ...over,
});

describe('admitBatch', () => {
  const cursor = { incarnation: 'i1', seq: 3, epoch: 1003, txId: 't3' };

  it('keeps entries that continue the cursor', () => {
    expect(admitBatch(cursor, session, [entry(4), entry(5)]).map((e) => e.seq)).toEqual([4, 5]);
  });

  it('drops entries at or below the cursor (a resend after a lost ack)', () => {
    expect(admitBatch(cursor, session, [entry(2), entry(3), entry(4)]).map((e) => e.seq)).toEqual([4]);
    expect(admitBatch(cursor, session, [entry(1), entry(3)])).toEqual([]);
  });

  it('throws OPLOG_SEQ_GAP on a gap', () => {
    expect(() => admitBatch(cursor, session, [entry(5)])).toThrow(expect.objectContaining({ code: 'OPLOG_SEQ_GAP' }));
    expect(() => admitBatch(cursor, session, [entry(4), entry(6)])).toThrow(
      expect.objectContaining({ code: 'OPLOG_SEQ_GAP' }),
    );
  });

  it('throws OPLOG_SEQ_GAP when an old entry follows a new one', () => {
    expect(() => admitBatch(cursor, session, [entry(4), entry(2)])).toThrow(
      expect.objectContaining({ code: 'OPLOG_SEQ_GAP' }),
    );
  });

  it('throws OPLOG_FOREIGN_ENTRY for another source or incarnation', () => {
    expect(() => admitBatch(cursor, session, [entry(4, { source: 's2' })])).toThrow(
      expect.objectContaining({ code: 'OPLOG_FOREIGN_ENTRY' }),
    );
    expect(() => admitBatch(cursor, session, [entry(4, { incarnation: 'i0' })])).toThrow(
      expect.objectContaining({ code: 'OPLOG_FOREIGN_ENTRY' }),
    );
  });
});

describe('advanceCursor', () => {
  it('moves to the last entry and never moves the epoch back', () => {
    const next = advanceCursor({ incarnation: 'i1', seq: 3, epoch: 5000, txId: 't3' }, 'i1', [entry(4), entry(5)]);
    expect(next).toEqual({ incarnation: 'i1', seq: 5, epoch: 5000, txId: 't5' });
  });

  it('keeps the cursor for an empty list', () => {
    const cursor = { incarnation: null, seq: 0, epoch: 0, txId: null };
    expect(advanceCursor(cursor, 'i1', [])).toBe(cursor);
  });
});

describe('continuesCursor', () => {
  const cursor = { seq: 10, txId: 't10' };

  it('holds when the entry at the cursor is the applied one, or nothing was applied', () => {
    expect(continuesCursor(cursor, { seq: 12 }, 't10')).toBe(true);
    expect(continuesCursor({ seq: 0, txId: null }, { seq: 3 }, undefined)).toBe(true);
  });

  it('fails without a proof: the entry at the cursor gone before the head, or the cursor not knowing its transaction', () => {
    expect(continuesCursor(cursor, { seq: 11 }, undefined)).toBe(false);
    expect(continuesCursor({ seq: 10, txId: null }, { seq: 10 }, 'other')).toBe(false);
  });

  it("holds when the head's own entry is gone with nothing after it (trimmed after an ack of this history)", () => {
    expect(continuesCursor(cursor, { seq: 10 }, undefined)).toBe(true);
    expect(continuesCursor({ seq: 10, txId: null }, { seq: 10 }, undefined)).toBe(true);
  });

  it('fails for a head behind the cursor, or another transaction at its seq (a restored backup)', () => {
    expect(continuesCursor(cursor, { seq: 9 }, undefined)).toBe(false);
    expect(continuesCursor(cursor, { seq: 40 }, 't10-after-restore')).toBe(false);
  });
});
