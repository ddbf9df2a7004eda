import { describe, expect, it } from 'vitest';
import { encodeBatch, packEntries, type StoredEntry } from './batch-encode.js';
import { decodeProducerFrame, encodeFrame } from './codec.js';
import type { OplogEntry } from './entry.js';

const session = { source: 'shop-"1"', incarnation: 'i1' };

const entry = (seq: number, txId: string, changes: Partial<OplogEntry> = {}): OplogEntry => ({
  source: session.source,
  incarnation: session.incarnation,
  seq,
  txId,
  epoch: 1_700_000_000_000 + seq,
  entity: 'Question',
  op: 'insert',
  pk: { id: `q${seq}` },
  after: { id: `q${seq}`, text: 'Why?' },
  ...changes,
});

/** As the outbox stores an entry: JSON text for pk, after-image and changed; PostgreSQL gives bigints as strings. */
const stored = (e: OplogEntry, bigintsAsText = false): StoredEntry => ({
  seq: bigintsAsText ? String(e.seq) : e.seq,
  txId: e.txId,
  epoch: bigintsAsText ? String(e.epoch) : e.epoch,
  entity: e.entity,
  op: e.op,
  pk: JSON.stringify(e.pk),
  after: e.after === undefined ? null : JSON.stringify(e.after),
  changed: e.changed === undefined ? null : JSON.stringify(e.changed),
});

const seqsOf = (json: string) => (JSON.parse(json) as OplogEntry[]).map((e) => e.seq);

describe('packEntries and encodeBatch', () => {
  const entries: OplogEntry[] = [
    entry(1, 't1'),
    entry(2, 't1', {
      op: 'update',
      after: { id: 'q2', text: 'é "quoted" \\ \n\u2028 😀', meta: { a: [1, null, true] } },
      changed: ['text', 'meta'],
    }),
    entry(3, 't2', { op: 'delete', after: undefined, pk: { shop: 's', id: 7 } }),
    entry(4, 't3', { entity: 'Answer', op: 'update', changed: [] }),
  ];

  it('round-trips: the decoded batch is the entries, and the text is what encodeFrame gives', () => {
    for (const bigintsAsText of [false, true]) {
      const packed = packEntries(
        session,
        entries.map((e) => stored(e, bigintsAsText)),
        1 << 20,
        undefined,
      );
      expect(packed).toMatchObject({ count: 4, partial: false });
      const text = encodeBatch(9, packed.json, false);
      expect(decodeProducerFrame(text)).toEqual({ type: 'batch', id: 9, entries });
      expect(text).toBe(encodeFrame({ type: 'batch', id: 9, entries }));
    }
  });

  it('round-trips a partial batch', () => {
    const text = encodeBatch(
      3,
      packEntries(
        session,
        entries.map((e) => stored(e)),
        1 << 20,
        undefined,
      ).json,
      true,
    );
    expect(decodeProducerFrame(text)).toEqual({ type: 'batch', id: 3, entries, partial: true });
    expect(text).toBe(encodeFrame({ type: 'batch', id: 3, entries, partial: true }));
  });

  it('ends on the last transaction boundary when the entry after them continues a transaction', () => {
    const rows = [entry(1, 't1'), entry(2, 't2'), entry(3, 't2')].map((e) => stored(e));
    const packed = packEntries(session, rows, 1 << 20, stored(entry(4, 't2')));
    expect([seqsOf(packed.json), packed.count, packed.partial]).toEqual([[1], 1, false]);
  });

  it('keeps every entry when the next one starts a new transaction, or there is none', () => {
    const rows = [entry(1, 't1'), entry(2, 't2')].map((e) => stored(e));
    expect(packEntries(session, rows, 1 << 20, stored(entry(3, 't3'))).count).toBe(2);
    expect(packEntries(session, rows, 1 << 20, undefined).count).toBe(2);
  });

  it('sends a transaction larger than the batch in parts: all it can, marked partial', () => {
    const rows = [entry(1, 't1'), entry(2, 't1')].map((e) => stored(e));
    const packed = packEntries(session, rows, 1 << 20, stored(entry(3, 't1')));
    expect([seqsOf(packed.json), packed.partial]).toEqual([[1, 2], true]);
  });

  it('takes entries while the text so far is within maxBytes, so the last one taken may pass it', () => {
    const rows = [entry(1, 't1'), entry(2, 't2')].map((e) => stored(e));
    const [first, second] = rows.map((row) => packEntries(session, [row], 1 << 20, undefined).json.length - 2);
    // `[` + the first entry + `,`: 3 + first characters so far; the second entry is taken only if that fits.
    expect(packEntries(session, rows, 3 + first!, undefined).count).toBe(2);
    expect(packEntries(session, rows, 2 + first!, undefined).count).toBe(1);
    // `[first,second]`: past the limit by the second entry and the closing bracket.
    expect(packEntries(session, rows, 3 + first!, undefined).json.length).toBe(3 + first! + second!);
  });

  it('cuts back to the last transaction boundary when maxBytes stops it inside a transaction', () => {
    const rows = [entry(1, 't1'), entry(2, 't2'), entry(3, 't2'), entry(4, 't3')].map((e) => stored(e));
    const one = packEntries(session, [rows[0]!], 1 << 20, undefined).json.length - 2;
    // Room for the first entry only: the second is taken past the limit, and t2 continues after it.
    const packed = packEntries(session, rows, 3 + one, undefined);
    expect([seqsOf(packed.json), packed.partial]).toEqual([[1], false]);
  });

  it('cuts a first transaction over maxBytes at the limit, partial; it still sends one entry at least', () => {
    const rows = [entry(1, 't1'), entry(2, 't1'), entry(3, 't1')].map((e) => stored(e));
    const packed = packEntries(session, rows, 10, undefined);
    expect([seqsOf(packed.json), packed.partial]).toEqual([[1], true]);
  });
});
