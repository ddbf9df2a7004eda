import { type Cursor, type OplogEntry, OplogError } from '@oplog/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NO_RECORD } from './cursor-store.js';
import { type BatchOwner, SourceReplay } from './source-replay.js';
import type { SourceStore, Step } from './source-store.js';

const SOURCE = 'shop-1';
const INCARNATION = 'inc-1';

/** Entries seq `from`..`to` of one source transaction. */
function entries(from: number, to: number, txId: string): OplogEntry[] {
  const out: OplogEntry[] = [];
  for (let seq = from; seq <= to; seq++) {
    out.push({
      source: SOURCE,
      incarnation: INCARNATION,
      seq,
      txId,
      epoch: 1,
      entity: 'Question',
      op: 'update',
      pk: { id: `q${seq}` },
      after: { id: `q${seq}`, text: 'x' },
    });
  }
  return out;
}

/**
 * The database side in memory: what each commit applied, in order, and the parts staged, as DatabaseSourceStore
 * keeps them (see open-transaction-store.ts). Commits take a timer tick, as a real one takes a trip to the database.
 */
class MemoryStore implements SourceStore {
  /** Per commit that applied anything, its entries: the staged ones first. */
  readonly applied: OplogEntry[][] = [];
  staging: OplogEntry[] = [];
  /** Steps that staged parts. */
  stagings = 0;
  /** Entries parked by quarantine, and the transaction this database refuses (poison), if any. */
  readonly quarantined: OplogEntry[] = [];
  poisonTxId: string | undefined;

  async commit(step: Step) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    const staged = step.staged ? this.staging.filter((entry) => entry.seq >= step.staged!.from) : [];
    const bad = [...staged, ...step.entries].find((entry) => entry.txId === this.poisonTxId);
    if (bad) throw OplogError.poisonChange(bad.seq, bad.seq, 'refused', undefined);
    if (step.staged) this.staging = [];
    if (staged.length + step.entries.length > 0) this.applied.push([...staged, ...step.entries]);
    if (step.stage) {
      const { from, entries } = step.stage;
      const first = entries[0]!.seq;
      this.staging = [...this.staging.filter((entry) => entry.seq >= from && entry.seq < first), ...entries];
      this.stagings++;
    }
    return step;
  }

  async load() {
    return NO_RECORD;
  }

  async restart() {}

  async quarantine(step: Step) {
    const staged = step.staged ? this.staging.filter((entry) => entry.seq >= step.staged!.from) : [];
    if (step.staged) this.staging = [];
    this.quarantined.push(...staged, ...step.entries);
  }

  /** Every entry applied so far, by seq. */
  get seqs(): number[] {
    return this.applied.flat().map((entry) => entry.seq);
  }
}

class RecordingOwner implements BatchOwner {
  readonly incarnation = INCARNATION;
  readonly acks: [frameId: number, seq: number][] = [];
  readonly failures: string[] = [];

  ack(frameId: number, seq: number): void {
    this.acks.push([frameId, seq]);
  }

  fail(error: { code: string }): void {
    this.failures.push(error.code);
  }
}

function stateAt(store: SourceStore, seq: number, txId: string | null = null, poison?: 'quarantine'): SourceReplay {
  const cursor: Cursor = { incarnation: INCARNATION, seq, epoch: 1, txId };
  const stored = { cursor, covered: [], snapshot: undefined, head: { seq, epoch: 1 } };
  return new SourceReplay(SOURCE, stored, store, { maxBatchEntries: Number.POSITIVE_INFINITY, poison });
}

/** Lets every timer and promise run until the state has nothing left to apply. */
async function settle(state: SourceReplay): Promise<void> {
  await vi.runAllTimersAsync();
  await state.idle();
}

