import { EntitySchema } from '@mikro-orm/core';
import { MikroORM } from '@mikro-orm/sqlite';
import { OplogCapture, oplogEntities } from '@oplog/capture';

/** The producer's unit tests: one replicated entity on an in-memory SQLite database with capture registered. */
export interface Note {
  id: number;
  text: string;
}

export const NoteSchema = new EntitySchema<Note>({
  name: 'Note',
  properties: { id: { type: 'integer', primary: true }, text: { type: 'string' } },
});

export async function openNotesOrm(): Promise<MikroORM> {
  const orm = await MikroORM.init({
    dbName: ':memory:',
    entities: [NoteSchema, ...oplogEntities],
    subscribers: [new OplogCapture()],
  });
  await orm.schema.createSchema();
  return orm;
}
