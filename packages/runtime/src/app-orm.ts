import type { Options } from '@mikro-orm/core';
import type { z } from 'zod';
import { ConfigError } from './config.js';
import { loadEntities } from './load-entities.js';
import { type AppOrmConfig, loadOrmConfig } from './orm-config.js';

/** The two ways to tell a CLI about the app's ORM: its entities module, or its whole MikroORM config module. */
export interface AppModules {
  entities?: string;
  ormConfig?: string;
}

export type EntityList = NonNullable<Options['entities']>;

/** What a CLI knows of the app's ORM: its MikroORM config, if given, and its entities (from either module). */
export interface AppOrm {
  config?: AppOrmConfig;
  entities: EntityList;
}

/** Loads the app's entities, from its MikroORM config (`ormConfig`) or from its entities module (`entities`). */
export async function loadAppOrm(modules: AppModules): Promise<AppOrm> {
  if (!modules.ormConfig) {
    if (!modules.entities) throw new ConfigError(ENTITIES_REQUIRED);
    return { entities: await loadEntities(modules.entities) };
  }
  const config = await loadOrmConfig(modules.ormConfig);
  const entities = config.options.entities ?? [];
  if (entities.length === 0) {
    throw new ConfigError(`${config.file} lists no entities: the CLIs need the entities the app replicates`, {
      setting: 'ormConfig',
    });
  }
  return { config, entities };
}

/** The app's MikroORM config, when one is named (commands that need its connection and options, not its entities). */
export async function loadAppConfig(modules: AppModules): Promise<AppOrmConfig | undefined> {
  return modules.ormConfig ? loadOrmConfig(modules.ormConfig) : undefined;
}

const ENTITIES_REQUIRED =
  "entities is required: set --entities or OPLOG_ENTITIES, or give the app's MikroORM config with --orm-config or OPLOG_ORM_CONFIG";

/**
 * `settings` with the rule between the two keys: never both (which entities would apply?), and one of them when
 * `required` (the commands that replicate). Checked even when other keys are wrong, so every missing key is named
 * at once.
 */
export function withAppModules<S extends z.ZodType<AppModules>>(settings: S, { required }: { required: boolean }): S {
  return settings.superRefine(
    (config, ctx) => {
      if (config.entities !== undefined && config.ormConfig !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['ormConfig'],
          message:
            'the MikroORM config names the entities, so entities (--entities or OPLOG_ENTITIES) must not be set too: drop one of the two',
        });
      } else if (required && config.entities === undefined && config.ormConfig === undefined) {
        ctx.addIssue({ code: 'custom', path: ['entities'], message: ENTITIES_REQUIRED });
      }
    },
    { when: () => true },
  );
}
