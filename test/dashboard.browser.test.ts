/// <reference lib="dom" />
// The callbacks passed to page.evaluate / waitForFunction run in the page, hence the DOM types.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MikroORM } from '@mikro-orm/core';
import { consumerEntities, createConsumer } from '@oplog/consumer';
import { OplogLagSample } from '@oplog/dashboard';
import { pollsEntities } from '@oplog/demo/entities';
import { PROTOCOL_VERSION } from '@oplog/protocol';
import { loadSources } from '@oplog/replay';
import { createLogger, openOrm } from '@oplog/runtime';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CliProcess, ENTITIES_MODULE } from './support/cli.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';

// Screenshots and measurements land here, for people to look at (and for CI to keep as artifacts).
const ARTIFACTS = new URL('../test-results/dashboard/', import.meta.url).pathname;
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let profile: string;
let browser: BrowserContext;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  profile = mkdtempSync(join(tmpdir(), 'oplog-chromium-'));
  // A persistent context on a fresh directory: Chromium gets its own --user-data-dir, as stack-facts asks.
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 800 },
  });
  await browser.addInitScript(recordCanvasText);
});

afterAll(async () => {
  await browser?.close();
  rmSync(profile, { recursive: true, force: true });
});

const row = (id: string) => `#sources tr[data-source="${id}"]`;

