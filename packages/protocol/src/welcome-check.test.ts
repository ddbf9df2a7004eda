import { describe, expect, it } from 'vitest';
import type { Welcome } from './frames.js';
import { PROTOCOL_VERSION } from './version.js';
import { checkWelcome, type ProducerLog } from './welcome-check.js';

/** A producer of incarnation i1 whose outbox holds seqs 5..10, the entry at the cursor (8) being of tx t8. */
const log: ProducerLog = {
  incarnation: 'i1',
  schema: { Question: { id: 'string' }, Answer: { id: 'string' } },
  headSeq: 10,
  txIdAtCursor: 't8',
  oldest: 5,
};

const welcome = (changes: Partial<Welcome> = {}): Welcome => ({
  type: 'welcome',
  protocol: PROTOCOL_VERSION,
  incarnation: 'i1',
  cursor: { seq: 8, epoch: 1, txId: 't8' },
  snapshot: null,
  ...changes,
});

const snapshot = (entities: string[]) => ({ entities, resume: null });

describe('checkWelcome', () => {
  it('accepts a cursor of this incarnation that the log continues', () => {
    expect(checkWelcome(welcome(), log)).toBeUndefined();
  });

  it('refuses a cursor beyond the head: the source went back (OPLOG_SOURCE_REWOUND)', () => {
    const error = checkWelcome(welcome({ cursor: { seq: 12, epoch: 1, txId: 't12' } }), {
      ...log,
      txIdAtCursor: undefined,
    });
    expect(error?.code).toBe('OPLOG_SOURCE_REWOUND');
    expect(error?.message).toContain('entry 12');
  });

  it("refuses a cursor whose entry is another transaction's: another history (OPLOG_SOURCE_REWOUND)", () => {
    expect(checkWelcome(welcome(), { ...log, txIdAtCursor: 'other' })?.code).toBe('OPLOG_SOURCE_REWOUND');
  });

  it('checks continuity before a snapshot too: a resumed one continues the history it began on', () => {
    const resumed = welcome({
      snapshot: { entities: ['Question'], resume: { entity: 'Question', after: { id: 'q' } } },
    });
    expect(checkWelcome(resumed, { ...log, txIdAtCursor: 'other' })?.code).toBe('OPLOG_SOURCE_REWOUND');
    expect(checkWelcome(resumed, log)).toBeUndefined();
  });

  it('does not check a cursor of another incarnation, or of none: that welcome asks for a snapshot', () => {
    const fresh = { incarnation: null, cursor: { seq: 0, epoch: 0, txId: null }, snapshot: snapshot(['Question']) };
    expect(
      checkWelcome(welcome(fresh), { ...log, headSeq: 0, txIdAtCursor: undefined, oldest: undefined }),
    ).toBeUndefined();
    const renewed = welcome({
      incarnation: 'i0',
      cursor: { seq: 99, epoch: 1, txId: 'x' },
      snapshot: snapshot(['Answer']),
    });
    expect(checkWelcome(renewed, { ...log, txIdAtCursor: undefined })).toBeUndefined();
  });

  it('refuses a snapshot of an entity this source does not replicate (OPLOG_UNKNOWN_ENTITY), naming it', () => {
    const error = checkWelcome(welcome({ snapshot: snapshot(['Question', 'Secret']) }), log);
    expect(error?.code).toBe('OPLOG_UNKNOWN_ENTITY');
    expect(error?.message).toContain('"Secret"');
  });

  it('does not take an inherited property for a replicated entity', () => {
    expect(checkWelcome(welcome({ snapshot: snapshot(['toString']) }), log)?.code).toBe('OPLOG_UNKNOWN_ENTITY');
  });

  it('refuses to stream from a cursor the outbox no longer reaches (OPLOG_HISTORY_TRIMMED)', () => {
    const start = { seq: 0, epoch: 0, txId: null };
    const error = checkWelcome(welcome({ cursor: start }), { ...log, txIdAtCursor: undefined });
    expect(error?.code).toBe('OPLOG_HISTORY_TRIMMED');
    expect(error?.message).toBe('resume point 1 was trimmed; the oldest entry is 5');
  });

  it('checks continuity first: an entry gone at the cursor with later ones left is no proof (OPLOG_SOURCE_REWOUND)', () => {
    const gone = checkWelcome(welcome({ cursor: { seq: 3, epoch: 1, txId: 't3' } }), {
      ...log,
      txIdAtCursor: undefined,
    });
    expect(gone?.code).toBe('OPLOG_SOURCE_REWOUND');
  });

  it('resumes from the oldest entry, right before it, or from an emptied outbox', () => {
    expect(
      checkWelcome(welcome({ cursor: { seq: 5, epoch: 1, txId: 't5' } }), { ...log, txIdAtCursor: 't5' }),
    ).toBeUndefined();
    const start = { seq: 0, epoch: 0, txId: null };
    expect(checkWelcome(welcome({ cursor: start }), { ...log, txIdAtCursor: undefined, oldest: 1 })).toBeUndefined();
    const emptied = { ...log, headSeq: 8, txIdAtCursor: undefined, oldest: undefined };
    expect(checkWelcome(welcome(), emptied)).toBeUndefined();
  });

  it('does not hold a snapshot request to the trim point: the consumer chose its cursor for it', () => {
    const asked = welcome({ cursor: { seq: 0, epoch: 0, txId: null }, snapshot: snapshot(['Question']) });
    expect(checkWelcome(asked, { ...log, txIdAtCursor: undefined })).toBeUndefined();
  });
});
