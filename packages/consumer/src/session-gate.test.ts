import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { MikroORM } from '@mikro-orm/core';
import { PROTOCOL_VERSION } from '@oplog/protocol';
import { createLogger, openOrm } from '@oplog/runtime';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Consumer, createConsumer } from './consumer.js';
import { CONSUMER_DEFAULTS, type ConsumerOptions } from './consumer-options.js';
import { CredentialStore } from './credential-store.js';
import { SessionGate } from './session-gate.js';
import { consumerEntities } from './tables.js';

let dir: string;
let orm: MikroORM;
let token: string;
let consumer: Consumer | undefined;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oplog-gate-'));
  orm = await openOrm({ driver: 'sqlite', name: join(dir, 'central.sqlite') }, { entities: consumerEntities });
  await orm.schema.updateSchema({ safe: true });
  token = await new CredentialStore(() => orm.em.getConnection()).add('s1');
});

afterEach(async () => {
  await consumer?.stop();
  consumer = undefined;
  await orm.close();
  rmSync(dir, { recursive: true, force: true });
});

async function listen(options: ConsumerOptions): Promise<string> {
  consumer = createConsumer(orm, { port: 0, logger: createLogger({ level: 'silent' }), ...options });
  const { port } = await consumer.listen();
  return `ws://127.0.0.1:${port}/oplog`;
}

/** Opens a socket and resolves with how it ended: the close code and reason, or the HTTP status of a refusal. */
function outcome(
  url: string,
  headers: Record<string, string>,
): Promise<{ code?: number; reason?: string; status?: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode }));
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason) }));
    ws.on('error', () => {});
  });
}

describe('SessionGate', () => {
  it('closes a connection that sends no hello within helloTimeoutMs (OPLOG_HELLO_TIMEOUT, 1008)', async () => {
    const url = await listen({ helloTimeoutMs: 300 });
    const started = Date.now();
    const ended = await outcome(url, { authorization: `Bearer ${token}` });
    expect(ended.code).toBe(1008);
    expect(ended.reason).toMatch(/^OPLOG_HELLO_TIMEOUT: /);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('refuses before any WebSocket: a wrong path (404), no credential (401), a full consumer (503)', async () => {
    const url = await listen({ maxConnections: 1, helloTimeoutMs: 5000 });
    const auth = { authorization: `Bearer ${token}` };
    expect(await outcome(url.replace('/oplog', '/elsewhere'), auth)).toEqual({ status: 404 });
    expect(await outcome(url, {})).toEqual({ status: 401 });
    const first = new WebSocket(url, { headers: auth });
    await new Promise((resolve) => first.once('open', resolve));
    expect(await outcome(url, auth)).toEqual({ status: 503 });
    first.terminate();
  });

  it('answers a plain GET on its path with 426 Upgrade Required and says a WebSocket upgrade is expected', async () => {
    // A server that routes as the consumer's does: the gate first, then the other routes (here a 404).
    const logger = createLogger({ level: 'silent' });
    consumer = createConsumer(orm, { port: 0, logger });
    const credentials = new CredentialStore(() => orm.em.getConnection());
    const gate = new SessionGate(consumer, credentials, CONSUMER_DEFAULTS, logger);
    const server = createServer((req, res) => gate.answerPlainRequest(req, res) || res.writeHead(404).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      // What a proxy that drops the Upgrade header passes on: a plain GET, credential included.
      const plain = await fetch(`http://127.0.0.1:${port}/oplog`, { headers: { authorization: `Bearer ${token}` } });
      expect(plain.status).toBe(426);
      expect(plain.headers.get('upgrade')).toBe('websocket');
      const body = await plain.text();
      expect(body.trim().split('\n')).toHaveLength(1);
      expect(body).toMatch(/^\/oplog expects a WebSocket upgrade .* forward the Upgrade and Connection headers/);
      expect((await fetch(`http://127.0.0.1:${port}/elsewhere`)).status).toBe(404);
    } finally {
      server.close();
    }
  });

  it('keeps a peer whose heartbeats waited in its socket while this process was busy longer than peerTimeoutMs', async () => {
    const url = await listen({ peerTimeoutMs: 500 });
    // The peer lives in a process of its own, so that it goes on sending while this one is blocked.
    const peer = spawn(
      process.execPath,
      ['--input-type=module', '-e', HEARTBEATING_PEER, url, token, String(PROTOCOL_VERSION)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    try {
      const lines = createInterface({ input: peer.stdout! });
      const said: string[] = [];
      lines.on('line', (line) => said.push(line));
      await once(lines, 'line'); // welcomed: this continuation runs where the loop has just read a socket
      // Three timeouts' worth of synchronous work: the sweep's timer is due, and the heartbeats wait in the socket.
      const busyUntil = Date.now() + 1500;
      while (Date.now() < busyUntil);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(
        said.filter((line) => line.startsWith('closed')),
        'the consumer cut a peer that kept talking',
      ).toEqual([]);
    } finally {
      peer.kill();
    }
  });
});

/** A producer reduced to its hello and a heartbeat every 50 ms; prints "welcomed", and "closed <code>" if cut off. */
const HEARTBEATING_PEER = `
import WebSocket from 'ws';
const [url, token, version] = process.argv.slice(1);
const ws = new WebSocket(url, { headers: { authorization: 'Bearer ' + token } });
const head = { seq: 0, epoch: Date.now() };
ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', protocol: { min: Number(version), max: Number(version) },
  source: 's1', incarnation: 'inc-1', head, oldest: 1, schema: {} })));
ws.once('message', () => {
  console.log('welcomed');
  setInterval(() => ws.send(JSON.stringify({ type: 'heartbeat', head, at: Date.now() })), 50);
});
ws.on('close', (code) => { console.log('closed ' + code); process.exit(0); });
`;
