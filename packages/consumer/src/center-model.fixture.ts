import { randomUUID } from 'node:crypto';
import { pollsEntities } from '@oplog/demo/entities';
import type { Json, OplogEntry } from '@oplog/protocol';
import { createLogger, openOrm } from '@oplog/runtime';
import { BareProducer, fingerprintOf, helloOf } from '@oplog/testing/bare-producer';
import { createTestDatabase, type Driver } from '@oplog/testing/databases';
import { REPLICATED } from '@oplog/testing/stream-harness';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CenterModel,
  type Change,
  type Outcome,
  type Spelling,
  sortOwners,
  spell,
} from './center-model-reference.fixture.js';
import { type Consumer, createConsumer } from './consumer.js';
import { CredentialStore } from './credential-store.js';
import { consumerEntities } from './tables.js';

/**
 * The center against a reference model, over generated histories of several sources with valid credentials: small
 * and big transactions (the big ones in `partial` parts), every spelling of a key, rows and references of other
 * sources, and connections cut in the middle of a transaction. After every transaction the source's session must end
 * as the model says (acked, or refused with the model's code), and at the end the center's rows, owners and cursors
 * must be exactly the model's. fast-check shrinks a failure to its smallest history and prints the seed to replay it
 * (OPLOG_PROPERTY_SEED, OPLOG_PROPERTY_RUNS for a longer run).
 */

const QUESTIONS = 4;
const CHOICES = 5;
/** Entries per batch frame when a transaction goes in parts. */
const PART = 400;
const RUNS = Number(process.env.OPLOG_PROPERTY_RUNS ?? 25);
const BIG = Number(process.env.OPLOG_PROPERTY_BIG ?? 2500);

interface Keys {
  questions: string[];
  choices: string[];
}

type Step =
  | { kind: 'tx'; source: number; changes: GeneratedChange[]; cutAfterPart?: number }
  | { kind: 'big'; source: number; question: number; size: number };

type GeneratedChange =
  | { entity: 'Question'; op: 'insert' | 'update' | 'delete'; key: number; spelling: Spelling; text: string }
  | {
      entity: 'Choice';
      op: 'insert' | 'update' | 'delete';
      key: number;
      spelling: Spelling;
      question: number;
      questionSpelling: Spelling;
      votes: number;
    };

const spelling = fc.oneof(
  { weight: 40, arbitrary: fc.constantFrom<Spelling>('canonical', 'canonical', 'upper', 'braces', 'bare') },
  { weight: 1, arbitrary: fc.constant<Spelling>('invalid') },
);
const op = fc.constantFrom<'insert' | 'update' | 'delete'>('insert', 'insert', 'update', 'delete');
const change: fc.Arbitrary<GeneratedChange> = fc.oneof(
  fc.record({
    entity: fc.constant('Question' as const),
    op,
    key: fc.nat(QUESTIONS - 1),
    spelling,
    text: fc.string({ maxLength: 8 }),
  }),
  fc.record({
    entity: fc.constant('Choice' as const),
    op,
    key: fc.nat(CHOICES - 1),
    spelling,
    question: fc.nat(QUESTIONS - 1),
    questionSpelling: spelling,
    votes: fc.nat(1000),
  }),
);

function steps(sources: number): fc.Arbitrary<Step[]> {
  const source = fc.nat(sources - 1);
  return fc.array(
    fc.oneof(
      {
        weight: 8,
        arbitrary: fc.record({
          kind: fc.constant('tx' as const),
          source,
          changes: fc.array(change, { minLength: 1, maxLength: 5 }),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant('big' as const),
          source,
          question: fc.nat(QUESTIONS - 1),
          size: fc.integer({ min: PART + 1, max: BIG }),
        }),
      },
    ),
    { minLength: 1, maxLength: 14 },
  );
}

export function centerModelSuite(driver: Driver): void {
  describe(`the center against a reference model (${driver})`, () => {
    for (const poison of ['quarantine', 'halt'] as const) {
      it(`holds exactly what the model holds, whatever several sources send (poison: ${poison})`, async () => {
        const center = await openCenter(driver, poison);
        try {
          await fc.assert(
            fc.asyncProperty(
              fc.integer({ min: 2, max: 3 }).chain((n) => fc.tuple(fc.constant(n), steps(n))),
              ([n, plan]) => runPlan(center, poison, n, plan),
            ),
            {
              numRuns: RUNS,
              seed: process.env.OPLOG_PROPERTY_SEED ? Number(process.env.OPLOG_PROPERTY_SEED) : undefined,
              path: process.env.OPLOG_PROPERTY_PATH,
            },
          );
        } finally {
          await center.close();
        }
      }, 600_000);
    }
  });
}

