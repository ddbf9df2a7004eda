import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type IncomingMessage, request } from 'node:http';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestCertificates, type TestCertificates } from './support/certificates.js';
import { cliArgv, cliEnv, ROOT } from './support/cli.js';
import { bindSite, freePort, NGINX, NginxProcess } from './support/nginx.js';
import { dbArgs, harnessPerTest, SOURCE_ID, waitForConvergence } from './support/stream-harness.js';

const run = promisify(execFile);
const DEPLOY = join(ROOT, 'deploy');
const UNITS = ['oplog-consumer.service', 'oplog-producer.service'] as const;
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
/** The host's own units (targets such as network-online.target that ours are ordered after). */
const SYSTEM_UNITS = '/usr/lib/systemd/system';

/**
 * Whether the suite that needs `tool` runs. Without the tool it is skipped with one line saying why, except under
 * CI=true, where it runs and fails on its first check (vitest.config.ts does the same for Chromium and PostgreSQL).
 */
function runsWith(tool: string, install: string): boolean {
  if (existsSync(tool) || process.env.CI === 'true') return true;
  console.warn(`${tool} is missing: skipping test/deploy.test.ts's suite that needs it (${install}, or run .ci/run)`);
  return false;
}

function expectTool(tool: string): void {
  expect(existsSync(tool), `${tool} is missing, and CI=true requires it (.ci/run installs it)`).toBe(true);
}

/** An example env file of deploy/systemd, read as systemd reads its plain KEY=value lines. */
function envFile(name: string): Record<string, string> {
  const lines = readFileSync(join(DEPLOY, 'systemd', name), 'utf8').split('\n');
  const pairs = lines
    .filter((line) => /^[A-Z_]+=/.test(line))
    .map((line) => line.split(/=(.*)/s, 2) as [string, string]);
  return Object.fromEntries(pairs);
}

/**
 * Security checks of `systemd-analyze security` that the units knowingly fail, and why. Any other check with an
 * exposure fails the test: a hardening line dropped from a unit shows up here.
 */
const ACCEPTED_EXPOSURES: Record<string, string> = {
  'PrivateNetwork=': 'a network service: producers connect from anywhere',
  'IPAddressDeny=': 'a network service: producers connect from anywhere',
  'RestrictAddressFamilies=~AF_(INET|INET6)': 'a network service',
  'RestrictAddressFamilies=~AF_UNIX': "PostgreSQL's local socket, and node's own pipes",
  'MemoryDenyWriteExecute=': "V8's JIT writes executable memory",
  'SystemCallFilter=~@resources': 'node raises its open-file limit at start (setrlimit)',
  'RootDirectory=/RootImage=': "runs the host's node, and the CLI installed under /opt",
  'DeviceAllow=': "ProtectClock's read-only access to the RTC",
};
/** The producer runs as the app's user: removing that user's IPC objects when it stops would remove the app's. */
const PRODUCER_ACCEPTED_EXPOSURES = { 'RemoveIPC=': 'the unit runs as the app user' };

it('deploy/ starts the CLIs by their installed bin names', () => {
  const bins = (app: string) =>
    Object.keys((JSON.parse(readFileSync(join(ROOT, 'apps', app, 'package.json'), 'utf8')) as { bin: object }).bin);
  expect(bins('consumer')).toContain(basename(execStartProgram(UNITS[0])));
  expect(bins('producer')).toContain(basename(execStartProgram(UNITS[1])));
  expect(bins('consumer')).toContain(dockerInstruction('ENTRYPOINT')[0]);
});

it('the example env files refuse to start until their placeholders are replaced', async () => {
  const placeholders = [
    ['consumer', 'consumer.env', 'OPLOG_DASHBOARD__TOKEN'],
    ['producer', 'producer.env', 'OPLOG_TOKEN'],
  ] as const;
  // Both at once: each is a node start, and only its exit status and stderr matter.
  const refusals = await Promise.all(
    placeholders.map(([app, file]) =>
      run(process.execPath, cliArgv(app, ['start']), { env: cliEnv(envFile(file)) }).then(
        () => [0, ''],
        (error: { code: number; stderr: string }) => [error.code, error.stderr],
      ),
    ),
  );
  expect(refusals, 'exit status and stderr of each CLI started with its env file as shipped').toEqual(
    placeholders.map(([, , variable]) => [2, expect.stringContaining(variable)]),
  );
});

