import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MikroORM } from '@mikro-orm/core';
import { openOrm } from '@oplog/runtime';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CredentialStore } from './credential-store.js';
import { consumerEntities } from './tables.js';

let dir: string;
let orm: MikroORM;
let store: CredentialStore;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oplog-credentials-'));
  orm = await openOrm({ driver: 'sqlite', name: join(dir, 'central.sqlite') }, { entities: consumerEntities });
  await orm.schema.updateSchema({ safe: true });
  store = new CredentialStore(() => orm.em.getConnection());
});

afterEach(async () => {
  await orm.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('CredentialStore', () => {
  it('stores only a hash and verifies the token it printed', async () => {
    const token = await store.add('shop-1', { now: 1000 });
    const secret = token.split('.')[1]!;
    const rows = await orm.em
      .getConnection()
      .execute<{ token_hash: string }[]>('select * from oplog_source_credential');
    expect(rows[0]!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(rows)).not.toContain(secret);
    const verified = await store.verify(token);
    expect(verified).toEqual({ ok: true, credential: { sourceId: 'shop-1', tokenHash: rows[0]!.token_hash } });
    expect(await store.list()).toEqual([{ sourceId: 'shop-1', createdAt: 1000, expiresAt: null, revokedAt: null }]);
  });

  it('tells why a token is refused', async () => {
    const token = await store.add('shop-1');
    const other = await store.add('shop-2');
    const expired = await store.add('shop-3', { expiresInMs: 10, now: Date.now() - 1000 });
    expect(await store.verify(`shop-1.${other.split('.')[1]}`)).toEqual({
      ok: false,
      reason: 'wrong',
      sourceId: 'shop-1',
    });
    expect(await store.verify(`shop-9.${token.split('.')[1]}`)).toEqual({
      ok: false,
      reason: 'unknown',
      sourceId: 'shop-9',
    });
    expect(await store.verify(token.slice(1, -1))).toEqual({ ok: false, reason: 'malformed' });
    expect(await store.verify(expired)).toEqual({ ok: false, reason: 'expired', sourceId: 'shop-3' });
    expect(await store.revoke('shop-1')).toBe(true);
    expect(await store.revoke('shop-1')).toBe(false);
    expect(await store.verify(token)).toEqual({ ok: false, reason: 'revoked', sourceId: 'shop-1' });
    expect([...(await store.validHashes()).keys()]).toEqual(['shop-2']);
  });

  it('makes a new token only once the old one is revoked or expired', async () => {
    const first = await store.add('shop-1');
    await expect(store.add('shop-1')).rejects.toThrow(/already has a valid credential/);
    await store.revoke('shop-1');
    const second = await store.add('shop-1');
    expect(second).not.toBe(first);
    expect((await store.verify(second)).ok).toBe(true);
    expect(await store.verify(first)).toMatchObject({ ok: false, reason: 'wrong' });
    await expect(store.add('shop 1')).rejects.toThrow(TypeError);
  });
});
