import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/core';
import { Choice, Question } from '@oplog/demo/entities';
import { describe, expect, it } from 'vitest';
import type { LogLine } from '../support/cli.js';
import type { Driver } from '../support/databases.js';
import { harnessPerTest, type StreamHarness, waitForConvergence, waitForLogs } from '../support/stream-harness.js';

const QUICK_RECONNECT = { OPLOG_BACKOFF__MAX_MS: '500' };
const TIMEOUT = 120_000;
/** The message makes MikroORM's SQLite driver report it as a CheckConstraintViolationException, as PostgreSQL does. */
const RULE = {
  sqlite: {
    add: `create trigger no_poison before insert on choice when new.choice_text = 'poison'
          begin select raise(abort, 'CHECK constraint failed: no_poison'); end`,
    drop: 'drop trigger no_poison',
  },
  postgresql: {
    add: `alter table choice add constraint no_poison check (choice_text <> 'poison')`,
    drop: 'alter table choice drop constraint no_poison',
  },
};

/** The poison transaction is a question and its choice: the choice is the change refused. */
const DIAGNOSED =
  /^Choice \{"id":"[0-9a-f-]{36}"\}, change \d+: check constraint no_poison failed \(changes \d+\.\.\d+ not applied\)$/;

const lostWith = (code: string) => (line: LogLine) => line.msg === 'connection lost' && line.code === code;

interface SourceView {
  cursor: { seq: number };
  halted?: { code: string; message: string };
  quarantinedEntries: number;
}

/**
 * Poison changes: a source transaction the central database refuses (here, a check constraint only the consumer
 * has). By default the source halts there, visibly, until the cause is fixed; with poison: quarantine, the
 * transaction is parked and the stream goes on. Never skipped silently.
 */
export function poisonSuite(driver: Driver): void {
  describe(`poison changes ${driver} → ${driver}`, () => {
    const createHarness = harnessPerTest();

    it(
      'halts the source at a change the consumer refuses, and resumes it once the cause is fixed',
      async () => {
        const h = await createHarness(driver, driver);
        const { consumer, producer, target, poisonId, laterId } = await writePoison(h, driver, {});
        await waitForLogs(producer, lostWith('OPLOG_POISON_CHANGE'), 2);
        const halted = await sourceView(consumer.port);
        // What the producer and the dashboard read: the entity, key and constraint refused, no SQL.
        const told = producer.logs.find(lostWith('OPLOG_POISON_CHANGE'))!.err as string;
        expect(told).toMatch(DIAGNOSED);
        expect(told).not.toMatch(/insert into|select/i);
        expect(halted.halted).toMatchObject({ code: 'OPLOG_POISON_CHANGE', message: expect.stringMatching(DIAGNOSED) });
        expect(halted.cursor.seq).toBeLessThan(await h.head());
        expect(await lagState(consumer.port)).toBe('halted');
        // Nothing from the poison transaction on, not even what follows it.
        expect(await questionIds(target)).not.toContain(poisonId);
        expect(await questionIds(target)).not.toContain(laterId);

        await target.em.getConnection().execute(RULE[driver].drop);
        await waitForConvergence(h);
        expect((await sourceView(consumer.port)).halted).toBeUndefined();
      },
      TIMEOUT,
    );

    it(
      'names the entity, key and foreign key of a change whose parent the center lost',
      async () => {
        const h = await createHarness(driver, driver);
        const { questionId } = await h.scenario();
        const consumer = await h.startConsumer();
        const producer = await h.startProducer(consumer.port, QUICK_RECONNECT);
        await waitForConvergence(h);
        // Someone deletes the question at the center by hand (its choices and tag links first).
        const connection = (await h.targetOrm()).em.getConnection();
        for (const table of ['choice', 'question_tags']) {
          await connection.execute(`delete from ${table} where question_id = ?`, [questionId]);
        }
        await connection.execute('delete from question where id = ?', [questionId]);
        const choiceId = randomUUID();
        await h.asApp((app) =>
          app.em.fork().transactional(async (em) => {
            const question = em.getReference(Question, questionId);
            em.create(Choice, { id: choiceId, question, choiceText: 'orphan', votes: 0 });
          }),
        );
        const told = (await producer.waitFor(lostWith('OPLOG_POISON_CHANGE'))).err as string;
        // SQLite does not say which foreign key failed; PostgreSQL does.
        const name = driver === 'postgresql' ? ' choice_question_id_foreign' : '';
        expect(told).toBe(
          `Choice {"id":"${choiceId}"}, change ${await h.head()}: foreign key constraint${name} failed (changes ${await h.head()}..${await h.head()} not applied)`,
        );
      },
      TIMEOUT,
    );

    it(
      'quarantines the refused transaction on request, and goes on with the rest',
      async () => {
        const h = await createHarness(driver, driver);
        const { consumer, target, poisonId, laterId } = await writePoison(h, driver, { OPLOG_POISON: 'quarantine' });
        await h.waitFor(async () => (await h.cursor()) === (await h.head()), 60_000);
        expect(await h.cursor()).toBe(await h.head());
        const ids = await questionIds(target);
        expect(ids).toContain(laterId);
        expect(ids).not.toContain(poisonId);
        // The whole source transaction is parked: the question and its choice, with the reason.
        const parked = await target.em
          .getConnection()
          .execute<{ entity: string; code: string; error: string }[]>(
            'select entity, code, error from oplog_quarantine order by seq',
          );
        expect(parked.map((row: { entity: string }) => row.entity)).toEqual(['Question', 'Choice']);
        expect(
          parked.every(
            (row: { code: string; error: string }) =>
              row.code === 'OPLOG_POISON_CHANGE' && row.error.includes('no_poison'),
          ),
        ).toBe(true);
        const view = await sourceView(consumer.port);
        expect(view.quarantinedEntries).toBe(2);
        expect(view.halted).toBeUndefined();
      },
      TIMEOUT,
    );
  });
}