describe.runIf(runsWith(SYSTEMD_ANALYZE, 'apt-get install -y systemd'))('deploy/systemd units', () => {
  let root: string;

  /**
   * A root directory laid out as a host where the units are installed: the unit files as shipped (byte for byte) in
   * /etc/systemd/system, the host's own units, and a stand-in for each CLI at the path its ExecStart names (verify
   * fails on a missing program; the real CLIs are tested by every other suite).
   */
  beforeAll(() => {
    expectTool(SYSTEMD_ANALYZE);
    root = mkdtempSync(join(tmpdir(), 'oplog-units-'));
    cpSync(SYSTEM_UNITS, join(root, SYSTEM_UNITS), { recursive: true, verbatimSymlinks: true });
    mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
    for (const unit of UNITS) {
      copyFileSync(join(DEPLOY, 'systemd', unit), join(root, 'etc/systemd/system', unit));
      const program = join(root, execStartProgram(unit));
      mkdirSync(dirname(program), { recursive: true });
      copyFileSync('/bin/true', program);
      chmodSync(program, 0o755);
    }
  });
  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('pass systemd-analyze verify without a warning', async () => {
    const { stdout, stderr } = await run(SYSTEMD_ANALYZE, ['verify', `--root=${root}`, ...UNITS], { cwd: root });
    // verify exits 0 on an unknown key or a value it cannot parse: it only warns, and the warning is the failure.
    expect(stdout + stderr).toBe('');
  });

  it.each(UNITS)('%s is exposed only where a Node.js network service must be', async (unit) => {
    const args = ['security', '--offline=true', `--root=${root}`, '--json=short', unit];
    const { stdout } = await run(SYSTEMD_ANALYZE, args, { cwd: root });
    const checks = JSON.parse(stdout) as { name: string; exposure: string | null; description: string }[];
    const accepted = {
      ...ACCEPTED_EXPOSURES,
      ...(unit === 'oplog-producer.service' ? PRODUCER_ACCEPTED_EXPOSURES : {}),
    };
    const exposed = checks.filter((check) => Number(check.exposure ?? 0) > 0 && !(check.name in accepted));
    expect(exposed.map((check) => `${check.name}: ${check.description}`)).toEqual([]);
  });
});

