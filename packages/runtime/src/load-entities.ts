import type { EntitySchema } from '@mikro-orm/core';
import { ConfigError } from './config.js';
import { importUserModule } from './import-module.js';

type AnyEntity = EntitySchema | (abstract new (...args: never[]) => object);

/**
 * Loads the app's entity definitions from a module: its `entities` export, else its default export, as an array.
 * A module that cannot be loaded, or exports no such array, is a ConfigError on the `entities` key that says why.
 */
export async function loadEntities(modulePath: string): Promise<AnyEntity[]> {
  const { file, exports } = await importUserModule(modulePath, 'entities', 'the module that exports your entities');
  const entities = exports.entities ?? exports.default;
  if (!Array.isArray(entities) || entities.length === 0) {
    throw new ConfigError(`${file} must export an array of entities as "entities" or as its default export`, {
      setting: 'entities',
    });
  }
  return entities as AnyEntity[];
}
