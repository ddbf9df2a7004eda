import pino, { type Logger } from 'pino';

export type { Logger };

/** JSON logs on stdout; each part of an app logs through a `component` child. */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino({ level: options.level ?? process.env.OPLOG_LOG_LEVEL ?? 'info', name: options.name });
}
