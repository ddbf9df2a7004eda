import { describe, expect, it } from 'vitest';
import { RateLimit } from './rate-limit.js';

describe('RateLimit', () => {
  it("lets one second's worth through at once, then spaces entries at the rate", () => {
    const limit = new RateLimit(100);
    expect(limit.take(100, 0)).toBe(0);
    expect(limit.take(50, 0)).toBe(500);
    expect(limit.take(50, 500)).toBe(500);
  });

  it('forgets what an idle source did not use', () => {
    const limit = new RateLimit(100);
    expect(limit.take(300, 0)).toBe(2000);
    expect(limit.take(100, 10_000)).toBe(0);
  });
});
