import { describe, expect, it } from 'vitest';
import { checkBatch } from './batch-check.js';
import { decodeProducerFrame } from './codec.js';
import { OplogError } from './errors.js';
import { batchSchema } from './frames.js';

const entry = {
  source: 's1',
  incarnation: 'i1',
  seq: 7,
  txId: 't1',
  epoch: 1_700_000_000_000,
  entity: 'Question',
  op: 'update',
  pk: { id: 'q1' },
  after: { id: 'q1', questionText: 'Why?', meta: { nested: [1, null, 'x'] } },
  changed: ['questionText'],
};

const long = 'x'.repeat(129);
/** One change to a valid entry per case: each either keeps it valid or breaks exactly one rule. */
const variants: Record<string, unknown>[] = [
  {},
  { changed: undefined },
  { changed: [] },
  { op: 'insert', changed: undefined },
  { op: 'delete', after: undefined, changed: undefined },
  { op: 'delete' },
  { op: 'insert', after: undefined },
  { op: 'upsert' },
  { op: 1 },
  { seq: 0 },
  { seq: -1 },
  { seq: 1.5 },
  { seq: 2 ** 53 },
  { seq: '7' },
  { epoch: 0 },
  { epoch: -1 },
  { epoch: 0.5 },
  { source: '' },
  { source: long },
  { source: 'x'.repeat(128) },
  { incarnation: 3 },
  { txId: null },
  { entity: undefined },
  { pk: {} },
  { pk: null },
  { pk: [] },
  { pk: 'q1' },
  { pk: { '': 1 } },
  { pk: { [long]: 1 } },
  { after: null },
  { after: [] },
  { after: { id: 'q1', [long]: 1 } },
  { changed: 'questionText' },
  { changed: [''] },
  { changed: [1] },
  { changed: null },
  { extra: 1 },
];

const batch = (entries: unknown[], more: Record<string, unknown> = {}) => ({ type: 'batch', id: 1, entries, ...more });

describe('checkBatch', () => {
  it('accepts and refuses exactly what batchSchema does, entry by entry', () => {
    for (const change of variants) {
      const mutated = JSON.parse(JSON.stringify({ ...entry, ...change }));
      const frame = batch([entry, mutated]);
      const byZod = batchSchema.safeParse(frame).success;
      let byHand = true;
      try {
        checkBatch(frame);
      } catch (error) {
        expect(error).toBeInstanceOf(OplogError);
        expect((error as OplogError).code).toBe('OPLOG_BAD_FRAME');
        expect((error as OplogError).message).toMatch(/^entries\.1/);
        byHand = false;
      }
      expect({ change, ok: byHand }).toEqual({ change, ok: byZod });
    }
  });

  it('checks the envelope as batchSchema does', () => {
    for (const frame of [
      batch([entry]),
      batch([]),
      batch([entry], { id: 0 }),
      batch([entry], { id: 1.5 }),
      batch([entry], { id: '1' }),
      batch([entry], { extra: true }),
      batch([entry], { partial: true }),
      batch([entry], { partial: false }),
      batch([entry], { partial: 'yes' }),
      { type: 'batch', id: 1 },
      batch({ 0: entry } as never),
    ]) {
      const byZod = batchSchema.safeParse(frame).success;
      let byHand = true;
      try {
        checkBatch(frame);
      } catch {
        byHand = false;
      }
      expect({ frame, ok: byHand }).toEqual({ frame, ok: byZod });
    }
  });

  it('is what decodeProducerFrame uses for batches, returning the same value zod would', () => {
    const frame = batch([entry, { ...entry, seq: 8, op: 'delete', after: undefined, changed: undefined }]);
    const json = JSON.stringify(frame);
    expect(decodeProducerFrame(json)).toEqual(batchSchema.parse(JSON.parse(json)));
  });
});
