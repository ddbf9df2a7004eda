import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLocalApp } from '@oplog/demo/local-app';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { CliProcess, ENTITIES_MODULE, type LogLine, ROOT } from './support/cli.js';
import { closedPort, failureLine, runCli } from './support/cli-run.js';

// What a person gets when a CLI cannot start or run: one line on stderr naming the flag, variable or file, and the
// exit status (2: change the configuration; 1: something failed while running). The cases run side by side.

const CONSUMER = 'oplog-consumer';
const PRODUCER = 'oplog-producer';
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'apps/consumer/package.json'), 'utf8')) as { version: string })
  .version;
/** The producer's variables, as one env file for both CLIs would set them. */
const PRODUCER_ENV = {
  OPLOG_URL: 'ws://central:7420/oplog',
  OPLOG_TOKEN: 'shop-1.secret',
  OPLOG_BACKOFF__MAX_MS: '500',
};
/** The consumer's. */
const CONSUMER_ENV = {
  OPLOG_LISTEN__PORT: '7420',
  OPLOG_DASHBOARD__TOKEN: 'a-dashboard-token-0123',
  OPLOG_AUTH: 'none',
};

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'oplog-cli-errors-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts a producer on a fresh source against `url`; resolves with its first `connection lost` log line. */
async function connectionLost(url: string): Promise<LogLine> {
  const name = join(dir, `source-${Math.random().toString(36).slice(2)}.sqlite`);
  await (await openLocalApp({ driver: 'sqlite', name })).close();
  const producer = CliProcess.start('producer', [
    'start',
    '--url',
    url,
    '--db-name',
    name,
    '--entities',
    ENTITIES_MODULE,
  ]);
  try {
    return await producer.waitForMessage('connection lost', 60_000);
  } finally {
    await producer.kill();
  }
}

/** A fresh SQLite file path in a directory that exists. */
const sqliteFile = (name: string) => ['--db-name', join(dir, `${name}.sqlite`)];

describe.concurrent('oplog-consumer start, a configuration it cannot start with (exit 2)', () => {
  it('without --entities, names the flag and the variable, and ignores the producer variables', async ({ expect }) => {
    const run = await runCli('consumer', ['start', ...sqliteFile('no-entities')], PRODUCER_ENV);
    expect(failureLine(expect, run, CONSUMER, 2)).toBe(
      "entities is required: set --entities or OPLOG_ENTITIES, or give the app's MikroORM config with --orm-config or OPLOG_ORM_CONFIG",
    );
  });

  it('--entities naming a file that does not exist names the flag and the file', async ({ expect }) => {
    const run = await runCli('consumer', ['start', '--entities', 'dist/nowhere.js', ...sqliteFile('missing')]);
    const line = failureLine(expect, run, CONSUMER, 2);
    expect(line).toContain('entities (--entities or OPLOG_ENTITIES): no such file');
    expect(line).toContain(join(ROOT, 'dist/nowhere.js'));
  });

  it('--entities naming a TypeScript module, without a loader, says to compile it or use tsx', async ({ expect }) => {
    const module = join(ROOT, 'apps/demo/src/entities.ts');
    const run = await runCli('consumer', ['start', '--entities', module, ...sqliteFile('ts')], {}, { plainNode: true });
    expect(failureLine(expect, run, CONSUMER, 2)).toBe(
      `entities (--entities or OPLOG_ENTITIES): ${module} is TypeScript: give the compiled JavaScript module, or run node with --import tsx`,
    );
  });

  it('a bad value in the environment says it came from there', async ({ expect }) => {
    const run = await runCli('consumer', ['start', '--entities', ENTITIES_MODULE], { OPLOG_LISTEN__PORT: 'abc' });
    expect(failureLine(expect, run, CONSUMER, 2)).toBe(
      'OPLOG_LISTEN__PORT in the environment: expected a number, got "abc"',
    );
  });

  it('an unknown variable is named, with the one it is likely a typo of', async ({ expect }) => {
    const run = await runCli('consumer', ['start', '--entities', ENTITIES_MODULE], { OPLOG_LISTEN__PROT: '7421' });
    expect(failureLine(expect, run, CONSUMER, 2)).toBe(
      'OPLOG_LISTEN__PROT in the environment is not a setting (did you mean OPLOG_LISTEN__PORT?); remove or rename it',
    );
  });

  it('--dashboard-token sets dashboard.token, and a short one is refused without repeating it', async ({ expect }) => {
    const run = await runCli('consumer', ['start', '--entities', ENTITIES_MODULE, '--dashboard-token', 'hunter2']);
    const line = failureLine(expect, run, CONSUMER, 2);
    expect(line).toBe('--dashboard-token: must be at least 16 characters long');
  });

  it('a certificate file that does not exist names the flag and the file', async ({ expect }) => {
    const cert = join(dir, 'central.pem');
    const args = ['start', '--entities', ENTITIES_MODULE, '--tls-cert', cert, '--tls-key', cert, ...sqliteFile('tls')];
    expect(failureLine(expect, await runCli('consumer', args), CONSUMER, 2)).toBe(
      `--tls-cert: no such file ${cert}; --tls-key: no such file ${cert}`,
    );
  });

  it('a connection string with --db-driver sqlite names both', async ({ expect }) => {
    const url = 'postgresql://postgres@127.0.0.1:5432/central';
    const run = await runCli('consumer', [
      'start',
      '--entities',
      ENTITIES_MODULE,
      '--db-driver',
      'sqlite',
      '--db-url',
      url,
    ]);
    expect(failureLine(expect, run, CONSUMER, 2)).toMatch(/^--db-url: .*db\.driver is sqlite/);
  });

  it('an SQLite file whose directory does not exist: the directory is not created, --create-db is named', async ({
    expect,
  }) => {
    const missing = join(dir, 'no-such-dir');
    const run = await runCli('consumer', [
      'start',
      '--entities',
      ENTITIES_MODULE,
      '--db-name',
      join(missing, 'c.sqlite'),
    ]);
    expect(failureLine(expect, run, CONSUMER, 2)).toBe(
      `db.name (--db-name or OPLOG_DB__NAME): the directory ${missing} of the SQLite file does not exist: fix the path, create the directory, or pass --create-db`,
    );
    expect(existsSync(missing)).toBe(false);
  });

  it('an unknown option is one line, with the option it is likely a typo of', async ({ expect }) => {
    const run = await runCli('consumer', ['start', '--entites', ENTITIES_MODULE]);
    expect(failureLine(expect, run, CONSUMER, 2)).toBe(
      "unknown option '--entites' (Did you mean --entities?); see oplog-consumer --help",
    );
  });

  it('prints the stack after the line only with OPLOG_LOG_LEVEL=debug', async ({ expect }) => {
    const run = await runCli('consumer', ['start', '--entities', 'nowhere.js'], { OPLOG_LOG_LEVEL: 'debug' });
    expect(run.code).toBe(2);
    const [line, ...stack] = run.stderr.split('\n').filter(Boolean);
    expect(line).toMatch(/^oplog-consumer: entities \(--entities or OPLOG_ENTITIES\): no such file/);
    expect(stack.some((frame) => /^\s+at /.test(frame))).toBe(true);
  });
});

