import type { Cursor, OplogEntry } from '@oplog/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NO_RECORD } from './cursor-store.js';
import { type BatchOwner, SourceState, type SourceStore, type Step } from './source-state.js';

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
 * The database side in memory: what SourceState committed, in order. Commits take a timer tick, as a real one
 * takes a trip to the database.
 */
class MemoryStore implements SourceStore {
  readonly commits: Step[] = [];

  async commit(step: Step) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    this.commits.push(step);
    return step;
  }

  async load() {
    return NO_RECORD;
  }

  async restart() {}

  async quarantine() {}

  /** Every entry committed so far, by seq. */
  get seqs(): number[] {
    return this.commits.flatMap((step) => step.entries.map((entry) => entry.seq));
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

function stateAt(store: SourceStore, seq: number, txId: string | null = null): SourceState {
  const cursor: Cursor = { incarnation: INCARNATION, seq, epoch: 1, txId };
  return new SourceState(SOURCE, { cursor, covered: [], snapshot: undefined, head: { seq, epoch: 1 } }, store);
}

/** Lets every timer and promise run until the state has nothing left to apply. */
async function settle(state: SourceState): Promise<void> {
  await vi.runAllTimersAsync();
  await state.idle();
}

describe('SourceState', () => {
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
      expect(store.commits).toHaveLength(1);
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
});
