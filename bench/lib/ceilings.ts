/**
 * Ceilings: what the parts below us can do at best on this machine, measured in the same run, so that each phase
 * can be read against its limit. SQLite through the same driver the consumer uses (MikroORM's connection: knex on
 * sqlite3), in WAL with synchronous=FULL as the consumer runs it; PostgreSQL multi-row inserts through pg on the
 * target cluster; a `ws` echo over 127.0.0.1, both ends in this process.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { MikroORM } from '@mikro-orm/core';
import { openOrm } from '@oplog/runtime';
import pg from 'pg';
import { WebSocket, WebSocketServer } from 'ws';
import { pollsEntities } from '../../apps/demo/src/entities.js';
import { dbConfig, newDb } from './db.js';
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
const values = (n: number, first: number) => Array(n).fill(`($${first}, $${first + 1}, $${first + 2})`);

/** The two insert ceilings of a database: batched rows/s, and single-row commits/s. */
function insertCeilings(
  id: string,
  name: string,
  rows: number,
  perTx: number,
  batched: number,
  commits: number,
  single: number,
): Ceiling[] {
  return [
    {
      id: `${id}-batched`,
      label: `${name}: ${rows.toLocaleString('en')} rows, ${perTx}-row inserts, a commit each`,
      value: Math.round(batched),
      unit: 'rows/s',
    },
    {
      id: `${id}-single`,
      label: `${name}: ${commits.toLocaleString('en')} single-row autocommits`,
      value: Math.round(single),
      unit: 'commits/s',
    },
  ];
}

/** `rows` as multi-row inserts of `perTx` rows, each statement its own transaction; returns rows/s. */
async function sqliteCeilings(rows: number, perTx: number, commits: number): Promise<Ceiling[]> {
  const db = await newDb('sqlite', 'ceiling');
  let orm: MikroORM | undefined;
  try {
    orm = await openOrm(dbConfig(db), { entities: pollsEntities });
    await orm.schema.updateSchema({ safe: true });
    const connection = orm.em.getConnection();
    await connection.execute('pragma journal_mode = wal');
    await connection.execute('pragma synchronous = full');
    const insert = (n: number) =>
      `insert into question (id, question_text, pub_date) values ${Array(n).fill('(?, ?, ?)').join(', ')}`;
    let started = performance.now();
    for (let start = 0; start < rows; start += perTx) {
      const n = Math.min(perTx, rows - start);
      await orm.em.transactional(async (em) => {
        const params = Array.from({ length: n }, (_, i) => row(start + i)).flat();
        await connection.execute(insert(n), params, 'run', em.getTransactionContext());
      });
    }
    const batched = rows / ((performance.now() - started) / 1000);
    started = performance.now();
    for (let i = 0; i < commits; i++) await connection.execute(insert(1), row(i), 'run');
    const single = commits / ((performance.now() - started) / 1000);
    return insertCeilings('sqlite', 'SQLite', rows, perTx, batched, commits, single);
  } finally {
    await orm?.close();
    await db.drop();
  }
}

async function postgresCeilings(server: string, rows: number, perTx: number, commits: number): Promise<Ceiling[]> {
  const db = await newDb('postgresql', 'ceiling', server);
  const orm = await openOrm(dbConfig(db), { entities: pollsEntities });
  await orm.schema.updateSchema({ safe: true });
  await orm.close();
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const insert = (n: number) =>
      `insert into question (id, question_text, pub_date) values ${Array.from({ length: n }, (_, i) => values(1, i * 3 + 1)).join(', ')}`;
    let started = performance.now();
    for (let start = 0; start < rows; start += perTx) {
      const n = Math.min(perTx, rows - start);
      await client.query(insert(n), Array.from({ length: n }, (_, i) => row(start + i)).flat());
    }
    const batched = rows / ((performance.now() - started) / 1000);
    started = performance.now();
    for (let i = 0; i < commits; i++) await client.query(insert(1), row(i));
    const single = commits / ((performance.now() - started) / 1000);
    return insertCeilings('pg', 'PostgreSQL', rows, perTx, batched, commits, single);
  } finally {
    await client.end();
    await db.drop();
  }
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
    ...(await sqliteCeilings(rows, 1000, commits)),
    ...(await postgresCeilings(pgServer, rows, 1000, commits)),
    ...(await wsCeilings(commits, rows, 1024)),
  ];
}
