import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { cliEnv } from './cli.js';

const run = promisify(execFile);

/**
 * A CLI as an app's package.json installs it: its node_modules/.bin entry, run with plain node from the app's
 * directory, so that it resolves MikroORM and its packages from the app's node_modules only.
 */
export function installedBin(appDir: string, bin: string): string {
  return `${appDir}/node_modules/.bin/${bin}`;
}

/** Runs an installed CLI to completion; rejects (with its stderr) when it exits with a status other than 0. */
export async function runInstalled(
  appDir: string,
  bin: string,
  args: readonly string[],
): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [installedBin(appDir, bin), ...args], { cwd: appDir, env: cliEnv() });
}

/** A long-running installed CLI: its pino JSON lines are kept, to wait for one of them. */
export class InstalledProcess {
  readonly output: string[] = [];
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;

  constructor(appDir: string, bin: string, args: readonly string[], env: Record<string, string> = {}) {
    this.#child = spawn(process.execPath, [installedBin(appDir, bin), ...args], {
      cwd: appDir,
      env: cliEnv({ OPLOG_LOG_LEVEL: 'info', ...env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#exited = new Promise((resolve) => this.#child.once('exit', () => resolve()));
    createInterface({ input: this.#child.stdout! }).on('line', (line) => this.output.push(line));
    createInterface({ input: this.#child.stderr! }).on('line', (line) => this.output.push(line));
  }

  /** Resolves with the first log line whose `msg` is `msg`; rejects with the output so far if none comes in time. */
  async waitForMessage(msg: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const line = this.output.map(parseLogLine).find((parsed) => parsed?.msg === msg);
      if (line) return line;
      if (this.#child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`no "${msg}" line; output:\n${this.output.slice(-20).join('\n')}`);
  }

  stop(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGTERM');
    return this.#exited;
  }
}

function parseLogLine(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
