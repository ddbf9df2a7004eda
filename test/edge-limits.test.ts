import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { LogLine } from './support/cli.js';
import { expectExit, harnessPerTest, waitForConvergence } from './support/stream-harness.js';

const TIMEOUT = 120_000;
const connected = (line: LogLine) => line.msg === 'connected';
const lost = (line: LogLine) => line.msg === 'connection lost';

describe('limits at the edge', () => {
  const createHarness = harnessPerTest();

  it(
    'disconnects a client that trickles its upgrade request, while a real producer keeps streaming',
    async () => {
      const h = await createHarness('sqlite', 'sqlite');
      await h.scenario();
      const { port } = await h.startConsumer([], { OPLOG_REQUEST_TIMEOUT_MS: '1000' });
      const producer = await h.startProducer(port);
      await producer.waitFor(connected);
      const load = h.load(300, 50);

      // Slowloris: the request line and a header, then one more header line now and then, never the blank line.
      const slow = connect(port, '127.0.0.1');
      let received = '';
      slow.on('data', (chunk) => (received += String(chunk)));
      slow.on('error', () => {});
      slow.write('GET /oplog HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n');
      const trickle = setInterval(() => slow.writable && slow.write('X-Slow: 1\r\n'), 200);
      const closed = await new Promise<boolean>((resolve) => {
        slow.once('close', () => resolve(true));
        setTimeout(() => resolve(false), 30_000);
      });
      clearInterval(trickle);
      expect(closed, 'the partial upgrade request was still open after 30 s').toBe(true);
      expect(received).toMatch(/^HTTP\/1\.1 408 /);

      await h.loadResult(load);
      await waitForConvergence(h);
      expect(producer.logs.filter(connected)).toHaveLength(1);
      expect(producer.logs.filter(lost)).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    'holds a source to maxEntriesPerSecond by delaying its batches, without dropping or cutting anything',
    async () => {
      const h = await createHarness('sqlite', 'sqlite');
      await h.scenario();
      // A backlog in the log (a new source's old rows would come as a snapshot instead): stream the scenario,
      // stop the consumer, write, then bring back a rate-limited consumer behind the same proxy.
      const first = await h.startConsumer();
      const proxy = await h.proxy(first.port);
      const producer = await h.startProducer(proxy.port, { OPLOG_BACKOFF__MAX_MS: '500' });
      await waitForConvergence(h);
      await first.process.kill('SIGTERM');
      await expectExit(first.process, 'the first consumer');
      await h.write(600);
      const backlog = (await h.head()) - (await h.cursor());
      const rate = 200;
      const { port } = await h.startConsumer([], { OPLOG_MAX_ENTRIES_PER_SECOND: String(rate) });
      const started = Date.now();
      const seen = producer.logs.length;
      proxy.retarget(port);
      await waitForConvergence(h, 90_000);
      // A lower bound only: a slow machine makes this longer, never shorter. One second of burst is allowed.
      expect(Date.now() - started).toBeGreaterThanOrEqual(((backlog - rate) / rate) * 1000);
      // One session caught the backlog up, delayed but never cut.
      const after = producer.logs.slice(seen);
      const session = after.findIndex(connected);
      expect(session).toBeGreaterThan(-1);
      expect(after.slice(session).filter(lost)).toEqual([]);
    },
    TIMEOUT,
  );
});
