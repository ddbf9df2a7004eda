import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from './config.js';
import { loadOrmConfig } from './orm-config.js';

const dir = mkdtempSync(join(tmpdir(), 'oplog-orm-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  delete process.env.MIKRO_ORM_CONTEXT_NAME;
});

let files = 0;
/** A config module with this source, as an app would write it (plain ESM). */
function configModule(source: string): string {
  const file = join(dir, `config-${++files}.mjs`);
  writeFileSync(file, source);
  return file;
}

async function refusal(file: string): Promise<string> {
  const error = await loadOrmConfig(file).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as ConfigError).setting).toBe('ormConfig');
  expect((error as Error).message).not.toContain('\n');
  return (error as Error).message;
}

describe('loadOrmConfig: the forms MikroORM accepts', () => {
  it('reads a default export, or a `config` export', async () => {
    const byDefault = configModule("export default { dbName: 'a.sqlite' };");
    expect(await loadOrmConfig(byDefault)).toEqual({ file: byDefault, options: { dbName: 'a.sqlite' } });
    const named = configModule("export const config = { dbName: 'b.sqlite' };");
    expect((await loadOrmConfig(named)).options).toEqual({ dbName: 'b.sqlite' });
  });

  it('awaits a promise, and calls a function (async or not) with the context name', async () => {
    const promised = configModule("export default Promise.resolve({ dbName: 'c.sqlite' });");
    expect((await loadOrmConfig(promised)).options).toEqual({ dbName: 'c.sqlite' });
    const factory = configModule("export default async (context) => ({ dbName: context + '.sqlite' });");
    expect((await loadOrmConfig(factory)).options).toEqual({ dbName: 'default.sqlite' });
    process.env.MIKRO_ORM_CONTEXT_NAME = 'reports';
    expect((await loadOrmConfig(factory)).options).toEqual({ dbName: 'reports.sqlite' });
  });

  it('picks the config of MIKRO_ORM_CONTEXT_NAME (default: default) from an array', async () => {
    const file = configModule(
      "export default [{ contextName: 'reports', dbName: 'r.sqlite' }, { dbName: 'd.sqlite' }, (c) => c === 'late' ? { dbName: 'l.sqlite' } : undefined];",
    );
    expect((await loadOrmConfig(file)).options).toEqual({ dbName: 'd.sqlite' });
    process.env.MIKRO_ORM_CONTEXT_NAME = 'reports';
    expect((await loadOrmConfig(file)).options).toEqual({ contextName: 'reports', dbName: 'r.sqlite' });
    process.env.MIKRO_ORM_CONTEXT_NAME = 'late';
    expect((await loadOrmConfig(file)).options).toEqual({ dbName: 'l.sqlite' });
    process.env.MIKRO_ORM_CONTEXT_NAME = 'nowhere';
    expect(await refusal(file)).toMatch(/must export the app's MikroORM options .* for context nowhere$/);
  });
});

describe('loadOrmConfig: one line naming the file', () => {
  it('for a file that does not exist', async () => {
    expect(await refusal(join(dir, 'nowhere.mjs'))).toBe(
      `no such file ${join(dir, 'nowhere.mjs')}: give the path of your MikroORM config module`,
    );
  });

  it('for an export that is not options', async () => {
    const file = configModule('export default 42;');
    expect(await refusal(file)).toBe(
      `${file} must export the app's MikroORM options as its default export (or as "config"): an object, or a function returning one`,
    );
  });

  it('for a factory that throws, with the first line of its message', async () => {
    const file = configModule("export default () => { throw new Error('DATABASE_URL is not set\\n  at somewhere'); };");
    expect(await refusal(file)).toBe(`${file} failed to build the MikroORM options: DATABASE_URL is not set`);
  });

  it('for a module that fails to load', async () => {
    const file = configModule("import { defineConfig } from '@mikro-orm/mysql'; export default defineConfig({});");
    expect(await refusal(file)).toBe(
      `${file} imports @mikro-orm/mysql, which cannot be found: install it, or fix the import`,
    );
  });
});