type CenterOrm = Awaited<ReturnType<typeof openOrm>>;

interface Center {
  orm: CenterOrm;
  port: number;
  store: CredentialStore;
  schema: ReturnType<typeof fingerprintOf>;
  runs: number;
  close(): Promise<void>;
}

async function openCenter(driver: Driver, poison: 'halt' | 'quarantine'): Promise<Center> {
  const db = await createTestDatabase(driver, 'model');
  const orm = await openOrm(
    { driver, name: db.dbName, url: db.clientUrl },
    { entities: [...pollsEntities, ...consumerEntities] },
  );
  await orm.schema.updateSchema({ safe: true });
  const level = process.env.OPLOG_LOG_LEVEL ?? 'silent';
  const consumer: Consumer = createConsumer(orm, { port: 0, poison, logger: createLogger({ level }) });
  const { port } = await consumer.listen();
  return {
    orm,
    port,
    store: new CredentialStore(() => orm.em.getConnection()),
    schema: fingerprintOf(orm, REPLICATED),
    runs: 0,
    async close() {
      await consumer.stop();
      await orm.close();
      await db.drop();
    },
  };
}

/** One generated history. Each has its own sources and keys, so runs share the center and never see each other. */
async function runPlan(center: Center, poison: 'halt' | 'quarantine', n: number, plan: Step[]): Promise<void> {
  const run = ++center.runs;
  const ids = Array.from({ length: n }, (_, i) => `m${run}-s${i}`);
  const tokens = await Promise.all(ids.map((id) => center.store.add(id)));
  const keys: Keys = {
    questions: Array.from({ length: QUESTIONS }, () => randomUUID()),
    choices: Array.from({ length: CHOICES }, () => randomUUID()),
  };
  const model = new CenterModel(poison);
  const seqs = ids.map(() => 0);
  const halted = new Set<number>();
  const quarantined: { source: string; seq: number; code: string }[] = [];
  for (const step of plan) {
    if (halted.has(step.source)) continue;
    const id = ids[step.source]!;
    const changes = step.kind === 'big' ? bigChanges(step, keys) : step.changes.map((c) => toChange(c, keys));
    const expected = model.apply(id, changes);
    const entries = entriesOf(id, seqs[step.source]! + 1, changes);
    const outcome = await send(center, tokens[step.source]!, id, seqs[step.source]!, entries);
    expect(outcome, `${id}: ${JSON.stringify(step).slice(0, 300)}`).toEqual({
      ok: expected.ok,
      ...(expected.ok ? {} : { code: expected.code }),
    });
    if (!expected.ok) {
      halted.add(step.source);
      continue;
    }
    seqs[step.source]! += entries.length;
    if (expected.quarantined) {
      for (const entry of entries) quarantined.push({ source: id, seq: entry.seq, code: expected.quarantined });
    }
  }
  await expectCenter(center.orm, model, ids, keys, seqs, quarantined);
}

function toChange(c: GeneratedChange, keys: Keys): Change {
  if (c.entity === 'Question') {
    const id = keys.questions[c.key]!;
    return { entity: 'Question', op: c.op, key: id, spelled: spell(id, c.spelling), text: c.text };
  }
  const id = keys.choices[c.key]!;
  const question = keys.questions[c.question]!;
  return {
    entity: 'Choice',
    op: c.op,
    key: id,
    spelled: spell(id, c.spelling),
    question,
    questionSpelled: spell(question, c.questionSpelling),
    votes: c.votes,
  };
}

/** One question written `size` times in one transaction: its last text wins. */
function bigChanges(step: Extract<Step, { kind: 'big' }>, keys: Keys): Change[] {
  const id = keys.questions[step.question]!;
  return Array.from({ length: step.size }, (_, i) => ({
    entity: 'Question' as const,
    op: 'update' as const,
    key: id,
    spelled: id,
    text: `v${i}`,
  }));
}

