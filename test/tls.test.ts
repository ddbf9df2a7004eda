import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestCertificates, type TestCertificates } from './support/certificates.js';
import { harnessPerTest, waitForConvergence } from './support/stream-harness.js';

const TIMEOUT = 120_000;

describe('TLS between producer and consumer', () => {
  const createHarness = harnessPerTest();
  let certs: TestCertificates;
  beforeAll(async () => {
    certs = await createTestCertificates();
  });
  afterAll(() => rmSync(certs.dir, { recursive: true, force: true }));

  it(
    'streams over wss with the CA given, and refuses a consumer it cannot verify, whatever NODE_TLS_REJECT_UNAUTHORIZED says',
    async () => {
      const h = await createHarness('sqlite', 'sqlite');
      await h.scenario();
      const { process: consumer, port } = await h.startConsumer(['--tls-cert', certs.cert, '--tls-key', certs.key]);
      expect(await consumer.waitForMessage('consumer listening')).toMatchObject({ tls: true });

      const untrusting = await h.startProducer(port, { NODE_TLS_REJECT_UNAUTHORIZED: '0' }, 'wss');
      const refused = await untrusting.waitForMessage('connection lost');
      expect(refused.code).toBe('OPLOG_TLS_UNTRUSTED');
      expect(refused.err).toMatch(/certificate is not trusted \([A-Z_]+: .+\); set tls\.ca/);
      await untrusting.kill('SIGKILL');
      expect(consumer.logs.filter((l) => l.msg === 'source connected')).toEqual([]);

      const trusting = await h.startProducer(port, { OPLOG_TLS__CA: certs.ca }, 'wss');
      await trusting.waitForMessage('connected');
      await waitForConvergence(h);
    },
    TIMEOUT,
  );
});
