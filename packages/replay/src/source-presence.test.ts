import { describe, expect, it } from 'vitest';
import { rememberPosition } from './source-presence.js';

describe('rememberPosition', () => {
  it('keeps positions beyond the cursor, sorted, and always the earliest when thinning', () => {
    let known = [] as { seq: number; epoch: number }[];
    for (let seq = 1; seq <= 40; seq++) known = rememberPosition(known, { seq, epoch: seq }, 5, 8);
    expect(known).toHaveLength(8);
    expect(known[0]).toEqual({ seq: 6, epoch: 6 });
    expect(known.at(-1)).toEqual({ seq: 40, epoch: 40 });
    expect(rememberPosition(known, { seq: 41, epoch: 41 }, 30, 8).every((p) => p.seq > 30)).toBe(true);
  });
});
