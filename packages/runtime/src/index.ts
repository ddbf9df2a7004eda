export {
  type AppModules,
  type AppOrm,
  type EntityList,
  loadAppConfig,
  loadAppOrm,
  withAppModules,
} from './app-orm.js';
export { CLI_ENV_NAMES } from './cli-env-names.js';
export { type CliContext, CliFailure, exitWithFailure, usageLine } from './cli-failure.js';
export { ConfigError, type ConfigSources, loadConfig } from './config.js';
export { addConfigOptions, type ConfigOption } from './config-options.js';
export { envName, existingFile, settingsOf } from './config-schema.js';
export { DB_OPTIONS, type DbConfig, dbConfigSchema } from './db-config.js';
export { loadEntities } from './load-entities.js';
export { createLogger, type Logger } from './logger.js';
export { openOrm } from './orm.js';
export { type AppOrmConfig, loadOrmConfig } from './orm-config.js';
export { packageVersion } from './package-version.js';
export { schemaSql } from './schema-sql.js';
export { runServices, type Service } from './service.js';
