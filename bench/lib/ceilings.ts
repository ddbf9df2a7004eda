/**
 * Ceilings: what the parts below us can do at best on this machine, measured in the same run, so that each phase
 * can be read against its limit. SQLite through the same driver the consumer uses (MikroORM's connection: knex on
 * sqlite3), in WAL with synchronous=FULL as the consumer runs it; PostgreSQL multi-row inserts through pg on the
 * target cluster; each also with the row-ownership row the consumer writes for every row it applies, which is the
 * limit a catch-up can approach; a `ws` echo over 127.0.0.1, both ends in this process.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { consumerEntities } from '@oplog/consumer';
import { pollsEntities } from '@oplog/demo/entities';
import { openOrm } from '@oplog/runtime';
import pg from 'pg';
import { WebSocket, WebSocketServer } from 'ws';
import { type Db, type Driver, dbConfig, newDb } from './db.js';
import { latencyFigures } from './latency.js';
import { round1 } from './stats.js';

export interface Ceiling {
  id: string;
  label: string;
  value: number;
  unit: string;
}

const pubDate = new Date('2024-05-01T12:00:00.000Z');
const row = (i: number) => [randomUUID(), `Question ${i}?`, pubDate.toISOString()];

/** One database as the ceilings use it: a statement with `?` or `$n` placeholders, and BEGIN/COMMIT around work. */
interface Target {
  name: string;
  id: string;
  placeholder(n: number): string;
  /** A query listing the elements of a JSON array of strings, given as its first parameter. */
  jsonStrings: string;
  run(sql: string, params: unknown[]): Promise<void>;
  close(): Promise<void>;
}

function rowsSql(target: Target, table: string, columns: string[], count: number): string {
  const width = columns.length;
  const tuples = Array.from(
    { length: count },
    (_, r) => `(${columns.map((_, c) => target.placeholder(r * width + c + 1)).join(', ')})`,
  );
  return `insert into ${table} (${columns.join(', ')}) values ${tuples.join(', ')}`;
}

interface CeilingSizes {
  rows: number;
  perInsert: number;
  commits: number;
}

/** Inserts per commit: the consumer commits a backlog in groups of up to 5,000 entries (GROUP_ENTRIES). */
const INSERTS_PER_COMMIT = 5;

/**
 * `rows` in `perInsert`-row inserts, INSERTS_PER_COMMIT of them per commit, in rows/s; `owned` also writes the
 * row-ownership row the consumer records for each row it applies, as it does: one more insert, its keys one
 * JSON-array parameter.
 */
async function batchedRate(target: Target, rows: number, perInsert: number, owned: boolean): Promise<number> {
  const started = performance.now();
  for (let start = 0; start < rows; start += perInsert * INSERTS_PER_COMMIT) {
    await target.run('begin', []);
    const end = Math.min(rows, start + perInsert * INSERTS_PER_COMMIT);
    for (let first = start; first < end; first += perInsert) {
      const batch = Array.from({ length: Math.min(perInsert, end - first) }, (_, i) => row(first + i));
      if (owned) {
        const keys = JSON.stringify(batch.map(([id]) => JSON.stringify(id)));
        const sql = `insert into oplog_row_owner (entity, pk, source) select 'Question', value, 'ceiling' from (${target.jsonStrings}) k`;
        await target.run(sql, [keys]);
      }
      await target.run(rowsSql(target, 'question', ['id', 'question_text', 'pub_date'], batch.length), batch.flat());
    }
    await target.run('commit', []);
  }
  return rows / ((performance.now() - started) / 1000);
}

/**
 * The insert ceilings of one database. Each measurement gets a fresh database with the demo's tables and the
 * consumer's own, so that none inserts into the tables an earlier one filled; `connect` opens a Target on it.
 */
