import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Mounts a tmpfs of `sizeMb` at `dir`; resolves with why not when it cannot (not root, no mount permission). */
export function mountTmpfs(dir: string, sizeMb: number): { mounted: true } | { mounted: false; reason: string } {
  mkdirSync(dir, { recursive: true });
  if (process.getuid?.() !== 0) return { mounted: false, reason: 'not running as root (mount needs it)' };
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir], { stdio: 'pipe' });
    return { mounted: true };
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    return { mounted: false, reason: `mount -t tmpfs failed: ${stderr || (error as Error).message}` };
  }
}

export function unmount(dir: string): void {
  execFileSync('umount', [dir], { stdio: 'pipe' });
}

const CHUNK = Buffer.alloc(1 << 20);

/** Fills the filesystem at `dir` to the last byte with a filler file; returns the file, for freeDisk. */
export function fillDisk(dir: string): string {
  const file = join(dir, 'filler');
  const fd = openSync(file, 'w');
  try {
    // Megabytes first, then single bytes, until the filesystem refuses (ENOSPC).
    for (const chunk of [CHUNK, CHUNK.subarray(0, 4096), CHUNK.subarray(0, 1)]) {
      for (;;) {
        try {
          if (writeSync(fd, chunk) < chunk.length) break;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return file;
}

export function freeDisk(file: string): void {
  rmSync(file, { force: true });
}
