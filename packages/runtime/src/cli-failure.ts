import { ConfigError } from './config.js';
import { type ConfigOption, settingLabel } from './config-options.js';
import { DB_OPTIONS } from './db-config.js';

/** The exit statuses of both CLIs: 2 when the configuration must change, 1 for a failure while running. */
const EXIT_CONFIG = 2;
const EXIT_RUNTIME = 1;

/** A failure at run time already worded for the person who ran the CLI (exit status 1): a refusal, a dead end. */
export class CliFailure extends Error {
  override readonly name = 'CliFailure';
}

/** A failure as the person who ran the CLI reads it: one line (none if commander printed it already), a status. */
interface Failure {
  message?: string;
  exitCode: number;
}

/** What the words of a failure need to know of the CLI: its options, and the keys of the address it listens on. */
export interface CliContext {
  program: string;
  options: readonly ConfigOption[];
  /** `listen` (consumer) or `status` (producer): its `.host` and `.port` are named when the address is refused. */
  listenSetting: string;
  /** Where the tables it reads come from, said when one is missing: `oplog-consumer schema sql …`. */
  createTables: string;
}

/**
 * The one place where an error becomes what a CLI says: a ConfigError or an OplogError as it is, and the errors
 * users cause most (a database that cannot be reached, refuses the login or does not exist; a port in use; a file
 * that cannot be read), each naming the flag and variable to check. Anything else is an unexpected error.
 */
function describeFailure(error: unknown, cli: CliContext): Failure {
  const name = (path: string) => settingLabel(path, [...cli.options, ...DB_OPTIONS]);
  if (isCommanderError(error)) return { exitCode: error.exitCode === 0 ? 0 : EXIT_CONFIG };
  if (error instanceof ConfigError) {
    const message = error.setting ? `${name(error.setting)}: ${error.message}` : error.message;
    return { message, exitCode: EXIT_CONFIG };
  }
  if (error instanceof CliFailure) return { message: error.message, exitCode: EXIT_RUNTIME };
  const { code, message = String(error) } = error as { code?: unknown; message?: string };
  if (typeof code === 'string' && code.startsWith('OPLOG_')) {
    return { message: `${code}: ${message}`, exitCode: EXIT_RUNTIME };
  }
  const known = typeof code === 'string' ? KNOWN[code] : undefined;
  return (
    known?.(error as SystemError, name, cli) ?? {
      message: `unexpected error: ${cut(oneLine(message))} (run with OPLOG_LOG_LEVEL=debug for the stack, and report it)`,
      exitCode: EXIT_RUNTIME,
    }
  );
}

/** Prints a failure as one line on stderr (and the stack when OPLOG_LOG_LEVEL=debug) and exits with its status. */
export function exitWithFailure(error: unknown, cli: CliContext): never {
  const { message, exitCode } = describeFailure(error, cli);
  if (message) process.stderr.write(`${cli.program}: ${message}\n`);
  if (['debug', 'trace'].includes(process.env.OPLOG_LOG_LEVEL ?? '') && error instanceof Error) {
    process.stderr.write(`${error.stack}\n${error.cause instanceof Error ? `cause: ${error.cause.stack}\n` : ''}`);
  }
  process.exit(exitCode);
}

/** commander's error text as one line: `oplog-consumer: unknown option '--x' (Did you mean --y?); see --help`. */
export function usageLine(program: string, text: string): string {
  return `${program}: ${oneLine(text.replace(/^error: /, ''))}; see ${program} --help\n`;
}

interface SystemError extends Error {
  code: string;
  address?: string;
  port?: number;
  path?: string;
  syscall?: string;
}
type Describe = (error: SystemError, name: (path: string) => string, cli: CliContext) => Failure | undefined;

const unreachable: Describe = (error, name) =>
  error.syscall === 'connect' || error.syscall === 'getaddrinfo'
    ? {
        message: `cannot reach the PostgreSQL server (${error.message}): start it, or fix the host and port in ${name('db.url')}`,
        exitCode: EXIT_RUNTIME,
      }
    : undefined;

const loginRefused: Describe = (error, name) => ({
  message: `PostgreSQL refused the login (${error.message}): fix the user or password in ${name('db.url')}`,
  exitCode: EXIT_CONFIG,
});

/** SQLite's `no such table: x`, PostgreSQL's `relation "x" does not exist` (42P01): the wrong database, or no schema. */
const missingTable: Describe = (error, name, cli) => {
  const table = /no such table: (\S+)|relation "([^"]+)" does not exist/.exec(error.message);
  if (!table) return undefined;
  return {
    message: `the database has no table ${table[1] ?? table[2]}: check that ${name('db.name')} or ${name('db.url')} is the right database; ${cli.createTables}`,
    exitCode: EXIT_CONFIG,
  };
};

const unreadable: Describe = (error) =>
  error.path
    ? { message: `cannot read ${error.path} (${error.code}): fix the path that names it`, exitCode: EXIT_CONFIG }
    : undefined;

/** Errors by their code: Node's system errors, PostgreSQL's SQLSTATE. */
const KNOWN: Record<string, Describe> = {
  ECONNREFUSED: unreachable,
  ENOTFOUND: unreachable,
  EAI_AGAIN: unreachable,
  ETIMEDOUT: unreachable,
  EHOSTUNREACH: unreachable,
  ENETUNREACH: unreachable,
  '28P01': loginRefused,
  '28000': loginRefused,
  '3D000': (error, name) => ({
    message: `PostgreSQL has no ${error.message.replace(/ does not exist$/, '')}: fix the name in ${name('db.url')} or ${name('db.name')}, or pass --create-db to create it`,
    exitCode: EXIT_CONFIG,
  }),
  EADDRINUSE: (error, name, cli) => ({
    message: `${error.address}:${error.port} is already in use: stop what listens there, or choose another port with ${name(`${cli.listenSetting}.port`)}`,
    exitCode: EXIT_RUNTIME,
  }),
  EACCES: (error, name, cli) =>
    error.syscall === 'listen'
      ? {
          message: `no permission to listen on ${error.address}:${error.port}: choose a port above 1023 with ${name(`${cli.listenSetting}.port`)}`,
          exitCode: EXIT_CONFIG,
        }
      : unreadable(error, name, cli),
  EADDRNOTAVAIL: (error, name, cli) => ({
    message: `${error.address} is not an address of this machine: fix ${name(`${cli.listenSetting}.host`)}`,
    exitCode: EXIT_CONFIG,
  }),
  SQLITE_ERROR: missingTable,
  '42P01': missingTable,
  ENOENT: unreadable,
  EISDIR: unreadable,
};

function isCommanderError(error: unknown): error is { code: string; exitCode: number } {
  const { code, exitCode } = (error ?? {}) as { code?: unknown; exitCode?: unknown };
  return typeof code === 'string' && code.startsWith('commander.') && typeof exitCode === 'number';
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ').trim();
/** A long message (a database error quotes its SQL, values included) cut to what a line can hold. */
const cut = (text: string) => (text.length > 300 ? `${text.slice(0, 297)}...` : text);
