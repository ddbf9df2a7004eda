import type { MikroORM } from '@mikro-orm/core';
import { type AppModules, type EntityList, loadAppConfig } from './app-orm.js';
import type { DbConfig } from './db-config.js';
import { openOrm } from './orm.js';

/**
 * The DDL that creates `entities` on the database a CLI is configured for (its driver, and the app's MikroORM
 * options when given: naming strategy, schema), as MikroORM's schema generator writes it, without connecting:
 * statements separated by blank lines, which MikroORM migrations, `psql` and `sqlite3` all read. `more` adds
 * statements the generator cannot know of (a trigger), from the opened ORM.
 */
export async function schemaSql(
  settings: AppModules & { db: DbConfig },
  entities: EntityList,
  more: (orm: MikroORM) => string[] = () => [],
): Promise<string> {
  const orm = await openOrm(settings.db, { entities, connect: false }, await loadAppConfig(settings));
  try {
    const tables = (await orm.schema.getCreateSchemaSQL({ wrap: false })).trim();
    return `${[tables, ...more(orm)].join('\n\n')}\n`;
  } finally {
    await orm.close();
  }
}
