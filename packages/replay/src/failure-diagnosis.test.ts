import { describe, expect, it } from 'vitest';
import { describeConstraint } from './failure-diagnosis.js';

/** A driver error as MikroORM converts it: the driver's own fields copied onto it. */
const driverError = (message: string, fields: Record<string, unknown> = {}) =>
  Object.assign(new Error(message), fields);

describe('describeConstraint', () => {
  it("names PostgreSQL's constraint from the error's fields, whatever the message quotes", () => {
    const error = driverError(`insert into "choice" values ('check constraint evil failed') - violates`, {
      code: '23503',
      constraint: 'choice_question_id_foreign',
      table: 'choice',
    });
    expect(describeConstraint(error)).toBe('foreign key constraint choice_question_id_foreign failed');
    expect(describeConstraint(driverError('x', { code: '23502', table: 'choice', column: 'votes' }))).toBe(
      'not null constraint choice.votes failed',
    );
  });

  it("reads only the end of SQLite's message, which row data in the SQL before it cannot imitate", () => {
    const sql = `insert into "choice" values ('UNIQUE constraint failed: fake - x') - SQLITE_CONSTRAINT: `;
    expect(describeConstraint(driverError(`${sql}CHECK constraint failed: no_poison`))).toBe(
      'check constraint no_poison failed',
    );
    expect(describeConstraint(driverError(`${sql}FOREIGN KEY constraint failed`))).toBe(
      'foreign key constraint failed',
    );
    expect(describeConstraint(driverError('SQLITE_CONSTRAINT: UNIQUE constraint failed: choice.id'))).toBe(
      'unique constraint choice.id failed',
    );
    expect(describeConstraint(driverError('something else'))).toBe('a constraint failed');
  });
});
