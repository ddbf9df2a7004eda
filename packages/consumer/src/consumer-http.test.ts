import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntitySchema, type MikroORM } from '@mikro-orm/core';
import { schemaFingerprint } from '@oplog/capture';
import { type OplogEntry, PROTOCOL_VERSION } from '@oplog/protocol';
import { loadSources } from '@oplog/replay';
import { createLogger, openOrm } from '@oplog/runtime';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Consumer, createConsumer } from './consumer.js';
import type { ConsumerOptions } from './consumer-options.js';
import { CredentialStore } from './credential-store.js';
import { consumerEntities } from './tables.js';

const Item = new EntitySchema<{ id: string; name: string }>({
  name: 'Item',
  properties: { id: { type: 'string', primary: true }, name: { type: 'string' } },
});

const TOKEN = 'dashboard-token-for-tests';
let dir: string;
let orm: MikroORM;
/** The credential of source s1. */
let token: string;
const consumers: Consumer[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oplog-http-'));
  orm = await openOrm(
    { driver: 'sqlite', name: join(dir, 'central.sqlite') },
    { entities: [Item, ...consumerEntities] },
  );
  await orm.schema.updateSchema({ safe: true });
  token = await new CredentialStore(() => orm.em.getConnection()).add('s1');
});

afterEach(async () => {
  for (const consumer of consumers.splice(0)) await consumer.stop();
  await orm.close();
  rmSync(dir, { recursive: true, force: true });
});

async function start(options: ConsumerOptions = {}): Promise<{ consumer: Consumer; base: string }> {
  const consumer = createConsumer(orm, { port: 0, logger: createLogger({ level: 'silent' }), ...options });
  consumers.push(consumer);
  const { port } = await consumer.listen();
  return { consumer, base: `http://127.0.0.1:${port}` };
}

const entry = (seq: number): OplogEntry => ({
  source: 's1',
  incarnation: 'inc1',
  seq,
  txId: `tx${seq}`,
  epoch: Date.now() - 1000,
  entity: 'Item',
  op: 'insert',
  pk: { id: `i${seq}` },
  after: { id: `i${seq}`, name: `item ${seq}` },
});

/**
 * A bare producer of a source with no rows before its log: hello, an empty snapshot page when the consumer asks for
 * one, a heartbeat reporting `head`, then one batch of `entries`; resolves after its ack.
 */
