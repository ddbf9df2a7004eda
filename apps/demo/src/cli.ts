#!/usr/bin/env -S node --conditions=@oplog/source --import tsx
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { MikroORM } from '@mikro-orm/core';
import { ensureSource, readSourceHead } from '@oplog/capture';
import { createProducer, HeadReporter, type Producer } from '@oplog/producer';
import { createLogger, type DbConfig, runServices, type Service } from '@oplog/runtime';
import { Command, Option } from 'commander';
import { createDemoCredential } from './credential.js';
import { startFlakyLink } from './flaky-link.js';
import { generateLoad } from './load.js';
import { openLocalApp } from './local-app.js';
import { runSeedScenario } from './scenario.js';

/** Compiled (dist/*.js) or from source (src/*.ts, through tsx): the consumer it starts runs the same way. */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const ENTITIES_MODULE = fileURLToPath(new URL(FROM_SOURCE ? './entities.ts' : './entities.js', import.meta.url));

const program = new Command('oplog-demo').description('The polls app from the seed article, with capture installed.');

const dbOptions = (command: Command) =>
  command
    .addOption(
      new Option('--db-driver <driver>', 'database driver').choices(['sqlite', 'postgresql']).default('sqlite'),
    )
    .option('--db-name <name>', 'SQLite file or PostgreSQL database name', 'local.sqlite')
    .option('--db-url <url>', 'PostgreSQL connection string');
const dbOf = (flags: { dbDriver: DbConfig['driver']; dbName: string; dbUrl?: string }): DbConfig => ({
  driver: flags.dbDriver,
  name: flags.dbName,
  url: flags.dbUrl,
});

dbOptions(program.command('scenario').description("run the seed article's scenario once")).action(async (flags) => {
  const orm = await openLocalApp(dbOf(flags));
  const ids = await runSeedScenario(orm.em.fork());
  console.log(JSON.stringify(ids));
  await orm.close();
});

dbOptions(program.command('load').description('generate a steady or bursty polls workload'))
  .option('--rate <n>', 'transactions per second', Number, 20)
  .option('--bursty', 'bursts of 5× the rate for one second, then four quiet seconds')
  .option('--transactions <n>', 'stop after this many transactions', Number)
  .addOption(
    new Option('--mix <mix>', 'polls: questions, votes, deletes; full: every kind of write, rollbacks too')
      .choices(['polls', 'full'])
      .default('polls'),
  )
  .option('--seed <n>', 'repeat the same sequence of steps', Number)
  .option('--report-head <url>', 'report the outbox head to this consumer (its ws:// URL), as an app beside a sidecar')
  .option('--token <token>', 'the source credential for --report-head')
  .action(async (flags) => {
    const orm = await openLocalApp(dbOf(flags));
    const stop = new AbortController();
    process.once('SIGTERM', () => stop.abort());
    process.once('SIGINT', () => stop.abort());
    const reporter = flags.reportHead && new HeadReporter(orm, { url: flags.reportHead, token: flags.token });
    void reporter?.run();
    const result = await generateLoad(orm, { ...flags, signal: stop.signal });
    await reporter?.stop();
    console.log(JSON.stringify(result));
    await orm.close();
  });

