import { openOrm } from '@oplog/runtime';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CliProcess, ENTITIES_MODULE } from '../support/cli.js';
import { createTestDatabase, type Driver, type TestDatabase } from '../support/databases.js';
import { dbArgs, dbConfig, sleep } from '../support/source-site.js';

const TIMEOUT = 120_000;
const listening = (cli: CliProcess) => cli.waitForMessage('consumer listening', 60_000);

/** The lines a CLI wrote that are not JSON logs: what a person reads on stderr. */
const plainLines = (cli: CliProcess) => cli.output.filter((line) => !line.startsWith('{'));

async function exitOf(cli: CliProcess, timeoutMs = 60_000): Promise<number | null | 'still running'> {
  return Promise.race([cli.exited, sleep(timeoutMs).then(() => 'still running' as const)]);
}

/** One consumer per center database: real oplog-consumer processes on one center. */
export function centerLockSuite(driver: Driver): void {
  describe(`one consumer per center database (${driver})`, () => {
    let center: TestDatabase;
    const processes: CliProcess[] = [];
    const startConsumer = () => {
      const cli = CliProcess.start('consumer', [
        'start',
        '--port',
        '0',
        ...dbArgs(center),
        '--entities',
        ENTITIES_MODULE,
      ]);
      processes.push(cli);
      return cli;
    };

    beforeEach(async ({ onTestFailed }) => {
      center = await createTestDatabase(driver, 'center_lock');
      onTestFailed(() => {
        for (const cli of processes)
          console.error(`--- consumer ${cli.child.pid}\n${cli.output.slice(-20).join('\n')}`);
      });
    });

    afterEach(async () => {
      for (const cli of processes.splice(0)) await cli.kill('SIGKILL');
      await center.drop();
    });

    it(
      'a second consumer exits at start with one line naming the holder; once the first stops, another starts',
      async () => {
        const first = startConsumer();
        await listening(first);

        const second = startConsumer();
        expect(await exitOf(second)).toBe(1);
        expect(second.logs.some((line) => line.msg === 'consumer listening')).toBe(false);
        expect(plainLines(second)).toEqual([
          expect.stringMatching(
            new RegExp(
              `^oplog-consumer: OPLOG_CENTER_LOCKED: another consumer holds the center database \\(pid ${first.child.pid} on .+, since \\S+Z\\); one consumer per center$`,
            ),
          ),
        ]);

        expect(await first.kill('SIGTERM')).toBe(0);
        await listening(startConsumer());
      },
      TIMEOUT,
    );

    it(
      'a crashed (SIGKILLed) holder does not block the next consumer',
      async () => {
        const first = startConsumer();
        await listening(first);
        await first.kill('SIGKILL');
        const started = Date.now();
        await listening(startConsumer());
        // Well within SQLite's lease (30 s): the holder's process is gone, so its lease is taken over at once.
        expect(Date.now() - started).toBeLessThan(20_000);
      },
      TIMEOUT,
    );

    it(
      'a consumer that loses its lock while running stops applying and exits non-zero, saying why',
      async () => {
        const consumer = startConsumer();
        await listening(consumer);
        const orm = await openOrm(dbConfig(center), { entities: [] });
        try {
          const connection = orm.em.getConnection();
          if (driver === 'postgresql') {
            // The lock's session ends: as when its connection drops.
            await connection.execute(
              `select pg_terminate_backend(pid) from pg_stat_activity
                where datname = current_database() and application_name like 'oplog-consumer %'`,
            );
          } else {
            // Another consumer took the lease over (as it may once the holder was paused past its expiry).
            await connection.execute(
              `update oplog_consumer_lease set holder = 'another', pid = 1, host = 'elsewhere', expires_at = ?`,
              [Date.now() + 60_000],
            );
          }
        } finally {
          await orm.close();
        }
        const lost = await consumer.waitForMessage('center lock lost: applying nothing more, stopping', 30_000);
        expect(lost.code).toBe('OPLOG_CENTER_LOCKED');
        expect(await exitOf(consumer)).toBe(1);
      },
      TIMEOUT,
    );
  });
}
