import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { consumerEntities } from '@oplog/consumer';
import { openLocalApp } from '@oplog/demo/local-app';
import { loadSources } from '@oplog/replay';
import { openOrm } from '@oplog/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CliProcess, cliArgv, cliEnv, ROOT } from './support/cli.js';
import { outboxEntries } from './support/outbox.js';

/**
 * `oplog-demo start`, compiled, in a process group of its own as a terminal runs it: a Ctrl-C there signals the
 * whole group, which `interrupt` does too.
 */
class Demo {
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  readonly #pid: number;
  #waiters: (() => void)[] = [];

  constructor(
    readonly dir: string,
    args: string[],
  ) {
    const child = spawn(process.execPath, cliArgv('demo', ['start', '--dir', dir, '--port', '0', ...args]), {
      cwd: ROOT,
      env: cliEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.#pid = child.pid!;
    this.exited = new Promise((resolve) => child.once('exit', resolve));
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        this.lines.push(line);
        for (const wake of this.#waiters.splice(0)) wake();
      });
    }
  }

  /** The first line (past or future) that `pattern` matches, and its groups. */
  async line(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const line of this.lines) {
        const match = pattern.exec(line);
        if (match) return match;
      }
      if (Date.now() > deadline) throw new Error(`no line matches ${pattern}; got:\n${this.lines.join('\n')}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 500);
      });
    }
  }

  /** Ctrl-C in its terminal: SIGINT to every process of its group. */
  interrupt(): void {
    process.kill(-this.#pid, 'SIGINT');
  }

  terminate(): void {
    process.kill(this.#pid, 'SIGTERM');
  }

  /** The consumer's process id, from its log (pino writes it on every line); 0 before it logged. */
  consumerPid(): number {
    const log = join(this.dir, 'consumer.log');
    const first = existsSync(log) ? readFileSync(log, 'utf8').split('\n')[0] : undefined;
    return first ? (JSON.parse(first).pid as number) : 0;
  }

  /** After a failed test: the demo's group and its consumer (in a group of its own), whatever is left of them. */
  kill(): void {
    for (const pid of [-this.#pid, this.consumerPid()]) if (pid !== 0 && alive(pid)) process.kill(pid, 'SIGKILL');
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('oplog-demo start', () => {
  const demos: Demo[] = [];

  afterEach(async () => {
    for (const demo of demos.splice(0)) {
      demo.kill();
      rmSync(demo.dir, { recursive: true, force: true });
    }
  });

  it("prints the README's URLs, and on Ctrl-C stops everything and says how many changes are still unsent", async () => {
    const demo = new Demo(mkdtempSync(join(tmpdir(), 'oplog-demo-')), ['--rate', '20']);
    demos.push(demo);
    // The README's quick start promises these two, on the consumer's port (7420 by default, any free one here).
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('`[dashboard] http://127.0.0.1:7420/`');
    expect(readme).toContain('the consumer on `ws://127.0.0.1:7420/oplog`');
    const [, dashboard, port] = await demo.line(/^\[dashboard\] (http:\/\/127\.0\.0\.1:(\d+)\/)$/);
    const [, consumerUrl] = await demo.line(/^\[central\]\s+oplog-consumer on (\S+), applying into /);
    expect(consumerUrl).toBe(`ws://127.0.0.1:${port}/oplog`);
    const page = await fetch(dashboard!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>oplog');
    // The consumer answers there: a producer without a credential is refused at the upgrade.
    const refused = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(consumerUrl!);
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => reject(new Error('opened without a credential')));
      ws.once('error', reject);
    });
    expect(refused).toBe(401);

    // Streaming; then the source's credential is revoked, so the changes the load goes on writing stay unsent.
    const [, sourceId] = await demo.line(/^\[central\]\s+created a credential for source (\S+) /);
    await demo.line(/^\[status\]\s+streaming: .*central applied [1-9]/);
    const central = join(demo.dir, 'central.sqlite');
    const revoke = CliProcess.start('consumer', ['sources', 'revoke', sourceId!, '--db-name', central]);
    expect(await revoke.exited).toBe(0);
    await demo.line(/^\[status\]\s+(?:connecting|backoff): .*lag [1-9]/);
    const consumerPid = demo.consumerPid();

    demo.interrupt();
    expect(await demo.exited).toBe(0);
    const [, unsent, head, applied] = await demo.line(
      /^\[stopped\]\s+unsent: (\d+) changes? in the outbox not yet acknowledged by the consumer \(local head (\d+), central applied (\d+)\); the next start sends them$/,
    );
    expect(demo.lines.at(-1)).toMatch(/^\[stopped\]/);
    expect(Number(unsent)).toBeGreaterThan(0);
    expect(alive(consumerPid)).toBe(false);

    // The count is the truth: the consumer's cursor, and the entries after it in the local outbox.
    const centralOrm = await openOrm({ driver: 'sqlite', name: central }, { entities: consumerEntities });
    const local = await openLocalApp({ driver: 'sqlite', name: join(demo.dir, 'local.sqlite') });
    try {
      const { cursor } = (await loadSources(centralOrm.em.getConnection())).get(sourceId!)!;
      expect(cursor.seq).toBe(Number(applied));
      const pending = await outboxEntries(local, cursor.seq);
      expect(pending.length).toBe(Number(unsent));
      expect(pending.at(-1)?.seq).toBe(Number(head));
    } finally {
      await centralOrm.close();
      await local.close();
    }
  });

  it('on SIGTERM with a steady link, drains: every change reached the consumer', async () => {
    const demo = new Demo(mkdtempSync(join(tmpdir(), 'oplog-demo-')), ['--steady', '--rate', '20']);
    demos.push(demo);
    await demo.line(/^\[status\]\s+streaming: .*central applied [1-9]/);
    const consumerPid = demo.consumerPid();
    demo.terminate();
    expect(await demo.exited).toBe(0);
    await demo.line(/^\[stopped\]\s+every change reached the consumer \(local head [1-9]\d*\); nothing left unsent$/);
    expect(alive(consumerPid)).toBe(false);
  });
});
