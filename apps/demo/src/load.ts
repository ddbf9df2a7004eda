import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type EntityManager, LockWaitTimeoutException, type MikroORM } from '@mikro-orm/core';
import { Choice, Question, Tag } from './entities.js';
import { seededRandom } from './seeded-random.js';

/**
 * Which writes a load makes. `polls`: new questions, votes and deleted choices. `full`: also votes on several
 * choices in one transaction, question edits, tags (many-to-many), whole questions deleted with their choices, and
 * transactions that write and then roll back (nothing of them may ever replicate).
 */
export type LoadMix = 'polls' | 'full';

export interface LoadOptions {
  /** Transactions per second. */
  rate: number;
  /** Bursty: one second at 5× the rate, then four quiet seconds. */
  bursty?: boolean;
  /** Stop after this many transactions (default: until aborted). */
  transactions?: number;
  mix?: LoadMix;
  /** Makes the sequence of steps (not the ids, nor the timing) repeatable. */
  seed?: number;
  signal?: AbortSignal;
  /** Called after every committed transaction. */
  onCommit?: (count: number) => void;
}

/**
 * What a load run did: its committed transactions, the votes it added to the choices that still exist, and the
 * transactions it rolled back on purpose.
 */
export interface LoadResult {
  transactions: number;
  votes: number;
  rolledBack: number;
}

/** One committed transaction's effect on the ids the workload keeps in memory. */
interface Step {
  question?: string;
  added?: string[];
  voted?: string[];
  removed?: string[];
  removedQuestion?: string;
}

type StepKind = 'ask' | 'vote' | 'voteMany' | 'edit' | 'tag' | 'dropChoice' | 'dropQuestion' | 'rollBack';

const MIXES: Record<LoadMix, [StepKind, number][]> = {
  polls: [
    ['ask', 0.3],
    ['vote', 0.65],
    ['dropChoice', 0.05],
  ],
  full: [
    ['ask', 0.2],
    ['vote', 0.42],
    ['voteMany', 0.1],
    ['edit', 0.07],
    ['tag', 0.06],
    ['dropChoice', 0.04],
    ['dropQuestion', 0.03],
    ['rollBack', 0.08],
  ],
};

/** How long one transaction keeps meeting lock conflicts before the load gives up. */
const LOCK_RETRY_MS = 60_000;

/** Thrown inside a transaction to roll it back on purpose. */
class RolledBack extends Error {}

/** The ids the workload writes to, kept in memory; they change only once a transaction committed. */
class Polls {
  readonly choiceIds: string[] = [];
  readonly questionIds: string[] = [];
  readonly choicesOf = new Map<string, string[]>();
  readonly votes = new Map<string, number>();

  constructor(choices: { id: string; question: { id: string } }[], questionIds: string[]) {
    this.questionIds.push(...questionIds);
    for (const q of questionIds) this.choicesOf.set(q, []);
    for (const c of choices) {
      this.choiceIds.push(c.id);
      this.choicesOf.get(c.question.id)?.push(c.id);
    }
  }

  record(step: Step): void {
    if (step.question && !this.choicesOf.has(step.question)) {
      this.questionIds.push(step.question);
      this.choicesOf.set(step.question, []);
    }
    for (const id of step.added ?? []) {
      this.choiceIds.push(id);
      this.choicesOf.get(step.question!)!.push(id);
    }
    for (const id of step.voted ?? []) this.votes.set(id, (this.votes.get(id) ?? 0) + 1);
    for (const id of step.removed ?? []) {
      remove(this.choiceIds, id);
      this.votes.delete(id);
      for (const choices of this.choicesOf.values()) remove(choices, id);
    }
    if (step.removedQuestion) {
      remove(this.questionIds, step.removedQuestion);
      this.choicesOf.delete(step.removedQuestion);
    }
  }
}

/**
 * A polls workload: new questions with choices, votes (read, increment, save: a duplicate apply would show in
 * the counts), and deletes; with the `full` mix, every other kind of write too. Each step is one transaction.
 */
export async function generateLoad(orm: MikroORM, options: LoadOptions): Promise<LoadResult> {
  const em0 = orm.em.fork();
  const mix = MIXES[options.mix ?? 'polls'];
  const random = options.seed === undefined ? Math.random : seededRandom(options.seed);
  const polls = new Polls(
    await em0.find(Choice, {}, { fields: ['id', 'question'] }),
    (await em0.find(Question, {}, { fields: ['id'] })).map((q) => q.id),
  );
  let count = 0;
  let rolledBack = 0;
  const started = Date.now();
  while (!options.signal?.aborted && count < (options.transactions ?? Number.POSITIVE_INFINITY)) {
    const kind = polls.choiceIds.length < 4 ? 'ask' : pickKind(mix, random());
    const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
    const label = `${count}`;
    try {
      const step = await retryOnLockConflict(orm, () =>
        orm.em.fork().transactional((em) => STEPS[kind](em, polls, pick, label)),
      );
      polls.record(step);
    } catch (error) {
      if (!(error instanceof RolledBack)) throw error;
      rolledBack++;
      continue;
    }
    count++;
    options.onCommit?.(count);
    await pace(started, count, options);
  }
  return { transactions: count, votes: [...polls.votes.values()].reduce((sum, n) => sum + n, 0), rolledBack };
}

