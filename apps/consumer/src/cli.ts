#!/usr/bin/env -S node --conditions=@oplog/source --import tsx
import { consumerEntities, createConsumer } from '@oplog/consumer';
import { OplogError } from '@oplog/protocol';
import { ConfigError, createLogger, loadConfig, loadEntities, openOrm, runServices } from '@oplog/runtime';
import { Command, Option } from 'commander';
import { consumerConfigSchema } from './config.js';
import { type DbFlags, dbConfigSources, withDbFlags } from './db-flags.js';
import { sourcesCommand } from './sources.js';

const program = new Command('oplog-consumer').description(
  'Receives oplog streams from local servers and replays them into this database.',
);

interface StartFlags extends DbFlags {
  host?: string;
  port?: number;
  entities?: string;
  auth?: string;
  tlsCert?: string;
  tlsKey?: string;
  schemaPolicy?: string;
}

withDbFlags(program.command('start', { isDefault: true }))
  .description('listen for producers and apply their changes')
  .option('--host <host>', 'address to listen on (env OPLOG_LISTEN__HOST)')
  .option('--port <port>', 'port to listen on, 0 for any free one (env OPLOG_LISTEN__PORT)', Number)
  .option('--entities <module>', 'module exporting the replicated entities (env OPLOG_ENTITIES)')
  .addOption(
    new Option('--auth <mode>', 'credentials, or none for anonymous producers on loopback (env OPLOG_AUTH)').choices([
      'credentials',
      'none',
    ]),
  )
  .addOption(
    new Option('--schema-policy <policy>', 'when a source schema differs (env OPLOG_SCHEMA_POLICY)').choices([
      'refuse',
      'apply-known',
    ]),
  )
  .option('--tls-cert <file>', 'serve wss with this PEM certificate (env OPLOG_TLS__CERT)')
  .option('--tls-key <file>', 'and this PEM key (env OPLOG_TLS__KEY)')
  .action(async (flags: StartFlags) => {
    const logger = createLogger({ name: 'oplog-consumer' });
    const config = loadConfig(
      consumerConfigSchema,
      dbConfigSources(flags, {
        listen: { host: flags.host, port: flags.port },
        entities: flags.entities,
        schemaPolicy: flags.schemaPolicy,
        auth: flags.auth,
        tls: flags.tlsCert || flags.tlsKey ? { cert: flags.tlsCert, key: flags.tlsKey } : undefined,
      }),
    );
    const entities = await loadEntities(config.entities);
    const orm = await openOrm(config.db, { entities: [...entities, ...consumerEntities] });
    if (config.schema === 'update') await orm.schema.updateSchema({ safe: true });
    const consumer = createConsumer(orm, {
      host: config.listen.host,
      port: config.listen.port,
      path: config.listen.path,
      schemaPolicy: config.schemaPolicy,
      poison: config.poison,
      sharedEntities: config.sharedEntities,
      auth: config.auth,
      credentialCheckMs: config.credentialCheckMs,
      tls: config.tls,
      maxPayload: config.maxPayload,
      maxConnections: config.maxConnections,
      maxBatchEntries: config.maxBatchEntries,
      maxEntriesPerSecond: config.maxEntriesPerSecond,
      requestTimeoutMs: config.requestTimeoutMs,
      peerTimeoutMs: config.peerTimeoutMs,
      dashboard: { token: config.dashboard.token, public: config.dashboard.public },
      lagSampleMs: config.dashboard.sampleMs,
      logger,
    });
    try {
      // Before runServices, so that a refusal to start (OPLOG_CENTER_LOCKED: another consumer holds this database)
      // exits with one line on stderr rather than a log of a failed service.
      await consumer.listen();
      await runServices([consumer], logger);
    } finally {
      await orm.close();
    }
  });

program.addCommand(sourcesCommand());

program.parseAsync().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(`oplog-consumer: ${error.message}`);
    process.exit(2);
  }
  if (error instanceof OplogError) {
    console.error(`oplog-consumer: ${error.code}: ${error.message}`);
    process.exit(1);
  }
  console.error(error);
  process.exit(1);
});
