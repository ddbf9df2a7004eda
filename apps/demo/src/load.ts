import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { LockWaitTimeoutException, type MikroORM } from '@mikro-orm/core';
import { Choice, Question } from './entities.js';

export interface LoadOptions {
  /** Transactions per second. */
  rate: number;
  /** Bursty: one second at 5× the rate, then four quiet seconds. */
  bursty?: boolean;
  /** Stop after this many transactions (default: until aborted). */
  transactions?: number;
  signal?: AbortSignal;
  /** Called after every committed transaction. */
  onCommit?: (count: number) => void;
}

/** What a load run did: its committed transactions, and the votes it added to the choices that still exist. */
export interface LoadResult {
  transactions: number;
  votes: number;
}

/** One transaction's effect on the ids the workload keeps in memory. */
interface Step {
  added: string[];
  voted?: string;
  removed?: string;
}

/** How often one transaction may meet a lock conflict before the load gives up. */
const ATTEMPTS = 20;

/**
 * A polls workload: new questions with choices, votes (read, increment, save: a duplicate apply would show in
 * the counts), and deletes. Each step is one transaction.
 */
export async function generateLoad(orm: MikroORM, options: LoadOptions): Promise<LoadResult> {
  const choiceIds = (await orm.em.fork().find(Choice, {}, { fields: ['id'] })).map((c) => c.id);
  const votes = new Map<string, number>();
  let count = 0;
  const started = Date.now();
  while (!options.signal?.aborted && count < (options.transactions ?? Number.POSITIVE_INFINITY)) {
    const roll = Math.random();
    // The in-memory ids change only once the transaction committed, so a transaction run again stays true to the
    // database.
    const step = await retryOnLockConflict(() =>
      orm.em.fork().transactional(async (em): Promise<Step> => {
        if (roll < 0.3 || choiceIds.length < 4) {
          const question = em.create(Question, {
            id: randomUUID(),
            questionText: `Question ${count}`,
            pubDate: new Date(),
          });
          const added = ['yes', 'no'].map(
            (text) => em.create(Choice, { id: randomUUID(), question, choiceText: text, votes: 0 }).id,
          );
          return { added };
        }
        if (roll < 0.95) {
          const choice = await em.findOneOrFail(Choice, pick(choiceIds));
          choice.votes++;
          return { added: [], voted: choice.id };
        }
        const removed = pick(choiceIds);
        em.remove(em.getReference(Choice, removed));
        return { added: [], removed };
      }),
    );
    choiceIds.push(...step.added);
    if (step.voted) votes.set(step.voted, (votes.get(step.voted) ?? 0) + 1);
    if (step.removed) {
      choiceIds.splice(choiceIds.indexOf(step.removed), 1);
      votes.delete(step.removed);
    }
    count++;
    options.onCommit?.(count);
    await pace(started, count, options);
  }
  return { transactions: count, votes: [...votes.values()].reduce((sum, n) => sum + n, 0) };
}

/**
 * SQLite fails at once, without waiting, a transaction that has read and then wants to write while another
 * connection writes (waiting could deadlock): here the sidecar producer trimming the outbox of the same file. The
 * whole transaction rolled back, so it is run again, as any app sharing an SQLite file with a writer must.
 */
async function retryOnLockConflict<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof LockWaitTimeoutException) || attempt >= ATTEMPTS) throw error;
      await sleep(attempt * 5);
    }
  }
}

const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)]!;

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
