import { EntitySchema } from '@mikro-orm/core';
import { MikroORM } from '@mikro-orm/sqlite';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { uncapturedCascades } from './cascade-check.js';
import { oplogEntities } from './outbox-schema.js';
import { OplogCapture } from './subscriber.js';

interface Parent {
  id: number;
}
interface Child {
  id: number;
  parent: Parent;
}
const ParentSchema = new EntitySchema<Parent>({
  name: 'Parent',
  properties: { id: { type: 'integer', primary: true } },
});
const childSchema = (deleteRule?: 'cascade') =>
  new EntitySchema<Child>({
    name: 'Child',
    properties: {
      id: { type: 'integer', primary: true },
      parent: { kind: 'm:1', entity: () => ParentSchema, ...(deleteRule ? { deleteRule } : {}) },
    },
  });

describe('uncapturedCascades', () => {
  let orm: MikroORM | undefined;
  afterEach(async () => {
    await orm?.close();
    vi.restoreAllMocks();
  });

  const open = async (deleteRule?: 'cascade', capture = new OplogCapture()) => {
    orm = await MikroORM.init({
      dbName: ':memory:',
      entities: [ParentSchema, childSchema(deleteRule), ...oplogEntities],
      subscribers: [capture],
    });
    await orm.schema.createSchema();
    return orm;
  };

  it('names a replicated relation with deleteRule cascade', async () => {
    const db = await open('cascade');
    const warnings = uncapturedCascades(db.getMetadata(), () => true);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^Child\.parent has deleteRule 'cascade'/);
  });

  it('says nothing without such a relation, or when the child does not replicate', async () => {
    await open();
    expect(uncapturedCascades(orm!.getMetadata(), () => true)).toEqual([]);
    await orm!.close();
    await open('cascade');
    expect(uncapturedCascades(orm!.getMetadata(), (name) => name !== 'Child')).toEqual([]);
  });

  it('is emitted once as a process warning on the first flush', async () => {
    const emit = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const db = await open('cascade');
    for (const id of [1, 2]) {
      const em = db.em.fork();
      em.create(ParentSchema, { id });
      await em.flush();
    }
    const ours = emit.mock.calls.filter(
      (call) => (call[1] as { code?: string })?.code === 'OPLOG_CASCADE_NOT_CAPTURED',
    );
    expect(ours).toHaveLength(1);
  });
});