/** Every console error, uncaught exception, failed request and HTTP error the page meets (the favicon's included). */
function watchForErrors(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => problems.push(`failed: ${request.url()} (${request.failure()?.errorText})`));
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`);
  });
  return problems;
}

interface DrawnText {
  text: string;
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/**
 * Runs in the page before its scripts: remembers each text drawn on a canvas since the canvas was last cleared,
 * with its box in canvas pixels. uPlot draws the axis labels on its canvas, so they exist nowhere else.
 */
function recordCanvasText(): void {
  const proto = CanvasRenderingContext2D.prototype;
  const { fillText, clearRect } = proto;
  const drawnOn = (canvas: HTMLCanvasElement): DrawnText[] => {
    const holder = canvas as unknown as { __drawnText?: DrawnText[] };
    holder.__drawnText ??= [];
    return holder.__drawnText;
  };
  proto.clearRect = function (x, y, width, height) {
    if (x <= 0 && y <= 0 && width >= this.canvas.width && height >= this.canvas.height) drawnOn(this.canvas).length = 0;
    clearRect.call(this, x, y, width, height);
  };
  proto.fillText = function (text, x, y, maxWidth) {
    const m = this.measureText(text);
    const transform = this.getTransform();
    const corners = [
      transform.transformPoint({ x: x - m.actualBoundingBoxLeft, y: y - m.actualBoundingBoxAscent }),
      transform.transformPoint({ x: x + m.actualBoundingBoxRight, y: y + m.actualBoundingBoxDescent }),
    ];
    const xs = corners.map((c) => c.x);
    const ys = corners.map((c) => c.y);
    const box = { left: Math.min(...xs), right: Math.max(...xs), top: Math.min(...ys), bottom: Math.max(...ys) };
    drawnOn(this.canvas).push({ text, ...box });
    fillText.call(this, text, x, y, maxWidth);
  };
}

/**
 * What is wrong with the chart's axis labels as drawn last: a label not wholly inside the canvas (clipped), two
 * labels overlapping; and the labels themselves.
 */
async function chartLabelProblems(page: Page): Promise<{ problems: string[]; labels: string[] }> {
  const { width, height, drawn } = await page.evaluate(() => {
    const canvas = document.querySelector<HTMLCanvasElement>('#chart canvas')!;
    const texts = (canvas as unknown as { __drawnText?: DrawnText[] }).__drawnText ?? [];
    return { width: canvas.width, height: canvas.height, drawn: texts };
  });
  const problems: string[] = [];
  if (drawn.length === 0) problems.push('no axis labels drawn');
  for (const label of drawn) {
    if (label.left < 0 || label.top < 0 || label.right > width || label.bottom > height)
      problems.push(`"${label.text}" clipped: ${JSON.stringify(label)} outside ${width}×${height}`);
  }
  for (const [i, a] of drawn.entries()) {
    for (const b of drawn.slice(i + 1)) {
      if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom)
        problems.push(`"${a.text}" overlaps "${b.text}"`);
    }
  }
  return { problems, labels: drawn.map((label) => label.text) };
}

/** A fixed-offset time zone whose local hour is 0 while it is `utcHour` in UTC (Etc/GMT+5 is UTC−5). */
function zoneAtMidnight(utcHour: number): string {
  const behind = utcHour <= 12 ? utcHour : utcHour - 24;
  return behind === 0 ? 'Etc/GMT' : `Etc/GMT${behind > 0 ? '+' : '-'}${Math.abs(behind)}`;
}

/** A clock time with seconds, as the page writes it (12:05:09, 12:05:09 PM, …). */
const TIME_WITH_SECONDS = /\d{1,2}:\d{2}:\d{2}/;

/** The state and lag in changes the page shows for one source (null while it has no row). */
function shown(page: Page, id: string) {
  return page.evaluate((selector) => {
    const tr = document.querySelector<HTMLElement>(selector);
    if (!tr) return null;
    const cell = tr.querySelector<HTMLElement>('[data-col="lag-changes"]')!;
    return { state: tr.dataset['state']!, lagChanges: Number(cell.dataset['value']), text: tr.textContent ?? '' };
  }, row(id));
}

describe('the lag dashboard, while the demo streams', () => {
  const processes: CliProcess[] = [];
  let source: TestDatabase;
  let target: TestDatabase;

  afterAll(async () => {
    for (const process of processes) await process.kill('SIGKILL');
    await source?.drop();
    await target?.drop();
  });

  it('shows a source live, then offline when its producer dies, then live with lag 0 again, without a reload', async () => {
    source = await createTestDatabase('sqlite', 'dash_src');
    target = await createTestDatabase('sqlite', 'dash_dst');
    const consumer = CliProcess.start('consumer', [
      'start',
      '--auth',
      'none',
      '--port',
      '0',
      '--db-name',
      target.dbName,
      '--entities',
      ENTITIES_MODULE,
    ]);
    processes.push(consumer);
    const port = Number((await consumer.waitForMessage('consumer listening')).port);
    const base = `http://127.0.0.1:${port}`;
    // The app reports its outbox head to the consumer itself, so the lag keeps counting while the producer is down.
    const reportTo = ['--report-head', `ws://127.0.0.1:${port}/oplog`];
    const load = CliProcess.start('demo', ['load', '--db-name', source.dbName, '--rate', '20', ...reportTo]);
    processes.push(load);
    await sleep(1500); // the load creates the local tables, the outbox among them
    const producerArgs = ['start', '--url', `ws://127.0.0.1:${port}/oplog`, '--db-name', source.dbName];
    const startProducer = async () => {
      const producer = CliProcess.start('producer', [...producerArgs, '--entities', ENTITIES_MODULE]);
      processes.push(producer);
      await producer.waitForMessage('producer started');
      return producer;
    };
    let producer = await startProducer();
    const sourceId = String((await producer.waitForMessage('producer started')).sourceId);

    const page = await browser.newPage();
    const problems = watchForErrors(page);
    await page.goto(`${base}/`);
    // 1. Live with lag near 0 (the load writes 20 transactions a second, so a change or two can be in flight).
    await page.waitForFunction(
      (selector) => {
        const tr = document.querySelector<HTMLElement>(selector);
        const lag = Number(tr?.querySelector<HTMLElement>('[data-col="lag-changes"]')?.dataset['value']);
        return tr?.dataset['state'] === 'live' && lag <= 10;
      },
      row(sourceId),
      { timeout: 30_000 },
    );
    await page.waitForTimeout(2500); // a few live updates, so the chart has points
    await page.screenshot({ path: `${ARTIFACTS}1-live.png`, fullPage: true });
    // Everything the row shows from now on, as it is rendered; and a marker a reload would wipe.
    await page.evaluate((selector) => {
      const seen: { state: string; lagChanges: number }[] = [];
      Object.assign(window, { __seen: seen, __noReload: true });
      const record = () => {
        const tr = document.querySelector<HTMLElement>(selector);
        const cell = tr?.querySelector<HTMLElement>('[data-col="lag-changes"]');
        if (tr && cell) seen.push({ state: tr.dataset['state']!, lagChanges: Number(cell.dataset['value']) });
      };
      new MutationObserver(record).observe(document.querySelector('#sources tbody')!, {
        subtree: true,
        attributes: true,
        childList: true,
        characterData: true,
      });
    }, row(sourceId));

    // 2. SIGKILL the producer; the app keeps writing. The row goes offline and says since when.
    await producer.kill('SIGKILL');
    await page.waitForFunction(
      (selector) => document.querySelector<HTMLElement>(selector)?.dataset['state'] === 'offline',
      row(sourceId),
      { timeout: 15_000 },
    );
    const offline = (await shown(page, sourceId))!;
    expect(offline.text).toMatch(/offline since \d/);
    // The app keeps writing and reporting its head: the lag in changes rises while the row stays offline.
    await page.waitForFunction(
      ({ selector, before }) => {
        const tr = document.querySelector<HTMLElement>(selector);
        const lag = Number(tr?.querySelector<HTMLElement>('[data-col="lag-changes"]')?.dataset['value']);
        return tr?.dataset['state'] === 'offline' && lag > before + 10;
      },
      { selector: row(sourceId), before: offline.lagChanges },
      { timeout: 15_000 },
    );
    await sleep(4000);
    await page.screenshot({ path: `${ARTIFACTS}2-offline.png`, fullPage: true });
    await load.kill('SIGTERM');
    const written = (load.logs.find((line) => 'transactions' in line)?.transactions as number) ?? 0;
    expect(written).toBeGreaterThan(20);

    // 3. Restart the producer: the backlog written meanwhile shows as lag, then the row is live with lag 0.
    producer = await startProducer();
    await page.waitForFunction(
      (selector) => {
        const tr = document.querySelector<HTMLElement>(selector);
        const lag = Number(tr?.querySelector<HTMLElement>('[data-col="lag-changes"]')?.dataset['value']);
        return tr?.dataset['state'] === 'live' && lag === 0;
      },
      row(sourceId),
      { timeout: 30_000 },
    );
    await page.waitForTimeout(1500);
    await page.screenshot({ path: `${ARTIFACTS}3-recovered.png`, fullPage: true });
    const wide = await chartLabelProblems(page);
    expect(wide.problems).toEqual([]);
    expect(wide.labels.some((label) => TIME_WITH_SECONDS.test(label))).toBe(true);
    const seen = await page.evaluate(
      () => (window as unknown as { __seen: { state: string; lagChanges: number }[] }).__seen,
    );
    expect(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true);
    const states = seen.map((s) => s.state);
    expect(states).toContain('offline');
    // The outage's backlog was shown as lag while the row was offline, higher than before the kill.
    const offlineLags = seen.filter((s) => s.state === 'offline').map((s) => s.lagChanges);
    expect(Math.max(...offlineLags)).toBeGreaterThan(offline.lagChanges + 10);
    expect(seen.at(-1)).toEqual({ state: 'live', lagChanges: 0 });

    // /metrics agrees with the consumer's cursor row (this consumer applied everything since the source's snapshot).
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const orm = await openOrm(
      { driver: 'sqlite', name: target.dbName },
      { entities: [...pollsEntities, ...consumerEntities] },
    );
    try {
      const { cursor, head } = (await loadSources(orm.em.getConnection())).get(sourceId)!;
      const value = (name: string) =>
        Number(
          metrics
            .split('\n')
            .find((l) => l.startsWith(`${name}{source="${sourceId}"} `))
            ?.split(' ')[1],
        );
      // Applied since the snapshot that began the source's first session, at the cursor it welcomed it with.
      const snapshotStart = Number(consumer.logs.find((line) => line.msg === 'source connected')?.cursor);
      expect(value('oplog_changes_applied_total')).toBe(cursor.seq - snapshotStart);
      expect(value('oplog_lag_changes')).toBe(head.seq - cursor.seq);
    } finally {
      await orm.close();
    }

    // The same page on a phone.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(1500);
    await page.screenshot({ path: `${ARTIFACTS}4-phone.png`, fullPage: true });
    expect((await chartLabelProblems(page)).problems).toEqual([]);
    // While it loaded and updated through the outage: no error in the console, no request failed.
    expect(problems).toEqual([]);
    await page.close();
  });
});