describe('SourceReplay', () => {
  let store: MemoryStore;
  let owner: RecordingOwner;

  beforeEach(() => {
    vi.useFakeTimers();
    store = new MemoryStore();
    owner = new RecordingOwner();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  // ws hands every frame of one TCP chunk to its 'message' listener in the same tick: these enqueue the same way.
  describe('frames delivered in the same tick', () => {
    it('acks the parts of a transaction sent back to back, and applies them whole', async () => {
      const state = stateAt(store, 0);
      state.enqueue(owner, 1, entries(1, 3, 'big'), true, 10);
      state.enqueue(owner, 2, entries(4, 6, 'big'), true, 10);
      state.enqueue(owner, 3, entries(7, 9, 'big'), false, 10);
      await settle(state);

      expect(owner.failures).toEqual([]);
      expect(owner.acks).toEqual([
        [1, 0],
        [2, 0],
        [3, 9],
      ]);
      expect(store.seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(store.applied).toHaveLength(1);
      expect(store.staging).toEqual([]);
      expect(state.cursor.seq).toBe(9);
    });

    it('acks a resend of entries already applied, then applies the new ones after it', async () => {
      const state = stateAt(store, 4, 't2');
      state.enqueue(owner, 1, entries(3, 4, 't2'), false, 10);
      state.enqueue(owner, 2, entries(5, 6, 't3'), false, 10);
      await settle(state);

      expect(owner.failures).toEqual([]);
      expect(owner.acks).toEqual([
        [1, 4],
        [2, 6],
      ]);
      expect(store.seqs).toEqual([5, 6]);
      expect(state.cursor).toMatchObject({ seq: 6, txId: 't3' });
    });

    it('acks every frame when resends and partial parts alternate, one frame per tick', async () => {
      const state = stateAt(store, 2, 't1');
      const frames: [entries: OplogEntry[], partial: boolean][] = [
        [entries(1, 2, 't1'), false],
        [entries(3, 4, 'big'), true],
        [entries(5, 6, 'big'), true],
        [entries(7, 8, 'big'), false],
        [entries(9, 9, 't4'), false],
      ];
      frames.forEach(([list, partial], i) => {
        // Each frame in a microtask of its own: between a loop's end and its promise's settling.
        queueMicrotask(() => state.enqueue(owner, i + 1, list, partial, 10));
      });
      await settle(state);

      expect(owner.failures).toEqual([]);
      expect(owner.acks.map(([frameId]) => frameId)).toEqual([1, 2, 3, 4, 5]);
      expect(owner.acks.at(-1)).toEqual([5, 9]);
      expect(store.seqs).toEqual([3, 4, 5, 6, 7, 8, 9]);
      expect(state.cursor.seq).toBe(9);
    });
  });

  it('applies frames that arrive while a commit runs in the next step, and idle() waits for it', async () => {
    const state = stateAt(store, 0);
    state.enqueue(owner, 1, entries(1, 1, 't1'), false, 10);
    state.enqueue(owner, 2, entries(2, 3, 'big'), true, 10);
    await vi.advanceTimersByTimeAsync(0);
    state.enqueue(owner, 3, entries(4, 5, 'big'), false, 10);
    await settle(state);

    expect(owner.acks).toEqual([
      [1, 1],
      [2, 1],
      [3, 5],
    ]);
    expect(store.seqs).toEqual([1, 2, 3, 4, 5]);
  });

  describe('a transaction in parts', () => {
    /** Sends `frames` one at a time, each once the one before it is acked, as a producer with a window of one. */
    async function oneByOne(state: SourceReplay, sender: RecordingOwner, frames: [OplogEntry[], boolean][]) {
      for (const [i, [list, partial]] of frames.entries()) {
        state.enqueue(sender, i + 1, list, partial, 10);
        await settle(state);
      }
    }

    it('stages each part in a step of its own, acked with the durable seq, and applies them all with the last', async () => {
      const state = stateAt(store, 0);
      await oneByOne(state, owner, [
        [entries(1, 3, 'big'), true],
        [entries(4, 6, 'big'), true],
        [entries(7, 9, 'big'), true],
        [entries(10, 10, 'big'), false],
      ]);

      expect(owner.acks).toEqual([
        [1, 0],
        [2, 0],
        [3, 0],
        [4, 10],
      ]);
      expect(store.stagings).toBe(3);
      expect(store.applied.map((list) => list.map((entry) => entry.seq))).toEqual([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]);
      expect(store.staging).toEqual([]);
      expect(state.appliedEntries).toBe(10);
    });

    it('discards what a session that died in the middle staged, when the next one sends the transaction again', async () => {
      const state = stateAt(store, 0);
      await oneByOne(state, owner, [
        [entries(1, 3, 'big'), true],
        [entries(4, 6, 'big'), true],
        [entries(7, 9, 'big'), true],
      ]);
      state.forget(owner);
      // Its producer resends from the cursor, in parts cut elsewhere this time.
      const next = new RecordingOwner();
      await oneByOne(state, next, [
        [entries(1, 4, 'big'), true],
        [entries(5, 10, 'big'), false],
      ]);

      expect(next.failures).toEqual([]);
      expect(store.seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(store.staging).toEqual([]);
      expect(state.cursor.seq).toBe(10);
    });

    it('parks a refused transaction whole, its staged parts with it, and goes on (poison: quarantine)', async () => {
      store.poisonTxId = 'bad';
      const state = stateAt(store, 0, null, 'quarantine');
      await oneByOne(state, owner, [
        [entries(1, 3, 'bad'), true],
        [entries(4, 6, 'bad'), true],
        [[...entries(7, 8, 'bad'), ...entries(9, 10, 'good')], false],
      ]);

      expect(owner.failures).toEqual([]);
      expect(store.quarantined.map((entry) => entry.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(store.seqs).toEqual([9, 10]);
      expect(store.staging).toEqual([]);
      expect(state.cursor.seq).toBe(10);
      expect(state.quarantinedEntries).toBe(8);
    });
  });
});
