import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, loadConfig } from './config.js';

const schema = z.strictObject({
  listen: z.strictObject({ host: z.string().default('127.0.0.1'), port: z.number().int().default(7420) }).prefault({}),
  entities: z.string(),
  tokens: z.record(z.string(), z.string()).optional(),
});

function configFile(value: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), 'oplog-config-')), 'config.json');
  writeFileSync(file, JSON.stringify(value));
  return file;
}

describe('loadConfig', () => {
  it('applies defaults', () => {
    expect(loadConfig(schema, { flags: { entities: 'e.js' } })).toEqual({
      listen: { host: '127.0.0.1', port: 7420 },
      entities: 'e.js',
    });
  });

  it('lets env override the file and flags override env', () => {
    const file = configFile({ entities: 'file.js', listen: { host: '0.0.0.0', port: 1 } });
    const config = loadConfig(schema, {
      file,
      env: { OPLOG_LISTEN__PORT: '2', OPLOG_ENTITIES: 'env.js', OTHER: 'x' },
      flags: { entities: 'flag.js', listen: { port: undefined } },
    });
    expect(config).toEqual({ listen: { host: '0.0.0.0', port: 2 }, entities: 'flag.js' });
  });

  it('turns SCREAMING_SNAKE env keys into camelCase paths', () => {
    const nested = z.strictObject({ retainAcked: z.number(), db: z.strictObject({ maxPool: z.number() }) });
    expect(loadConfig(nested, { env: { OPLOG_RETAIN_ACKED: '5', OPLOG_DB__MAX_POOL: '3' } })).toEqual({
      retainAcked: 5,
      db: { maxPool: 3 },
    });
  });

  it('lists every problem in one ConfigError with a stable code', () => {
    let error: unknown;
    try {
      loadConfig(schema, { flags: { listen: { port: 'x' }, extra: true } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('OPLOG_BAD_CONFIG');
    expect((error as Error).message).toMatch(/listen\.port/);
    expect((error as Error).message).toMatch(/entities/);
    expect((error as Error).message).toMatch(/extra/);
  });

  it('reports an unreadable file clearly', () => {
    expect(() => loadConfig(schema, { file: '/nonexistent/config.json' })).toThrow(/cannot read config file/);
  });
});
