/**
 * Throwaway PostgreSQL 15 clusters with wal_level=logical, for the native logical replication peer and for our own
 * PG→PG runs on the same servers. PostgreSQL refuses to run as root, so every pg command runs as the postgres user;
 * each cluster lives in its own temp directory on a free port and is removed at exit, on Ctrl-C and on failure.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = process.env.OPLOG_BENCH_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface Cluster {
  label: string;
  port: number;
  dir: string;
  /** postgresql://postgres@127.0.0.1:PORT, without a database. */
  url: string;
  /** The postmaster's pid; its children are the backends, the walsender and the apply worker. */
  postmasterPid(): number;
  /** The pids of the postmaster and of all its children. */
  pids(): number[];
}

const live = new Set<Cluster>();

function asPostgres(command: string, args: string[]): string {
  return execFileSync('runuser', ['-u', 'postgres', '--', join(BIN, command), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Creates and starts a cluster. `settings` are extra `-c name=value` server settings; logical replication's own
 * are always on. Durability settings stay at their defaults (fsync, synchronous_commit on): the same as any server.
 */
export async function startCluster(label: string, settings: Record<string, string> = {}): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), `oplog-bench-${label}-`));
  const data = join(dir, 'data');
  chownSync(dir, uid('postgres'), gid('postgres'));
  const port = await freePort();
  const cluster: Cluster = {
    label,
    port,
    dir,
    url: `postgresql://postgres@127.0.0.1:${port}`,
    postmasterPid: () => Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]),
    pids: () => {
      const parent = cluster.postmasterPid();
      return [parent, ...childrenOf(parent)];
    },
  };
  live.add(cluster);
  asPostgres('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const options = Object.entries({
    wal_level: 'logical',
    max_wal_senders: '10',
    max_replication_slots: '10',
    listen_addresses: '127.0.0.1',
    ...settings,
  }).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
  asPostgres('pg_ctl', [
    '-D',
    data,
    '-l',
    join(dir, 'server.log'),
    '-o',
    ['-p', String(port), '-k', dir, ...options].join(' '),
    '-w',
    'start',
  ]);
  return cluster;
}

/** Stops a cluster at once and removes its directory. Synchronous, so that it also works from an exit handler. */
export function removeCluster(cluster: Cluster): void {
  if (!live.delete(cluster)) return;
  try {
    asPostgres('pg_ctl', ['-D', join(cluster.dir, 'data'), '-m', 'immediate', '-w', 'stop']);
  } catch {
    // Not running (it failed to start, or was already stopped): only the directory is left to remove.
  }
  rmSync(cluster.dir, { recursive: true, force: true });
}

export function removeAllClusters(): void {
  for (const cluster of [...live]) removeCluster(cluster);
}

// Whatever ends this process, the clusters go with it.
process.once('exit', removeAllClusters);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    removeAllClusters();
    process.exit(130);
  });
}

function childrenOf(parent: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) children.push(Number(entry));
    } catch {
      // The process exited while we looked.
    }
  }
  return children;
}

function uid(user: string): number {
  return Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
}

function gid(user: string): number {
  return Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
}
