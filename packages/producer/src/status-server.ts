import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MikroORM } from '@mikro-orm/core';
import { OUTBOX_TABLES } from '@oplog/capture';
import type { Service } from '@oplog/runtime';
import { Gauge, Registry } from 'prom-client';
import type { Producer, ProducerStatus } from './producer.js';

/** What `oplog-producer status` prints: the producer's own status plus what only the outbox knows. */
export interface ProducerReport extends ProducerStatus {
  /** Changes committed locally and not yet durable on the consumer. */
  backlog: number;
  /** Age of the oldest change the consumer has not acked, 0 when caught up. */
  oldestUnackedAgeMs: number;
  /** Entries still in the outbox (unacked, plus acked ones kept by retainAcked or not yet trimmed). */
  outboxEntries: number;
}

export async function producerReport(producer: Producer, orm: MikroORM, now = Date.now()): Promise<ProducerReport> {
  const status = producer.status();
  const rows = await orm.em.getConnection().execute<{ epoch: number | string | null; entries: number | string }[]>(
    `select (select epoch from ${OUTBOX_TABLES.entry} where seq > ? order by seq limit 1) as epoch,
              (select count(*) from ${OUTBOX_TABLES.entry}) as entries`,
    [status.ackedSeq],
  );
  const epoch = rows[0]?.epoch;
  return {
    ...status,
    backlog: Math.max(0, status.headSeq - status.ackedSeq),
    oldestUnackedAgeMs: epoch == null ? 0 : Math.max(0, now - Number(epoch)),
    outboxEntries: Number(rows[0]?.entries ?? 0),
  };
}

/**
 * An optional HTTP endpoint next to the producer: `/status` (JSON, read by `oplog-producer status`) and `/metrics`
 * (Prometheus). It listens on loopback by default: it is for the operator of this host.
 */
export class ProducerStatusServer implements Service {
  readonly name = 'producer-status';
  readonly #server: Server;
  readonly #registry = new Registry();
  #closed: Promise<void> | undefined;

  constructor(
    private readonly producer: Producer,
    private readonly orm: MikroORM,
    private readonly listen: { host: string; port: number },
  ) {
    this.#defineMetrics();
    this.#server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const reply = async () => {
        if (path === '/status') {
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end(JSON.stringify(await producerReport(this.producer, this.orm)));
        }
        if (path === '/metrics') {
          res.writeHead(200, { 'content-type': this.#registry.contentType });
          return res.end(await this.#registry.metrics());
        }
        res.writeHead(404).end();
      };
      reply().catch((error: Error) => res.writeHead(500).end(error.message));
    });
  }

  address(): AddressInfo {
    return this.#server.address() as AddressInfo;
  }

  async run(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.listen.port, this.listen.host, resolve);
    });
    this.#closed = new Promise((resolve) => this.#server.once('close', resolve));
    await this.#closed;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #defineMetrics(): void {
    const registers = [this.#registry];
    // prom-client collects gauges concurrently: they share one outbox read per scrape.
    let cached: { at: number; report: Promise<ProducerReport> } | undefined;
    const current = () => {
      if (!cached || Date.now() - cached.at > 250) {
        cached = { at: Date.now(), report: producerReport(this.producer, this.orm) };
      }
      return cached.report;
    };
    const gauge = (name: string, help: string, value: (r: ProducerReport) => number) =>
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          this.set(value(await current()));
        },
      });
    gauge('oplog_producer_head_seq', 'The newest seq in the outbox.', (r) => r.headSeq);
    gauge('oplog_producer_acked_seq', "The consumer's durable cursor, as last heard.", (r) => r.ackedSeq);
    gauge('oplog_producer_backlog_changes', 'Committed changes not yet durable on the consumer.', (r) => r.backlog);
    gauge(
      'oplog_producer_oldest_unacked_age_seconds',
      'Age of the oldest change the consumer has not acked.',
      (r) => r.oldestUnackedAgeMs / 1000,
    );
    gauge('oplog_producer_outbox_entries', 'Entries still in the outbox.', (r) => r.outboxEntries);
    gauge('oplog_producer_connected', '1 while a session is streaming.', (r) => (r.state === 'streaming' ? 1 : 0));
  }
}
