import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MikroORM } from '@mikro-orm/core';
import { openOrm } from '@oplog/runtime';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pollsEntities, Question } from './entities.js';
import { generateLoad } from './load.js';
import { openLocalApp } from './local-app.js';

describe('generateLoad on an SQLite file another process reads', () => {
  let dir: string;
  let app: MikroORM;
  let reader: MikroORM;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oplog-demo-'));
    const db = { driver: 'sqlite' as const, name: join(dir, 'local.sqlite') };
    app = await openLocalApp(db);
    reader = await openOrm(db, { entities: pollsEntities });
  });

  afterEach(async () => {
    await reader.close();
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('outlasts a reader that holds its lock past the busy timeout (a frozen sidecar), and commits everything', async () => {
    // In rollback-journal mode a read transaction holds SHARED until it ends, and a COMMIT waits for it only up to
    // the busy timeout (5 s): the load's first COMMIT fails with SQLITE_BUSY, which leaves the connection in a
    // transaction unless the app rolls it back.
    const held = reader.em.fork().transactional(async (em) => {
      await em.count(Question);
      await new Promise((resolve) => setTimeout(resolve, 6000));
    });
    const result = await generateLoad(app, { rate: 1000, transactions: 3, mix: 'polls', seed: 1 });
    await held;
    expect(result.transactions).toBe(3);
    expect(await app.em.fork().count(Question)).toBeGreaterThan(0);
  }, 30_000);
});
