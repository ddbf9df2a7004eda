import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration.js';

describe('parseDuration', () => {
  it('reads units and bare milliseconds', () => {
    expect(parseDuration('90d')).toBe(90 * 86_400_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('45s')).toBe(45_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('2500')).toBe(2500);
  });

  it.each(['', '0', '-5s', '5w', 'soon', '1e3'])('refuses %j', (text) => {
    expect(() => parseDuration(text)).toThrow(TypeError);
  });
});
