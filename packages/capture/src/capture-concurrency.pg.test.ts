import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/core';
import { Choice, Question } from '@oplog/demo/entities';
import { createTestDatabase, type TestDatabase } from '@oplog/testing/databases';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOrm, readOutbox } from './capture.fixture.js';
import { OplogCapture } from './subscriber.js';

const WRITERS = 4;
const TRANSACTIONS_PER_WRITER = 500;

/** What the reader saw: every seq in the order it saw them, and each time one did not continue the prefix. */
interface ReaderLog {
  seen: number[];
  violations: string[];
  polls: number;
  pollsWithNews: number;
}

describe('capture seqs under concurrent writers on postgresql', () => {
  let db: TestDatabase;
  let orm: MikroORM;

  beforeAll(async () => {
    db = await createTestDatabase('postgresql', 'concurrency');
    // Four writers and the ORM's own queries each need a connection of their own.
    orm = await openOrm(db, new OplogCapture(), { min: 0, max: WRITERS + 4 });
    await orm.schema.createSchema();
  });

  afterAll(async () => {
    await orm?.close();
    await db?.drop();
  });

  /**
   * One writer: its own EntityManager fork per transaction, so each holds its own connection. Transactions mix
   * em.transactional (with one or two flushes) and a plain flush (the ORM's implicit transaction); every 20th
   * rolls back after it flushed, so it held seqs and gave them back. Returns how many entries it committed.
   */
  async function writer(id: number): Promise<number> {
    let committed = 0;
    for (let i = 0; i < TRANSACTIONS_PER_WRITER; i++) {
      const choices = i % 3;
      const changes = 1 + choices;
      const fork = orm.em.fork();
      if (i % 20 === 19) {
        await expect(
          fork.transactional(async (em) => {
            em.create(Question, { id: randomUUID(), questionText: `w${id} t${i} rolled back`, pubDate: new Date() });
            await em.flush();
            throw new Error('roll back');
          }),
        ).rejects.toThrow('roll back');
      } else if (i % 2 === 0) {
        await fork.transactional(async (em) => {
          const question = em.create(Question, { id: randomUUID(), questionText: `w${id} t${i}`, pubDate: new Date() });
          await em.flush();
          for (let c = 0; c < choices; c++)
            em.create(Choice, { id: randomUUID(), question, choiceText: `c${c}`, votes: 0 });
        });
        committed += changes;
      } else {
        const question = fork.create(Question, { id: randomUUID(), questionText: `w${id} t${i}`, pubDate: new Date() });
        for (let c = 0; c < choices; c++)
          fork.create(Choice, { id: randomUUID(), question, choiceText: `c${c}`, votes: 0 });
        await fork.flush();
        committed += changes;
      }
    }
    return committed;
  }

  /**
   * Polls like a producer would, on its own connection, until `stop` resolves (then once more). Each poll reads
   * max(seq), then every seq above the last one seen: each new seq must be the last one + 1, and the poll must
   * reach at least that max, since everything up to a visible seq must be visible already.
   */
  async function reader(stop: Promise<unknown>): Promise<ReaderLog> {
    const client = new pg.Client({ connectionString: db.clientUrl });
    await client.connect();
    const log: ReaderLog = { seen: [], violations: [], polls: 0, pollsWithNews: 0 };
    let stopped = false;
    void stop.finally(() => {
      stopped = true;
    });
    let last = 0;
    try {
      for (let final = false; !final; ) {
        final = stopped;
        const max = Number((await client.query('select max(seq) as max from oplog_entry')).rows[0]?.max ?? 0);
        const { rows } = await client.query<{ seq: string }>(
          'select seq from oplog_entry where seq > $1 order by seq',
          [last],
        );
        log.polls++;
        if (rows.length > 0) log.pollsWithNews++;
        for (const row of rows) {
          const seq = Number(row.seq);
          if (seq !== last + 1)
            log.violations.push(`saw ${seq} right after ${last}: seq ${last + 1} was not visible yet`);
          log.seen.push(seq);
          last = Math.max(last, seq);
        }
        if (last < max) log.violations.push(`max(seq) was ${max} but only ${last} was visible after it`);
      }
    } finally {
      await client.end();
    }
    return log;
  }

  it(`keeps seqs gapless and in commit order with ${WRITERS} writers × ${TRANSACTIONS_PER_WRITER} transactions and a polling reader`, async () => {
    const writers = Promise.all(Array.from({ length: WRITERS }, (_, id) => writer(id)));
    const log = await reader(writers);
    const committed = (await writers).reduce((sum, n) => sum + n, 0);

    expect(log.violations.slice(0, 20)).toEqual([]);
    expect(log.seen).toEqual(Array.from({ length: committed }, (_, i) => i + 1));
    // The reader really ran alongside the writers rather than only after them.
    expect(log.pollsWithNews).toBeGreaterThan(20);

    const entries = await readOutbox(orm);
    expect(entries.map((e) => e.seq)).toEqual(log.seen);
    const questions = await orm.em.fork().count(Question);
    const choices = await orm.em.fork().count(Choice);
    expect(questions + choices).toBe(committed);

    // A transaction's entries are contiguous: no other transaction's seqs interleave with them.
    const txIds = entries.map((e) => e.txId);
    const finished = new Set<string>();
    const interleaved: string[] = [];
    txIds.forEach((txId, i) => {
      if (finished.has(txId)) interleaved.push(`seq ${i + 1} of ${txId}`);
      if (i > 0 && txIds[i - 1] !== txId) finished.add(txIds[i - 1]!);
    });
    expect(interleaved).toEqual([]);
    expect(new Set(txIds).size).toBe(WRITERS * TRANSACTIONS_PER_WRITER * (19 / 20));
  }, 180_000);
});
