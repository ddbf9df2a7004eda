#!/usr/bin/env -S node --conditions=@oplog/source --import tsx
import { OplogCapture, oplogEntities } from '@oplog/capture';
import { createProducer, type ProducerReport, ProducerStatusServer } from '@oplog/producer';
import {
  ConfigError,
  createLogger,
  loadConfig,
  loadEntities,
  openOrm,
  runServices,
  type Service,
} from '@oplog/runtime';
import { Command, Option } from 'commander';
import { z } from 'zod';
import { producerConfigSchema } from './config.js';
import { reportCatchUp } from './progress.js';

const program = new Command('oplog-producer').description(
  "Streams a local app's oplog to the central consumer (a sidecar next to the app, on the same database).",
);

program
  .command('start', { isDefault: true })
  .description('stream the outbox and trim what the consumer acked')
  .option('-c, --config <file>', 'JSON config file')
  .option('--url <url>', 'consumer endpoint, ws:// or wss:// (env OPLOG_URL)')
  .option('--token <token>', 'this source credential (env OPLOG_TOKEN)')
  .option('--tls-ca <file>', 'trust this CA (PEM) for a wss:// consumer, besides the system CAs (env OPLOG_TLS__CA)')
  .addOption(
    new Option('--db-driver <driver>', 'database driver (env OPLOG_DB__DRIVER)').choices(['sqlite', 'postgresql']),
  )
  .option('--db-name <name>', 'SQLite file or PostgreSQL database name (env OPLOG_DB__NAME)')
  .option('--db-url <url>', 'PostgreSQL connection string (env OPLOG_DB__URL)')
  .option('--entities <module>', "module exporting the app's entities (env OPLOG_ENTITIES)")
  .option('--retain-acked <n>', 'acked entries to keep before trimming (env OPLOG_RETAIN_ACKED)', Number)
  .option('--poll-ms <ms>', 'fallback poll for new commits (env OPLOG_POLL_MS)', Number)
  .option('--status-port <port>', 'serve /status and /metrics on this loopback port (env OPLOG_STATUS__PORT)', Number)
  .action(async (flags) => {
    const logger = createLogger({ name: 'oplog-producer' });
    const config = loadConfig(producerConfigSchema, {
      file: flags.config,
      env: process.env,
      flags: {
        url: flags.url,
        token: flags.token,
        tls: { ca: flags.tlsCa },
        db: { driver: flags.dbDriver, name: flags.dbName, url: flags.dbUrl },
        entities: flags.entities,
        retainAcked: flags.retainAcked,
        pollMs: flags.pollMs,
        status: { port: flags.statusPort },
      },
    });
    const entities = await loadEntities(config.entities);
    const orm = await openOrm(config.db, { entities: [...entities, ...oplogEntities], pool: { min: 1, max: 2 } });
    const producer = createProducer(orm, {
      url: config.url,
      token: config.token,
      tls: config.tls,
      batch: config.batch,
      window: config.window,
      retainAcked: config.retainAcked,
      pollMs: config.pollMs,
      heartbeatMs: config.heartbeatMs,
      peerTimeoutMs: config.peerTimeoutMs,
      backoff: config.backoff,
      capture: new OplogCapture({ include: config.include, exclude: config.exclude }),
      logger,
    });
    const services: Service[] = [producer];
    const { host, port } = config.status;
    if (port !== undefined) services.push(new ProducerStatusServer(producer, orm, { host, port }));
    const stopReporting = reportCatchUp(producer, logger.child({ component: 'producer' }));
    try {
      await runServices(services, logger);
    } finally {
      stopReporting();
      await orm.close();
    }
  });

program
  .command('status')
  .description(
    "print a running producer's backlog, the age of its oldest unacked change, its connection and last error",
  )
  .option('-c, --config <file>', 'JSON config file (its status.host / status.port say where to ask)')
  .option('--status-url <url>', 'the running producer status endpoint', '')
  .option('--json', 'print the raw JSON')
  .action(async (flags: { config?: string; statusUrl: string; json?: boolean }) => {
    const url = flags.statusUrl || statusUrlFromConfig(flags.config);
    const response = await fetch(new URL('/status', url)).catch((error: Error) => {
      console.error(
        `oplog-producer: no producer answers at ${url} (${error.message}); is it running with status.port set?`,
      );
      process.exit(1);
    });
    const report = (await response.json()) as ProducerReport;
    if (flags.json) return console.log(JSON.stringify(report));
    const age = report.oldestUnackedAgeMs;
    console.log(
      `state            ${report.state}${report.connectedAt ? ` since ${new Date(report.connectedAt).toISOString()}` : ''}`,
    );
    console.log(`source           ${report.sourceId} (incarnation ${report.incarnation})`);
    console.log(`backlog          ${report.backlog} changes (head ${report.headSeq}, acked ${report.ackedSeq})`);
    console.log(`oldest unacked   ${age === 0 ? 'none: caught up' : `${(age / 1000).toFixed(1)} s old`}`);
    console.log(`outbox           ${report.outboxEntries} entries`);
    console.log(
      `last error       ${report.lastError ? `${report.lastError.code}: ${report.lastError.message} (${new Date(report.lastError.at).toISOString()})` : 'none'}`,
    );
  });

function statusUrlFromConfig(file: string | undefined): string {
  const { status } = loadConfig(z.looseObject({ status: producerConfigSchema.shape.status }), {
    file,
    env: process.env,
  });
  if (status.port === undefined) {
    throw new ConfigError('set --status-url, or status.port in the config (OPLOG_STATUS__PORT)');
  }
  return `http://${status.host}:${status.port}`;
}

program.parseAsync().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(`oplog-producer: ${error.message}`);
    process.exit(2);
  }
  console.error(error);
  process.exit(1);
});
