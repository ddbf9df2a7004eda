import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Logs on stdout: JSON lines for machines (a pipe, a file, journald), readable lines through pino-pretty when stdout
 * is a terminal. Each part of an app logs through a `component` child, shown before the message on a terminal.
 */
export function createLogger(options: { level?: string; name?: string; pretty?: boolean } = {}): Logger {
  const level = options.level ?? process.env.OPLOG_LOG_LEVEL ?? 'info';
  if (!(options.pretty ?? process.stdout.isTTY === true)) return pino({ level, name: options.name });
  return pino({
    level,
    name: options.name,
    transport: {
      target: 'pino-pretty',
      options: {
        destination: 1,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname,component',
        messageFormat: '{if component}{component}: {end}{msg}',
      },
    },
  });
}