describe.concurrent('oplog-consumer, at run time (exit 1)', () => {
  it('a port in use names the address and the flag', async ({ expect }) => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as { port: number };
    try {
      const args = ['start', '--entities', ENTITIES_MODULE, '--port', String(port), ...sqliteFile('port')];
      expect(failureLine(expect, await runCli('consumer', args), CONSUMER, 1)).toBe(
        `127.0.0.1:${port} is already in use: stop what listens there, or choose another port with listen.port (--port or OPLOG_LISTEN__PORT)`,
      );
    } finally {
      holder.close();
    }
  });

  it('PostgreSQL down: a --db-url without --db-driver is used, and the line says what to check', async ({ expect }) => {
    const port = await closedPort();
    const url = `postgresql://postgres@127.0.0.1:${port}/central`;
    const run = await runCli('consumer', ['start', '--entities', ENTITIES_MODULE, '--db-url', url]);
    expect(failureLine(expect, run, CONSUMER, 1)).toBe(
      `cannot reach the PostgreSQL server (connect ECONNREFUSED 127.0.0.1:${port}): start it, or fix the host and port in db.url (--db-url or OPLOG_DB__URL)`,
    );
  });
});

describe.concurrent('oplog-consumer sources', () => {
  it('--expires-in that is not a duration names the flag and the value (exit 2)', async ({ expect }) => {
    const run = await runCli('consumer', ['sources', 'add', 'shop-1', '--expires-in', '90x', ...sqliteFile('sources')]);
    const line = failureLine(expect, run, CONSUMER, 2);
    expect(line).toMatch(/^option '--expires-in <duration>' argument '90x' is invalid\. "90x" is not a duration/);
  });
});

