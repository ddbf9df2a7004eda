import type { Options } from '@mikro-orm/core';
import { ConfigError } from './config.js';
import { firstLine, importUserModule } from './import-module.js';

/** The app's own MikroORM options, read from the module that `ormConfig` (--orm-config) names. */
export interface AppOrmConfig {
  /** The module's absolute path, for messages. */
  file: string;
  options: Options;
}

/**
 * Loads the app's MikroORM config module as MikroORM's own CLI does: its default export (or its `config` export) is
 * the options, a promise of them, a function returning either (called with the context name), or an array of
 * configs told apart by `contextName`; the context is `MIKRO_ORM_CONTEXT_NAME`, else `default`. Every failure is a
 * ConfigError on `ormConfig` naming the file.
 */
export async function loadOrmConfig(modulePath: string): Promise<AppOrmConfig> {
  const { file, exports } = await importUserModule(modulePath, 'ormConfig', 'your MikroORM config module');
  const refuse = (reason: string, cause?: unknown) =>
    new ConfigError(`${file} ${reason}`, { setting: 'ormConfig', cause });
  const context = process.env.MIKRO_ORM_CONTEXT_NAME ?? 'default';
  let options: unknown;
  try {
    options = await inContext(await (exports.default ?? exports.config), context);
  } catch (error) {
    throw refuse(`failed to build the MikroORM options: ${firstLine((error as Error)?.message ?? error)}`, error);
  }
  if (!isOptions(options)) {
    throw refuse(
      `must export the app's MikroORM options as its default export (or as "config"): an object, or a function returning one${context === 'default' ? '' : ` for context ${context}`}`,
    );
  }
  return { file, options: options as Options };
}

/** The config for `context` among what the module exported (MikroORM's rules for arrays and factories). */
async function inContext(exported: unknown, context: string): Promise<unknown> {
  if (typeof exported === 'function') return ofContext(await exported(context), context);
  if (!Array.isArray(exported)) return ofContext(exported, context);
  const named = exported.filter((config) => isOptions(config) && contextOf(config) === context);
  if (named.length === 1) return named[0];
  if (named.length > 1) throw new Error(`it exports ${named.length} configs for context ${context}`);
  for (const factory of exported.filter((config) => typeof config === 'function')) {
    const config = ofContext(await factory(context), context);
    if (config) return config;
  }
  return undefined;
}

const isOptions = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const contextOf = (config: Record<string, unknown>) => config.contextName ?? 'default';
/** A config without a contextName fits any context, as in MikroORM; one naming another context does not. */
const ofContext = (config: unknown, context: string) =>
  isOptions(config) && (config.contextName === undefined || config.contextName === context) ? config : undefined;
