import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/core';
import { OplogCapture, oplogEntities } from '@oplog/capture';
import { Choice, pollsEntities, Question, Tag } from '@oplog/demo/entities';
import { generateLoad } from '@oplog/demo/load';
import { openLocalApp } from '@oplog/demo/local-app';
import { runSeedScenario } from '@oplog/demo/scenario';
import { openOrm } from '@oplog/runtime';
import { expect } from 'vitest';
import { type CliProcess, ENTITIES_MODULE } from './cli.js';
import type { TestDatabase } from './databases.js';
import { backupDatabase, dropBackup, restoreDatabase } from './db-backup.js';

/** What `demo load` prints when it is done. */
export interface LoadResult {
  transactions: number;
  votes: number;
}

/** Starts one of the CLIs as a process the harness owns (killed at dispose, its output shown on failure). */
export type Spawn = (
  label: string,
  cli: 'consumer' | 'producer' | 'demo',
  args: string[],
  env?: Record<string, string>,
) => CliProcess;

/**
 * One local server: its own (source) database written by the demo app, its source id and credential, and the
 * oplog-producer sidecar on it. A StreamHarness holds one or more of them, all streaming to one consumer.
 */
export class SourceSite {
  #orm: MikroORM | undefined;

  constructor(
    /** The source id its credential names. */
    readonly id: string,
    readonly db: TestDatabase,
    private readonly spawn: Spawn,
    /** This source's credential in the consumer's database. */
    readonly token: () => Promise<string>,
  ) {}

  /**
   * Runs the seed article's scenario as the local app does (its schema made first), in this process: a CLI start
   * per test would cost more than the scenario. Resolves with the ids it used.
   */
  scenario(): Promise<{ questionId: string; choiceIds: string[] }> {
    return this.#asLocalApp((orm) => runSeedScenario(orm.em.fork()));
  }

  /** Starts `demo load` (unpaced unless a rate is given); `loadResult` waits for it. */
  load(transactions: number, rate = 100_000): CliProcess {
    const args = ['load', ...dbArgs(this.db), '--transactions', String(transactions), '--rate', String(rate)];
    return this.spawn(`load ${this.id}`, 'demo', args);
  }

  /**
   * Writes `transactions` of the same workload as `load`, unpaced, in this process: for a short load that the test
   * only awaits, a CLI start would cost more than the writes.
   */
  write(transactions: number): Promise<LoadResult> {
    return this.#asLocalApp((orm) => generateLoad(orm, { rate: Number.POSITIVE_INFINITY, transactions }));
  }

