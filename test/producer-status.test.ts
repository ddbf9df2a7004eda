import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { cliArgv, cliEnv, ROOT } from './support/cli.js';
import { StreamHarness, waitForConvergence } from './support/stream-harness.js';

const run = promisify(execFile);

/** A port that was free a moment ago (the status endpoint needs a known one). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function status(statusPort: number): Promise<string> {
  const argv = cliArgv('producer', ['status', '--status-url', `http://127.0.0.1:${statusPort}`]);
  const { stdout } = await run(process.execPath, argv, { cwd: ROOT, env: cliEnv() });
  return stdout;
}

describe('oplog-producer status and /metrics', () => {
  let harness: StreamHarness | undefined;
  afterEach(async () => {
    await harness?.dispose();
    harness = undefined;
  });

  it('reports the backlog, the oldest unacked change and the last error, then caught up', async () => {
    harness = await StreamHarness.create('sqlite', 'sqlite');
    await harness.scenario();
    const statusPort = await freePort();
    const nowhere = await freePort();
    const producer = await harness.startProducer(nowhere, { OPLOG_STATUS__PORT: String(statusPort) });
    await producer.waitForMessage('connection lost');

    const offline = await status(statusPort);
    expect(offline).toMatch(/^backlog +5 changes \(head 5, acked 0\)$/m);
    expect(offline).toMatch(/^oldest unacked +\d+\.\d s old$/m);
    expect(offline).toMatch(/^last error +OPLOG_\w+: /m);
    const metrics = await (await fetch(`http://127.0.0.1:${statusPort}/metrics`)).text();
    expect(metrics).toMatch(/^oplog_producer_backlog_changes 5$/m);
    expect(metrics).toMatch(/^oplog_producer_connected 0$/m);
    await producer.kill('SIGKILL');

    const { port } = await harness.startConsumer();
    const live = await harness.startProducer(port, { OPLOG_STATUS__PORT: String(statusPort) });
    await live.waitForMessage('connected');
    await waitForConvergence(harness);
    await expect
      .poll(() => status(statusPort), { timeout: 15_000 })
      .toMatch(/^backlog +0 changes \(head 5, acked 5\)$/m);
    const caughtUp = await status(statusPort);
    expect(caughtUp).toMatch(/^state +streaming since /m);
    expect(caughtUp).toMatch(/^oldest unacked +none: caught up$/m);
    const after = await (await fetch(`http://127.0.0.1:${statusPort}/metrics`)).text();
    expect(after).toMatch(/^oplog_producer_acked_seq 5$/m);
    expect(after).toMatch(/^oplog_producer_connected 1$/m);
  });
});
