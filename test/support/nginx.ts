import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from './source-site.js';

/** Debian's nginx (`apt-get install nginx`). */
export const NGINX = '/usr/sbin/nginx';

/** What ties a site file of deploy/nginx to one test: the consumer's port, nginx's own ports, the certificate. */
export interface SiteBindings {
  upstreamPort: number;
  httpsPort: number;
  httpPort: number;
  cert: string;
  key: string;
}

/**
 * The shipped site file with its deployment-specific values replaced by the test's, and nothing else changed. Each
 * replaced directive must be found exactly once, and every `listen` must end up on loopback, so that a change in the
 * file's shape breaks the test instead of running something else (or binding a public port of this machine).
 */
export function bindSite(site: string, bindings: SiteBindings): string {
  const replacements: [RegExp, string][] = [
    [/^(\s*)server 127\.0\.0\.1:7420;/m, `$1server 127.0.0.1:${bindings.upstreamPort};`],
    [/^(\s*)listen 443 ssl;/m, `$1listen 127.0.0.1:${bindings.httpsPort} ssl;`],
    [/^(\s*)listen 80;/m, `$1listen 127.0.0.1:${bindings.httpPort};`],
    [/^(\s*)ssl_certificate\s+\S+;/m, `$1ssl_certificate ${bindings.cert};`],
    [/^(\s*)ssl_certificate_key\s+\S+;/m, `$1ssl_certificate_key ${bindings.key};`],
  ];
  let bound = site;
  for (const [pattern, value] of replacements) {
    const found = bound.match(new RegExp(pattern.source, 'gm'))?.length ?? 0;
    if (found !== 1) throw new Error(`the site file has ${found} lines matching ${pattern}, expected exactly one`);
    bound = bound.replace(pattern, value);
  }
  const unbound = bound.split('\n').filter((line) => /^\s*listen\s/.test(line) && !/listen 127\.0\.0\.1:/.test(line));
  if (unbound.length > 0)
    throw new Error(`the site file listens where the test cannot bind it:\n${unbound.join('\n')}`);
  return bound;
}

/**
 * An nginx of the test's own: a master and one worker in the foreground, run from a temp prefix whose nginx.conf
 * includes `site` inside its http block, as /etc/nginx/nginx.conf includes conf.d/*.conf.
 */
export class NginxProcess {
  readonly output: string[] = [];
  readonly exited: Promise<number | null>;

  private constructor(
    readonly child: ChildProcess,
    private readonly dir: string,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.stderr!.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
  }

  /** Starts nginx and resolves once it accepts connections on `readyPort`. */
  static async start(site: string, readyPort: number): Promise<NginxProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'oplog-nginx-'));
    // A root master runs its workers as nobody: they must reach the temp paths (bodies and responses that do not fit
    // in memory are buffered there).
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'site.conf'), site);
    writeFileSync(join(dir, 'nginx.conf'), mainConfig(dir));
    const child = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr', '-g', 'daemon off;'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const nginx = new NginxProcess(child, dir);
    const deadline = Date.now() + 10_000;
    while (!(await accepts(readyPort))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await nginx.stop();
        throw new Error(`nginx did not start:\n${nginx.output.join('')}`);
      }
      await sleep(50);
    }
    return nginx;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function mainConfig(dir: string): string {
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  include ${dir}/site.conf;
}
`;
}

/** A port free on 127.0.0.1 right now (for a server that cannot be told to pick one itself). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
