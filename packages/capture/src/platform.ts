import type { Platform } from '@mikro-orm/core';

/** Whether MikroORM talks to PostgreSQL; otherwise it is SQLite, the only other database this project supports. */
export function onPostgres(platform: Platform): boolean {
  return /postgre/i.test(platform.constructor.name);
}
