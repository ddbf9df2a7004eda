export { ConfigError, type ConfigSources, loadConfig } from './config.js';
export { createLogger, type Logger } from './logger.js';
export { type DbConfig, dbConfigSchema, loadEntities, openOrm } from './orm.js';
export { runServices, type Service } from './service.js';