describe.concurrent('oplog-producer', () => {
  it('--url with an http scheme says the scheme must be ws:// or wss:// (exit 2)', async ({ expect }) => {
    const run = await runCli('producer', [
      'start',
      '--url',
      'http://central:7420/oplog',
      '--entities',
      ENTITIES_MODULE,
    ]);
    expect(failureLine(expect, run, PRODUCER, 2)).toBe(
      "--url: expected the consumer's ws:// or wss:// URL, such as ws://central.example:7420/oplog",
    );
  });

  it("ignores the consumer's variables, and names each missing key (exit 2)", async ({ expect }) => {
    const run = await runCli('producer', ['start'], CONSUMER_ENV);
    expect(failureLine(expect, run, PRODUCER, 2)).toBe(
      "url is required: set --url or OPLOG_URL; entities is required: set --entities or OPLOG_ENTITIES, or give the app's MikroORM config with --orm-config or OPLOG_ORM_CONFIG",
    );
  });

  it('a consumer that does not answer is logged as OPLOG_CONSUMER_UNREACHABLE, not OPLOG_INTERNAL', async ({
    expect,
  }) => {
    const lost = await connectionLost(`ws://127.0.0.1:${await closedPort()}/oplog`);
    expect(lost.code).toBe('OPLOG_CONSUMER_UNREACHABLE');
    expect(lost.err).toMatch(/ECONNREFUSED/);
  }, 120_000);

  it('a server that accepts the connection and never answers the upgrade: OPLOG_CONSUMER_UNREACHABLE', async ({
    expect,
  }) => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const lost = await connectionLost(`ws://127.0.0.1:${(silent.address() as { port: number }).port}/oplog`);
      expect(lost.code).toBe('OPLOG_CONSUMER_UNREACHABLE');
      expect(lost.err).toMatch(/^no answer to the WebSocket upgrade within 10000 ms: something at this url accepts/);
    } finally {
      silent.close();
    }
  }, 120_000);

  it('426 Upgrade Required (a proxy dropped the Upgrade header): OPLOG_CONSUMER_UNREACHABLE naming the proxy', async ({
    expect,
  }) => {
    // What the producer sees of a consumer behind a proxy that does not forward the upgrade: the consumer's 426.
    const behindProxy = createHttpServer().on('upgrade', (_req, socket) =>
      socket.end('HTTP/1.1 426 Upgrade Required\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'),
    );
    await new Promise<void>((resolve) => behindProxy.listen(0, '127.0.0.1', resolve));
    try {
      const lost = await connectionLost(`ws://127.0.0.1:${(behindProxy.address() as { port: number }).port}/oplog`);
      expect(lost.code).toBe('OPLOG_CONSUMER_UNREACHABLE');
      expect(lost.err).toMatch(
        /^HTTP 426 Upgrade Required: .*a proxy in between does not forward the WebSocket upgrade/,
      );
    } finally {
      behindProxy.close();
    }
  }, 120_000);

  it('status --status-url without a scheme names the flag (exit 2)', async ({ expect }) => {
    const run = await runCli('producer', ['status', '--status-url', '127.0.0.1:7421']);
    expect(failureLine(expect, run, PRODUCER, 2)).toMatch(/^--status-url: expected the producer's status address/);
  });

  it('status against a port where another service answers says so (exit 1)', async ({ expect }) => {
    const other = createHttpServer((_req, res) => res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>no'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const { port } = other.address() as { port: number };
    try {
      const run = await runCli('producer', ['status', '--status-url', `http://127.0.0.1:${port}`]);
      expect(failureLine(expect, run, PRODUCER, 1)).toBe(
        `http://127.0.0.1:${port}/status is not a producer's status (HTTP 404, not JSON): give the producer's status.port, not another service's`,
      );
    } finally {
      other.close();
    }
  });

  it('status against a port where nothing answers (exit 1)', async ({ expect }) => {
    const port = await closedPort();
    const run = await runCli('producer', ['status', '--status-url', `http://127.0.0.1:${port}`]);
    expect(failureLine(expect, run, PRODUCER, 1)).toBe(
      `no producer answers at http://127.0.0.1:${port} (ECONNREFUSED): is it running, with status.port set to this port?`,
    );
  });
});

describe.concurrent('--version, --help and --create-db', () => {
  it.for(['consumer', 'producer'] as const)('%s --version prints the version (exit 0)', async (cli, { expect }) => {
    const run = await runCli(cli, ['--version']);
    expect(run).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it('start --help shows each flag with its variable and default, --dashboard-token included', async ({ expect }) => {
    const run = await runCli('consumer', ['start', '--help']);
    expect(run.code).toBe(0);
    const help = run.stdout.replace(/\s+/g, ' ');
    expect(help).toContain(
      '--port <port> port to listen on, 0 for any free one (env OPLOG_LISTEN__PORT; default: 7420)',
    );
    expect(help).toContain('(env OPLOG_AUTH; one of credentials, none; default: "credentials")');
    expect(help).toMatch(/--dashboard-token <token> .* \(env OPLOG_DASHBOARD__TOKEN\)/);
    expect(help).toMatch(/--create-db .* \(env OPLOG_DB__CREATE\)/);
  });

  it("--create-db creates the SQLite file's directory, and the consumer starts", async ({ expect }) => {
    const file = join(dir, 'created', 'by', 'flag', 'central.sqlite');
    const args = ['start', '--port', '0', '--entities', ENTITIES_MODULE, '--db-name', file, '--create-db'];
    const consumer = CliProcess.start('consumer', args);
    try {
      await consumer.waitForMessage('consumer listening', 60_000);
      expect(existsSync(file)).toBe(true);
    } finally {
      await consumer.kill();
    }
  }, 120_000);
});
