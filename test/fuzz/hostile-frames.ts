import { seededRandom } from '@oplog/demo/seeded-random';
import {
  type ErrorCode,
  type Hello,
  type Json,
  MIN_PROTOCOL_VERSION,
  type OplogEntry,
  PROTOCOL_VERSION,
} from '@oplog/protocol';
import { helloOf } from '../support/bare-producer.js';

/** What one frame on the wire is: an object sent as JSON text, raw text, or a binary frame. */
export type Frame = object | string | Buffer;

/** What a hostile session must end with: an error frame with one of these codes, then the close code ERRORS gives. */
export interface Outcome {
  codes: readonly ErrorCode[];
}

/** One hostile session: whether it first completes the handshake, then the frames it sends, and how it must end. */
export interface HostileCase {
  kind: string;
  handshake: boolean;
  frames: Frame[];
  outcome: Outcome;
}

/** What the generator needs to know of the attack. */
export interface Target {
  /** The attacker's own source id and incarnation (its credential names it). */
  source: string;
  incarnation: string;
  /** The consumer's schema fingerprint of the replicated entities (an honest hello's). */
  schema: Hello['schema'];
  /** A source id of somebody else (another credential's). */
  victim: string;
  /** Primary keys of rows the victim owns on the consumer. */
  victimQuestions: readonly string[];
  maxPayload: number;
  maxBatchEntries: number;
}

/** Every valid-looking row a hostile frame carries is marked so: none may ever be visible on the consumer. */
export const HOSTILE = 'HOSTILE';

/**
 * `count` hostile sessions drawn from `seed`. Frames that reach the apply loop start with valid-looking rows
 * (marked HOSTILE) and end with the bad part, so that applying any of a refused batch would show.
 */
export function hostileCases(seed: number, count: number, target: Target): HostileCase[] {
  const random = seededRandom(seed);
  const g = new Generator(random, target);
  const kinds = Object.entries(KINDS);
  return Array.from({ length: count }, () => {
    const [kind, make] = kinds[Math.floor(random() * kinds.length)]!;
    return { kind, ...make(g) };
  });
}

type Make = (g: Generator) => Omit<HostileCase, 'kind'>;

const codes = (...list: ErrorCode[]) => ({ codes: list });

