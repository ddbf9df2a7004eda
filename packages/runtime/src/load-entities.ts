import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { EntitySchema } from '@mikro-orm/core';
import { ConfigError } from './config.js';

type AnyEntity = EntitySchema | (abstract new (...args: never[]) => object);

/**
 * Loads the app's entity definitions from a module: its `entities` export, else its default export, as an array.
 * Relative paths resolve against the working directory. A module that cannot be loaded is a ConfigError on the
 * `entities` key that says why: no such file, TypeScript without a loader, a missing import, an error in it.
 */
export async function loadEntities(modulePath: string): Promise<AnyEntity[]> {
  const file = isAbsolute(modulePath) ? modulePath : resolve(modulePath);
  const refuse = (reason: string, cause?: unknown) => new ConfigError(reason, { setting: 'entities', cause });
  if (!existsSync(file)) throw refuse(`no such file ${file}: give the path of the module that exports your entities`);
  let mod: { entities?: unknown; default?: unknown };
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    if (code === 'ERR_UNKNOWN_FILE_EXTENSION') {
      throw refuse(`${file} is TypeScript: give the compiled JavaScript module, or run node with --import tsx`, error);
    }
    if (code === 'ERR_MODULE_NOT_FOUND') {
      const missing = /Cannot find (?:module|package) '([^']+)'/.exec(message ?? '')?.[1] ?? 'a module';
      throw refuse(`${file} imports ${missing}, which cannot be found: install it, or fix the import`, error);
    }
    throw refuse(`${file} failed to load: ${String(message).split('\n')[0]}`, error);
  }
  const entities = mod.entities ?? mod.default;
  if (!Array.isArray(entities) || entities.length === 0) {
    throw refuse(`${file} must export an array of entities as "entities" or as its default export`);
  }
  return entities as AnyEntity[];
}