type Pick = <T>(items: T[]) => T;

const STEPS: Record<StepKind, (em: EntityManager, polls: Polls, pick: Pick, label: string) => Promise<Step>> = {
  ask: async (em, _polls, _pick, label) => {
    const question = em.create(Question, { id: randomUUID(), questionText: `Question ${label}`, pubDate: new Date() });
    const added = ['yes', 'no'].map(
      (text) => em.create(Choice, { id: randomUUID(), question, choiceText: text, votes: 0 }).id,
    );
    return { question: question.id, added };
  },
  vote: async (em, polls, pick) => {
    const choice = await em.findOneOrFail(Choice, pick(polls.choiceIds));
    choice.votes++;
    return { voted: [choice.id] };
  },
  voteMany: async (em, polls, pick) => {
    const ids = [...new Set([pick(polls.choiceIds), pick(polls.choiceIds), pick(polls.choiceIds)])];
    for (const choice of await em.find(Choice, { id: { $in: ids } })) choice.votes++;
    return { voted: ids };
  },
  edit: async (em, polls, pick, label) => {
    const question = await em.findOneOrFail(Question, pick(polls.questionIds));
    question.questionText = `Question edited at ${label}`;
    return {};
  },
  tag: async (em, polls, pick, label) => {
    const question = await em.findOneOrFail(Question, pick(polls.questionIds), { populate: ['tags'] });
    question.tags.add(em.create(Tag, { id: randomUUID(), label: `tag ${label}` }));
    return {};
  },
  dropChoice: async (em, polls, pick) => {
    const removed = pick(polls.choiceIds);
    em.remove(em.getReference(Choice, removed));
    return { removed: [removed] };
  },
  dropQuestion: async (em, polls, pick) => {
    const question = await em.findOneOrFail(Question, pick(polls.questionIds), { populate: ['choices', 'tags'] });
    // Untagged first: the pivot rows then leave as captured collection changes, not by a database-level cascade.
    question.tags.removeAll();
    const removed = question.choices.getItems().map((c) => c.id);
    em.remove(question);
    return { removed, removedQuestion: question.id };
  },
  rollBack: async (em, polls, pick, label) => {
    const question = em.create(Question, {
      id: randomUUID(),
      questionText: `rolled back ${label}`,
      pubDate: new Date(),
    });
    em.create(Choice, { id: randomUUID(), question, choiceText: 'rolled back', votes: 1000 });
    (await em.findOneOrFail(Choice, pick(polls.choiceIds))).votes += 1000;
    // Flushed, so capture has written its outbox rows in this transaction: the rollback must take them too.
    await em.flush();
    throw new RolledBack();
  },
};

function pickKind(mix: [StepKind, number][], roll: number): StepKind {
  let sum = 0;
  for (const [kind, weight] of mix) {
    sum += weight;
    if (roll < sum) return kind;
  }
  return mix.at(-1)![0];
}

function remove(items: string[], id: string): void {
  const at = items.indexOf(id);
  if (at >= 0) items.splice(at, 1);
}

/**
 * SQLite fails at once, without waiting, a transaction that has read and then wants to write while another
 * connection writes (waiting could deadlock): here the sidecar producer trimming the outbox of the same file, or
 * a reader holding its lock. The whole transaction rolled back, so it is run again, as any app sharing an SQLite
 * file with a writer must; for up to a minute, so that a sidecar frozen (SIGSTOP) in the middle of a read does not
 * end the load.
 *
 * In rollback-journal mode a COMMIT also waits for readers, up to the busy timeout, and then fails with a raw
 * SQLITE_BUSY. SQLite keeps the transaction open after that, and knex, which marks it complete, never ends it: the
 * connection is unusable until it is rolled back here. Nothing of the transaction was committed, so it runs again.
 */
async function retryOnLockConflict<T>(orm: MikroORM, run: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_RETRY_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      const commitBusy = (error as { code?: unknown }).code === 'SQLITE_BUSY';
      if (commitBusy)
        await orm.em
          .getConnection()
          .execute('rollback')
          .catch(() => {});
      if (!(error instanceof LockWaitTimeoutException || commitBusy) || Date.now() > deadline) throw error;
      await sleep(Math.min(attempt * 5, 100));
    }
  }
}

function pace(started: number, count: number, { rate, bursty, signal }: LoadOptions): Promise<void> {
  let due = started + (count / rate) * 1000;
  if (bursty) {
    const perCycle = rate * 5;
    const cycle = Math.floor(count / perCycle);
    due = started + cycle * 5000 + ((count % perCycle) / perCycle) * 1000;
  }
  const wait = due - Date.now();
  if (wait <= 0) return Promise.resolve();
  return sleep(wait, undefined, { signal }).catch(() => undefined);
}
