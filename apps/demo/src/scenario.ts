import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { Choice, Question } from './entities.js';

/**
 * The seed article's scenario: a question with two choices; one choice is deleted, then saved again with the
 * same id. Returns the ids it used.
 */
export async function runSeedScenario(em: EntityManager): Promise<{ questionId: string; choiceIds: string[] }> {
  const question = em.create(Question, { id: randomUUID(), questionText: "What's new?", pubDate: new Date() });
  em.create(Choice, { id: randomUUID(), question, choiceText: 'Nothing', votes: 0 });
  const sky = em.create(Choice, { id: randomUUID(), question, choiceText: 'sky', votes: 0 });
  await em.flush();
  em.remove(sky);
  await em.flush();
  em.create(Choice, { id: sky.id, question, choiceText: 'sky', votes: 0 });
  await em.flush();
  return { questionId: question.id, choiceIds: question.choices.getItems().map((c) => c.id) };
}
