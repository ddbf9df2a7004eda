export { createLogger, type Logger } from './logger.js';
export { type Service, runServices } from './service.js';
export { ConfigError, type ConfigSources, loadConfig } from './config.js';
export { type DbConfig, dbConfigSchema, loadEntities, openOrm } from './orm.js';
