import { describe, expect, it } from 'vitest';
import { decodeConsumerFrame, decodeProducerFrame } from './codec.js';
import { MAX_FRAME_DEPTH, tooDeepAt } from './depth-check.js';
import { OplogError } from './errors.js';

/** A value nested `levels` deep: `[[[…1…]]]` built as text, as a hostile peer would send it. */
const nested = (levels: number) => `${'['.repeat(levels)}1${']'.repeat(levels)}`;

const entry = (pk: string) =>
  `{"source":"s","incarnation":"i","seq":1,"txId":"t","epoch":1,"entity":"Q","op":"delete","pk":{"id":${pk}}}`;
const batch = (pk: string) => `{"type":"batch","id":1,"entries":[${entry(pk)}]}`;

const errorOf = (fn: () => unknown): OplogError => {
  try {
    fn();
  } catch (error) {
    if (error instanceof OplogError) return error;
    throw error;
  }
  throw new Error('no error');
};

describe('tooDeepAt', () => {
  it('accepts a frame nested exactly MAX_FRAME_DEPTH levels deep and refuses one more', () => {
    expect(tooDeepAt(JSON.parse(nested(MAX_FRAME_DEPTH)))).toBeUndefined();
    expect(tooDeepAt(JSON.parse(nested(MAX_FRAME_DEPTH + 1)))).toBe('0.0.0.0.0.0…');
    expect(tooDeepAt({ a: 1, b: 'x', c: null, d: [1, { e: true }] })).toBeUndefined();
  });
});

describe('decoding a frame nested too deep', () => {
  // The frame, entries, the entry and its pk are 4 levels: a pk value has the rest.
  const ownLevels = MAX_FRAME_DEPTH - 4;

  it('refuses a batch whose pk is a 200,000-deep array with OPLOG_BAD_FRAME, naming the field', () => {
    const error = errorOf(() => decodeProducerFrame(batch(nested(200_000))));
    expect(error.code).toBe('OPLOG_BAD_FRAME');
    expect(error.message).toBe(`entries.0.pk.id.0.0…: nested deeper than ${MAX_FRAME_DEPTH} levels`);
    expect(error.closeCode).toBe(1007);
  });

  it('takes a pk value of the documented depth, and refuses one level more', () => {
    expect(decodeProducerFrame(batch(nested(ownLevels))).type).toBe('batch');
    expect(errorOf(() => decodeProducerFrame(batch(nested(ownLevels + 1)))).code).toBe('OPLOG_BAD_FRAME');
  });

  it('refuses deep values in frames zod checks (a snapshot page) and in frames from the consumer', () => {
    const page = `{"type":"snapshot","id":1,"entity":"Q","rows":[{"id":${nested(100_000)}}],"after":null,"head":{"seq":0,"epoch":0},"remaining":1,"done":true}`;
    expect(errorOf(() => decodeProducerFrame(page)).message).toMatch(/^rows\.0\.id\.0\.0\.0…: nested deeper/);
    const welcome = `{"type":"welcome","protocol":2,"incarnation":null,"cursor":{"seq":0,"epoch":0,"txId":null},"snapshot":{"entities":["Q"],"resume":{"entity":"Q","after":{"id":${nested(100_000)}}}}}`;
    expect(errorOf(() => decodeConsumerFrame(welcome)).code).toBe('OPLOG_BAD_FRAME');
  });
});
