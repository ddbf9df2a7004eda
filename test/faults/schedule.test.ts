import { describe, expect, it } from 'vitest';
import { CI_SIZE, resourceOf, schedule } from './schedule.js';

describe('fault schedule', () => {
  it('is the same for the same seed, and differs for another', () => {
    expect(schedule(42, CI_SIZE, 3)).toEqual(schedule(42, CI_SIZE, 3));
    expect(schedule(43, CI_SIZE, 3)).not.toEqual(schedule(42, CI_SIZE, 3));
  });

  it('holds the CI size: 50 producer kills, 30 consumer kills, 200 cuts (40 mid-frame), 20 stalls, one disk-full, one restore', () => {
    const faults = schedule(7, CI_SIZE, 3);
    const count = (match: (f: (typeof faults)[number]) => boolean) => faults.filter(match).length;
    expect(count((f) => f.kind === 'producer-kill')).toBe(50);
    expect(count((f) => f.kind === 'consumer-kill')).toBe(30);
    expect(count((f) => f.kind === 'cut')).toBe(200);
    expect(count((f) => f.kind === 'cut' && f.midFrame)).toBe(40);
    expect(count((f) => f.kind === 'stall')).toBe(20);
    expect(count((f) => f.kind === 'disk-full')).toBe(1);
    expect(count((f) => f.kind === 'backup')).toBe(1);
    expect(count((f) => f.kind === 'restore')).toBe(1);
    expect(count((f) => f.kind === 'restore-before-first-sync')).toBe(1);
    expect(count((f) => f.kind === 'restore-after-trim')).toBe(1);
    expect(faults.every((f) => f.at >= CI_SIZE.warmupMs && f.at <= CI_SIZE.windowMs)).toBe(true);
    expect(faults.map((f) => f.at)).toEqual([...faults.map((f) => f.at)].sort((a, b) => a - b));
  });

  it('restores the backup after taking it, on the first source', () => {
    const faults = schedule(7, CI_SIZE, 3);
    const backup = faults.find((f) => f.kind === 'backup')!;
    const restore = faults.find((f) => f.kind === 'restore')!;
    expect(restore.at).toBeGreaterThan(backup.at);
    expect(resourceOf(backup)).toBe('producer 0');
    expect(resourceOf(restore)).toBe('producer 0');
  });

  it('restores one of the two other sources across a snapshot, first before its first sync, then after a trim', () => {
    const restored = new Set<number>();
    for (const seed of [7, 8, 9, 10, 11, 12]) {
      const faults = schedule(seed, CI_SIZE, 3);
      const firstSync = faults.find((f) => f.kind === 'restore-before-first-sync')!;
      const trim = faults.find((f) => f.kind === 'restore-after-trim')!;
      expect(trim.source).toBe(firstSync.source);
      expect(faults.find((f) => resourceOf(f) === resourceOf(firstSync))).toBe(firstSync);
      restored.add(firstSync.source);
    }
    expect([...restored].sort()).toEqual([1, 2]);
  });
});
