#!/usr/bin/env node
import { OplogCapture, oplogEntities } from '@oplog/capture';
import { createProducer, ProducerStatusServer } from '@oplog/producer';
import {
  addConfigOptions,
  type CliContext,
  createLogger,
  exitWithFailure,
  loadAppOrm,
  loadConfig,
  openOrm,
  packageVersion,
  runServices,
  type Service,
  usageLine,
} from '@oplog/runtime';
import { Command } from 'commander';
import { configSources, producerConfigSchema, START_OPTIONS } from './config.js';
import { reportCatchUp } from './progress.js';
import { schemaCommand } from './schema.js';
import { printStatus } from './status.js';

const CLI: CliContext = {
  program: 'oplog-producer',
  options: START_OPTIONS,
  listenSetting: 'status',
  createTables:
    'the outbox tables come from the app: oplogEntities in its MikroORM entities, then its migrations or schema generator (`oplog-producer schema sql` prints them)',
};

const CONFIG_FILE_HELP = 'JSON config file; OPLOG_* variables override it, and flags override both';

const program = new Command(CLI.program)
  .description("Streams a local app's oplog to the central consumer (a sidecar next to the app, on the same database).")
  .version(packageVersion(import.meta.url))
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(usageLine(CLI.program, text)) });

addConfigOptions(program.command('start', { isDefault: true }), producerConfigSchema, START_OPTIONS)
  .description('stream the outbox and trim what the consumer acked')
  .option('-c, --config <file>', CONFIG_FILE_HELP)
  .action(async (flags: Record<string, unknown>) => {
    const config = loadConfig(producerConfigSchema, configSources(flags));
    const logger = createLogger({ name: CLI.program });
    const app = await loadAppOrm(config);
    // The outbox's entities may be in the app's list already (as its migrations need them): once each.
    const entities = [...new Set([...app.entities, ...oplogEntities])];
    const orm = await openOrm(config.db, { entities, pool: { min: 1, max: 2 } }, app.config);
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
  .option('-c, --config <file>', `${CONFIG_FILE_HELP}; its status.host and status.port say where to ask`)
  .option('--status-url <url>', 'the running producer status endpoint, http://host:port (default: from the config)')
  .option('--json', 'print the raw JSON')
  .action(printStatus);

schemaCommand(program, CONFIG_FILE_HELP);

program.parseAsync().catch((error: unknown) => exitWithFailure(error, CLI));
