import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTITIES_MODULE, ROOT } from './support/cli.js';
import { failureLine, runCli } from './support/cli-run.js';
import { harnessPerTest, SOURCE_ID, waitForConvergence } from './support/stream-harness.js';

// --orm-config: both CLIs start from the app's own MikroORM config module, as MikroORM's CLI does, with the db.*
// settings overriding its connection only when given. (test/pack-install.pg.test.ts runs the installed CLIs on an
// app's config with its own naming strategy.)

/** Config modules as an app writes them: under the root's node_modules, so that their imports resolve. */
let dir: string;
beforeAll(() => {
  mkdirSync(join(ROOT, 'node_modules/.cache'), { recursive: true });
  dir = mkdtempSync(join(ROOT, 'node_modules/.cache/oplog-orm-config-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configModule(name: string, source: string): string {
  const file = join(dir, name);
  writeFileSync(file, source);
  return file;
}

/** The demo app's config on SQLite, a factory as MikroORM allows: its database from APP_DB, capture registered. */
const SQLITE_APP = `import { defineConfig } from '@mikro-orm/sqlite';
import { OplogCapture, oplogEntities } from '@oplog/capture';
import { pollsEntities } from '${ENTITIES_MODULE}';
export default (context) => defineConfig({
  dbName: process.env.APP_DB,
  entities: [...pollsEntities, ...oplogEntities],
  subscribers: [new OplogCapture()],
});
`;

/** A PostgreSQL app's config whose server does not exist: only what needs no connection can use it. */
const POSTGRES_APP = `import { defineConfig } from '@mikro-orm/postgresql';
export const config = defineConfig({ clientUrl: 'postgresql://nobody@127.0.0.1:1/shop', entities: ['./dist/entities'] });
`;

describe('--orm-config', () => {
  const createHarness = harnessPerTest();

  it("runs both CLIs on the app's config: the producer on its database, the consumer on --db-name's", async () => {
    const h = await createHarness('sqlite', 'sqlite');
    const config = configModule('sqlite-app.mjs', SQLITE_APP);
    const appEnv = { APP_DB: h.source.dbName };
    const center = ['--orm-config', config, '--db-name', h.target.dbName];
    await h.scenario();
    const added = await runCli('consumer', ['sources', 'add', SOURCE_ID, ...center], appEnv);
    expect(added.code, added.stderr).toBe(0);
    const consumer = h.spawn('consumer', 'consumer', ['start', '--port', '0', ...center], appEnv);
    const { port } = await consumer.waitForMessage('consumer listening');
    const url = `ws://127.0.0.1:${port}/oplog`;
    const producer = h.spawn('producer', 'producer', ['start', '--url', url, '--orm-config', config], {
      ...appEnv,
      OPLOG_TOKEN: added.stdout.trim(),
    });
    // The sidecar wakes on the file's changes: the app's capture subscriber was not taken into it.
    expect(await producer.waitForMessage('producer started')).toMatchObject({ wake: 'file-watch' });
    await waitForConvergence(h);
  }, 120_000);

  it('schema sql takes the driver from it, without connecting; --db-driver may not contradict it', async () => {
    const config = configModule('postgres-app.mjs', POSTGRES_APP);
    const consumer = await runCli('consumer', ['schema', 'sql', '--orm-config', config]);
    expect(consumer.code, consumer.stderr).toBe(0);
    expect(consumer.stdout).toMatch(/^create table "oplog_consumer_cursor" \(/);
    const producer = await runCli('producer', ['schema', 'sql', '--orm-config', config]);
    expect(producer.stdout).toContain('execute function oplog_stream_notify();');
    const run = await runCli('consumer', ['schema', 'sql', '--orm-config', config, '--db-driver', 'sqlite']);
    expect(failureLine(expect, run, 'oplog-consumer', 2)).toBe(
      `db.driver (--db-driver or OPLOG_DB__DRIVER): is sqlite, but ${config} uses postgresql: drop it (the config's driver applies)`,
    );
  }, 60_000);
});

describe.concurrent('--orm-config, a module the CLIs cannot use: one line naming it (exit 2)', () => {
  const setting = 'ormConfig (--orm-config or OPLOG_ORM_CONFIG)';

  it('with --entities too, names both', async ({ expect }) => {
    const config = configModule('both.mjs', SQLITE_APP);
    const run = await runCli('producer', [
      'start',
      '--url',
      'ws://c/oplog',
      '--orm-config',
      config,
      '--entities',
      ENTITIES_MODULE,
    ]);
    expect(failureLine(expect, run, 'oplog-producer', 2)).toBe(
      '--orm-config: the MikroORM config names the entities, so entities (--entities or OPLOG_ENTITIES) must not be set too: drop one of the two',
    );
  });

  it('TypeScript without a loader', async ({ expect }) => {
    const config = configModule('app.config.ts', 'export default { dbName: "app.sqlite" };\n');
    const run = await runCli('consumer', ['start', '--orm-config', config], {}, { plainNode: true });
    expect(failureLine(expect, run, 'oplog-consumer', 2)).toBe(
      `${setting}: ${config} is TypeScript: give the compiled JavaScript module, or run node with --import tsx`,
    );
  });

  it('a factory that throws', async ({ expect }) => {
    const config = configModule(
      'throws.mjs',
      "export default () => { throw new Error('DATABASE_URL is not set'); };\n",
    );
    const run = await runCli('consumer', ['sources', 'list', '--orm-config', config]);
    expect(failureLine(expect, run, 'oplog-consumer', 2)).toBe(
      `${setting}: ${config} failed to build the MikroORM options: DATABASE_URL is not set`,
    );
  });

  it('a config that names no database, or no entities', async ({ expect }) => {
    const noDatabase = configModule(
      'no-db.mjs',
      `export default { entities: (await import('${ENTITIES_MODULE}')).pollsEntities };\n`,
    );
    const run = await runCli('consumer', ['start', '--orm-config', noDatabase]);
    expect(failureLine(expect, run, 'oplog-consumer', 2)).toBe(
      `${setting}: ${noDatabase} names no database: set dbName or clientUrl there, or give db.name (--db-name) or db.url (--db-url)`,
    );
    const noEntities = configModule('no-entities.mjs', "export default { dbName: 'app.sqlite' };\n");
    const empty = await runCli('producer', ['start', '--url', 'ws://c/oplog', '--orm-config', noEntities]);
    expect(failureLine(expect, empty, 'oplog-producer', 2)).toBe(
      `${setting}: ${noEntities} lists no entities: the CLIs need the entities the app replicates`,
    );
  });
});
