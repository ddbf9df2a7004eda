import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { ExpectStatic } from 'vitest';
import { CLIS, cliArgv, cliEnv, ROOT } from './cli.js';

/** How a CLI run ended, and what it wrote. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a compiled CLI to its end, as a person would: with none of this process's OPLOG_* variables, only `env`'s.
 * `plainNode` leaves tsx out even for a .ts argument (to see what a user without it gets). One still running after
 * `timeoutMs` (a CLI that started instead of failing) is killed: its code is then null.
 */
export function runCli(
  cli: 'consumer' | 'producer',
  args: readonly string[],
  env: Record<string, string> = {},
  { plainNode = false, timeoutMs = 45_000 } = {},
): Promise<CliRun> {
  const child = spawn(process.execPath, plainNode ? [CLIS[cli], ...args] : cliArgv(cli, args), {
    cwd: ROOT,
    env: cliEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A port nothing listens on: bound, then closed again. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * The line a failed CLI run printed, once checked to be what a person should get: exactly one line on stderr, after
 * the program's name, no stack, nothing on stdout, and the exit status (2 for the configuration, 1 at run time).
 */
export function failureLine(expect: ExpectStatic, run: CliRun, program: string, exitCode: 1 | 2): string {
  expect(run.code, `exit status; stderr: ${run.stderr}`).toBe(exitCode);
  const lines = run.stderr.split('\n').filter(Boolean);
  expect(lines, 'one line on stderr').toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^${program}: \\S`));
  expect(lines[0]).not.toMatch(/\bat .+:\d+:\d+\)?$/);
  expect(run.stdout, 'nothing on stdout').toBe('');
  return lines[0]!.slice(program.length + 2);
}