describe('the lag dashboard, when it does not know', () => {
  let dir: string;
  let orm: MikroORM;
  const sockets: WebSocket[] = [];

  afterAll(async () => {
    for (const ws of sockets) ws.terminate();
    await orm?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows a source that left as "≥ n" or unknown, never 0, counts none as caught up, and says since when', async () => {
    dir = mkdtempSync(join(tmpdir(), 'oplog-dash-unknown-'));
    orm = await openOrm(
      { driver: 'sqlite', name: join(dir, 'central.sqlite') },
      { entities: [...pollsEntities, ...consumerEntities] },
    );
    await orm.schema.updateSchema({ safe: true });
    const consumer = createConsumer(orm, { port: 0, auth: 'none', logger: createLogger({ level: 'warn' }) });
    const { port } = await consumer.listen();
    // Simulated producers of no entity: the log starts at the hello's head, and a heartbeat can put them behind.
    const connect = async (id: string, head: number) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/oplog`);
      sockets.push(ws);
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      const hello = {
        protocol: { min: PROTOCOL_VERSION, max: PROTOCOL_VERSION },
        source: id,
        incarnation: `inc-${id}`,
      };
      ws.send(
        JSON.stringify({ type: 'hello', ...hello, head: { seq: 10, epoch: Date.now() }, oldest: 11, schema: {} }),
      );
      await new Promise((resolve) => ws.once('message', resolve)); // the welcome
      ws.send(JSON.stringify({ type: 'heartbeat', head: { seq: head, epoch: Date.now() }, at: Date.now() }));
      return ws;
    };
    try {
      const behind = await connect('behind', 15);
      const idle = await connect('idle', 10);
      await connect('up', 10);
      const page = await browser.newPage();
      const problems = watchForErrors(page);
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.waitForFunction(() => document.querySelectorAll('#sources tr[data-state="live"]').length === 3);
      // Silent a while after their last frame, then gone: offline since the close, not since the last heartbeat.
      await sleep(2500);
      const closedAt = Date.now();
      for (const ws of [behind, idle]) ws.close();
      await page.waitForFunction(() => document.querySelectorAll('#sources tr[data-state="offline"]').length === 2);
      const cells = (id: string) =>
        page.evaluate((selector) => {
          const tr = document.querySelector<HTMLElement>(selector)!;
          const text = (col: string) => tr.querySelector(`[data-col="${col}"]`)!.textContent;
          return {
            known: tr.dataset['lagKnown'],
            changes: text('lag-changes'),
            ms: text('lag-ms'),
            state: text('state'),
          };
        }, row(id));
      const left = await cells('behind');
      expect(left).toMatchObject({ known: 'false', changes: '≥ 5' });
      expect(await cells('idle')).toMatchObject({ known: 'false', changes: 'unknown', ms: 'unknown' });
      expect(await cells('up')).toMatchObject({ known: 'true', changes: '0' });
      // The page's own clock format, for the close and the second around it.
      const times = await page.evaluate(
        (at) =>
          [at - 1000, at, at + 1000].map((t) =>
            new Date(t).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' }),
          ),
        closedAt,
      );
      expect(left.state).toMatch(/^offline since \d/);
      expect(times.some((time) => left.state.includes(time))).toBe(true);
      const summary = await page.evaluate(() => {
        const element = document.querySelector<HTMLElement>('#summary')!;
        return { text: element.textContent ?? '', live: element.dataset['live'], unknown: element.dataset['unknown'] };
      });
      expect(summary).toMatchObject({ live: '1', unknown: '2' });
      expect(summary.text).toMatch(/total lag ≥ 5 changes/);
      expect(summary.text).toMatch(/\(2 unknown\)/);
      await page.screenshot({ path: `${ARTIFACTS}6-unknown-lag.png` });
      expect(problems).toEqual([]);
      await page.close();
    } finally {
      for (const ws of sockets) ws.terminate();
      await consumer.stop();
    }
  });
});

describe('the lag chart', () => {
  let dir: string;
  let orm: MikroORM;

  afterAll(async () => {
    await orm?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('draws an hour of large lags with every axis label whole, none overlapping, and times to the second', async () => {
    dir = mkdtempSync(join(tmpdir(), 'oplog-dash-chart-'));
    orm = await openOrm(
      { driver: 'sqlite', name: join(dir, 'central.sqlite') },
      { entities: [...pollsEntities, ...consumerEntities] },
    );
    await orm.schema.updateSchema({ safe: true });
    // An hour of samples every 10 s: a backlog of over a million changes, over two hours old at worst.
    const now = Date.now();
    const samples = Array.from({ length: 355 }, (_, i) => {
      const rise = Math.sin((Math.PI * i) / 354);
      return {
        source: 'site-a',
        at: now - 3_550_000 + i * 10_000,
        lagChanges: Math.round(1_234_567 * rise),
        lagMs: Math.round(7_500_000 * rise),
      };
    });
    await orm.em.fork().insertMany(OplogLagSample, samples);
    const consumer = createConsumer(orm, { port: 0, auth: 'none', logger: createLogger({ level: 'warn' }) });
    const { port } = await consumer.listen();
    try {
      const page = await browser.newPage();
      const problems = watchForErrors(page);
      // In a time zone where it is just past midnight, so the hour shown spans two days.
      const cdp = await browser.newCDPSession(page);
      await cdp.send('Emulation.setTimezoneOverride', { timezoneId: zoneAtMidnight(new Date(now).getUTCHours()) });
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.waitForFunction(() => document.querySelector('#stream')?.getAttribute('data-state') === 'open');
      for (const width of [1280, 800, 390]) {
        await page.setViewportSize({ width, height: 800 });
        await page.waitForTimeout(500);
        await page.screenshot({ path: `${ARTIFACTS}7-chart-${width}.png` });
        const { problems: labelProblems, labels } = await chartLabelProblems(page);
        expect(labelProblems, `at ${width} px wide`).toEqual([]);
        expect(
          labels.some((label) => TIME_WITH_SECONDS.test(label)),
          labels.join(' | '),
        ).toBe(true);
      }
      // The time under the cursor, in the legend.
      const over = (await page.locator('#chart .u-over').boundingBox())!;
      await page.mouse.move(over.x + over.width / 2, over.y + over.height / 2);
      expect(await page.textContent('#chart .u-legend .u-series:first-child .u-value')).toMatch(TIME_WITH_SECONDS);
      expect(problems).toEqual([]);
      await page.close();
    } finally {
      await consumer.stop();
    }
  });
});

describe('the lag dashboard with 1,000 sources', () => {
  const SOURCES = 1000;
  let dir: string;
  let orm: MikroORM;
  const sockets: WebSocket[] = [];

  afterAll(async () => {
    for (const ws of sockets) ws.terminate();
    await orm?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loads, filters and sorts quickly while every source updates each second', async () => {
    dir = mkdtempSync(join(tmpdir(), 'oplog-dash1k-'));
    orm = await openOrm(
      { driver: 'sqlite', name: join(dir, 'central.sqlite') },
      { entities: [...pollsEntities, ...consumerEntities] },
    );
    await orm.schema.updateSchema({ safe: true });
    const consumer = createConsumer(orm, {
      port: 0,
      auth: 'none',
      maxConnections: SOURCES + 10,
      logger: createLogger({ level: 'warn' }),
    });
    const { port } = await consumer.listen();
    try {
      // Simulated producers: hello, welcome, then a heartbeat a second with a head that grows for a third of them.
      const heads = new Map<string, number>();
      await Promise.all(
        Array.from({ length: SOURCES }, async (_, i) => {
          const id = `site-${String(i).padStart(4, '0')}`;
          heads.set(id, i % 3 === 0 ? i : 0);
          const ws = new WebSocket(`ws://127.0.0.1:${port}/oplog`);
          sockets.push(ws);
          await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
          const head = { seq: heads.get(id)!, epoch: Date.now() - i * 10 };
          ws.send(
            JSON.stringify({
              type: 'hello',
              protocol: { min: PROTOCOL_VERSION, max: PROTOCOL_VERSION },
              source: id,
              incarnation: `inc-${id}`,
              head,
              oldest: head.seq + 1,
              schema: {},
            }),
          );
          // As a producer does, it speaks again only once welcomed: a heartbeat before the welcome is refused.
          await new Promise((resolve) => ws.once('message', resolve));
        }),
      );
      const beat = setInterval(() => {
        for (const [index, ws] of sockets.entries()) {
          const id = `site-${String(index).padStart(4, '0')}`;
          if (index % 3 === 0) heads.set(id, heads.get(id)! + 1);
          if (ws.readyState === ws.OPEN)
            ws.send(
              JSON.stringify({ type: 'heartbeat', head: { seq: heads.get(id)!, epoch: Date.now() }, at: Date.now() }),
            );
        }
      }, 1000);
      // A tenth of them leave, so the summary has offline sources too.
      for (const ws of sockets.filter((_, i) => i % 10 === 1)) ws.close();
      try {
        const page = await browser.newPage();
        const problems = watchForErrors(page);
        const started = Date.now();
        await page.goto(`http://127.0.0.1:${port}/`);
        await page.waitForFunction((n) => document.querySelectorAll('#sources tbody tr').length === n, SOURCES, {
          timeout: 30_000,
        });
        const loadMs = Date.now() - started;
        await page.evaluate(() => {
          const tasks: number[] = [];
          Object.assign(window, { __longTasks: tasks });
          new PerformanceObserver((list) => tasks.push(...list.getEntries().map((e) => e.duration))).observe({
            type: 'longtask',
            buffered: false,
          });
        });
        await page.waitForTimeout(5000); // five live updates of all 1,000 rows
        const filterStart = Date.now();
        await page.fill('#filter', 'site-0042');
        await page.waitForFunction(() => document.querySelectorAll('#sources tbody tr').length === 1);
        const filterMs = Date.now() - filterStart;
        await page.fill('#filter', '');
        const sortStart = Date.now();
        await page.click('th[data-sort="lagChanges"]');
        await page.waitForFunction(
          () => document.querySelector('th[data-sort="lagChanges"]')?.getAttribute('aria-sort') === 'descending',
        );
        const sortMs = Date.now() - sortStart;
        const longTasks = await page.evaluate(() => (window as unknown as { __longTasks: number[] }).__longTasks);
        const summary = await page.textContent('#summary');
        await page.screenshot({ path: `${ARTIFACTS}5-thousand-sources.png` });
        const report = {
          sources: SOURCES,
          loadMs,
          filterMs,
          sortMs,
          longTasksDuringUpdates: longTasks.map(Math.round),
          summary,
        };
        writeFileSync(`${ARTIFACTS}thousand-sources.json`, `${JSON.stringify(report, null, 2)}\n`);
        console.log(`dashboard with ${SOURCES} sources: ${JSON.stringify(report)}`);
        // A tenth left; a third have a growing head and no batches, so they are live or catching up by their lag.
        const [, live, catchingUp = 0] =
          /^(\d+) live(?: · (\d+) catching up)? · 100 offline · 0 halted/.exec(summary ?? '') ?? [];
        expect(Number(live) + Number(catchingUp)).toBe(900);
        // The times are measured and reported above, not held to targets: this machine is shared and noisy, so
        // speed belongs in a benchmark. What must hold is that the page keeps answering while 1,000 rows update
        // every second: no task blocks it for seconds.
        expect(Math.max(0, ...longTasks)).toBeLessThan(3000);
        expect(problems).toEqual([]);
        await page.close();
      } finally {
        clearInterval(beat);
      }
    } finally {
      for (const ws of sockets) ws.terminate();
      await consumer.stop();
    }
  });
});
