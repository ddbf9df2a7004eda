import { describe, expect, it } from 'vitest';
import { OplogError } from './errors.js';
import { type OutgoingFrame, SendWindow } from './send-window.js';

/** A frame of `size` characters whose text names its id. */
const frame = (lastSeq: number, size = 10, partial?: boolean): OutgoingFrame => ({
  lastSeq,
  partial,
  encode: (id) => `${id}:`.padEnd(size, '.'),
});

const codeOf = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return (error as OplogError).code;
  }
  return undefined;
};

describe('SendWindow', () => {
  describe('#send', () => {
    it('numbers frames from 1, returns their text, and counts them in flight', () => {
      const window = new SendWindow({ frames: 8, bytes: 1000 });
      expect(window.send(frame(3, 10))).toBe('1:........');
      expect(window.send(frame(5, 20))).toBe('2:..................');
      expect(window.frames).toBe(2);
      expect(window.size).toBe(30);
      expect(window.sentSeq).toBe(5);
    });

    it('goes on numbering after acks: an id is never reused in a session', () => {
      const window = new SendWindow({ frames: 1, bytes: 1000 });
      window.send(frame(1));
      window.ack(1, 1);
      expect(window.send(frame(2)).startsWith('2:')).toBe(true);
    });

    it('keeps the sent seq of a snapshot page, which moves no seq', () => {
      const window = new SendWindow({ frames: 8, bytes: 1000 });
      window.resumeAt(40);
      window.send(frame(40));
      expect(window.sentSeq).toBe(40);
    });
  });

  describe('#hasRoom', () => {
    it('refuses a frame once `frames` are in flight, and makes room as they are acked', () => {
      const window = new SendWindow({ frames: 2, bytes: 1000 });
      window.send(frame(1));
      expect(window.hasRoom(0)).toBe(true);
      window.send(frame(2));
      expect(window.hasRoom(0)).toBe(false);
      window.ack(1, 1);
      expect(window.hasRoom(0)).toBe(true);
    });

    it("counts the bytes in flight and the socket's own buffer against `bytes`", () => {
      const window = new SendWindow({ frames: 8, bytes: 100 });
      window.send(frame(1, 60));
      expect(window.hasRoom(39)).toBe(true);
      expect(window.hasRoom(40)).toBe(false);
      window.ack(1, 1);
      expect(window.size).toBe(0);
      expect(window.hasRoom(99)).toBe(true);
      expect(window.hasRoom(100)).toBe(false);
    });

    it('lets one frame go when nothing is in flight, however big the frame turns out', () => {
      const window = new SendWindow({ frames: 8, bytes: 100 });
      expect(window.hasRoom(0)).toBe(true);
      window.send(frame(1, 500));
      expect(window.hasRoom(0)).toBe(false);
    });
  });

  describe('#ack', () => {
    it('takes the oldest frame off and returns the durable seq', () => {
      const window = new SendWindow({ frames: 8, bytes: 1000 });
      window.send(frame(3));
      window.send(frame(7));
      expect(window.ack(1, 3)).toBe(3);
      expect(window.ack(2, 7)).toBe(7);
      expect(window.frames).toBe(0);
      expect(window.ackedSeq).toBe(7);
    });

    it('accepts an ack beyond the frame (the consumer had more durable already)', () => {
      const window = new SendWindow({ frames: 8, bytes: 1000 });
      window.send(frame(3));
      expect(window.ack(1, 9)).toBe(9);
    });

    it('never moves the durable seq back', () => {
      const window = new SendWindow({ frames: 8, bytes: 1000 });
      window.resumeAt(10);
      window.send(frame(10, 10, true));
      expect(window.ack(1, 4)).toBe(10);
      expect(window.ackedSeq).toBe(10);
    });

    it('accepts the ack of a partial frame whatever its seq: the transaction is not durable until its last part', () => {
      const window = new SendWindow({ frames: 8, bytes: 1000 });
      window.resumeAt(5);
      window.send(frame(1005, 10, true));
      window.send(frame(2005, 10, true));
      window.send(frame(2500));
      expect(window.ack(1, 5)).toBe(5);
      expect(window.ack(2, 5)).toBe(5);
      expect(window.ack(3, 2500)).toBe(2500);
    });

    it('refuses an ack short of a whole frame', () => {
      const window = new SendWindow({ frames: 8, bytes: 1000 });
      window.send(frame(7));
      expect(codeOf(() => window.ack(1, 6))).toBe('OPLOG_ACK_MISMATCH');
    });

    it('refuses an ack of any frame but the oldest in flight, and one with nothing in flight', () => {
      const window = new SendWindow({ frames: 8, bytes: 1000 });
      expect(codeOf(() => window.ack(1, 0))).toBe('OPLOG_ACK_MISMATCH');
      window.send(frame(1));
      window.send(frame(2));
      expect(codeOf(() => window.ack(2, 2))).toBe('OPLOG_ACK_MISMATCH');
      expect(codeOf(() => window.ack(3, 3))).toBe('OPLOG_ACK_MISMATCH');
    });

    it('changes nothing when it refuses an ack', () => {
      const window = new SendWindow({ frames: 8, bytes: 1000 });
      window.send(frame(7, 25));
      expect(() => window.ack(1, 6)).toThrow(OplogError);
      expect([window.frames, window.size, window.ackedSeq]).toEqual([1, 25, 0]);
      expect(window.ack(1, 7)).toBe(7);
    });
  });

  it('starts over from the welcome cursor: the next read follows it, and acks count from it', () => {
    const window = new SendWindow({ frames: 8, bytes: 1000 });
    window.resumeAt(42);
    expect([window.sentSeq, window.ackedSeq]).toEqual([42, 42]);
  });
});