const KINDS: Record<string, Make> = {
  'malformed JSON': (g) => ({
    handshake: g.coin(),
    frames: [
      g.pick([
        '{',
        '{"type":"batch"',
        'not json',
        '{"type":"hello",}',
        "{'type':'hello'}",
        '[1,2',
        '{"a":1}}',
        '\u0000\u0001\u0002',
        '',
        g.garbage(),
        JSON.stringify(g.hello()).slice(0, -1 - g.int(20)),
      ]),
    ],
    outcome: codes('OPLOG_BAD_JSON'),
  }),
  'binary frame': (g) => ({
    handshake: g.coin(),
    frames: [Buffer.from(g.coin() ? JSON.stringify(g.hello()) : g.garbage())],
    outcome: codes('OPLOG_BAD_JSON'),
  }),
  'not an object': (g) => ({
    handshake: g.coin(),
    frames: [g.pick(['null', '42', '[]', '"hello"', 'true', '[{"type":"hello"}]', '{}', '{"type":null}'])],
    outcome: codes('OPLOG_BAD_FRAME', 'OPLOG_UNKNOWN_FRAME'),
  }),
  'unknown frame type': (g) => ({
    handshake: g.coin(),
    frames: [
      g.pick<Frame>([
        { type: 'bogus' },
        { type: 'ack', id: 1, seq: 1 },
        {
          type: 'welcome',
          protocol: PROTOCOL_VERSION,
          incarnation: null,
          cursor: { seq: 0, epoch: 0, txId: null },
          snapshot: null,
        },
        { type: 'HELLO' },
        { type: 7 },
        { type: 'batch ' },
        { type: '__proto__' },
      ]),
    ],
    outcome: codes('OPLOG_UNKNOWN_FRAME'),
  }),
  'frame before hello': (g) => ({
    handshake: false,
    frames: [
      g.pick<Frame>([
        g.batch(g.rows(2)),
        { type: 'heartbeat', head: { seq: 1, epoch: 1 }, at: 1 },
        g.page(),
        { type: 'error', code: 'OPLOG_INTERNAL', message: 'x', retryable: true },
      ]),
    ],
    outcome: codes('OPLOG_HELLO_FIRST'),
  }),
  'hello of wrong types': (g) => ({
    handshake: false,
    frames: [
      g.pick<Frame>([
        { ...g.hello(), source: 5 },
        { ...g.hello(), protocol: '2' },
        { ...g.hello(), protocol: { min: 0, max: 2 } },
        { ...g.hello(), head: { seq: -1, epoch: 0 } },
        { ...g.hello(), oldest: 0 },
        { ...g.hello(), schema: [] },
        { ...g.hello(), token: 'x.y' },
        { ...g.hello(), incarnation: '' },
        { ...g.hello(), schema: { Question: { id: 5 } } },
      ]),
    ],
    outcome: codes('OPLOG_BAD_FRAME'),
  }),
  'frame of wrong types': (g) => {
    const [row] = g.rows(1);
    return {
      handshake: true,
      frames: [
        g.pick<Frame>([
          { type: 'heartbeat', head: 'x', at: 1 },
          { type: 'heartbeat', head: { seq: 1.5, epoch: 0 }, at: 1 },
          { type: 'batch', id: 0, entries: [row] },
          { type: 'batch', id: '1', entries: [row] },
          { type: 'batch', id: 1, entries: {} },
          { type: 'batch', id: 1, entries: [] },
          { type: 'batch', id: 1, entries: [{ ...row, seq: 1.5 }] },
          { type: 'batch', id: 1, entries: [{ ...row, op: 'upsert' }] },
          { type: 'batch', id: 1, entries: [{ ...row, pk: [] }] },
          { type: 'batch', id: 1, entries: [{ ...row, after: 'x' }] },
          { type: 'batch', id: 1, entries: [{ ...row, epoch: -1 }] },
          { type: 'batch', id: 1, entries: [{ ...row, changed: [1] }] },
          { type: 'batch', id: 1, entries: [{ ...row, extra: true }] },
          { type: 'batch', id: 1, entries: [{ ...row, op: 'delete' }] },
          { type: 'batch', id: 1, entries: [{ ...row, after: undefined }] },
          { type: 'batch', id: 1, entries: [row, null] },
          { type: 'batch', id: 1, entries: [row], more: 1 },
        ]),
      ],
      outcome: codes('OPLOG_BAD_FRAME'),
    };
  },
  'huge string within the payload': (g) => {
    const huge = 'x'.repeat(129 + g.int(g.target.maxPayload / 2));
    const [row] = g.rows(1);
    const choice = g.int(4);
    if (choice === 0)
      return { handshake: false, frames: [{ ...g.hello(), source: huge }], outcome: codes('OPLOG_BAD_FRAME') };
    return {
      handshake: true,
      frames: [
        [
          { type: 'batch', id: 1, entries: [{ ...row, txId: huge }] },
          { type: 'error', code: 'OPLOG_INTERNAL', message: `${huge}${'y'.repeat(1024)}`, retryable: false },
          { type: 'batch', id: 1, entries: [{ ...row, after: { ...row!.after, [huge]: 1 } }] },
          { type: 'batch', id: 1, entries: [{ ...row, entity: huge }] },
        ][choice]!,
      ],
      outcome: codes('OPLOG_BAD_FRAME'),
    };
  },
  'oversized frame': (g) => ({
    handshake: g.coin(),
    frames: [`{"type":"batch","pad":"${'x'.repeat(g.target.maxPayload + g.int(4096))}"}`],
    outcome: codes('OPLOG_FRAME_TOO_BIG'),
  }),
  'batch of too many entries': (g) => ({
    handshake: true,
    frames: [g.batch(g.rows(g.target.maxBatchEntries + 1 + g.int(10)))],
    outcome: codes('OPLOG_BATCH_TOO_BIG'),
  }),
  'seq out of order, duplicated or with a gap': (g) => {
    const rows = g.rows(3);
    const seqs = g.pick([
      [2, 3, 4],
      [1, 1, 2],
      [1, 3, 2],
      [1, 2, 4],
      [3, 2, 1],
    ]);
    return {
      handshake: true,
      frames: [g.batch(rows.map((row, i) => ({ ...row, seq: seqs[i]! })))],
      outcome: codes('OPLOG_SEQ_GAP'),
    };
  },
  'wrong protocol version': (g) => ({
    handshake: false,
    frames: [
      {
        ...g.hello(),
        protocol: g.pick([
          { min: PROTOCOL_VERSION + 1, max: PROTOCOL_VERSION + 7 },
          { min: 1, max: MIN_PROTOCOL_VERSION - 1 },
          { min: 7, max: 3 },
          { min: 99, max: 100 },
        ]),
      },
    ],
    outcome: codes('OPLOG_VERSION_UNSUPPORTED'),
  }),
  'a second hello': (g) => ({ handshake: true, frames: [g.hello()], outcome: codes('OPLOG_BAD_FRAME') }),
  'hello as another source': (g) => ({
    handshake: false,
    frames: [{ ...g.hello(), source: g.target.victim }],
    outcome: codes('OPLOG_UNAUTHORIZED'),
  }),
  'hello with an unknown entity': (g) => ({
    handshake: false,
    frames: [
      { ...g.hello(), schema: { ...g.target.schema, [g.pick(['Bogus', 'OplogCursor', 'OplogSourceCredential'])]: {} } },
    ],
    outcome: codes('OPLOG_UNKNOWN_ENTITY'),
  }),
  'foreign source or incarnation in an entry': (g) => {
    const rows = g.rows(2 + g.int(3));
    const last = rows.at(-1)!;
    Object.assign(last, g.coin() ? { source: g.target.victim } : { incarnation: 'another' });
    return { handshake: true, frames: [g.batch(rows)], outcome: codes('OPLOG_FOREIGN_ENTRY') };
  },
  'unknown entity in an entry': (g) => {
    const rows = g.rows(1 + g.int(3));
    rows.push(
      g.entry(rows.length + 1, g.pick(['Bogus', 'OplogRowOwner', 'oplog_entry', 'question']), { id: g.uuid() }),
    );
    return { handshake: true, frames: [g.batch(rows)], outcome: codes('OPLOG_UNKNOWN_ENTITY') };
  },
  'unknown field in an entry': (g) => {
    const rows = g.rows(1 + g.int(3));
    const last = rows.at(-1)!;
    const field = g.pick(['bogus', '__proto__', 'constructor', 'question_text', 'choices']);
    const inPk = g.coin();
    if (inPk) last.pk = { ...last.pk, [field === 'choices' ? 'bogus' : field]: 1 };
    else last.after = { ...last.after, [field]: 1 };
    return { handshake: true, frames: [g.batch(rows)], outcome: codes('OPLOG_UNKNOWN_FIELD') };
  },
  'pk and after-image disagree': (g) => {
    const rows = g.rows(1 + g.int(3));
    rows.at(-1)!.pk = { id: g.uuid() };
    return { handshake: true, frames: [g.batch(rows)], outcome: codes('OPLOG_BAD_FRAME') };
  },
  'value the column cannot take': (g) => {
    const rows = g.rows(1 + g.int(3));
    const id = g.uuid();
    const bad = g.pick<Record<string, Json>>([
      { pubDate: 'not a date' },
      { pubDate: {} },
      { questionText: { a: 1 } },
      { pubDate: true },
    ]);
    rows.push(g.entry(rows.length + 1, 'Question', { id }, { id, questionText: HOSTILE, pubDate: 0, ...bad }));
    return { handshake: true, frames: [g.batch(rows)], outcome: codes('OPLOG_BAD_FRAME') };
  },
  "a change to another source's row": (g) => {
    const rows = g.rows(1 + g.int(3));
    const id = g.pick(g.target.victimQuestions);
    rows.push(
      g.coin()
        ? g.entry(rows.length + 1, 'Question', { id }, { id, questionText: HOSTILE, pubDate: 0 })
        : g.entry(rows.length + 1, 'Question', { id }),
    );
    return { handshake: true, frames: [g.batch(rows)], outcome: codes('OPLOG_NOT_OWNER') };
  },
  'snapshot page nobody asked for': (g) => ({ handshake: true, frames: [g.page()], outcome: codes('OPLOG_BAD_FRAME') }),
  'deeply nested value': (g) => {
    // A row's value starts at level 5 of its frame: 29 levels of its own is one more than MAX_FRAME_DEPTH allows.
    const depth = g.coin() ? 29 + g.int(4) : 1000 + g.int(200_000);
    const nested = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const id = g.uuid();
    // Built as text: JSON.stringify of such a value would exhaust this process's stack before the consumer's.
    const inAfter = g.batch([g.entry(1, 'Question', { id }, { id, questionText: 'NESTED', pubDate: 0 })]);
    const inPk = g.batch([g.entry(1, 'Question', { id: 'NESTED' })]);
    return {
      handshake: true,
      frames: [
        g.pick([
          JSON.stringify(inAfter).replace('"NESTED"', nested),
          JSON.stringify(inPk).replace('"NESTED"', nested),
          `{"type":"batch","id":1,"entries":${'['.repeat(depth)}${']'.repeat(depth)}}`,
        ]),
      ],
      outcome: codes('OPLOG_BAD_FRAME'),
    };
  },
  'tolerated frames, then a gap': (g) => ({
    handshake: true,
    frames: [
      { type: 'error', code: 'OPLOG_BOGUS', message: 'made up', retryable: false },
      { type: 'heartbeat', head: { seq: Number.MAX_SAFE_INTEGER, epoch: 0 }, at: 0 },
      g.batch(g.rows(2).map((row, i) => ({ ...row, seq: 2 + i }))),
    ],
    outcome: codes('OPLOG_SEQ_GAP'),
  }),
};

