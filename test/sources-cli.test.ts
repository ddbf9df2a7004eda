import { describe, expect, it } from 'vitest';
import type { LogLine } from './support/cli.js';
import { harnessPerTest, waitForConvergence, waitForLogs } from './support/stream-harness.js';

const TIMEOUT = 120_000;
const connected = (line: LogLine) => line.msg === 'connected';
const refusedAttempt = (line: LogLine) => line.msg === 'connection lost' && line.code === 'OPLOG_UNAUTHORIZED';

describe('oplog-consumer sources', () => {
  const createHarness = harnessPerTest();

  it(
    'adds a credential whose token streams, lists it without secrets, and revoking it cuts the live session for good',
    async () => {
      const h = await createHarness('sqlite', 'sqlite');
      await h.scenario();
      const { process: consumer, port } = await h.startConsumer();

      const added = await h.sources('add', 'shop-9');
      expect(added.code, added.stderr).toBe(0);
      const token = added.stdout.trim();
      expect(token).toMatch(/^shop-9\.[A-Za-z0-9_-]{43}$/);
      expect(added.stderr).toMatch(/cannot be shown again/);
      const secret = token.split('.')[1]!;

      const producer = await h.startProducer(port, { OPLOG_TOKEN: token, OPLOG_BACKOFF__MAX_MS: '500' });
      await producer.waitFor(connected);
      await waitForConvergence(h);
      expect((await h.sourceStatus(port)) as unknown).toMatchObject({ id: 'shop-9', connected: true });

      const listed = await h.sources('list');
      expect(listed.code).toBe(0);
      const rows = listed.stdout.trim().split('\n');
      expect(rows[0]).toMatch(/^source +created +expires +revoked$/);
      const shop9 = rows.find((row) => row.startsWith('shop-9 '));
      expect(shop9).toMatch(/^shop-9 +\d{4}-\d\d-\d\dT\S+Z +- +-$/);
      expect(listed.stdout).not.toContain(secret);
      expect(listed.stdout).not.toMatch(/[0-9a-f]{64}/);

      const again = await h.sources('add', 'shop-9');
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/already has a valid credential/);
      expect(again.stdout).toBe('');

      expect((await h.sources('revoke', 'shop-9')).code).toBe(0);
      // The running consumer re-reads the credentials (every 2 s by default) and closes the session.
      const cut = await producer.waitFor((l) => l.msg === 'connection lost', 20_000);
      expect(cut.code).toBe('OPLOG_CREDENTIAL_REVOKED');
      // Reconnecting is refused at the upgrade, again and again.
      await producer.waitFor(refusedAttempt, 20_000);
      const refused = await consumer.waitFor((l) => l.msg === 'producer refused: 401');
      expect(refused).toMatchObject({ reason: 'revoked', source: 'shop-9' });

      // Changes made now are not applied: the cursor stays where the revocation left it.
      const cursorAtRevocation = await h.cursor();
      await h.write(20);
      // Two more refused attempts after the load: the producer had the new changes to send, and could not.
      await waitForLogs(producer, refusedAttempt, producer.logs.filter(refusedAttempt).length + 2);
      expect(await h.head()).toBeGreaterThan(cursorAtRevocation);
      expect(await h.cursor()).toBe(cursorAtRevocation);
      expect(producer.logs.filter(connected)).toHaveLength(1);

      const revokedRow = (await h.sources('list')).stdout.split('\n').find((row) => row.startsWith('shop-9 '));
      expect(revokedRow).toMatch(/^shop-9 +\S+ +- +\d{4}-\d\d-\d\dT\S+Z$/);
      const twice = await h.sources('revoke', 'shop-9');
      expect(twice.code).toBe(1);
    },
    TIMEOUT,
  );
});
