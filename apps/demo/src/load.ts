import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MikroORM } from '@mikro-orm/core';
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

/**
 * A polls workload: new questions with choices, votes (read, increment, save: a duplicate apply would show in
 * the counts), and deletes. Each step is one transaction.
 */
export async function generateLoad(orm: MikroORM, options: LoadOptions): Promise<number> {
  const choiceIds = (await orm.em.fork().find(Choice, {}, { fields: ['id'] })).map((c) => c.id);
  let count = 0;
  const started = Date.now();
  while (!options.signal?.aborted && count < (options.transactions ?? Number.POSITIVE_INFINITY)) {
    await orm.em.fork().transactional(async (em) => {
      const roll = Math.random();
      if (roll < 0.3 || choiceIds.length < 4) {
        const question = em.create(Question, {
          id: randomUUID(),
          questionText: `Question ${count}`,
          pubDate: new Date(),
        });
        for (const text of ['yes', 'no']) {
          choiceIds.push(em.create(Choice, { id: randomUUID(), question, choiceText: text, votes: 0 }).id);
        }
      } else if (roll < 0.95) {
        const choice = await em.findOneOrFail(Choice, pick(choiceIds));
        choice.votes++;
      } else {
        const id = choiceIds.splice(Math.floor(Math.random() * choiceIds.length), 1)[0]!;
        em.remove(em.getReference(Choice, id));
      }
    });
    count++;
    options.onCommit?.(count);
    await pace(started, count, options);
  }
  return count;
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
