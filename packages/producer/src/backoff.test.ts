import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.js';

describe('backoffDelay', () => {
  const options = { initialMs: 100, maxMs: 10_000 };

  it('doubles the ceiling per attempt, with half of it random', () => {
    expect(backoffDelay(0, options, () => 0)).toBe(50);
    expect(backoffDelay(0, options, () => 1)).toBe(100);
    expect(backoffDelay(3, options, () => 0)).toBe(400);
    expect(backoffDelay(3, options, () => 1)).toBe(800);
  });

  it('never exceeds maxMs, even after very many attempts', () => {
    expect(backoffDelay(10, options, () => 1)).toBe(10_000);
    expect(backoffDelay(10_000, options, () => 1)).toBe(10_000);
  });

  it('spreads reconnects of many sources', () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(5, options)));
    expect(delays.size).toBeGreaterThan(10);
  });
});