  /** Runs `work` on the demo app's own ORM (its schema made first, capture installed), then closes it. */
  async #asLocalApp<T>(work: (orm: MikroORM) => Promise<T>): Promise<T> {
    const orm = await openLocalApp(dbConfig(this.db));
    try {
      return await work(orm);
    } finally {
      await orm.close();
    }
  }

  async loadResult(load: CliProcess, timeoutMs = 120_000): Promise<LoadResult> {
    const done = await load.waitFor((line) => 'transactions' in line, timeoutMs);
    await expectExit(load, 'demo load');
    return done as unknown as LoadResult;
  }

  /**
   * Starts oplog-producer, streaming to ws://127.0.0.1:port/oplog (or `scheme` wss) with this source's credential
   * (`env` may set another OPLOG_TOKEN); resolves once it started.
   */
  async startProducer(
    port: number,
    env: Record<string, string> = {},
    scheme = 'ws',
    args: string[] = [],
  ): Promise<CliProcess> {
    const url = `${scheme}://127.0.0.1:${port}/oplog`;
    const producer = this.spawn(
      `producer ${this.id}`,
      'producer',
      ['start', '--url', url, ...dbArgs(this.db), '--entities', ENTITIES_MODULE, ...args],
      { OPLOG_TOKEN: await this.token(), ...env },
    );
    await producer.waitForMessage('producer started');
    return producer;
  }

  /**
   * Fills the database with rows written before capture was installed (no outbox entries): `questions` questions
   * with `choices` choices each, and tags on every other question.
   */
  async seedUncaptured(questions: number, choices: number): Promise<void> {
    const orm = await this.createSchema();
    const em = orm.em.fork();
    const tags = Array.from({ length: 20 }, (_, i) => em.create(Tag, { id: randomUUID(), label: `tag ${i}` }));
    for (let q = 0; q < questions; q++) {
      const question = em.create(Question, {
        id: randomUUID(),
        questionText: `Old question ${q}`,
        pubDate: new Date(),
      });
      if (q % 2 === 0) question.tags.add(tags[q % tags.length]!, tags[(q + 7) % tags.length]!);
      for (let c = 0; c < choices; c++) {
        em.create(Choice, { id: randomUUID(), question, choiceText: `Old choice ${q}.${c}`, votes: c });
      }
      if (q % 500 === 499) await em.flush();
    }
    await em.flush();
  }

  /** Creates the app's and the outbox's tables, as the app does at its start (for a producer started first). */
  async createSchema(): Promise<MikroORM> {
    const orm = await this.orm();
    await orm.schema.updateSchema({ safe: true });
    return orm;
  }

  /** Copies the database aside (every process on it must be stopped): a backup to restore later. */
  async backup(): Promise<void> {
    await this.close();
    await backupDatabase(this.db);
  }

  /** Puts the backup back in place of the database (every process on it must be stopped). */
  async restore(): Promise<void> {
    await this.close();
    await restoreDatabase(this.db);
  }

  /** Runs `work` as the local app would: on an ORM of this database with capture registered. */
  async asApp<T>(work: (orm: MikroORM) => Promise<T>, capture = new OplogCapture()): Promise<T> {
    const orm = await openOrm(dbConfig(this.db), {
      entities: [...pollsEntities, ...oplogEntities],
      subscribers: [capture],
    });
    try {
      return await work(orm);
    } finally {
      await orm.close();
    }
  }

  async orm(): Promise<MikroORM> {
    this.#orm ??= await openOrm(dbConfig(this.db), { entities: [...pollsEntities, ...oplogEntities] });
    return this.#orm;
  }

  /** The head: the last seq capture allocated (oplog_source.head_seq). */
  async head(): Promise<number> {
    const rows = await (await this.orm()).em
      .getConnection()
      .execute<{ seq: number | string }[]>('select head_seq as seq from oplog_source where slot = 1');
    return Number(rows[0]?.seq ?? 0);
  }

  /** Entries still in the outbox (acked ones are trimmed). */
  async outboxSize(): Promise<number> {
    const rows = await (await this.orm()).em
      .getConnection()
      .execute<{ n: number | string }[]>('select count(*) as n from oplog_entry');
    return Number(rows[0]?.n ?? 0);
  }

  async close(): Promise<void> {
    await this.#orm?.close();
    this.#orm = undefined;
  }

  /** Closes the connection and drops the database (and its backup). */
  async dispose(): Promise<void> {
    await this.close();
    await this.db.drop();
    await dropBackup(this.db);
  }
}

/** A clean stop: the process exits by itself with status 0. */
export async function expectExit(cli: CliProcess, what: string, timeoutMs = 30_000): Promise<void> {
  const code = await Promise.race([cli.exited, sleep(timeoutMs).then(() => 'still running' as const)]);
  expect(code, `${what} exit status; last output:\n${cli.output.slice(-15).join('\n')}`).toBe(0);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The CLIs' flags for a database. */
export function dbArgs(db: TestDatabase): string[] {
  return ['--db-driver', db.driver, '--db-name', db.dbName, ...(db.clientUrl ? ['--db-url', db.clientUrl] : [])];
}

/** The runtime's DbConfig for a database. */
export function dbConfig(db: TestDatabase) {
  return { driver: db.driver, name: db.dbName, url: db.clientUrl };
}