function entriesOf(source: string, firstSeq: number, changes: readonly Change[]): OplogEntry[] {
  const txId = `tx-${source}-${firstSeq}`;
  return changes.map((c, i): OplogEntry => {
    const pk = { id: c.spelled };
    const after: Record<string, Json> | undefined =
      c.op === 'delete'
        ? undefined
        : c.entity === 'Question'
          ? { id: c.spelled, questionText: c.text, pubDate: 0 }
          : { id: c.spelled, choiceText: 'c', votes: c.votes, question: c.questionSpelled };
    const entry = { source, incarnation: 'inc', seq: firstSeq + i, txId, epoch: 0, entity: c.entity, op: c.op, pk };
    return after ? { ...entry, after } : entry;
  });
}

/**
 * Sends one transaction in a fresh session (in parts when it is big) and tells how it ended. A session is cut after
 * its first part once in a while: the next session resends the whole transaction from the welcome's cursor.
 */
async function send(
  { port, schema }: Center,
  token: string,
  source: string,
  cursor: number,
  entries: OplogEntry[],
): Promise<Outcome> {
  const parts: OplogEntry[][] = [];
  for (let i = 0; i < entries.length; i += PART) parts.push(entries.slice(i, i + PART));
  if (parts.length > 1) {
    const cut = await BareProducer.connect(port, token);
    const welcome = await cut.handshake(helloOf(schema, source, 'inc', cursor));
    expect(welcome?.cursor.seq).toBe(cursor);
    cut.send({ type: 'batch', id: 1, entries: parts[0], partial: true });
    await cut.next('ack');
    cut.ws.terminate();
    await cut.closed;
  }
  const b = await BareProducer.connect(port, token);
  const welcome = await b.handshake(helloOf(schema, source, 'inc', cursor));
  expect(welcome?.cursor.seq, 'the welcome resumes from the last whole transaction').toBe(cursor);
  parts.forEach((part, i) => {
    b.send({ type: 'batch', id: i + 1, entries: part, ...(i < parts.length - 1 ? { partial: true } : {}) });
  });
  const last = entries.at(-1)!.seq;
  for (;;) {
    const ack = (await b.next('ack', 60_000)) as { seq: number } | undefined;
    if (!ack) break;
    if (ack.seq === last) {
      await b.close();
      return { ok: true };
    }
  }
  const closed = await b.closed;
  return { ok: false, code: closed.error?.code ?? `closed ${closed.code}` };
}

async function expectCenter(
  orm: CenterOrm,
  model: CenterModel,
  ids: string[],
  keys: Keys,
  seqs: number[],
  quarantined: { source: string; seq: number; code: string }[],
) {
  const connection = orm.em.getConnection('write');
  const all = [...keys.questions, ...keys.choices];
  const marks = all.map(() => '?').join(', ');
  const questions: { id: string; question_text: string }[] = await connection.execute(
    `select id, question_text from question where id in (${marks}) order by id`,
    all,
  );
  const choices: { id: string; votes: number; question_id: string }[] = await connection.execute(
    `select id, votes, question_id from choice where id in (${marks}) order by id`,
    all,
  );
  const owners: { entity: string; pk: string; source: string }[] = await connection.execute(
    `select entity, pk, source from oplog_row_owner where source in (${ids.map(() => '?').join(', ')}) order by entity, pk`,
    ids,
  );
  const byId = <T extends { id: string }>(rows: T[]) => rows.sort((x, y) => (x.id < y.id ? -1 : 1));
  expect({
    questions: byId(questions.map((q) => ({ id: q.id, text: q.question_text }))),
    choices: byId(choices.map((c) => ({ id: c.id, votes: Number(c.votes), question: c.question_id }))),
    owners: sortOwners(owners.map((o) => ({ entity: o.entity, pk: o.pk, source: o.source }))),
  }).toEqual(model.expected());
  const cursors: { source: string; seq: number | string }[] = await connection.execute(
    `select source, seq from oplog_consumer_cursor where source in (${ids.map(() => '?').join(', ')})`,
    ids,
  );
  const bySource = Object.fromEntries(cursors.map((c) => [c.source, Number(c.seq)]));
  expect(ids.map((id) => bySource[id] ?? 0)).toEqual(seqs);
  const parked: { source: string; seq: number | string; code: string }[] = await connection.execute(
    `select source, seq, code from oplog_quarantine where source in (${ids.map(() => '?').join(', ')})`,
    ids,
  );
  const order = (a: { source: string; seq: number }, b: { source: string; seq: number }) =>
    a.source === b.source ? a.seq - b.seq : a.source < b.source ? -1 : 1;
  expect(parked.map((p) => ({ source: p.source, seq: Number(p.seq), code: p.code })).sort(order)).toEqual(
    quarantined.sort(order),
  );
}
