import type { AddressInfo } from 'node:net';
import type { MikroORM } from '@mikro-orm/sqlite';
import { PROTOCOL_VERSION } from '@oplog/protocol';
import { createLogger } from '@oplog/runtime';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { NoteSchema, openNotesOrm } from './notes.fixture.js';
import { createProducer, type Producer } from './producer.js';

interface Batch {
  id: number;
  seqs: number[];
}

/**
 * A consumer stand-in on 127.0.0.1 that welcomes a new source and records each batch; acks wait until the test
 * releases them, so it decides what is in flight.
 */
async function holdingConsumer() {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => server.once('listening', resolve));
  const batches: Batch[] = [];
  const release: (() => void)[] = [];
  const errors: { code: string; message: string }[] = [];
  const closes: { code: number; reason: string }[] = [];
  let socket: WebSocket | undefined;
  server.on('connection', (ws) => {
    socket = ws;
    ws.on('close', (code, reason) => closes.push({ code, reason: String(reason) }));
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data));
      if (frame.type === 'error') errors.push({ code: frame.code, message: frame.message });
      if (frame.type === 'hello') {
        const cursor = { seq: 0, epoch: 0, txId: null };
        ws.send(
          JSON.stringify({ type: 'welcome', protocol: PROTOCOL_VERSION, incarnation: null, cursor, snapshot: null }),
        );
      } else if (frame.type === 'batch') {
        const seqs = frame.entries.map((e: { seq: number }) => e.seq);
        batches.push({ id: frame.id, seqs });
        release.push(() => ws.send(JSON.stringify({ type: 'ack', id: frame.id, seq: seqs.at(-1) })));
      }
    });
  });
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
    batches,
    errors,
    closes,
    ackOne: () => release.shift()?.(),
    send: (frame: object) => socket?.send(JSON.stringify(frame)),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('ProducerSession', () => {
  let orm: MikroORM;
  let consumer: Awaited<ReturnType<typeof holdingConsumer>>;
  let producer: Producer;

  beforeEach(async () => {
    orm = await openNotesOrm();
    consumer = await holdingConsumer();
    producer = createProducer(orm, { url: consumer.url, logger: createLogger({ level: 'silent' }) });
    void producer.run();
  });

  afterEach(async () => {
    await producer.stop();
    await consumer.close();
    await orm.close();
  });

  const commit = async (id: number) => {
    const em = orm.em.fork();
    em.create(NoteSchema, { id, text: `note ${id}` });
    await em.flush();
  };

  it('holds commits made while a frame is unacked, then sends them as one frame on its ack', async () => {
    await commit(1);
    await until(() => consumer.batches.length === 1, 'the first frame');
    for (let id = 2; id <= 4; id++) await commit(id);
    // The commits woke the producer three times; give any frame they would send time to arrive.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(consumer.batches).toEqual([{ id: 1, seqs: [1] }]);

    consumer.ackOne();
    await until(() => consumer.batches.length === 2, 'the second frame');
    expect(consumer.batches[1]).toEqual({ id: 2, seqs: [2, 3, 4] });
  });

  it('sends an isolated commit at once when nothing is in flight', async () => {
    await commit(1);
    await until(() => consumer.batches.length === 1, 'the first frame');
    consumer.ackOne();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await commit(2);
    await until(() => consumer.batches.length === 2, 'the second frame');
    expect(consumer.batches[1]).toEqual({ id: 2, seqs: [2] });
  });

  it('refuses an ack of a frame that is not the oldest in flight: tells the consumer, closes 1002', async () => {
    await commit(1);
    await until(() => consumer.batches.length === 1, 'the first frame');
    consumer.send({ type: 'ack', id: 2, seq: 1 });
    await until(() => consumer.closes.length === 1, 'the close');
    expect(consumer.errors).toEqual([
      { code: 'OPLOG_ACK_MISMATCH', message: 'ack for frame 2, which is not in flight' },
    ]);
    expect(consumer.closes[0]!.code).toBe(1002);
    expect(consumer.closes[0]!.reason).toMatch(/^OPLOG_ACK_MISMATCH: /);
  });

  it('closes with the close the error table gives OPLOG_SHUTTING_DOWN when stopped', async () => {
    await commit(1);
    await until(() => consumer.batches.length === 1, 'the first frame');
    await producer.stop();
    await until(() => consumer.closes.length === 1, 'the close');
    expect(consumer.closes).toEqual([{ code: 1001, reason: 'OPLOG_SHUTTING_DOWN: producer stopping' }]);
  });
});
