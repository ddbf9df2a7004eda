/**
 * A process of ours: the CLIs as they are deployed, compiled (`npm run build`, see buildClis), and the bench's own
 * latency writer from TypeScript source.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CLIS, cliEnv, ROOT } from '@oplog/testing/cli';

export { buildClis, ENTITIES_MODULE, ROOT } from '@oplog/testing/cli';

/**
 * The CLIs run as compiled JavaScript, as in production (see buildClis): under tsx, each would also carry the
 * loader's own thread and V8 isolate (~30 MB RSS).
 */
export const SCRIPTS = {
  consumer: CLIS.consumer,
  producer: CLIS.producer,
  writer: join(ROOT, 'bench/stream-writer.ts'),
} as const;

export type LogLine = Record<string, unknown> & { msg?: string };

const FROM_SOURCE = ['--conditions=@oplog/source', '--import', 'tsx'];

const settings = { cpuProfDir: undefined as string | undefined, nodeFlags: [] as string[] };

/** `cpuProfDir`: write a V8 CPU profile of every child there; `nodeFlags`: extra node flags for every child. */
export function configureChildren(options: { cpuProfDir?: string; nodeFlags?: string[] }): void {
  settings.cpuProfDir = options.cpuProfDir;
  settings.nodeFlags = options.nodeFlags ?? [];
}

/** stdout is read as JSON lines (pino), stderr kept for error messages. */
export class Child {
  readonly lines: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  readonly child: ChildProcess;
  #waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];

  constructor(
    readonly label: string,
    script: string,
    argv: string[],
    env: Record<string, string> = {},
  ) {
    const profile = settings.cpuProfDir
      ? ['--cpu-prof', '--cpu-prof-dir', settings.cpuProfDir, '--cpu-prof-name', `${label}.${Date.now()}.cpuprofile`]
      : [];
    this.child = spawn(
      process.execPath,
      [...settings.nodeFlags, ...profile, ...(script.endsWith('.ts') ? FROM_SOURCE : []), script, ...argv],
      { cwd: ROOT, env: cliEnv({ OPLOG_LOG_LEVEL: 'info', ...env }), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.#onLine(line));
    createInterface({ input: this.child.stderr! }).on('line', (line) => this.stderr.push(line));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  waitFor(what: string, match: (line: LogLine) => boolean, timeoutMs = 60_000): Promise<LogLine> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(this.failure(`timed out waiting for ${what}`)), timeoutMs);
      void this.exited.then(() => reject(this.failure(`exited while waiting for ${what}`)));
      this.#waiters.push({
        match,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  }

  failure(why: string): Error {
    const tail = [...this.lines.slice(-5).map((l) => JSON.stringify(l)), ...this.stderr.slice(-15)].join('\n');
    return new Error(`${this.label}: ${why}; last output:\n${tail}`);
  }

  /** Lines logged at warn or above: they would explain a slow round. */
  warnings(): LogLine[] {
    return this.lines.filter((l) => Number(l.level) >= 40);
  }

  async stop(): Promise<number | null> {
    if (this.running) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  #onLine(line: string): void {
    let parsed: LogLine;
    try {
      parsed = JSON.parse(line);
    } catch {
      this.stderr.push(line);
      return;
    }
    this.lines.push(parsed);
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!waiter.match(parsed)) return true;
      waiter.resolve(parsed);
      return false;
    });
  }
}
