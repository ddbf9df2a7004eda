import { randomBytes, randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/core';
import { pollsEntities } from '@oplog/demo/entities';
import { PROTOCOL_VERSION } from '@oplog/protocol';
import { loadSources } from '@oplog/replay';
import { createLogger, openOrm } from '@oplog/runtime';
import { createTestDatabase, type Driver, type TestDatabase } from '@oplog/testing/databases';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Consumer, createConsumer } from './consumer.js';
import { CredentialStore } from './credential-store.js';
import { consumerEntities } from './tables.js';

const ATTACKED = 'site-a';

/** How one connection attempt ended: refused at the upgrade with a status, or closed after it opened. */
type Outcome = { status: number } | { opened: true; closeCode: number; errorCodes: string[] };

/**
 * Opens a WebSocket with `authorization` (when given); once open, says hello as `claim` and at once sends a batch that
 * would insert a Tag of that source.
 */
function attempt(url: string, authorization: string | undefined, claim: string): Promise<Outcome> {
  const ws = new WebSocket(url, { headers: authorization === undefined ? {} : { authorization } });
  return new Promise((resolve, reject) => {
    const errorCodes: string[] = [];
    ws.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.on('error', () => {});
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { type: string; code?: string };
      if (frame.type === 'error') errorCodes.push(frame.code!);
      if (frame.type === 'welcome') reject(new Error(`welcomed as ${claim} with ${authorization}`));
    });
    ws.on('close', (code) => resolve({ opened: true, closeCode: code, errorCodes }));
    ws.on('open', () => {
      const id = randomUUID();
      ws.send(
        JSON.stringify({
          type: 'hello',
          protocol: { min: PROTOCOL_VERSION, max: PROTOCOL_VERSION },
          source: claim,
          incarnation: 'attacker',
          head: { seq: 1, epoch: Date.now() },
          oldest: 1,
          schema: {},
        }),
      );
      ws.send(
        JSON.stringify({
          type: 'batch',
          id: 1,
          entries: [
            {
              source: claim,
              incarnation: 'attacker',
              seq: 1,
              txId: 't1',
              epoch: Date.now(),
              entity: 'Tag',
              op: 'insert',
              pk: { id },
              after: { id, label: 'pwned' },
            },
          ],
        }),
      );
    });
  });
}

/** Runs `tasks` at most `limit` at a time. */
async function pooled<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return results;
}

/**
 * Hostile producers against a real consumer on a real database: every attempt is refused, at the HTTP upgrade when
 * the credential is bad (no WebSocket ever exists), or at the hello when a good credential claims another source;
 * and nothing of the attacked source is recorded or applied.
 */
export function authSuite(driver: Driver): void {
  describe(`hostile authentication (${driver})`, () => {
    let db: TestDatabase;
    let orm: MikroORM;
    let consumer: Consumer;
    let url: string;
    const tokens: Record<'a' | 'b' | 'expired' | 'revoked', string> = { a: '', b: '', expired: '', revoked: '' };

    beforeAll(async () => {
      db = await createTestDatabase(driver, 'auth');
      orm = await openOrm(
        { driver, name: db.dbName, url: db.clientUrl },
        { entities: [...pollsEntities, ...consumerEntities] },
      );
      await orm.schema.updateSchema({ safe: true });
      const store = new CredentialStore(() => orm.em.getConnection());
      tokens.a = await store.add(ATTACKED);
      tokens.b = await store.add('site-b');
      tokens.expired = await store.add('site-expired', { expiresInMs: 1000, now: Date.now() - 60_000 });
      tokens.revoked = await store.add('site-revoked');
      await store.revoke('site-revoked');
      consumer = createConsumer(orm, { port: 0, logger: createLogger({ level: 'silent' }) });
      url = `ws://127.0.0.1:${(await consumer.listen()).port}/oplog`;
    });

    afterAll(async () => {
      await consumer?.stop();
      await orm?.close();
      await db?.drop();
    });

    it('refuses 100 hostile attempts and records nothing of the attacked source', async () => {
      const secret = () => randomBytes(32).toString('base64url');
      const [, secretA] = tokens.a.split('.') as [string, string];
      const kinds: { kind: string; authorization: () => string | undefined; claim: string }[] = [
        { kind: 'wrong secret', authorization: () => `Bearer ${ATTACKED}.${secret()}`, claim: ATTACKED },
        { kind: 'unknown source', authorization: () => `Bearer site-zz.${secret()}`, claim: ATTACKED },
        { kind: "B's token, claims A", authorization: () => `Bearer ${tokens.b}`, claim: ATTACKED },
        { kind: 'no header', authorization: () => undefined, claim: ATTACKED },
        {
          kind: 'not Bearer',
          authorization: () => `Basic ${Buffer.from(`a:${secretA}`).toString('base64')}`,
          claim: ATTACKED,
        },
        { kind: 'bare secret', authorization: () => `Bearer ${secretA}`, claim: ATTACKED },
        { kind: 'two tokens', authorization: () => `Bearer ${tokens.a} ${tokens.a}`, claim: ATTACKED },
        { kind: 'truncated', authorization: () => `Bearer ${tokens.a.slice(0, -1)}`, claim: ATTACKED },
        { kind: 'expired', authorization: () => `Bearer ${tokens.expired}`, claim: 'site-expired' },
        { kind: 'revoked', authorization: () => `Bearer ${tokens.revoked}`, claim: 'site-revoked' },
      ];
      const plan = Array.from({ length: 100 }, (_, i) => kinds[i % kinds.length]!);
      const outcomes = await pooled(
        plan.map(
          ({ authorization, claim }) =>
            () =>
              attempt(url, authorization(), claim),
        ),
        8,
      );

      const byKind = new Map<string, Outcome[]>();
      for (const [i, { kind }] of plan.entries()) byKind.set(kind, [...(byKind.get(kind) ?? []), outcomes[i]!]);
      for (const [kind, seen] of byKind) {
        const expected =
          kind === "B's token, claims A"
            ? { opened: true, closeCode: 1008, errorCodes: ['OPLOG_UNAUTHORIZED'] }
            : { status: 401 };
        expect(seen, kind).toEqual(seen.map(() => expected));
      }
      expect(outcomes).toHaveLength(100);

      // Nothing of any attacked source: no cursor row, no applied row, no session state.
      const cursors = await loadSources(orm.em.getConnection());
      expect([...cursors.keys()]).toEqual([]);
      const tags = await orm.em.getConnection().execute<{ n: number | string }[]>('select count(*) as n from tag');
      expect(Number(tags[0]!.n)).toBe(0);
      expect(consumer.sources().map((s) => s.id)).toEqual([]);
      const metrics = await consumer.metrics.text();
      expect(metrics).toMatch(/^oplog_errors_total\{code="OPLOG_UNAUTHORIZED"\} 100$/m);
    });

    it("still welcomes the attacked source's own credential afterwards", async () => {
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${tokens.a}` } });
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      const welcome = new Promise<{ type: string }>((resolve) =>
        ws.once('message', (d) => resolve(JSON.parse(String(d)))),
      );
      ws.send(
        JSON.stringify({
          type: 'hello',
          protocol: { min: PROTOCOL_VERSION, max: PROTOCOL_VERSION },
          source: ATTACKED,
          incarnation: 'genuine',
          head: { seq: 0, epoch: 0 },
          oldest: 1,
          schema: {},
        }),
      );
      expect((await welcome).type).toBe('welcome');
      ws.close();
    });
  });
}
