import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The CLIs as they are deployed: compiled (see buildClis, which vitest's global setup and the fault runner call
 * first). From TypeScript source, through tsx's loader, each start cost about 0.4 s more CPU, a few hundred times
 * per run of the suite.
 */
export const ENTITIES_MODULE = `${ROOT}apps/demo/dist/entities.js`;
export const CLIS = {
  consumer: `${ROOT}apps/consumer/dist/cli.js`,
  producer: `${ROOT}apps/producer/dist/cli.js`,
  demo: `${ROOT}apps/demo/dist/cli.js`,
} as const;

/** Compiles the packages and apps (turbo skips what is unchanged since the last build). */
export function buildClis(): void {
  execFileSync('npx', ['turbo', 'run', 'build', '--output-logs=errors-only'], {
    cwd: ROOT,
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/**
 * node's arguments for a CLI: a module given in TypeScript (a test's own entities or config) is loaded through tsx,
 * the CLI and its packages stay compiled.
 */
export function cliArgv(cli: keyof typeof CLIS, args: readonly string[]): string[] {
  const typescript = args.some((arg) => arg.endsWith('.ts'));
  return [...(typescript ? ['--import', 'tsx'] : []), CLIS[cli], ...args];
}

/**
 * The environment for a CLI we start: this process's, less every OPLOG_* variable, plus `env`. The CLIs refuse an
 * OPLOG_* variable they do not know (exit 2), and the tooling's own (OPLOG_TEST_PG_URL, OPLOG_BENCH_PG_BIN,
 * OPLOG_PROPERTY_*) are none of theirs; a CLI gets exactly the settings its caller gives it.
 */
export function cliEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(([name]) => !name.startsWith('OPLOG_'));
  return { ...Object.fromEntries(inherited), ...env };
}

export type LogLine = Record<string, unknown> & { msg?: string };

/** One of our CLIs, run as a real process; its stdout is read as pino JSON lines. */
export class CliProcess {
  readonly logs: LogLine[] = [];
  readonly output: string[] = [];
  readonly exited: Promise<number | null>;
  #waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];

  private constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    createInterface({ input: child.stdout! }).on('line', (line) => this.#onLine(line));
    createInterface({ input: child.stderr! }).on('line', (line) => this.output.push(line));
  }

  static start(cli: keyof typeof CLIS, args: string[], env: Record<string, string> = {}): CliProcess {
    const child = spawn(process.execPath, cliArgv(cli, args), {
      cwd: ROOT,
      env: cliEnv({ OPLOG_LOG_LEVEL: 'info', ...env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new CliProcess(child);
  }

  /** Resolves with the first log line (past or future) for which `match` holds. */
  waitFor(match: (line: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
    const seen = this.logs.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for a log line; last output:\n${this.output.slice(-20).join('\n')}`)),
        timeoutMs,
      );
      this.#waiters.push({
        match,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  }

  waitForMessage(msg: string, timeoutMs?: number): Promise<LogLine> {
    return this.waitFor((line) => line.msg === msg, timeoutMs);
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }

  #onLine(line: string): void {
    this.output.push(line);
    let parsed: LogLine;
    try {
      parsed = JSON.parse(line);
    } catch {
      return;
    }
    this.logs.push(parsed);
    const [ready, waiting] = partition(this.#waiters, (w) => w.match(parsed));
    this.#waiters = waiting;
    for (const w of ready) w.resolve(parsed);
  }
}

function partition<T>(items: T[], test: (item: T) => boolean): [T[], T[]] {
  const yes: T[] = [];
  const no: T[] = [];
  for (const item of items) (test(item) ? yes : no).push(item);
  return [yes, no];
}