/**
 * Streams the seed scenario, installs the rule on the consumer, then writes two transactions at the source: one the
 * rule refuses, one it accepts.
 */
async function writePoison(h: StreamHarness, driver: Driver, consumerEnv: Record<string, string>) {
  await h.scenario();
  const consumer = await h.startConsumer([], consumerEnv);
  const producer = await h.startProducer(consumer.port, QUICK_RECONNECT);
  await waitForConvergence(h);
  const target = await h.targetOrm();
  await target.em.getConnection().execute(RULE[driver].add);
  const [poisonId, laterId] = await h.asApp(async (app) => [
    await writeQuestion(app, 'poison'),
    await writeQuestion(app, 'fine'),
  ]);
  return { consumer, producer, target, poisonId: poisonId!, laterId: laterId! };
}

/** One captured transaction: a new question with one choice of this text. */
async function writeQuestion(app: MikroORM, choiceText: string): Promise<string> {
  const id = randomUUID();
  await app.em.fork().transactional(async (em) => {
    const question = em.create(Question, { id, questionText: `Question with ${choiceText}`, pubDate: new Date() });
    em.create(Choice, { id: randomUUID(), question, choiceText, votes: 0 });
  });
  return id;
}

async function questionIds(orm: MikroORM): Promise<string[]> {
  return (await orm.em.fork().find(Question, {}, { fields: ['id'] })).map((q) => q.id);
}

async function sourceView(port: number): Promise<SourceView> {
  const body = (await (await fetch(`http://127.0.0.1:${port}/api/sources`)).json()) as { sources: SourceView[] };
  return body.sources[0]!;
}

async function lagState(port: number): Promise<string> {
  const body = (await (await fetch(`http://127.0.0.1:${port}/api/lag`)).json()) as { sources: { state: string }[] };
  return body.sources[0]!.state;
}