/** Draws the parts of hostile frames. */
class Generator {
  constructor(
    readonly random: () => number,
    readonly target: Target,
  ) {}

  int(below: number): number {
    return Math.floor(this.random() * below);
  }

  coin(): boolean {
    return this.random() < 0.5;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  uuid(): string {
    const hex = Array.from({ length: 32 }, () => this.int(16).toString(16)).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
  }

  garbage(): string {
    return Array.from({ length: 1 + this.int(200) }, () => String.fromCharCode(this.int(0x3000))).join('');
  }

  hello(): Hello {
    return helloOf(this.target.schema, this.target.source, this.target.incarnation);
  }

  entry(seq: number, entity: string, pk: Record<string, Json>, after?: Record<string, Json>): OplogEntry {
    const { source, incarnation } = this.target;
    const op = after ? (this.coin() ? 'insert' : 'update') : 'delete';
    return { source, incarnation, seq, txId: `hostile-${seq}`, epoch: 0, entity, op, pk, ...(after ? { after } : {}) };
  }

  /** Valid-looking new rows of the attacker, seq 1…count (its cursor is 0: it never applied anything). */
  rows(count: number): OplogEntry[] {
    return Array.from({ length: count }, (_, i) => {
      const id = this.uuid();
      return this.coin()
        ? this.entry(i + 1, 'Question', { id }, { id, questionText: `${HOSTILE} ${i}`, pubDate: Date.now() })
        : this.entry(i + 1, 'Tag', { id }, { id, label: HOSTILE });
    });
  }

  batch(entries: object[]): object {
    return { type: 'batch', id: 1 + this.int(1000), entries };
  }

  page(): object {
    const id = this.uuid();
    const row = { id, questionText: HOSTILE, pubDate: 0 };
    return {
      type: 'snapshot',
      id: 1,
      entity: 'Question',
      rows: [row],
      after: { id },
      head: { seq: 0, epoch: 0 },
      remaining: 1,
      done: true,
    };
  }
}