async function produce(base: string, head: number, entries: OplogEntry[]): Promise<WebSocket> {
  const ws = new WebSocket(`${base.replace('http', 'ws')}/oplog`, { headers: { authorization: `Bearer ${token}` } });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const frames: { type: string }[] = [];
  ws.on('message', (data) => frames.push(JSON.parse(String(data))));
  const next = async (type: string) => {
    for (let i = 0; i < 200; i++) {
      const frame = frames.find((f) => f.type === type);
      if (frame) return frame;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no ${type} frame: ${JSON.stringify(frames)}`);
  };
  const empty = { seq: 0, epoch: 0 };
  const schema = schemaFingerprint(orm.getMetadata(), (name) => name === 'Item');
  const hello = { protocol: { min: PROTOCOL_VERSION, max: PROTOCOL_VERSION }, source: 's1', incarnation: 'inc1' };
  ws.send(JSON.stringify({ type: 'hello', ...hello, head: empty, oldest: 1, schema }));
  const welcome = (await next('welcome')) as unknown as { snapshot: { entities: string[] } | null };
  expect(welcome.snapshot?.entities).toEqual(['Item']);
  const page = { entity: 'Item', rows: [], after: null, head: empty, remaining: 0, done: true };
  ws.send(JSON.stringify({ type: 'snapshot', id: 1, ...page }));
  await next('ack');
  frames.length = 0;
  ws.send(JSON.stringify({ type: 'heartbeat', head: { seq: head, epoch: Date.now() }, at: Date.now() }));
  ws.send(JSON.stringify({ type: 'batch', id: 2, entries }));
  await next('ack');
  return ws;
}

/** The value of one sample of a Prometheus text exposition. */
function metric(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  if (!line) throw new Error(`no ${name}${labels} in\n${text}`);
  return Number(line.split(' ')[1]);
}

describe('Consumer HTTP', () => {
  it('exposes /metrics that agree with the cursor rows in the database, and tells onApplied of each commit', async () => {
    const applied: [string, number][] = [];
    const { consumer, base } = await start({ onApplied: (source, cursor) => applied.push([source, cursor.seq]) });
    const ws = await produce(base, 8, [entry(1), entry(2), entry(3), entry(4), entry(5)]);
    // The empty snapshot page applied no entry; the batch did, and it was durable when onApplied heard of it.
    expect(applied).toEqual([['s1', 5]]);
    const text = await (await fetch(`${base}/metrics`)).text();
    const row = (await loadSources(orm.em.getConnection())).get('s1')!;
    expect(row.cursor.seq).toBe(5);
    expect(metric(text, 'oplog_changes_applied_total', '{source="s1"}')).toBe(row.cursor.seq);
    expect(metric(text, 'oplog_lag_changes', '{source="s1"}')).toBe(8 - row.cursor.seq);
    expect(metric(text, 'oplog_batches_applied_total', '{source="s1"}')).toBe(1);
    expect(metric(text, 'oplog_sources_connected')).toBe(1);
    expect(metric(text, 'oplog_apply_duration_seconds_count')).toBe(1);
    expect(metric(text, 'oplog_bytes_applied_total', '{source="s1"}')).toBeGreaterThan(100);
    // The process's own figures, next to ours.
    expect(metric(text, 'process_resident_memory_bytes')).toBeGreaterThan(10 * 2 ** 20);
    expect(metric(text, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(metric(text, 'oplog_lag_seconds', '{source="s1"}')).toBeGreaterThan(0);

    // A batch that skips a seq is refused: counted by its code.
    ws.send(JSON.stringify({ type: 'batch', id: 3, entries: [entry(7)] }));
    await new Promise((resolve) => ws.once('close', resolve));
    const after = await (await fetch(`${base}/metrics`)).text();
    expect(metric(after, 'oplog_errors_total', '{code="OPLOG_SEQ_GAP"}')).toBe(1);
    expect(consumer.sources()[0]?.lastError?.code).toBe('OPLOG_SEQ_GAP');
  });

  it('never reads as caught up when it does not know: exact lag in a catch-up, then a floor once the source left', async () => {
    type Lag = { state: string; lagChanges: number; lagMs: number; lagKnown: boolean; lastSeenAt: number };
    const lagOf = async () => {
      const body = (await (await fetch(`${base}/api/lag`)).json()) as {
        now: number;
        sources: (Lag & { offlineSince: number })[];
      };
      return { now: body.now, ...body.sources[0]! };
    };
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    // One entry a second: a batch of three waits two seconds in the apply loop, received and not applied.
    const { base } = await start({ maxEntriesPerSecond: 1 });
    const ws = await produce(base, 4, [entry(1)]);
    await sleep(1500);
    const epoch = Date.now() - 200;
    const late = [2, 3, 4].map((seq) => ({ ...entry(seq), epoch: epoch + seq }));
    ws.send(JSON.stringify({ type: 'batch', id: 3, entries: late }));
    await sleep(300);
    // The age of entry 2, the oldest not applied, as it is: not the bound from the cursor's change, 1.5 s older.
    const catchingUp = await lagOf();
    expect(catchingUp).toMatchObject({ lagChanges: 3, lagKnown: true });
    expect(Math.abs(catchingUp.lagMs - (catchingUp.now - epoch - 2))).toBeLessThan(250);

    // Last seen is the last frame of any kind, here a batch long after the last heartbeat.
    await new Promise((resolve) => ws.once('message', resolve)); // the ack of batch 3
    await sleep(1100);
    const sentAt = Date.now();
    ws.send(JSON.stringify({ type: 'batch', id: 4, entries: [entry(5)] }));
    await new Promise((resolve) => ws.once('message', resolve));
    expect((await lagOf()).lastSeenAt).toBeGreaterThanOrEqual(sentAt);

    // It leaves behind (head 9, cursor 5): the lag is a floor, not a figure, and /metrics has no sample for it.
    ws.send(JSON.stringify({ type: 'heartbeat', head: { seq: 9, epoch: Date.now() }, at: Date.now() }));
    await sleep(1100);
    const closedAt = Date.now();
    ws.close();
    await new Promise((resolve) => ws.once('close', resolve));
    const away = await lagOf();
    expect(away).toMatchObject({ state: 'offline', lagChanges: 4, lagKnown: false });
    // Offline since the connection closed, not since the last frame a second before.
    expect(away.offlineSince).toBeGreaterThanOrEqual(closedAt);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).not.toMatch(/^oplog_lag_changes\{source="s1"\}/m);
    expect(metrics).not.toMatch(/^oplog_lag_seconds\{source="s1"\}/m);
    expect(metric(metrics, 'oplog_source_lag_known', '{source="s1"}')).toBe(0);

    // The local app reports its head: known again, though the producer is still away.
    const report = { source: 's1', incarnation: 'inc1', head: { seq: 12, epoch: Date.now() } };
    const posted = await fetch(`${base}/api/head`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(report),
    });
    expect(posted.status).toBe(204);
    expect(await lagOf()).toMatchObject({ state: 'offline', lagChanges: 7, lagKnown: true });
    const reported = await (await fetch(`${base}/metrics`)).text();
    expect(metric(reported, 'oplog_lag_changes', '{source="s1"}')).toBe(7);
    expect(metric(reported, 'oplog_source_lag_known', '{source="s1"}')).toBe(1);
  });

  it('answers /healthz and /readyz, with the database checked', async () => {
    const { base } = await start();
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ ok: true, stalled: [] });
    expect(await (await fetch(`${base}/readyz`)).json()).toEqual({ ok: true, listening: true, database: true });
  });

  it('streams every source over SSE and keeps the lag history across a restart', async () => {
    const first = await start({ lagSampleMs: 100 });
    const ws = await produce(first.base, 5, [entry(1), entry(2), entry(3)]);
    const response = await fetch(`${first.base}/api/events`);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const reader = response.body!.getReader();
    let text = '';
    while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
    const message = JSON.parse(text.split('data: ')[1]!.split('\n')[0]!);
    expect(message.sources).toMatchObject([{ id: 's1', state: 'live', lagChanges: 2 }]);
    await reader.cancel();
    await new Promise((resolve) => setTimeout(resolve, 350));
    ws.close();
    await first.consumer.stop();

    // A new consumer on the same database: the source shows (offline) and its history is still there.
    const second = await start();
    const lag = (await (await fetch(`${second.base}/api/lag`)).json()) as { sources: unknown[] };
    expect(lag.sources).toMatchObject([{ id: 's1', state: 'offline', cursor: { seq: 3 } }]);
    type History = { points: [number, number, number][] };
    const history = (await (await fetch(`${second.base}/api/history?source=s1`)).json()) as History;
    expect(history.points.length).toBeGreaterThanOrEqual(2);
    expect(history.points.at(-1)?.[1]).toBe(2);
    const total = (await (await fetch(`${second.base}/api/history`)).json()) as History;
    expect(total.points.length).toBe(history.points.length);
  });

  it('serves the dashboard and its API only with the token, but keeps the probes open', async () => {
    const { base } = await start({ dashboard: { token: TOKEN } });
    for (const path of ['/', '/api/lag', '/api/events', '/metrics', '/api/history']) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(401);
    }
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    const once = await fetch(`${base}/?token=${TOKEN}`, { redirect: 'manual' });
    expect(once.status).toBe(303);
    expect(once.headers.get('location')).toBe('/');
    const cookie = once.headers.get('set-cookie')!.split(';')[0]!;
    const page = await fetch(`${base}/`, { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script type="module" src="app.js">');
    expect((await fetch(`${base}/app.js`, { headers: { cookie } })).headers.get('content-type')).toMatch(/javascript/);
  });

  it('refuses a batch frame of more than maxBatchEntries entries with 1009, before applying any of it', async () => {
    const { consumer, base } = await start({ maxBatchEntries: 3 });
    const ws = await produce(base, 9, [entry(1), entry(2), entry(3)]);
    const closed = new Promise<[number, string]>((resolve) =>
      ws.once('close', (code, reason) => resolve([code, String(reason)])),
    );
    ws.send(JSON.stringify({ type: 'batch', id: 3, entries: [entry(4), entry(5), entry(6), entry(7)] }));
    const [code, reason] = await closed;
    expect(code).toBe(1009);
    expect(reason).toMatch(/^OPLOG_BATCH_TOO_BIG: batch of 4 entries; at most 3/);
    expect((await loadSources(orm.em.getConnection())).get('s1')?.cursor.seq).toBe(3);
    expect(consumer.sources()[0]?.lastError?.code).toBe('OPLOG_BATCH_TOO_BIG');
  });

  it('refuses auth none beyond loopback', () => {
    expect(() => createConsumer(orm, { host: '0.0.0.0', dashboard: { public: true }, auth: 'none' })).toThrow(
      /auth: 'none'/,
    );
  });

  it('refuses to listen beyond loopback without a dashboard token unless public on purpose', () => {
    expect(() => createConsumer(orm, { host: '0.0.0.0' })).toThrow(/dashboard.token/);
    expect(() => createConsumer(orm, { host: '0.0.0.0', dashboard: { public: true } })).not.toThrow();
  });
});