program
  .command('start', { isDefault: true })
  .description(
    'run the whole demo on SQLite: a central consumer, this local app with an embedded producer, a gentle load',
  )
  .option('--dir <dir>', 'where the demo keeps its databases and logs', '.oplog-demo')
  .option('--port <port>', 'consumer port', Number, 7420)
  .option('--rate <n>', 'load, in transactions per second', Number, 5)
  .option('--steady', 'no congested link between the producer and the consumer')
  .action(async (flags: { dir: string; port: number; rate: number; steady?: boolean }) => {
    const dir = resolve(flags.dir);
    mkdirSync(dir, { recursive: true });
    const logger = createLogger({ name: 'oplog-demo', level: 'warn' });
    const consumer = await startConsumer(dir, flags.port);
    say('dashboard', `http://127.0.0.1:${consumer.port}/`);
    const consumerUrl = `ws://127.0.0.1:${consumer.port}/oplog`;
    say(
      'central',
      `oplog-consumer on ${consumerUrl}, applying into ${join(dir, 'central.sqlite')} (log: ${join(dir, 'consumer.log')})`,
    );
    say('central', `source status as JSON: http://127.0.0.1:${consumer.port}/api/sources`);
    // The producer reaches the consumer through a link that congests now and then, so the lag chart has a story.
    const link = flags.steady
      ? undefined
      : await startFlakyLink({ target: { host: '127.0.0.1', port: consumer.port }, everyMs: 30_000, holdMs: 6000 });
    const url = link ? `ws://127.0.0.1:${link.port}/oplog` : consumerUrl;

    const orm = await openLocalApp({ driver: 'sqlite', name: join(dir, 'local.sqlite') });
    say('local', `demo polls app writing to ${join(dir, 'local.sqlite')}, capture installed`);
    await ensureSource(orm.em.getConnection());
    const { sourceId } = (await readSourceHead(orm.em.getConnection()))!;
    const token = await createDemoCredential(join(dir, 'central.sqlite'), sourceId);
    say('central', `created a credential for source ${sourceId} (oplog-consumer sources add does the same)`);
    const producer = createProducer(orm, { url, token, logger });
    const route = link ? `through a congested link (${url})` : 'directly';
    say('producer', `embedded in the local app, streaming its outbox to the consumer ${route} with that credential`);
    if (link) say('network', "the link holds the consumer's acks for 6 s every 30 s: watch the lag rise and recover");

    const stopLoad = new AbortController();
    let loading: Promise<unknown> = Promise.resolve();
    const load: Service = {
      name: 'load',
      run: async () => {
        loading = generateLoad(orm, { rate: flags.rate, signal: stopLoad.signal });
        await loading;
      },
      // Returns once the last transaction has committed, so that the producer's drain finds it.
      stop: async () => {
        stopLoad.abort();
        await loading.catch(() => undefined);
      },
    };
    const streaming: Service = {
      name: 'producer',
      run: () => producer.run(),
      // The producer's own drain waits only for the frames in flight: first let it send what the load wrote last.
      drain: async () => {
        await outboxAcked(orm, producer, 5000);
        await producer.drain();
      },
      stop: () => producer.stop(),
    };
    say('load', `${flags.rate} transactions/s: new questions, votes and deletes (Ctrl-C stops everything)`);
    const status = setInterval(() => {
      const s = producer.status();
      say(
        'status',
        `${s.state}: local head ${s.headSeq}, central applied ${s.ackedSeq}, lag ${s.headSeq - s.ackedSeq} changes`,
      );
    }, 5000);
    const central: Service = {
      name: 'consumer',
      run: () => consumer.exited,
      stop: async () => {
        consumer.child.kill('SIGTERM');
        await consumer.exited;
      },
    };
    try {
      // Ctrl-C or SIGTERM: the load stops, the producer sends what is left and waits for the acks, the consumer stops.
      await runServices([central, streaming, load], logger);
      say('stopped', await unsentSummary(orm, producer.status().ackedSeq));
    } finally {
      clearInterval(status);
      await link?.close();
      await orm.close();
    }
  });

const outboxHead = async (orm: MikroORM): Promise<number> => (await readSourceHead(orm.em.getConnection()))?.seq ?? 0;

/** Waits, while the producer is connected and for `timeoutMs` at most, until the consumer has acked the outbox. */
async function outboxAcked(orm: MikroORM, producer: Producer, timeoutMs: number): Promise<void> {
  const head = await outboxHead(orm);
  const deadline = Date.now() + timeoutMs;
  const pending = () => producer.status().state === 'streaming' && producer.status().ackedSeq < head;
  while (pending() && Date.now() < deadline) await sleep(100);
}

/** What a restart will have to send: the changes in the outbox that the consumer has not acknowledged. */
async function unsentSummary(orm: MikroORM, ackedSeq: number): Promise<string> {
  const head = await outboxHead(orm);
  const unsent = head - ackedSeq;
  return unsent > 0
    ? `unsent: ${unsent} change${unsent === 1 ? '' : 's'} in the outbox not yet acknowledged by the consumer (local head ${head}, central applied ${ackedSeq}); the next start sends them`
    : `every change reached the consumer (local head ${head}); nothing left unsent`;
}

function say(part: string, text: string): void {
  console.log(`${`[${part}]`.padEnd(12)}${text}`);
}

/**
 * Runs oplog-consumer as its own process, as on a cloud host, and waits until it listens. It is in a process group of
 * its own, so a Ctrl-C reaches the demo alone, which stops the consumer last, once its producer's acks are in.
 */
async function startConsumer(
  dir: string,
  port: number,
): Promise<{ child: ChildProcess; port: number; exited: Promise<void> }> {
  const home = dirname(createRequire(import.meta.url).resolve('oplog-consumer/package.json'));
  const cli = join(home, FROM_SOURCE ? 'src/cli.ts' : 'dist/cli.js');
  const child = spawn(
    process.execPath,
    [
      ...(FROM_SOURCE ? ['--conditions=@oplog/source', '--import', 'tsx'] : []),
      cli,
      'start',
      '--port',
      String(port),
      '--db-name',
      join(dir, 'central.sqlite'),
      '--entities',
      ENTITIES_MODULE,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], detached: true },
  );
  // However the demo ends (a crash included), its consumer does not outlive it.
  process.once('exit', () => child.kill('SIGTERM'));
  const log = createWriteStream(join(dir, 'consumer.log'), { flags: 'a' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const listening = new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      log.write(`${line}\n`);
      if (line.includes('"consumer listening"')) resolve(JSON.parse(line).port);
    });
    void exited.then(() => reject(new Error('oplog-consumer exited before listening; see consumer.log')));
  });
  return { child, port: await listening, exited };
}

program.parseAsync().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