describe.runIf(runsWith(NGINX, 'apt-get install -y nginx'))('deploy/nginx in front of the consumer', () => {
  const createHarness = harnessPerTest();
  let certs: TestCertificates;
  let nginx: NginxProcess | undefined;
  beforeAll(async () => {
    certs = await createTestCertificates();
  });
  afterAll(async () => {
    await nginx?.stop();
    rmSync(certs.dir, { recursive: true, force: true });
  });

  it('carries a producer over wss:// to the consumer, and serves the dashboard, its events and /metrics with the token', async () => {
    expectTool(NGINX);
    const h = await createHarness('sqlite', 'sqlite');
    await h.scenario();
    // The example env files as shipped, but for what only a real host has: its database, entities and ports (flags,
    // which win over the environment), a real dashboard token and credential.
    const dashboardToken = 'deploy-test-dashboard-token';
    const consumerEnv = { ...envFile('consumer.env'), OPLOG_DASHBOARD__TOKEN: dashboardToken };
    const { port: consumerPort } = await h.startConsumer([], consumerEnv);
    const httpsPort = await freePort();
    const httpPort = await freePort();
    const site = readFileSync(join(DEPLOY, 'nginx', 'oplog-consumer.conf'), 'utf8');
    const bindings = { upstreamPort: consumerPort, httpsPort, httpPort, cert: certs.cert, key: certs.key };
    nginx = await NginxProcess.start(bindSite(site, bindings), httpsPort);

    const producerFlags = ['--token', await h.token(), '--tls-ca', certs.ca, '--status-port', '0'];
    const producer = await h.startProducer(httpsPort, envFile('producer.env'), 'wss', producerFlags);
    await producer.waitForMessage('connected').catch((error: Error) => {
      throw new Error(`${error.message}\nnginx:\n${nginx?.output.join('')}`);
    });
    await waitForConvergence(h);

    const https = (path: string, token?: string) => httpsGet(httpsPort, path, certs.ca, token);
    expect((await https('/healthz')).status).toBe(200);
    expect((await https('/metrics')).status, 'the dashboard token guards /metrics behind nginx').toBe(401);
    const metrics = await https('/metrics', dashboardToken);
    expect(metrics.body).toMatch(/^oplog_sources_connected 1$/m);
    const sources = JSON.parse((await https('/api/sources', dashboardToken)).body) as { sources: { id: string }[] };
    expect(sources.sources).toMatchObject([{ id: SOURCE_ID, connected: true }]);
    const page = await https('/', dashboardToken);
    expect([page.status, page.headers['content-type']]).toEqual([200, expect.stringContaining('text/html')]);
    expect(await firstEvent(httpsPort, certs.ca, dashboardToken), 'the lag stream, unbuffered').toContain(SOURCE_ID);

    expect(await healthcheck(consumerPort), "the Docker image's HEALTHCHECK").toBe(0);
    expect(await healthcheck(await freePort()), 'the HEALTHCHECK of a consumer that is not there').toBe(1);

    // The operator's `sources` commands read the same env file as the service (deploy/README.md).
    const sourcesList = cliArgv('consumer', ['sources', 'list', ...dbArgs(h.target)]);
    const { stdout: credentials } = await run(process.execPath, sourcesList, {
      env: cliEnv(consumerEnv),
    });
    expect(credentials).toMatch(new RegExp(`^${SOURCE_ID} `, 'm'));

    const redirect = await plainGet(httpPort, '/metrics');
    expect([redirect.status, redirect.headers.location]).toEqual([301, expect.stringMatching(/^https:\/\//)]);
  });
});

interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

function httpsGet(port: number, path: string, ca: string, token?: string): Promise<Reply> {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, ca: readFileSync(ca), headers }, (res) => collect(res, resolve)).on(
      'error',
      reject,
    );
  });
}

function plainGet(port: number, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path }, (res) => collect(res, resolve))
      .on('error', reject)
      .end();
  });
}

function collect(res: IncomingMessage, resolve: (reply: Reply) => void): void {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    body += chunk;
  });
  res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
}

/** The first message of the dashboard's server-sent events, read through nginx while the stream stays open. */
function firstEvent(port: number, ca: string, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port, path: '/api/events', ca: readFileSync(ca) };
    let text = '';
    const req = get({ ...options, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        if (text.includes('\n\n')) {
          req.destroy();
          resolve(text);
        }
      });
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error(`no event within 5 s; got: ${JSON.stringify(text)}`)));
  });
}

function execStartProgram(unit: string): string {
  const text = readFileSync(join(DEPLOY, 'systemd', unit), 'utf8');
  const program = /^ExecStart=(\S+)/m.exec(text)?.[1];
  if (!program) throw new Error(`${unit} has no ExecStart=`);
  return program;
}

/** The JSON (exec form) argument of a Dockerfile instruction, continuation lines joined. */
function dockerInstruction(name: string): string[] {
  const text = readFileSync(join(DEPLOY, 'docker', 'Dockerfile'), 'utf8').replace(/\\\n\s*/g, ' ');
  const json = new RegExp(`^${name}\\b.*?(\\[.*\\])\\s*$`, 'm').exec(text)?.[1];
  if (!json) throw new Error(`the Dockerfile has no ${name} in exec form`);
  return JSON.parse(json) as string[];
}

/** The exit status of the Dockerfile's HEALTHCHECK command, run here against a consumer on `port`. */
async function healthcheck(port: number): Promise<number> {
  const [program, ...args] = dockerInstruction('HEALTHCHECK');
  expect(program).toBe('node');
  const env = cliEnv({ OPLOG_LISTEN__PORT: String(port) });
  return run(process.execPath, args, { env }).then(
    () => 0,
    (error: { code: number }) => error.code,
  );
}
