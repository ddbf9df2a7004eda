import { describe, expect, it } from 'vitest';
import type { SnapshotPage } from './frames.js';
import {
  advanceSnapshot,
  planSession,
  type SnapshotProgress,
  type SourceRecord,
  snapshotReady,
} from './source-plan.js';

const ENTITIES = ['Tag', 'Question', 'Choice'];
const hello = { incarnation: 'i1', head: { seq: 50, epoch: 5000 }, oldest: 41 };
const streaming: SourceRecord = {
  cursor: { incarnation: 'i1', seq: 45, epoch: 4500, txId: 't45' },
  covered: ENTITIES,
  snapshot: undefined,
};
const progress: SnapshotProgress = {
  incarnation: 'i1',
  reason: 'new-source',
  entities: ENTITIES,
  done: 1,
  after: { id: 'q9' },
  highWater: 50,
  rows: 30,
  total: 100,
};
const page = (over: Partial<SnapshotPage>): SnapshotPage => ({
  type: 'snapshot',
  id: 1,
  entity: 'Question',
  rows: [{ id: 'q10' }, { id: 'q11' }],
  after: { id: 'q11' },
  head: { seq: 52, epoch: 5200 },
  remaining: 70,
  done: false,
  ...over,
});

describe('planSession', () => {
  it('streams a source whose log continues the cursor', () => {
    expect(planSession(streaming, hello, ENTITIES)).toEqual({ kind: 'stream' });
  });

  it('snapshots everything for a new source, a new incarnation or a trimmed history', () => {
    const fresh = { cursor: { incarnation: null, seq: 0, epoch: 0, txId: null }, covered: [], snapshot: undefined };
    expect(planSession(fresh, hello, ENTITIES)).toMatchObject({ kind: 'snapshot', fresh: true, reason: 'new-source' });
    expect(planSession(streaming, { ...hello, incarnation: 'i2' }, ENTITIES)).toMatchObject({
      reason: 'new-incarnation',
      request: { entities: ENTITIES, resume: null },
    });
    expect(planSession(streaming, { ...hello, oldest: 47 }, ENTITIES)).toMatchObject({ reason: 'history-trimmed' });
  });

  it('refuses a head behind the cursor of the same incarnation (a restored backup)', () => {
    const plan = planSession(streaming, { ...hello, head: { seq: 40, epoch: 1 } }, ENTITIES);
    expect(plan).toMatchObject({ kind: 'refuse', error: { code: 'OPLOG_SOURCE_REWOUND' } });
  });

  it('resumes an interrupted snapshot of the same incarnation after its last durable key', () => {
    expect(planSession({ ...streaming, snapshot: progress }, hello, ENTITIES)).toEqual({
      kind: 'snapshot',
      fresh: false,
      reason: 'new-source',
      request: { entities: ['Question', 'Choice'], resume: { entity: 'Question', after: { id: 'q9' } } },
      cursor: streaming.cursor,
    });
  });

  it("starts a whole snapshot's cursor at the hello's head and its transaction, so a later restore shows", () => {
    const plan = planSession(streaming, { ...hello, incarnation: 'i2', headTxId: 't50' }, ENTITIES);
    expect(plan).toMatchObject({ cursor: { incarnation: 'i2', seq: 50, epoch: 5000, txId: 't50' } });
  });

  it('streams the log when every page of an interrupted snapshot is in, so that the log can complete it', () => {
    const allPages = { ...progress, done: ENTITIES.length, after: null };
    expect(planSession({ ...streaming, snapshot: allPages }, hello, ENTITIES)).toEqual({ kind: 'stream' });
  });

  it('snapshots only the entities the consumer never had', () => {
    expect(planSession({ ...streaming, covered: ['Question', 'Choice'] }, hello, ENTITIES)).toMatchObject({
      reason: 'new-entities',
      request: { entities: ['Tag'], resume: null },
    });
  });
});

describe('advanceSnapshot', () => {
  it('moves the key, the high-water mark and the counts on', () => {
    expect(advanceSnapshot(progress, page({}))).toMatchObject({
      done: 1,
      after: { id: 'q11' },
      highWater: 52,
      rows: 32,
    });
    expect(advanceSnapshot(progress, page({ done: true }))).toMatchObject({ done: 2, after: null, total: 100 });
  });

  it('refuses a page of another entity than the one expected', () => {
    expect(() => advanceSnapshot(progress, page({ entity: 'Choice' }))).toThrow(/expected Question/);
  });

  it('is ready once every page came and the log passed the newest page', () => {
    const complete = { ...progress, done: 3, highWater: 60 };
    expect(snapshotReady(complete, { seq: 59 })).toBe(false);
    expect(snapshotReady(complete, { seq: 60 })).toBe(true);
    expect(snapshotReady({ ...complete, done: 2 }, { seq: 90 })).toBe(false);
  });
});
