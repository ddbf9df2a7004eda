import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { cliEnv } from './support/cli.js';
import { createTestDatabase } from './support/databases.js';
import { installScratchApp, packPublicWorkspaces, type ScratchApp } from './support/pack-install.js';
import { InstalledProcess, installedBin, runInstalled } from './support/pack-install-cli.js';

const run = promisify(execFile);

/** Packing (5 s), then an install from the npm cache: 17–25 s on 2 cores, about 50 s while other suites run. */
const INSTALL_TIMEOUT = 150_000;
const STREAM_TIMEOUT = 90_000;

/**
 * The packages as a MikroORM app gets them from the registry: every public workspace packed with `npm pack`,
 * installed from the tarballs into an app outside the workspace that has its own MikroORM config, entities and
 * MikroORM, and that app's changes streamed through the installed CLIs to a center on PostgreSQL.
 */
describe('the packed packages, installed into an app outside the workspace', () => {
  let app: ScratchApp;
  let tarballs: string;

  beforeAll(async () => {
    tarballs = mkdtempSync(join(tmpdir(), 'oplog-tarballs-'));
    app = await installScratchApp(await packPublicWorkspaces(tarballs));
  }, INSTALL_TIMEOUT);

  afterAll(() => {
    app?.dispose();
    if (tarballs) rmSync(tarballs, { recursive: true, force: true });
  });

  it("shares the app's one MikroORM and brings no build, test or SQLite tooling", async () => {
    const packages = (await app.installedPaths()).map((path) => path.split('node_modules/').pop()!);
    expect(packages.filter((name) => name === '@mikro-orm/core')).toHaveLength(1);
    // tsx and vitest are the workspace's; sqlite3 compiles from source for minutes and this app is on PostgreSQL.
    expect(
      packages.filter((name) => ['tsx', 'vitest', 'typescript', 'sqlite3', '@mikro-orm/sqlite'].includes(name)),
    ).toEqual([]);
  });

  it.each(['oplog-consumer', 'oplog-producer'])('installs %s as compiled JavaScript run by node', async (bin) => {
    const target = realpathSync(installedBin(app.dir, bin));
    expect(target).toBe(realpathSync(join(app.dir, 'node_modules', bin, 'dist/cli.js')));
    expect(readFileSync(target, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    // Executed as a user's shell or npx would: through its shebang, which npm's install made executable.
    const { stdout } = await run(installedBin(app.dir, bin), ['--help'], { cwd: app.dir });
    expect(stdout).toContain(`Usage: ${bin}`);
  });

  it(
    "streams the app's changes through the installed producer and consumer, both on the app's MikroORM config",
    async () => {
      const [local, center] = await Promise.all([
        createTestDatabase('postgresql', 'pack_app'),
        createTestDatabase('postgresql', 'pack_center'),
      ]);
      onTestFinished(() => Promise.all([local.drop(), center.drop()]).then(() => undefined));
      // Both CLIs run with the app's own MikroORM config, whose naming strategy the tables follow. The producer
      // reaches the app's database as the app does (the config's clientUrl, from INVENTORY_DB_URL); the consumer
      // takes the config's options and entities, and --db-url puts it on the center instead.
      const appConfig = ['--orm-config', './mikro-orm.config.js'];
      const appEnv = { INVENTORY_DB_URL: local.clientUrl! };
      const centerDb = [...appConfig, '--db-url', center.clientUrl!];
      const writeApp = (command: string) => runAppScript(app.dir, command, appEnv);

      // The app writes its first changes while the center gets the source's credential and its consumer starts.
      const startConsumer = async () => {
        const added = await runInstalled(app.dir, 'oplog-consumer', ['sources', 'add', 'inventory-1', ...centerDb]);
        const cli = new InstalledProcess(app.dir, 'oplog-consumer', ['start', '--port', '0', ...centerDb]);
        onTestFinished(() => cli.stop());
        const { port } = await cli.waitForMessage('consumer listening');
        return { token: added.stdout.trim(), cli, port: Number(port) };
      };
      const [, consumer] = await Promise.all([writeApp('stock'), startConsumer()]);
      const producer = new InstalledProcess(
        app.dir,
        'oplog-producer',
        ['start', '--url', `ws://127.0.0.1:${consumer.port}/oplog`, ...appConfig],
        { ...appEnv, OPLOG_TOKEN: consumer.token },
      );
      onTestFinished(() => producer.stop());
      const logs = () => [...consumer.cli.output, ...producer.output];

      // The page the build bundled into the dashboard's dist/ is served from the installed package.
      const page = await fetch(`http://127.0.0.1:${consumer.port}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<html/i);

      const stocked = await inventory(local.clientUrl!);
      expect(stocked.items).toHaveLength(6);
      await waitForRows(center.clientUrl!, stocked, logs);
      // The center's tables were made by the consumer from the app's config: its naming strategy, not the default.
      expect(await columns(center.clientUrl!, 'inventory_stock_item')).toEqual(
        await columns(local.clientUrl!, 'inventory_stock_item'),
      );
      expect(await columns(center.clientUrl!, 'inventory_stock_item')).toEqual([
        'countedAt',
        'id',
        'quantity',
        'sku',
        'warehouse',
      ]);

      // Written while both sides run: streamed live rather than found in the outbox at start.
      await writeApp('recount');
      const recounted = await inventory(local.clientUrl!);
      expect(recounted.items.map((item) => item.sku).sort()).toEqual([
        'bolt',
        'nut',
        'nut',
        'rivet',
        'washer',
        'washer',
      ]);
      await waitForRows(center.clientUrl!, recounted, logs);
    },
    STREAM_TIMEOUT,
  );
});

/** The scratch app's own script (app.js): it writes through its MikroORM config, with capture. */
async function runAppScript(dir: string, command: string, env: Record<string, string>): Promise<void> {
  await run(process.execPath, ['app.js', command], { cwd: dir, env: cliEnv(env) });
}

async function columns(url: string, table: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(
      'select column_name as name from information_schema.columns where table_name = $1 order by column_name',
      [table],
    );
    return rows.map((row) => row.name);
  } finally {
    await client.end();
  }
}

interface Inventory {
  warehouses: Record<string, unknown>[];
  items: Record<string, unknown>[];
}

async function inventory(url: string): Promise<Inventory> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const warehouses = await client.query('select * from inventory_warehouse order by id');
    const items = await client.query('select * from inventory_stock_item order by id');
    return { warehouses: warehouses.rows, items: items.rows };
  } finally {
    await client.end();
  }
}

/** Polls the center until its inventory equals `expected`; on time out, fails with the difference and the logs. */
async function waitForRows(url: string, expected: Inventory, logs: () => string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen: Inventory | undefined;
  while (Date.now() < deadline) {
    seen = await inventory(url).catch(() => undefined);
    if (seen && JSON.stringify(seen) === JSON.stringify(expected)) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  expect(seen, logs().slice(-30).join('\n')).toEqual(expected);
}