async function insertCeilings(
  driver: Driver,
  server: string | undefined,
  connect: (db: Db) => Promise<Target>,
  { rows, perInsert, commits }: CeilingSizes,
): Promise<Ceiling[]> {
  const measure = async (work: (target: Target) => Promise<number>) => {
    const db = await newDb(driver, 'ceiling', server);
    try {
      const orm = await openOrm(dbConfig(db), { entities: [...pollsEntities, ...consumerEntities] });
      await orm.schema.updateSchema({ safe: true });
      await orm.close();
      const target = await connect(db);
      try {
        return { target, value: await work(target) };
      } finally {
        await target.close();
      }
    } finally {
      await db.drop();
    }
  };
  const batched = await measure((target) => batchedRate(target, rows, perInsert, false));
  const owned = await measure((target) => batchedRate(target, rows, perInsert, true));
  const single = await measure(async (target) => {
    const started = performance.now();
    for (let i = 0; i < commits; i++) {
      await target.run(rowsSql(target, 'question', ['id', 'question_text', 'pub_date'], 1), row(i));
    }
    return commits / ((performance.now() - started) / 1000);
  });
  const { name, id } = batched.target;
  const label = `${name}: ${rows.toLocaleString('en')} rows, ${perInsert}-row inserts, a commit per ${(perInsert * INSERTS_PER_COMMIT).toLocaleString('en')}`;
  return [
    { id: `${id}-batched`, label, value: Math.round(batched.value), unit: 'rows/s' },
    {
      id: `${id}-owned`,
      label: `${label}, each with its row-ownership row (what the consumer writes)`,
      value: Math.round(owned.value),
      unit: 'rows/s',
    },
    {
      id: `${id}-single`,
      label: `${name}: ${commits.toLocaleString('en')} single-row autocommits`,
      value: Math.round(single.value),
      unit: 'commits/s',
    },
  ];
}

/** SQLite through the consumer's driver (MikroORM's connection: knex on sqlite3), in WAL with synchronous=FULL. */
function sqliteCeilings(sizes: CeilingSizes): Promise<Ceiling[]> {
  return insertCeilings(
    'sqlite',
    undefined,
    async (db) => {
      const orm = await openOrm(dbConfig(db), { entities: [] });
      const connection = orm.em.getConnection();
      await connection.execute('pragma journal_mode = wal');
      await connection.execute('pragma synchronous = full');
      return {
        name: 'SQLite',
        id: 'sqlite',
        placeholder: () => '?',
        jsonStrings: 'select value from json_each(?)',
        run: async (sql, params) => void (await connection.execute(sql, params, 'run')),
        close: () => orm.close(),
      };
    },
    sizes,
  );
}

/** PostgreSQL multi-row inserts through pg, with bound parameters. */
function postgresCeilings(server: string, sizes: CeilingSizes): Promise<Ceiling[]> {
  return insertCeilings(
    'postgresql',
    server,
    async (db) => {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      return {
        name: 'PostgreSQL',
        id: 'pg',
        placeholder: (n) => `$${n}`,
        jsonStrings: 'select value from json_array_elements_text(cast($1 as json))',
        run: async (sql, params) => void (await client.query(sql, params)),
        close: () => client.end(),
      };
    },
    sizes,
  );
}

/** Round trips one at a time (latency), then `messages` pipelined (throughput), over one loopback connection. */
async function wsCeilings(roundTrips: number, messages: number, bytes: number): Promise<Ceiling[]> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  server.on('connection', (socket) => socket.on('message', (data) => socket.send(data)));
  await new Promise((resolve) => server.once('listening', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, {
    perMessageDeflate: false,
  });
  await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
  const payload = Buffer.alloc(bytes, 'x');
  const echo = () => new Promise((resolve) => client.once('message', resolve));
  try {
    const rttMs: number[] = [];
    for (let i = 0; i < roundTrips; i++) {
      const started = performance.now();
      const back = echo();
      client.send(payload);
      await back;
      rttMs.push(performance.now() - started);
    }
    const started = performance.now();
    const all = new Promise<void>((resolve) => {
      let seen = 0;
      client.on('message', () => ++seen === messages && resolve());
    });
    for (let i = 0; i < messages; i++) client.send(payload);
    await all;
    const seconds = (performance.now() - started) / 1000;
    const rtt = latencyFigures(rttMs);
    return [
      {
        id: 'ws-rtt-p50',
        label: `ws echo, ${bytes}-byte messages one at a time: round trip p50 (p99 ${rtt.p99Ms} ms)`,
        value: rtt.p50Ms,
        unit: 'ms',
      },
      {
        id: 'ws-pipelined',
        label: `ws echo, ${messages.toLocaleString('en')} ${bytes}-byte messages pipelined`,
        value: Math.round(messages / seconds),
        unit: `messages/s (${round1((messages * bytes) / seconds / 1e6)} MB/s each way)`,
      },
    ];
  } finally {
    client.terminate();
    await new Promise((resolve) => server.close(resolve));
  }
}

export async function measureCeilings(pgServer: string, rows: number, commits: number): Promise<Ceiling[]> {
  return [
    ...(await sqliteCeilings({ rows, perInsert: 1000, commits })),
    ...(await postgresCeilings(pgServer, { rows, perInsert: 1000, commits })),
    ...(await wsCeilings(commits, rows, 1024)),
  ];
}
