import { z } from 'zod';
import type { ConfigOption } from './config-options.js';

/** A PostgreSQL connection string's scheme. */
export const POSTGRES_URL = /^postgres(ql)?:\/\//;

/** The database settings both CLIs take (`db.*`), and what openOrm opens. */
export const dbConfigSchema = z
  .strictObject({
    /** Default: postgresql when a url is given, else sqlite. */
    driver: z.enum(['sqlite', 'postgresql']).optional(),
    /** SQLite: the file; PostgreSQL: the database name (or use url). */
    name: z.string().min(1).optional(),
    /** PostgreSQL connection string, e.g. postgresql://user@host:5432/db. */
    url: z
      .string()
      .regex(POSTGRES_URL, 'expected a PostgreSQL connection string, postgresql://user:password@host:5432/database')
      .optional(),
    /** Connection pool size (PostgreSQL). */
    pool: z.number().int().positive().optional(),
    /** Create what is missing: the PostgreSQL database, or the SQLite file's directory. Off: a typo fails instead. */
    create: z.boolean().optional(),
  })
  .superRefine((db, ctx) => {
    if (db.driver === 'sqlite' && db.url !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: 'a PostgreSQL connection string, while db.driver is sqlite: drop the driver or set it to postgresql',
      });
    }
  });
export type DbConfig = z.infer<typeof dbConfigSchema>;

/** The flags for `db.*` and the app's MikroORM config (`ormConfig`), the same in both CLIs. */
export const DB_OPTIONS: readonly ConfigOption[] = [
  {
    flags: '--orm-config <module>',
    path: 'ormConfig',
    description:
      "the app's MikroORM config module (compiled JavaScript); its options and entities apply, --db-* flags override its connection",
  },
  { flags: '--db-driver <driver>', path: 'db.driver', description: 'database driver: postgresql when --db-url is set' },
  {
    flags: '--db-name <name>',
    path: 'db.name',
    description: 'SQLite file (oplog.sqlite when unset) or PostgreSQL database name',
  },
  { flags: '--db-url <url>', path: 'db.url', description: 'PostgreSQL connection string, postgresql://user@host/db' },
  {
    flags: '--create-db',
    path: 'db.create',
    description: "create the PostgreSQL database, or the SQLite file's directory, if it does not exist",
  },
];

/** The driver a config means: the one named, else PostgreSQL for a connection string, else SQLite. */
export const driverOf = (db: DbConfig): 'sqlite' | 'postgresql' => db.driver ?? (db.url ? 'postgresql' : 'sqlite');
