import { randomUUID } from 'node:crypto';
import { consumerEntities } from '@oplog/consumer';
import { openOrm } from '@oplog/runtime';
import { describe, expect, it } from 'vitest';
import { BareProducer, fingerprintOf, helloOf, transaction } from './support/bare-producer.js';
import { dbConfig, harnessPerTest } from './support/stream-harness.js';

/**
 * Regression: the consumer replicated every entity of its ORM but the outbox's, its own bookkeeping tables
 * included. A source with a valid credential could declare OplogSourceCredential (or OplogCursor, OplogRowOwner…)
 * in its hello with the consumer's own fingerprint, and its entries then wrote those tables: a credential for any
 * source id, another source's cursor, the ownership of another source's rows.
 */
describe("the consumer's own tables are never replicated", () => {
  const createHarness = harnessPerTest();

  it('refuses a hello or an entry naming them, and writes nothing to them', async () => {
    const h = await createHarness('sqlite', 'sqlite');
    const { port } = await h.startConsumer();
    const token = await h.credential('mallory');
    const orm = await openOrm(dbConfig(h.target), { entities: consumerEntities });
    try {
      for (const meta of consumerEntities.map((entity) => entity.meta)) {
        const b = await BareProducer.connect(port, token);
        const welcome = await b.handshake(helloOf(fingerprintOf(orm, [meta.className]), 'mallory', 'm-1'));
        if (welcome) {
          // Admitted: show what its entries could do.
          const pk = { source: 'shop-x', sourceId: 'shop-x', entity: 'Question', pk: randomUUID() };
          b.send({
            type: 'batch',
            id: 9,
            entries: transaction('mallory', 'm-1', 1, [{ entity: meta.className, op: 'insert', pk, after: pk }]),
          });
        }
        const closed = await b.closed;
        expect({ entity: meta.className, code: closed.error?.code }).toEqual({
          entity: meta.className,
          code: 'OPLOG_UNKNOWN_ENTITY',
        });
        expect(closed.code).toBe(1008);
      }
    } finally {
      await orm.close();
    }
  });
});
